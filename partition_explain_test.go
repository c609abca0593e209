package auditlog

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// TestPartitionPruning checks on a partitioned log of three months that the
// queries bounded in time read only the partitions of their range: Find
// with Since and Until, the pages after the first (bounded by the cursor)
// and Purge's batches; and that an unbounded per-object query (History's)
// reads each month through its index, never by a sequential scan.
func TestPartitionPruning(t *testing.T) {
	rec := &sqlRecorder{}
	db := openTestDB(t, "postgres", &gorm.Config{Logger: rec})
	clock := &partitionClock{day(2026, 10, 1)}
	p := New(WithClock(clock.Now), WithMonthlyPartitions(2))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := p.AutoMigrate(db); err != nil {
		t.Fatal(err)
	}
	// 30,000 entries, one a ~4 minutes from October 1 to December 23.
	err := db.Exec(`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, actor_id, cid, created_at)
		SELECT 't' || (i % 20), (i % 2500)::text, '', 'update', '{"qty": [1, 2]}', 'user-' || (i % 100), 'req-' || (i / 10),
		       timestamptz '2026-10-01' + i * interval '4 minutes'
		FROM generate_series(1, 30000) AS i`).Error
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("ANALYZE audit_log_entries").Error; err != nil {
		t.Fatal(err)
	}
	explain := func(sql string) string {
		var plan []string
		if err := db.Raw("EXPLAIN " + sql).Scan(&plan).Error; err != nil {
			t.Fatalf("explain: %v", err)
		}
		return strings.Join(plan, "\n")
	}
	ctx := context.Background()
	check := func(name string, read []string, skipped []string) {
		t.Helper()
		sql := lastSelect(rec)
		plan := explain(sql)
		for _, part := range read {
			if !strings.Contains(plan, "audit_log_entries_"+part) {
				t.Errorf("%s does not read partition %s:\n%s\n%s", name, part, sql, plan)
			}
		}
		for _, part := range skipped {
			if strings.Contains(plan, "audit_log_entries_"+part) {
				t.Errorf("%s reads partition %s:\n%s\n%s", name, part, sql, plan)
			}
		}
		// The default partition is empty: any plan reads it at no cost.
		if strings.Contains(plan, "Seq Scan on audit_log_entries_p2") {
			t.Errorf("%s has a sequential scan of a month:\n%s\n%s", name, sql, plan)
		}
	}

	rec.reset()
	page, err := p.Find(ctx, db, Query{Since: day(2026, 11, 2), Until: day(2026, 11, 20), Limit: 5})
	if err != nil || len(page.Entries) != 5 || page.Next == "" {
		t.Fatalf("Find November: %v, %d entries", err, len(page.Entries))
	}
	check("Find November", []string{"p202611"}, []string{"p202610", "p202612", "pdefault"})

	rec.reset()
	first, err := p.Find(ctx, db, Query{Table: "t7", Limit: 3})
	if err != nil || first.Next == "" {
		t.Fatalf("Find t7: %v", err)
	}
	rec.reset()
	// Newest first: the second page's cursor is in December; with one
	// entry of t7 every 80 minutes it stays there.
	if _, err := p.Find(ctx, db, Query{Table: "t7", Limit: 3, Cursor: first.Next}); err != nil {
		t.Fatal(err)
	}
	check("Find t7 page 2", []string{"p202612"}, nil)

	rec.reset()
	if _, err := p.Find(ctx, db, Query{Table: "t7", ObjectPKs: []string{"7"}, Limit: 3}); err != nil {
		t.Fatal(err)
	}
	check("per-object Find (unbounded)", []string{"p202610", "p202611", "p202612"}, nil)

	rec.reset()
	if _, err := p.Purge(ctx, db, day(2026, 10, 20), PurgeOptions{}); err != nil {
		t.Fatal(err)
	}
	// Before October no month has a partition: the default one may hold
	// such entries, so it is read too.
	check("Purge before October 20", []string{"p202610", "pdefault"}, []string{"p202611", "p202612"})
}
