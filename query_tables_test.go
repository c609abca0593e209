package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestFindTablesAndRepr covers the filters the web view needs: several
// tables in one query, and free text over ObjectRepr whose LIKE wildcards
// match only themselves.
func TestFindTablesAndRepr(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		for _, body := range []string{"50%_off!", "50xoffx", "MiXeD Case"} {
			note := Note{Body: body}
			if err := db.Create(&note).Error; err != nil {
				t.Fatal(err)
			}
			if err := p.Log(ctx, db, &note, "note.publish", nil); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name string
			q    Query
			want []string
		}{
			{name: "several tables", q: Query{Tables: []string{"notes", "items"}, Actors: []string{"alice", "carol"}, Actions: []Action{ActionDelete, "note.publish"}},
				want: []string{"note.publish notes 1 alice", "delete items 3 carol"}},
			{name: "tables and table must both match", q: Query{Table: "items", Tables: []string{"notes"}}, want: nil},
			{name: "tables exact, not case-folded", q: Query{Tables: []string{"NOTES"}}, want: nil},
			{name: "repr wildcards are literal", q: Query{ReprContains: "50%_off!"}, want: []string{"note.publish notes 2 "}},
			{name: "repr underscore is literal", q: Query{ReprContains: "%_"}, want: []string{"note.publish notes 2 "}},
			{name: "repr ignores case", q: Query{ReprContains: "mixed case"}, want: []string{"note.publish notes 4 "}},
			{name: "repr with other filters", q: Query{ReprContains: "note: hello", Actors: []string{"alice"}},
				want: []string{"note.publish notes 1 alice"}},
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
		}
		// A cursor of one Tables/ReprContains query does not continue another.
		page, err := p.Find(ctx, db, Query{Tables: []string{"items"}, Limit: 1})
		if err != nil || page.Next == "" {
			t.Fatalf("first page: %v, next %q", err, page.Next)
		}
		_, err = p.Find(ctx, db, Query{Tables: []string{"notes"}, Limit: 1, Cursor: page.Next})
		if !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("cursor replayed on other tables: %v, want ErrInvalidCursor", err)
		}
	})
}

// TestStateAtKey reconstructs a state by table and key text, also after a
// hard delete took the row away.
func TestStateAtKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		got, err := p.StateAtKey(ctx, db, "items", "1", testNow.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"name": "pencil", "qty": json.Number("0")}, got); diff != "" {
			t.Errorf("items 1 (-want +got):\n%s", diff)
		}
		if _, err := p.StateAtKey(ctx, db, "items", "3", testNow.Add(time.Hour)); !errors.Is(err, ErrNoState) {
			t.Errorf("after hard delete: %v, want ErrNoState", err)
		}
		got, err = p.StateAtKey(ctx, db, "items", "3", testNow)
		if err != nil || got["name"] != "pad" {
			t.Errorf("items 3 before its delete: %v, %v", got, err)
		}
	})
}

// TestFindPrev pages forward two entries at a time, then back with
// Page.Prev: each page back is the page seen before, in the same order.
func TestFindPrev(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		for _, oldest := range []bool{false, true} {
			var pages [][]string
			q := Query{Oldest: oldest, Limit: 2}
			page, err := p.Find(ctx, db, q)
			if err != nil || page.Prev != "" {
				t.Fatalf("first page: %v, prev %q", err, page.Prev)
			}
			pages = append(pages, labels(page.Entries))
			for page.Next != "" {
				q.Cursor = page.Next
				if page, err = p.Find(ctx, db, q); err != nil {
					t.Fatal(err)
				}
				pages = append(pages, labels(page.Entries))
			}
			for i := len(pages) - 2; i >= 0; i-- {
				if page.Prev == "" {
					t.Fatalf("oldest=%v: no Prev on page %d", oldest, i+1)
				}
				q.Cursor = page.Prev
				if page, err = p.Find(ctx, db, q); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(pages[i], labels(page.Entries)); diff != "" {
					t.Errorf("oldest=%v page %d back (-want +got):\n%s", oldest, i, diff)
				}
				if page.Next == "" {
					t.Errorf("oldest=%v page %d back: no Next", oldest, i)
				}
			}
			if page.Prev != "" {
				t.Errorf("oldest=%v: Prev %q on the first page reached back", oldest, page.Prev)
			}
		}
		page, err := p.Find(ctx, db, Query{IDs: []int64{2, 4}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"update items 1 bob", "create items 2 alice"}, labels(page.Entries)); diff != "" {
			t.Errorf("IDs (-want +got):\n%s", diff)
		}
	})
}
