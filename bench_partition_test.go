package auditlog

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// partitionBenchSizes are the log sizes of BenchmarkPartitioned: 10,000,
// and $AUDITLOG_PARTITION_BENCH_ENTRIES when set (BENCHMARKS.md runs it
// with 10,000,000; its setup takes minutes).
func partitionBenchSizes(b *testing.B) []int {
	sizes := []int{10_000}
	if s := os.Getenv("AUDITLOG_PARTITION_BENCH_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10_000 {
			b.Fatalf("AUDITLOG_PARTITION_BENCH_ENTRIES=%q: want a number of at least 10000", s)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// BenchmarkPartitioned measures, on PostgreSQL with the log table
// partitioned by month (WithMonthlyPartitions) and holding N entries
// spread over the twelve months before the clock's, an audited insert (a
// Create of one Item: the write and its entry) and the per-object history
// (History of one object: 10 entries in every size, spread over the
// months). The logs are generated in bulk by the setup, outside the timed
// loop (rows first, indexes after, then ANALYZE), all sizes first; then the
// cases run $AUDITLOG_PARTITION_BENCH_ROUNDS times (default 1) in turn, so
// that a drift of the machine's load touches every size alike (benchstat
// takes the rounds as samples of one name).
//
//	AUDITLOG_PARTITION_BENCH_ENTRIES=10000000 AUDITLOG_PARTITION_BENCH_ROUNDS=5 \
//	  go test -run '^$' -bench BenchmarkPartitioned -benchtime 1000x -timeout 90m .
func BenchmarkPartitioned(b *testing.B) {
	type bench struct {
		size int
		db   *gorm.DB
		p    *Plugin
	}
	var benches []bench
	for _, size := range partitionBenchSizes(b) {
		clock := &partitionClock{day(2026, 11, 15)}
		db := openTestDB(b, "postgres", &gorm.Config{Logger: logger.Discard})
		p := New(WithClock(clock.Now), WithMonthlyPartitions(1))
		if err := db.Use(p); err != nil {
			b.Fatal(err)
		}
		fillPartitionedLog(b, db, p, clock, size)
		if err := p.Register(&Item{}); err != nil {
			b.Fatal(err)
		}
		benches = append(benches, bench{size, db, p})
	}
	rounds := 1
	if s := os.Getenv("AUDITLOG_PARTITION_BENCH_ROUNDS"); s != "" {
		var err error
		if rounds, err = strconv.Atoi(s); err != nil || rounds < 1 {
			b.Fatalf("AUDITLOG_PARTITION_BENCH_ROUNDS=%q: want a positive number", s)
		}
	}
	for range rounds {
		for _, c := range benches {
			b.Run(fmt.Sprintf("postgres/entries_%d/insert", c.size), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.db.Create(&Item{Name: "bench", Qty: 1}).Error; err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		for _, c := range benches {
			b.Run(fmt.Sprintf("postgres/entries_%d/history", c.size), func(b *testing.B) {
				benchPartitionedHistory(b, c.db, c.p, c.size/10)
			})
		}
	}
}

// benchPartitionedHistory reads the history of objects spread over the
// table, each of 10 entries.
func benchPartitionedHistory(b *testing.B, db *gorm.DB, p *Plugin, objects int) {
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		pk := 1 + (i*7919)%objects
		entries, err := p.History(ctx, db, &Item{ID: int64(pk)})
		if err != nil {
			b.Fatal(err)
		}
		if len(entries) != 10 {
			b.Fatalf("object %d: %d entries, want 10", pk, len(entries))
		}
	}
}

// fillPartitionedLog creates the partitioned log table with partitions for
// the twelve months before the clock's and generates size entries of table
// items in them: objects 1..size/10 (ids the benchmark's inserts never
// reach: they start above), 10 entries each, spread over the year.
func fillPartitionedLog(b *testing.B, db *gorm.DB, p *Plugin, clock *partitionClock, size int) {
	b.Helper()
	now := clock.now
	for m := 12; m >= 0; m-- { // a partition for each month of the year
		clock.now = now.AddDate(0, -m, 0)
		if err := p.AutoMigrate(db); err != nil {
			b.Fatal(err)
		}
	}
	clock.now = now
	var indexes []string
	if err := db.Raw(`SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_log_entries' AND indexname LIKE 'idx_%'
		AND schemaname = current_schema()`).Scan(&indexes).Error; err != nil {
		b.Fatal(err)
	}
	start := now.AddDate(-1, 0, 0)
	step := time.Duration(int64(365*24*time.Hour) / int64(size))
	for _, stmt := range []string{
		`DO $$ DECLARE r record; BEGIN FOR r IN SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log_entries'
		 AND indexname LIKE 'idx_%' AND schemaname = current_schema() LOOP EXECUTE 'DROP INDEX ' || quote_ident(r.indexname); END LOOP; END $$`,
		fmt.Sprintf(`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, actor_id, cid, created_at)
		 SELECT 'items', (1 + i %% %d)::text, 'Item', 'update', '{"qty": [1, 2]}', 'user-' || (i %% 1000), 'req-' || (i / 10),
		        timestamptz '%s' + i * interval '%d microseconds'
		 FROM generate_series(0, %d) AS i`, size/10, start.Format(time.RFC3339), step.Microseconds(), size-1),
	} {
		if err := db.Exec(stmt).Error; err != nil {
			b.Fatal(err)
		}
	}
	for _, def := range indexes {
		// A partitioned table's index is printed "ON ONLY": made on it
		// alone. Without ONLY it is made on every partition too.
		if err := db.Exec(strings.Replace(def, " ON ONLY ", " ON ", 1)).Error; err != nil {
			b.Fatal(err)
		}
	}
	// Item ids start after the generated objects'.
	if err := db.AutoMigrate(&Item{}); err != nil {
		b.Fatal(err)
	}
	if err := db.Exec("SELECT setval(pg_get_serial_sequence('items', 'id'), ?)", size/10+1).Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Exec("ANALYZE audit_log_entries").Error; err != nil {
		b.Fatal(err)
	}
}
