package auditlog

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// BenchmarkFindChildren measures a page of 20 entries of a parent's
// timeline (Query.Children) beside a page of 20 of its own entries, on
// PostgreSQL with 1,000,000 entries: 20,000 orders with 10 entries each
// and their 100,000 lines (5 per order) with 8 entries each, parented by
// their order. The table is generated in bulk outside the timed loop.
func BenchmarkFindChildren(b *testing.B) {
	db := openTestDB(b, "postgres", &gorm.Config{Logger: logger.Discard})
	p := New()
	if err := db.Use(p); err != nil {
		b.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}); err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, parent_table, parent_pk, created_at)
		 SELECT 'orders', (i % 20000)::text, '', 'update', '{"ref": [1, 2]}'::jsonb, '', '', timestamptz '2026-01-01' + i * interval '1 second'
		 FROM generate_series(1, 200000) AS i`,
		`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, parent_table, parent_pk, created_at)
		 SELECT 'lines', (i % 100000)::text, '', 'update', '{"qty": [1, 2]}'::jsonb, 'orders', ((i % 100000) / 5)::text,
		        timestamptz '2026-01-01' + i * interval '1 second'
		 FROM generate_series(200001, 1000000) AS i`,
		`ANALYZE audit_log_entries`,
	} {
		if err := db.Exec(stmt).Error; err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		children bool
	}{{"own", false}, {"children", true}} {
		b.Run("postgres/"+tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				pk := fmt.Sprint((i * 7919) % 20000)
				page, err := p.Find(ctx, db, Query{Table: "orders", ObjectPKs: []string{pk}, Children: tt.children, Limit: 20})
				if err != nil {
					b.Fatal(err)
				}
				if tt.children && len(page.Entries) != 20 || !tt.children && len(page.Entries) != 10 {
					b.Fatalf("order %s: %d entries", pk, len(page.Entries))
				}
			}
		})
	}
}
