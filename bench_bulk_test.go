package auditlog

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// bulkSizes are BenchmarkBulk's row counts: AUDITLOG_BULK_ROWS, a comma
// separated list (default 1000, so that CI's -benchtime 1x stays short).
func bulkSizes(b *testing.B) []int {
	spec := os.Getenv("AUDITLOG_BULK_ROWS")
	if spec == "" {
		spec = "1000"
	}
	var sizes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("AUDITLOG_BULK_ROWS: %q is not a row count", f)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// BenchmarkBulk measures one audited Where update (qty + 1) or delete of
// every row of a table of <rows> rows, as BenchmarkBulk/<db>/<op>/<rows>.
// Besides time and allocations it reports ns/row and peak-heap-MB: the
// highest HeapInuse sampled every 2 ms during the write, less HeapInuse after
// a GC before it. After each write it checks that the log holds exactly one
// entry per row, for that row. Seeding (generate_series on PostgreSQL) and
// the checks are not timed.
func BenchmarkBulk(b *testing.B) {
	for _, dbName := range testDatabases {
		b.Run(dbName, func(b *testing.B) {
			for _, op := range []string{"update", "delete"} {
				b.Run(op, func(b *testing.B) {
					for _, n := range bulkSizes(b) {
						b.Run(strconv.Itoa(n), func(b *testing.B) { benchBulk(b, dbName, op, n) })
					}
				})
			}
		})
	}
}

func benchBulk(b *testing.B, dbName, op string, n int) {
	env := newBenchEnv(b, dbName, "audited")
	env.ready(b)
	var peak uint64
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		env.seedBulk(b, dbName, n)
		runtime.GC()
		base := heapInuse()
		stop := samplePeak(&peak, base)
		b.StartTimer()
		start := time.Now()
		var err error
		if op == "update" {
			err = env.db.Model(&BenchItem{}).Where("grp = ?", 1).Update("qty", gorm.Expr("qty + 1")).Error
		} else {
			err = env.db.Where("grp = ?", 1).Delete(&BenchItem{}).Error
		}
		elapsed += time.Since(start)
		b.StopTimer()
		stop()
		if err != nil {
			b.Fatal(err)
		}
		env.checkBulk(b, op, n)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N)/float64(n), "ns/row")
	b.ReportMetric(float64(atomic.LoadUint64(&peak))/(1<<20), "peak-heap-MB")
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// samplePeak samples HeapInuse every 2 ms into *peak (the highest above
// base) until the returned stop is called.
func samplePeak(peak *uint64, base uint64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	record := func() {
		if h := heapInuse(); h > base && h-base > atomic.LoadUint64(peak) {
			atomic.StoreUint64(peak, h-base)
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				record()
				return
			case <-t.C:
				record()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// seedBulk empties the log and the items and inserts n items of group 1,
// unaudited: server-side on PostgreSQL and SQLite.
func (env *benchEnv) seedBulk(b *testing.B, dbName string, n int) {
	b.Helper()
	db := env.db.WithContext(Disable(context.Background()))
	for _, q := range []string{"DELETE FROM audit_log_entries", "DELETE FROM bench_items"} {
		if err := db.Exec(q).Error; err != nil {
			b.Fatal(err)
		}
	}
	const cols = "INSERT INTO bench_items (name, qty, price, grp, created_at, updated_at) "
	var err error
	switch dbName {
	case "postgres":
		err = db.Exec(cols+"SELECT 'item ' || g, g, 1.5, 1, now(), now() FROM generate_series(1, ?) g", n).Error
	case "sqlite":
		err = db.Exec("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ?) "+
			cols+"SELECT 'item ' || g, g, 1.5, 1, datetime('now'), datetime('now') FROM s", n).Error
	default:
		for start := 0; start < n && err == nil; start += 5000 {
			items := make([]BenchItem, min(5000, n-start))
			for i := range items {
				items[i] = BenchItem{Name: "item " + strconv.Itoa(start+i), Qty: start + i, Price: 1.5, Grp: 1}
			}
			err = db.CreateInBatches(&items, 1000).Error
		}
	}
	if err != nil {
		b.Fatal(err)
	}
}

// checkBulk checks that the log holds exactly one entry of the action per
// row: n entries, n distinct keys, and for an update each key a row's.
func (env *benchEnv) checkBulk(b *testing.B, op string, n int) {
	b.Helper()
	var got struct{ NEntries, NKeys, NRows int64 }
	q := "SELECT COUNT(*) AS n_entries, COUNT(DISTINCT object_pk) AS n_keys, " +
		"(SELECT COUNT(*) FROM bench_items i WHERE CAST(i.id AS " + env.cast + ") IN " +
		"(SELECT object_pk FROM audit_log_entries)) AS n_rows FROM audit_log_entries WHERE action = ?"
	if err := env.db.Raw(q, op).Scan(&got).Error; err != nil {
		b.Fatal(err)
	}
	want := int64(n)
	if got.NEntries != want || got.NKeys != want || (op == "update" && got.NRows != want) {
		b.Fatalf("%s of %d rows: %d entries for %d keys (%d rows), want one a row", op, n, got.NEntries, got.NKeys, got.NRows)
	}
}
