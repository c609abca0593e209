package auditlog

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// loadTableSizes are the table sizes of BenchmarkLoad: the workload's own
// rows only, and the same rows after 99,950 filler rows.
var loadTableSizes = []int{loadRows, 100_000}

// BenchmarkLoad runs TestLoad's workload (16 writers, every write path mixed
// on about 50 rows, deadlocks and serialization failures retried) for b.N
// operations, with the plugin (audited) and with the same workload under
// Disable (plain), on a table of 50 rows and on one of 100,000 rows (the
// filler rows come first and are never written). It reports operations per
// second of wall time and retries per 1,000 operations; the audited runs
// then check every row's history as TestLoad does.
//
//	go test -run '^$' -bench 'BenchmarkLoad/mysql' -benchtime 10s -count 5 .
//
// Setup (a fresh database, the filler rows, the 50 rows) is not timed: at
// -benchtime 1x each case takes about a second.
func BenchmarkLoad(b *testing.B) {
	for _, dbName := range testDatabases {
		b.Run(dbName, func(b *testing.B) {
			for _, size := range loadTableSizes {
				b.Run(fmt.Sprintf("table_%d", size), func(b *testing.B) {
					for _, mode := range []string{"audited", "plain"} {
						b.Run(mode, func(b *testing.B) { benchLoad(b, dbName, size, mode == "audited") })
					}
				})
			}
		})
	}
}

func benchLoad(b *testing.B, dbName string, size int, audited bool) {
	db := openTestDB(b, dbName, nil)
	setup(b, db, []any{&LoadItem{}})
	ctx := context.Background()
	if !audited {
		ctx = Disable(ctx)
	}
	w := newLoadWorkload(db.WithContext(ctx))
	w.floor = seedLoadFiller(b, db, size-loadRows)
	for range loadRows {
		if err := w.retry(w.create); err != nil {
			b.Fatal(err)
		}
	}
	w.mu.Lock()
	w.ops, w.retries = map[string]int{}, 0 // count the timed operations only
	w.mu.Unlock()

	var left atomic.Int64
	left.Store(int64(b.N))
	b.ResetTimer()
	errs := w.drive(func() bool { return left.Add(-1) >= 0 })
	b.StopTimer()
	for _, err := range errs {
		b.Error(err)
	}
	w.mu.Lock()
	ops, retries := w.total(), w.retries
	w.mu.Unlock()
	if ops > 0 {
		b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64(retries)*1000/float64(ops), "retries/1000ops")
	}
	if audited && !b.Failed() {
		checkLoadHistories(b, db, w.changes, w.floor)
	}
}

// seedLoadFiller inserts n rows (at most 100,000) that the workload never
// writes, in one statement, analyzes the table and returns the largest key:
// the workload's rows come after. (The numbers are digits cross-joined: MariaDB stops a
// recursive CTE after 1,000 iterations by default.)
func seedLoadFiller(b *testing.B, db *gorm.DB, n int) int64 {
	b.Helper()
	if n <= 0 {
		return 0
	}
	if n > 100_000 {
		b.Fatalf("%d filler rows, at most 100000", n)
	}
	err := db.Exec(`INSERT INTO load_items (name, counter)
WITH d(x) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)
SELECT 'filler', a.x + 10*b.x + 100*c.x + 1000*e.x + 10000*f.x
FROM d a CROSS JOIN d b CROSS JOIN d c CROSS JOIN d e CROSS JOIN d f
WHERE a.x + 10*b.x + 100*c.x + 1000*e.x + 10000*f.x < ?`, n).Error
	if err != nil {
		b.Fatalf("filler rows: %v", err)
	}
	analyze := map[string]string{"postgres": "ANALYZE load_items", "mysql": "ANALYZE TABLE load_items"}[db.Dialector.Name()]
	if analyze == "" {
		analyze = "ANALYZE load_items"
	}
	if err := db.Exec(analyze).Error; err != nil { // as a table in use would be
		b.Fatalf("analyze: %v", err)
	}
	var floor int64
	if err := db.Model(&LoadItem{}).Select("MAX(id)").Scan(&floor).Error; err != nil {
		b.Fatal(err)
	}
	return floor
}
