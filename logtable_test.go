package auditlog

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

type Sprocket struct {
	ID   int64
	Name string `gorm:"size:20"`
}

type Widget struct {
	ID   int64
	Name string `gorm:"size:20"`
}

func TestLogTableRegisterErrors(t *testing.T) {
	tests := []struct {
		name    string
		p       *Plugin
		table   string
		wantMsg string
	}{
		{"empty", New(), "", `LogTable(""): want 1 to 48 letters`},
		{"leading digit", New(), "1log", `LogTable("1log"): want`},
		{"punctuation", New(), "sprocket-log", `LogTable("sprocket-log"): want`},
		{"quote", New(), `x"; DROP`, `want 1 to 48`},
		{"too long", New(), strings.Repeat("a", 49), `want 1 to 48`},
		{"the model's table", New(), "sprockets", `LogTable("sprockets") is the model's own table`},
		{"sealing", New(Sealing(SealConfig{})), "sprocket_log", `LogTable("sprocket_log"): sealing covers the plugin's log table only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Register(&Sprocket{}, LogTable(tt.table))
			if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Register: %v, want ErrInvalidOption with %q", err, tt.wantMsg)
			}
		})
	}
	if err := New().Register(&Sprocket{}, LogTable(strings.Repeat("a", 48))); err != nil {
		t.Errorf("Register with a 48-character name: %v", err)
	}
}

// logTableSetup registers Widget (the plugin's log table) and Sprocket
// (LogTable "sprocket_log") and migrates every table with Plugin.AutoMigrate.
func logTableSetup(t *testing.T, db *gorm.DB, clock func() time.Time) *Plugin {
	t.Helper()
	p := New(WithClock(clock))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Widget{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Sprocket{}, LogTable("sprocket_log")); err != nil {
		t.Fatal(err)
	}
	if err := p.AutoMigrate(db); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&Widget{}, &Sprocket{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// tableEntries is every entry of one log table, by ID.
func tableEntries(t *testing.T, db *gorm.DB, table string) []string {
	t.Helper()
	var entries []LogEntry
	if err := db.Session(&gorm.Session{NewDB: true}).Table(table).Order("id").Find(&entries).Error; err != nil {
		t.Fatal(err)
	}
	return ids(entries)
}

// ids names entries as "table:pk:action#id".
func ids(entries []LogEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Table+":"+e.ObjectPK+":"+string(e.Action)+"#"+itoa(e.ID))
	}
	return out
}

// TestLogTableFind: a model with LogTable writes to its own table (created
// by AutoMigrate with LogEntry's indexes); Find with Model, Table or
// Objects and History read it; Find across models merges both tables in
// (created at, id, table) order, paging without a skip or a repeat where
// entries of the two tables share CreatedAt and ID.
func TestLogTableFind(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := logTableSetup(t, db, func() time.Time { return testNow }) // one instant: ties
		if !db.Migrator().HasTable("sprocket_log") || !db.Table("sprocket_log").Migrator().HasIndex(&LogEntry{}, "idx_sprocket_log_parent") {
			t.Fatal("AutoMigrate did not create sprocket_log with its indexes")
		}
		steps := []func() error{
			func() error { return db.Create(&Widget{Name: "w"}).Error },
			func() error { return db.Create(&Sprocket{Name: "s"}).Error },
			func() error { return db.Model(&Sprocket{ID: 1}).Update("name", "s2").Error },
			func() error { return db.Model(&Widget{ID: 1}).Update("name", "w2").Error },
			func() error { return db.Delete(&Sprocket{ID: 1}).Error },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
		}
		wantDefault := []string{"widgets:1:create#1", "widgets:1:update#2"}
		wantOwn := []string{"sprockets:1:create#1", "sprockets:1:update#2", "sprockets:1:delete#3"}
		if diff := cmp.Diff(wantDefault, tableEntries(t, db, DefaultTable)); diff != "" {
			t.Errorf("plugin's log table (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantOwn, tableEntries(t, db, "sprocket_log")); diff != "" {
			t.Errorf("sprocket_log (-want +got):\n%s", diff)
		}
		ctx := context.Background()
		newest := []string{"sprockets:1:delete#3", "sprockets:1:update#2", "sprockets:1:create#1"}
		for name, q := range map[string]Query{
			"model":   {Model: &Sprocket{}},
			"table":   {Table: "sprockets"},
			"objects": {Objects: &Sprocket{ID: 1}},
			"tables":  {Tables: []string{"sprockets"}},
		} {
			page, err := p.Find(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(newest, ids(page.Entries)); diff != "" {
				t.Errorf("Find by %s (-want +got):\n%s", name, diff)
			}
		}
		hist, err := p.History(ctx, db, &Sprocket{ID: 1})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(newest, ids(hist)); diff != "" {
			t.Errorf("History (-want +got):\n%s", diff)
		}
		all := []string{"sprockets:1:delete#3", "sprockets:1:update#2", "widgets:1:update#2",
			"sprockets:1:create#1", "widgets:1:create#1"}
		for _, q := range []Query{{}, {Tables: []string{"widgets", "sprockets"}}} {
			for _, limit := range []int{1, 2, 10} {
				q.Limit = limit
				if diff := cmp.Diff(all, findAllPages(t, p, db, q)); diff != "" {
					t.Errorf("Find %+v across tables (-want +got):\n%s", q, diff)
				}
				q.Oldest = true
				oldest := append([]string(nil), all...)
				slicesReverse(oldest)
				if diff := cmp.Diff(oldest, findAllPages(t, p, db, q)); diff != "" {
					t.Errorf("Find %+v across tables, oldest first (-want +got):\n%s", q, diff)
				}
				q.Oldest = false
			}
		}
	})
}

func slicesReverse(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// findAllPages reads every page of q forward, then checks that going back
// page by page from the last gives the same pages.
func findAllPages(t *testing.T, p *Plugin, db *gorm.DB, q Query) []string {
	t.Helper()
	ctx := context.Background()
	var pages [][]string
	var last Page
	for {
		page, err := p.Find(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		pages, last = append(pages, ids(page.Entries)), page
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	for i := len(pages) - 2; i >= 0 && last.Prev != ""; i-- {
		q.Cursor = last.Prev
		page, err := p.Find(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pages[i], ids(page.Entries)); diff != "" {
			t.Errorf("page %d read back (-want +got):\n%s", i+1, diff)
		}
		last = page
	}
	var out []string
	for _, pg := range pages {
		out = append(out, pg...)
	}
	return out
}

// TestLogTableReplay: StateAt, Undo and Revert read a LogTable model's
// entries from its table and write their audited updates there; Purge and
// Maintain reach every log table, or the ones of the models named.
func TestLogTableReplay(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := logTableSetup(t, db, tickingClock())
		ctx := context.Background()
		s := Sprocket{Name: "a"}
		for i, step := range []func() error{
			func() error { return db.Create(&s).Error },                                // #1 at +0s
			func() error { return db.Model(&s).Update("name", "b").Error },             // #2 at +1s
			func() error { return db.Model(&s).Update("name", "c").Error },             // #3 at +2s
			func() error { return db.Create(&Widget{Name: "w"}).Error },                // default #1 at +3s
			func() error { return db.Model(&Widget{ID: 1}).Update("name", "x").Error }, // default #2 at +4s
		} {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
		}
		state, err := p.StateAt(ctx, db, &Sprocket{ID: 1}, testNow.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"id": num("1"), "name": "b"}, state); diff != "" {
			t.Errorf("StateAt (-want +got):\n%s", diff)
		}
		if err := p.Undo(ctx, db, &Sprocket{ID: 1}, 3); err != nil { // c → b, #4 at +5s
			t.Fatal(err)
		}
		if err := p.Revert(ctx, db, &Sprocket{ID: 1}, 2); err != nil { // b → a, #5 at +6s
			t.Fatal(err)
		}
		var row Sprocket
		if err := db.First(&row, 1).Error; err != nil || row.Name != "a" {
			t.Fatalf("sprocket after Undo and Revert: %+v, %v", row, err)
		}
		want := []string{"sprockets:1:create#1", "sprockets:1:update#2", "sprockets:1:update#3",
			"sprockets:1:update#4", "sprockets:1:update#5"}
		if diff := cmp.Diff(want, tableEntries(t, db, "sprocket_log")); diff != "" {
			t.Errorf("sprocket_log after Undo and Revert (-want +got):\n%s", diff)
		}
		if got := tableEntries(t, db, DefaultTable); len(got) != 2 {
			t.Errorf("plugin's log table: %v, want the 2 widget entries", got)
		}

		// Purge of one model reaches its table only.
		n, err := p.Purge(ctx, db, testNow.Add(2*time.Second), PurgeOptions{Models: []any{&Sprocket{}}})
		if err != nil || n != 2 {
			t.Fatalf("Purge of sprockets: %d, %v; want 2", n, err)
		}
		// Purge of everything before +4s: widget #1 and nothing else.
		var progress []int64
		n, err = p.Purge(ctx, db, testNow.Add(4*time.Second), PurgeOptions{Progress: func(d int64) { progress = append(progress, d) }})
		if err != nil || n != 2 || !slices.Equal(progress, []int64{1, 2}) {
			t.Fatalf("Purge of all tables: %d, %v, progress %v; want 2 (sprocket #3, widget #1)", n, err, progress)
		}
		if diff := cmp.Diff([]string{"sprockets:1:update#4", "sprockets:1:update#5"}, tableEntries(t, db, "sprocket_log")); diff != "" {
			t.Errorf("sprocket_log after Purge (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"widgets:1:update#2"}, tableEntries(t, db, DefaultTable)); diff != "" {
			t.Errorf("plugin's log table after Purge (-want +got):\n%s", diff)
		}
	})
}

// TestLogTableNotSealed: Seal refuses to seal while a model logs outside
// the plugin's table, rather than leave its entries silently unsealed.
func TestLogTableNotSealed(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := logTableSetup(t, db, tickingClock())
		if err := db.Create(&Widget{Name: "w"}).Error; err != nil {
			t.Fatal(err)
		}
		_, err := p.Seal(context.Background(), db)
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "[sprocket_log]") {
			t.Errorf("Seal: %v, want ErrInvalidOption naming sprocket_log", err)
		}
		if db.Migrator().HasTable(DefaultTable + "_batches") {
			var n int64
			db.Table(DefaultTable + "_batches").Count(&n)
			if n != 0 {
				t.Errorf("Seal wrote %d headers", n)
			}
		}
	})
}

// TestLogTableMaintain: retention policies apply in every log table.
func TestLogTableMaintain(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(WithClock(func() time.Time { return testNow.Add(48 * time.Hour) }), Retention(AnyAction, 24*time.Hour))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&Sprocket{}, LogTable("sprocket_log")); err != nil {
			t.Fatal(err)
		}
		if err := p.AutoMigrate(db); err != nil {
			t.Fatal(err)
		}
		old := []LogEntry{{Table: "sprockets", ObjectPK: "1", Action: ActionCreate, CreatedAt: testNow}}
		young := []LogEntry{{Table: "sprockets", ObjectPK: "1", Action: ActionUpdate, CreatedAt: testNow.Add(47 * time.Hour)}}
		for _, table := range []string{DefaultTable, "sprocket_log"} {
			for _, e := range [][]LogEntry{old, young} {
				if err := db.Transaction(func(tx *gorm.DB) error { return p.insertEntries(tx, table, e) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		runs, err := p.Maintain(context.Background(), db)
		if err != nil || len(runs) != 1 || runs[0].Removed != 2 {
			t.Fatalf("Maintain: %+v, %v; want one run removing 2", runs, err)
		}
		for _, table := range []string{DefaultTable, "sprocket_log"} {
			if diff := cmp.Diff([]string{"sprockets:1:update#2"}, tableEntries(t, db, table)); diff != "" {
				t.Errorf("%s after Maintain (-want +got):\n%s", table, diff)
			}
		}
	})
}

// TestLogTableChildren: a parent's timeline reads its children's entries
// from their own log table.
func TestLogTableChildren(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setupWith(t, db, []Option{WithClock(tickingClock())}, []any{&Bill{}})
		if err := p.Register(&BillLine{}, Parent("Bill"), LogTable("bill_line_log")); err != nil {
			t.Fatal(err)
		}
		if err := p.AutoMigrate(db); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&BillLine{}); err != nil {
			t.Fatal(err)
		}
		one := int64(1)
		for i, step := range []func() error{
			func() error { return db.Create(&Bill{Ref: "A"}).Error },
			func() error { return db.Create(&BillLine{BillID: &one, SKU: "pen"}).Error },
			func() error { return db.Model(&Bill{ID: 1}).Update("ref", "B").Error },
			func() error { return db.Model(&BillLine{ID: 1}).Update("sku", "ink").Error },
		} {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
		}
		want := []string{"bill_lines:1:update#2", "bills:1:update#2", "bill_lines:1:create#1", "bills:1:create#1"}
		hist, err := p.History(context.Background(), db, &Bill{ID: 1}, WithChildren())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, ids(hist)); diff != "" {
			t.Errorf("History WithChildren (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, findAllPages(t, p, db, Query{Objects: &Bill{ID: 1}, Children: true, Limit: 1})); diff != "" {
			t.Errorf("Find Children by pages of 1 (-want +got):\n%s", diff)
		}
	})
}
