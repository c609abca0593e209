package auditlog

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sealBenchEntries is the log size of BenchmarkSeal and BenchmarkVerify:
// $AUDITLOG_SEAL_BENCH_ENTRIES, 10,000 by default (BENCHMARKS.md runs them
// with 1,000,000).
func sealBenchEntries(b *testing.B) int {
	if s := os.Getenv("AUDITLOG_SEAL_BENCH_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 20 {
			b.Fatalf("AUDITLOG_SEAL_BENCH_ENTRIES=%q: want a number of at least 20", s)
		}
		return n
	}
	return 10_000
}

// sealBenchDB is a PostgreSQL log of n entries generated server-side.
func sealBenchDB(b *testing.B, n int) (*Plugin, *gorm.DB) {
	db := openTestDB(b, "postgres", &gorm.Config{Logger: logger.Discard})
	p := New()
	if err := db.Use(p); err != nil {
		b.Fatal(err)
	}
	fillLog(b, db, n)
	if err := p.AutoMigrate(db); err != nil {
		b.Fatal(err)
	}
	return p, db
}

// BenchmarkSeal seals a log of sealBenchEntries entries (unsealed again,
// untimed, before each iteration) and reports entries sealed per second.
func BenchmarkSeal(b *testing.B) {
	n := sealBenchEntries(b)
	b.Run(fmt.Sprintf("postgres/entries_%d", n), func(b *testing.B) {
		p, db := sealBenchDB(b, n)
		ctx := context.Background()
		var total time.Duration
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			for _, sql := range []string{"DELETE FROM audit_log_entries_seals",
				"DELETE FROM audit_log_entries_seal_state", "DELETE FROM audit_log_entries_batches", "VACUUM ANALYZE audit_log_entries",
				"VACUUM ANALYZE audit_log_entries_seals"} {
				if err := db.Exec(sql).Error; err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			start := time.Now()
			res, err := p.Seal(ctx, db)
			total += time.Since(start)
			if err != nil || res.Entries != int64(n) {
				b.Fatalf("seal = %+v, %v", res, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "entries/s")
	})
}

// BenchmarkVerify verifies a sealed log of sealBenchEntries entries and
// reports entries verified per second and the peak heap in use while it
// runs (sampled every millisecond), which does not grow with the log.
func BenchmarkVerify(b *testing.B) {
	n := sealBenchEntries(b)
	b.Run(fmt.Sprintf("postgres/entries_%d", n), func(b *testing.B) {
		p, db := sealBenchDB(b, n)
		ctx := context.Background()
		if _, err := p.Seal(ctx, db); err != nil {
			b.Fatal(err)
		}
		// A second seal moves the watermark over the log (once no older
		// transaction is open on the server): Verify then also looks for
		// unsealed entries below it, over the whole log.
		for range 50 {
			if _, err := p.Seal(ctx, db); err != nil {
				b.Fatal(err)
			}
			if st, err := p.readSealState(db); err != nil || st.LowID == int64(n) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, sql := range []string{"VACUUM ANALYZE audit_log_entries", "VACUUM ANALYZE audit_log_entries_seals"} {
			if err := db.Exec(sql).Error; err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			rep, err := p.Verify(ctx, db, VerifyOptions{})
			if err != nil || rep.Entries != int64(n) {
				b.Fatalf("verify = %d entries, %v", rep.Entries, err)
			}
		}
		b.StopTimer()
		close(stop)
		<-done
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak-heap-MB")
	})
}
