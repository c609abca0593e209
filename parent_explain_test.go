package auditlog

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// TestFindChildrenUsesIndexes checks on PostgreSQL, with 60,000 entries of
// 2,000 parents and their children, that Find with Children reads each
// branch through its index, (table, object pk, created at, id) for the
// parent's own entries and (parent table, parent pk, created at, id) for
// its children's, each limited to a page and merged in order, with no
// sequential scan and no sort:
// first pages, pages after a cursor and pages back, in both orders.
func TestFindChildrenUsesIndexes(t *testing.T) {
	rec := &sqlRecorder{}
	db := openTestDB(t, "postgres", &gorm.Config{Logger: rec})
	p := New()
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}); err != nil {
		t.Fatal(err)
	}
	// Entries 1..20000: orders 0..1999; 20001..60000: their lines, two
	// per order, parented by the order.
	err := db.Exec(`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, parent_table, parent_pk, created_at)
		SELECT 'orders', (i % 2000)::text, '', 'update', '{"ref": [1, 2]}'::jsonb, '', '', timestamptz '2026-01-01' + i * interval '1 second'
		FROM generate_series(1, 20000) AS i
		UNION ALL
		SELECT 'lines', i::text, '', 'update', '{"qty": [1, 2]}'::jsonb, 'orders', (i % 2000)::text, timestamptz '2026-01-01' + i * interval '1 second'
		FROM generate_series(20001, 60000) AS i`).Error
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("ANALYZE audit_log_entries").Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, oldest := range []bool{false, true} {
		q := Query{Table: "orders", ObjectPKs: []string{"42"}, Children: true, Limit: 3, Oldest: oldest}
		for pageNo := 1; pageNo <= 3; pageNo++ {
			rec.reset()
			page, err := p.Find(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Entries) != 3 || page.Next == "" {
				t.Fatalf("oldest %v, page %d: %d entries, next %q: the data does not exercise paging", oldest, pageNo, len(page.Entries), page.Next)
			}
			sql := lastSelect(rec)
			var plan []string
			if err := db.Raw("EXPLAIN " + sql).Scan(&plan).Error; err != nil {
				t.Fatalf("explain: %v", err)
			}
			text := strings.Join(plan, "\n")
			for _, index := range []string{"idx_audit_log_entries_object ", "idx_audit_log_entries_parent "} {
				if !strings.Contains(text, index) {
					t.Errorf("oldest %v, page %d does not use %s:\n%s\n%s", oldest, pageNo, index, sql, text)
				}
			}
			// Two limited index scans merged in order (PostgreSQL 15:
			// Merge Append), never a scan or sort of a whole branch.
			if strings.Contains(text, "Seq Scan") || strings.Contains(text, "Sort  (") || strings.Contains(text, "Bitmap") {
				t.Errorf("oldest %v, page %d reads more than the index ranges:\n%s\n%s", oldest, pageNo, sql, text)
			}
			q.Cursor = page.Next
			if pageNo == 2 {
				q.Cursor = page.Prev
			}
		}
	}
}
