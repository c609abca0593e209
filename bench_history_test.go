package auditlog

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// BenchmarkHistory measures the per-object history query (Find of one
// object's entries, newest first, a page of 100) on PostgreSQL with the log
// table holding 10,000 and 1,000,000 entries, every object having 20
// entries. The table is generated in bulk by the setup, outside the timed
// loop: rows first, indexes after, then ANALYZE. The 1M setup takes about
// half a minute.
func BenchmarkHistory(b *testing.B) {
	for _, size := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("postgres/entries_%d", size), func(b *testing.B) {
			db := openTestDB(b, "postgres", &gorm.Config{Logger: logger.Discard})
			p := New()
			if err := db.Use(p); err != nil {
				b.Fatal(err)
			}
			fillLog(b, db, size)
			ctx := context.Background()
			objects := size / 20
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				pk := fmt.Sprint((i * 7919) % objects) // spread over the table
				page, err := p.Find(ctx, db, Query{Table: "items", ObjectPKs: []string{pk}})
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Entries) != 20 {
					b.Fatalf("object %s: %d entries, want 20", pk, len(page.Entries))
				}
			}
		})
	}
}

// fillLog generates size entries: objects 0..size/20-1 of table items, 20
// entries each, spread over time, with actors and correlation ids.
func fillLog(b *testing.B, db *gorm.DB, size int) {
	b.Helper()
	if err := db.AutoMigrate(&LogEntry{}); err != nil {
		b.Fatal(err)
	}
	var indexes []string
	if err := db.Raw(`SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_log_entries' AND indexname LIKE 'idx_%'
		AND schemaname = current_schema()`).Scan(&indexes).Error; err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{
		`DO $$ DECLARE r record; BEGIN FOR r IN SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log_entries'
		 AND indexname LIKE 'idx_%' AND schemaname = current_schema() LOOP EXECUTE 'DROP INDEX ' || quote_ident(r.indexname); END LOOP; END $$`,
		fmt.Sprintf(`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, actor_id, cid, created_at)
		 SELECT 'items', (i %% %d)::text, 'Item', 'update', '{"qty": [1, 2]}', 'user-' || (i %% 1000), 'req-' || (i / 10),
		        timestamptz '2026-01-01' + i * interval '1 second'
		 FROM generate_series(1, %d) AS i`, size/20, size),
	} {
		if err := db.Exec(stmt).Error; err != nil {
			b.Fatal(err)
		}
	}
	for _, def := range indexes {
		if err := db.Exec(def).Error; err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Exec("ANALYZE audit_log_entries").Error; err != nil {
		b.Fatal(err)
	}
}
