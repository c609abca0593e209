package auditlog

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestFindUsesIndexes checks on PostgreSQL, with 50,000 entries in the log
// table, that the queries Find builds (first pages and pages after a cursor)
// are served by the index made for them, and never by a sequential scan.
func TestFindUsesIndexes(t *testing.T) {
	rec := &sqlRecorder{}
	db := openTestDB(t, "postgres", &gorm.Config{Logger: rec})
	p := New()
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}); err != nil {
		t.Fatal(err)
	}
	err := db.Exec(`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, actor_id, cid, created_at)
		SELECT 't' || (i % 20), (i % 2500)::text, '', 'update', '{"qty": [1, 2]}', 'user-' || (i % 100), 'req-' || (i / 10),
		       timestamptz '2026-01-01' + i * interval '1 second'
		FROM generate_series(1, 50000) AS i`).Error
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("ANALYZE audit_log_entries").Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	queries := map[string]struct {
		q     Query
		index string
	}{
		"per object":         {Query{Table: "t7", ObjectPKs: []string{"7"}, Limit: 3}, "object"},
		"per model":          {Query{Table: "t7", Limit: 3}, "model"},
		"per actor":          {Query{Actors: []string{"user-42"}, Limit: 3}, "actor"},
		"per correlation id": {Query{CID: "req-420", Limit: 3}, "cid"},
		"time range":         {Query{Since: time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC), Until: time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC), Limit: 3}, "created"},
		"per actor, oldest":  {Query{Actors: []string{"user-42"}, Oldest: true, Limit: 3}, "actor"},
		// Several tables (the web view's models, or what a viewer may see):
		// any index, never a sequential scan.
		"several tables": {Query{Tables: []string{"t7", "t8"}, Limit: 3}, ""},
	}
	for name, tt := range queries {
		q := tt.q
		// Pages 1 and 2, then back to page 1 with Page.Prev.
		for pageNo := 1; pageNo <= 3; pageNo++ {
			rec.reset()
			page, err := p.Find(ctx, db, q)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(page.Entries) == 0 || page.Next == "" || pageNo == 2 && page.Prev == "" {
				t.Fatalf("%s page %d: %d entries, next %q: the data does not exercise paging", name, pageNo, len(page.Entries), page.Next)
			}
			sql := lastSelect(rec)
			var plan []string
			if err := db.Raw("EXPLAIN " + sql).Scan(&plan).Error; err != nil {
				t.Fatalf("%s: explain: %v", name, err)
			}
			text := strings.Join(plan, "\n")
			index := "idx_audit_log_entries_" + tt.index + " "
			if tt.index == "" {
				index = "idx_audit_log_entries_"
			}
			if strings.Contains(text, "Seq Scan") || !strings.Contains(text, index) {
				t.Errorf("%s page %d is not served by an index:\n%s\n%s", name, pageNo, sql, text)
			}
			q.Cursor = page.Next
			if pageNo == 2 {
				q.Cursor = page.Prev
			}
		}
	}
}

// lastSelect is the last SELECT the recorder saw.
func lastSelect(r *sqlRecorder) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.sql) - 1; i >= 0; i-- {
		if strings.HasPrefix(r.sql[i], "SELECT") {
			return r.sql[i]
		}
	}
	return ""
}
