package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// tickingClock returns testNow, then one second later at each call.
func tickingClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return testNow.Add(time.Duration(n-1) * time.Second)
	}
}

// seedHistory writes a small history and returns the plugin:
//
//	t0 alice creates items 1, 2, 3      (one statement: one timestamp)
//	t1 bob renames item 1
//	t2 alice changes item 2's qty
//	t3 carol hard-deletes item 3
//	t4 alice logs note.publish on note 1, cid job-1
func seedHistory(t *testing.T, db *gorm.DB) *Plugin {
	t.Helper()
	p := New(WithClock(tickingClock()), AllowUnknownActions())
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}, &Item{}, &Note{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Item{}, Include("Name", "Qty")); err != nil {
		t.Fatal(err)
	}
	as := func(actor string) *gorm.DB { return db.WithContext(WithActor(context.Background(), actor)) }
	items := []Item{{Name: "pen"}, {Name: "ink"}, {Name: "pad"}}
	note := Note{Body: "hello"}
	steps := []func() error{
		func() error { return as("alice").Create(&items).Error },
		func() error { return as("bob").Model(&items[0]).Update("name", "pencil").Error },
		func() error { return as("alice").Model(&items[1]).Update("qty", 5).Error },
		func() error { return as("carol").Unscoped().Delete(&items[2]).Error },
		func() error { return db.Create(&note).Error },
		func() error {
			ctx := WithCID(WithActor(context.Background(), "alice"), "job-1")
			return p.Log(ctx, db, &note, "note.publish", nil)
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return p
}

// labels are entries as "action table pk actor".
func labels(entries []LogEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s %s %s %s", e.Action, e.Table, e.ObjectPK, e.ActorID))
	}
	return out
}

func TestFind(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		all := []string{
			"note.publish notes 1 alice",
			"delete items 3 carol",
			"update items 2 alice",
			"update items 1 bob",
			"create items 3 alice",
			"create items 2 alice",
			"create items 1 alice",
		}
		tests := []struct {
			name string
			q    Query
			want []string
		}{
			{name: "everything, newest first", q: Query{}, want: all},
			{name: "oldest first", q: Query{Oldest: true, Model: &Item{}, Actions: []Action{ActionCreate}},
				want: []string{"create items 1 alice", "create items 2 alice", "create items 3 alice"}},
			{name: "model", q: Query{Model: &Item{}}, want: all[1:]},
			{name: "table by name", q: Query{Table: "notes"}, want: all[:1]},
			{name: "one object", q: Query{Objects: &Item{ID: 1}}, want: []string{"update items 1 bob", "create items 1 alice"}},
			{name: "objects in a slice", q: Query{Objects: &[]Item{{ID: 3}, {ID: 2}}},
				want: []string{"delete items 3 carol", "update items 2 alice", "create items 3 alice", "create items 2 alice"}},
			{name: "object keys as text", q: Query{Model: &Item{}, ObjectPKs: []string{"2"}}, want: []string{"update items 2 alice", "create items 2 alice"}},
			{name: "actor", q: Query{Actors: []string{"bob", "carol"}}, want: []string{"delete items 3 carol", "update items 1 bob"}},
			{name: "actions", q: Query{Actions: []Action{ActionUpdate, ActionDelete}}, want: all[1:4]},
			{name: "correlation id", q: Query{CID: "job-1"}, want: all[:1]},
			{name: "time range", q: Query{Since: testNow.Add(time.Second), Until: testNow.Add(3 * time.Second)},
				want: []string{"update items 2 alice", "update items 1 bob"}},
			{name: "since only", q: Query{Since: testNow.Add(3 * time.Second)}, want: all[:2]},
			{name: "field by Go name", q: Query{Model: &Item{}, Field: "Name"},
				want: []string{"delete items 3 carol", "update items 1 bob", "create items 3 alice", "create items 2 alice", "create items 1 alice"}},
			{name: "field by column of a table", q: Query{Table: "items", Field: "qty", Actions: []Action{ActionUpdate}}, want: []string{"update items 2 alice"}},
			{name: "nothing matches", q: Query{Actors: []string{"mallory"}}, want: nil},
		}
		for _, tt := range tests {
			page, err := p.Find(ctx, db, tt.q)
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			if diff := cmp.Diff(tt.want, labels(page.Entries)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
			if page.Next != "" || page.Corrupt != nil {
				t.Errorf("%s: next %q, corrupt %v on a single page", tt.name, page.Next, page.Corrupt)
			}
		}
	})
}

// TestFindPages walks the log two entries at a time, newest first and oldest
// first, while new entries are inserted between pages: every entry that
// existed at the start comes exactly once, in order.
func TestFindPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		for _, oldest := range []bool{false, true} {
			start, err := p.Find(ctx, db, Query{Oldest: oldest, Limit: MaxPageSize})
			if err != nil {
				t.Fatal(err)
			}
			q := Query{Oldest: oldest, Limit: 2}
			var got []LogEntry
			for pages := 0; ; pages++ {
				page, err := p.Find(ctx, db, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page.Entries...)
				if page.Next == "" {
					break
				}
				if pages > 10 {
					t.Fatal("no last page")
				}
				// A concurrent writer: newer entries (with later times).
				if err := db.Create(&Item{Name: fmt.Sprint("new", pages)}).Error; err != nil {
					t.Fatal(err)
				}
				q.Cursor = page.Next
			}
			want := start.Entries
			if oldest {
				// Oldest first, the new entries come at the end.
				got = got[:len(want)]
			}
			if diff := cmp.Diff(labels(want), labels(got)); diff != "" {
				t.Errorf("oldest=%v: pages (-want +got):\n%s", oldest, diff)
			}
		}
	})
}

func TestFindErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		first, err := p.Find(ctx, db, Query{Limit: 2})
		if err != nil || first.Next == "" {
			t.Fatalf("first page: %v, next %q", err, first.Next)
		}
		tests := []struct {
			name string
			q    Query
			want error
		}{
			{name: "reversed time range", q: Query{Since: testNow.Add(time.Hour), Until: testNow}, want: ErrInvalidQuery},
			{name: "empty time range", q: Query{Since: testNow, Until: testNow}, want: ErrInvalidQuery},
			{name: "malformed cursor", q: Query{Limit: 2, Cursor: "not a cursor"}, want: ErrInvalidCursor},
			{name: "truncated cursor", q: Query{Limit: 2, Cursor: first.Next[:10]}, want: ErrInvalidCursor},
			{name: "cursor of another query", q: Query{Limit: 2, Actors: []string{"alice"}, Cursor: first.Next}, want: ErrInvalidCursor},
			{name: "cursor of the other order", q: Query{Limit: 2, Oldest: true, Cursor: first.Next}, want: ErrInvalidCursor},
			{name: "unknown field", q: Query{Model: &Item{}, Field: "Colour"}, want: ErrUnknownField},
			{name: "unknown column of a table", q: Query{Table: "items", Field: "colour"}, want: ErrUnknownField},
			{name: "field without a model", q: Query{Field: "name"}, want: ErrInvalidQuery},
			{name: "object keys without a model", q: Query{ObjectPKs: []string{"1"}}, want: ErrInvalidQuery},
			{name: "model that is not a model", q: Query{Model: 42}, want: ErrInvalidModel},
			{name: "model and table disagree", q: Query{Model: &Item{}, Table: "notes"}, want: ErrInvalidQuery},
			{name: "objects of another model", q: Query{Model: &Item{}, Objects: &Note{ID: 1}}, want: ErrInvalidQuery},
			{name: "object without key", q: Query{Objects: &Item{}}, want: ErrNoObjectKey},
			{name: "malformed action", q: Query{Actions: []Action{"drop table"}}, want: ErrInvalidAction},
			{name: "negative limit", q: Query{Limit: -1}, want: ErrInvalidQuery},
		}
		for _, tt := range tests {
			if _, err := p.Find(ctx, db, tt.q); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
	})
}

// TestCorruptEntries checks that rows whose stored JSON cannot be decoded
// are reported by ID and skipped, by Find and History.
func TestCorruptEntries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		// JSON that is valid (PostgreSQL and MySQL check that) but not a
		// map of [old, new] pairs; SQLite also gets text that is not JSON.
		bad := map[string]string{"changes": `{"name": "no pair"}`, "data": `[1, 2]`, "snapshot": `"text"`}
		if db.Dialector.Name() == "sqlite" {
			bad["changes"] = `{"name": [`
		}
		var ids []int64
		for _, col := range []string{"changes", "data", "snapshot"} {
			e := LogEntry{Table: "items", ObjectPK: "1", Action: ActionUpdate, CreatedAt: testNow.Add(time.Hour)}
			if err := db.Create(&e).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("UPDATE audit_log_entries SET "+col+" = ? WHERE id = ?", bad[col], e.ID).Error; err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		page, err := p.Find(ctx, db, Query{Objects: &Item{ID: 1}, Oldest: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"create items 1 alice", "update items 1 bob"}, labels(page.Entries)); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ids, page.Corrupt); diff != "" {
			t.Errorf("corrupt (-want +got):\n%s", diff)
		}

		entries, err := p.History(ctx, db, &Item{ID: 1})
		var corrupt *CorruptEntriesError
		if !errors.As(err, &corrupt) {
			t.Fatalf("History: %v, want a *CorruptEntriesError", err)
		}
		newestFirst := []int64{ids[2], ids[1], ids[0]}
		if diff := cmp.Diff(newestFirst, corrupt.IDs); diff != "" {
			t.Errorf("History corrupt IDs (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"update items 1 bob", "create items 1 alice"}, labels(entries)); diff != "" {
			t.Errorf("History entries (-want +got):\n%s", diff)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(ids[0])) {
			t.Errorf("error %q does not name the IDs", err)
		}
	})
}
