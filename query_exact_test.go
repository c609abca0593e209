package auditlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Code is a model keyed by text, whose keys differ only in case and
// trailing spaces.
type Code struct {
	Code  string `gorm:"primaryKey;size:20"`
	Title string
}

// seedLookalikes writes entries whose actors, actions, correlation ids and
// object keys differ only in case or a trailing space, one second apart,
// directly into the log table.
func seedLookalikes(t *testing.T, db *gorm.DB) *Plugin {
	t.Helper()
	p := New(AllowUnknownActions())
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}, &Code{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Code{}); err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{"abc", "ABC", "abc "} {
		e := LogEntry{Table: "codes", ObjectPK: v, ObjectRepr: "Code(" + v + ")", Action: Action("publish"),
			Changes: Changes{"title": {Old: nil, New: v}}, ActorID: "alice", CID: "req-1",
			CreatedAt: testNow.Add(time.Duration(i) * time.Second)}
		e2 := e
		e2.ObjectPK, e2.ActorID, e2.CID = "x", v, "req-"+v
		e2.Action = Action([]string{"publish", "Publish", "publish "}[i])
		e2.Changes = Changes{"title": {Old: "a", New: "b"}}
		for _, entry := range []*LogEntry{&e, &e2} {
			if err := db.Create(entry).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

// pks are the entries' object keys in order.
func pks(entries []LogEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%q %q %q %q", e.ObjectPK, e.ActorID, e.Action, e.CID))
	}
	return out
}

func TestComparisonsAreExact(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedLookalikes(t, db)
		ctx := context.Background()
		find := func(q Query) []string {
			t.Helper()
			q.Oldest = true
			page, err := p.Find(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			return pks(page.Entries)
		}
		cases := []struct {
			name string
			q    Query
			want []string
		}{
			{"actor", Query{Actors: []string{"abc "}}, []string{`"x" "abc " "publish " "req-abc "`}},
			{"actors", Query{Actors: []string{"ABC", "abc"}}, []string{`"x" "abc" "publish" "req-abc"`, `"x" "ABC" "Publish" "req-ABC"`}},
			{"action", Query{Actions: []Action{"Publish"}}, []string{`"x" "ABC" "Publish" "req-ABC"`}},
			{"cid", Query{CID: "req-abc"}, []string{`"x" "abc" "publish" "req-abc"`}},
			{"object", Query{Table: "codes", ObjectPKs: []string{"abc "}}, []string{`"abc " "alice" "publish" "req-1"`}},
			{"objects", Query{Objects: &[]Code{{Code: "ABC"}, {Code: "abc"}}}, []string{`"abc" "alice" "publish" "req-1"`, `"ABC" "alice" "publish" "req-1"`}},
			{"table", Query{Table: "CODES"}, nil},
		}
		for _, c := range cases {
			if diff := cmp.Diff(c.want, find(c.q)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, diff)
			}
		}

		entries, err := p.History(ctx, db, &Code{Code: "abc"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{`"abc" "alice" "publish" "req-1"`}, pks(entries)); diff != "" {
			t.Errorf("History (-want +got):\n%s", diff)
		}
		state, err := p.StateAt(ctx, db, &Code{Code: "ABC"}, testNow.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"title": "ABC"}, state); diff != "" {
			t.Errorf("StateAt (-want +got):\n%s", diff)
		}

		n, err := p.Purge(ctx, db, testNow.Add(time.Hour), PurgeOptions{Actions: []Action{"publish"}})
		if err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Errorf("Purge of action publish deleted %d entries, want 4 (3 of the codes, 1 of x)", n)
		}
		left := find(Query{})
		want := []string{`"x" "ABC" "Publish" "req-ABC"`, `"x" "abc " "publish " "req-abc "`}
		if diff := cmp.Diff(want, left); diff != "" {
			t.Errorf("left after Purge (-want +got):\n%s", diff)
		}
	})
}

// A time bound finer than the database compares is rounded up, so that
// "since the last entry seen" (its time plus a nanosecond) does not return
// it again, and "until" keeps its meaning.
func TestTimeBoundsAreExact(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New()
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}); err != nil {
			t.Fatal(err)
		}
		at := testNow.Add(123 * time.Millisecond)
		e := LogEntry{Table: "items", ObjectPK: "1", Action: ActionUpdate, CreatedAt: at}
		if err := db.Create(&e).Error; err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		count := func(q Query) int {
			t.Helper()
			page, err := p.Find(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			return len(page.Entries)
		}
		cases := []struct {
			name string
			q    Query
			want int
		}{
			{"since at", Query{Since: at}, 1},
			{"since at+1ns", Query{Since: at.Add(time.Nanosecond)}, 0},
			{"since at-1ns", Query{Since: at.Add(-time.Nanosecond)}, 1},
			{"until at", Query{Until: at}, 0},
			{"until at+1ns", Query{Until: at.Add(time.Nanosecond)}, 1},
		}
		for _, c := range cases {
			if got := count(c.q); got != c.want {
				t.Errorf("%s: %d entries, want %d", c.name, got, c.want)
			}
		}
		n, err := p.Purge(ctx, db, at.Add(time.Nanosecond), PurgeOptions{})
		if err != nil || n != 1 {
			t.Errorf("Purge before at+1ns: %d, %v; want 1 entry deleted", n, err)
		}
	})
}

// A row whose changes are not JSON, or not pairs, is listed as corrupt by a
// Field filter too, never a failure of the query.
func TestFieldFilterListsCorruptRows(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		bad := `{"name": "no pair"}` // PostgreSQL and MySQL store only valid JSON
		if db.Dialector.Name() == "sqlite" {
			bad = `{"name": [`
		}
		e := LogEntry{Table: "items", ObjectPK: "1", Action: ActionUpdate, CreatedAt: testNow.Add(time.Hour)}
		if err := db.Create(&e).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("UPDATE audit_log_entries SET changes = ? WHERE id = ?", bad, e.ID).Error; err != nil {
			t.Fatal(err)
		}
		for _, q := range []Query{{Table: "items", Field: "name", Oldest: true}, {Model: &Item{}, Field: "Name", Oldest: true}} {
			page, err := p.Find(context.Background(), db, q)
			if err != nil {
				t.Fatalf("Find %+v: %v", q, err)
			}
			if diff := cmp.Diff([]string{"create items 1 alice", "create items 2 alice", "create items 3 alice", "update items 1 bob", "delete items 3 carol"}, labels(page.Entries)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]int64{e.ID}, page.Corrupt); diff != "" {
				t.Errorf("corrupt (-want +got):\n%s", diff)
			}
		}
	})
}

// Query.Field of a table names a column exactly: not in another case, not
// as a pattern.
func TestFieldOfTableIsExact(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		for _, field := range []string{"Name", "NAME", "nam_", "na%", "name "} {
			_, err := p.Find(ctx, db, Query{Table: "items", Field: field})
			if !errors.Is(err, ErrUnknownField) {
				t.Errorf("Field %q: %v, want ErrUnknownField", field, err)
			}
		}
		page, err := p.Find(ctx, db, Query{Table: "items", Field: "qty", Oldest: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"create items 1 alice", "create items 2 alice", "create items 3 alice", "update items 2 alice", "delete items 3 carol"}, labels(page.Entries)); diff != "" {
			t.Errorf("Field qty (-want +got):\n%s", diff)
		}
	})
}

// Cursors hold any time a database keeps, also outside the years
// 1678–2262 that Unix nanoseconds cover.
func TestCursorsOutsideNanosecondRange(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New()
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}); err != nil {
			t.Fatal(err)
		}
		times := []time.Time{
			time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), // a tie: ordered by ID
			testNow,
			time.Date(2500, 6, 1, 12, 0, 0, 0, time.UTC),
		}
		var want []string
		for i, at := range times {
			e := LogEntry{Table: "items", ObjectPK: fmt.Sprint(i), Action: ActionUpdate, CreatedAt: at}
			if err := db.Create(&e).Error; err != nil {
				t.Fatal(err)
			}
			want = append(want, e.ObjectPK)
		}
		for _, oldest := range []bool{true, false} {
			var got []string
			q := Query{Oldest: oldest, Limit: 1}
			for range 10 {
				page, err := p.Find(context.Background(), db, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page.Entries {
					got = append(got, e.ObjectPK)
				}
				if q.Cursor = page.Next; q.Cursor == "" {
					break
				}
			}
			w := slices.Clone(want)
			if !oldest {
				slices.Reverse(w)
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("oldest=%v: pages (-want +got):\n%s", oldest, diff)
			}
		}
	})
}
