package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

// benchEntries is the size of the benchmarks' log: $AUDITLOG_WEB_BENCH_ENTRIES,
// 20,000 by default so that CI's -benchtime 1x stays quick. The figures in
// BENCHMARKS.md use 1,000,000:
//
//	AUDITLOG_WEB_BENCH_ENTRIES=1000000 go test -run '^$' -bench 'BenchmarkPages' -benchtime 200x ./web
func benchEntries(b *testing.B) int {
	n := 20_000
	if s := os.Getenv("AUDITLOG_WEB_BENCH_ENTRIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1000 {
			b.Fatalf("AUDITLOG_WEB_BENCH_ENTRIES=%q: want a number >= 1000", s)
		}
	}
	return n
}

// BenchmarkPages measures the server time of the main pages on PostgreSQL
// with benchEntries entries (two tables, 20 entries an object, 1,000
// actors, 10 entries a cid), generated server-side. It reports the median
// (p50-ms) and the 95th percentile (p95-ms) of the handler's time.
func BenchmarkPages(b *testing.B) {
	n := benchEntries(b)
	db := openTestDB(b, "postgres")
	p := auditlog.New()
	if err := db.Use(p); err != nil {
		b.Fatal(err)
	}
	fillLog(b, db, n)
	h, err := Handler(p, db, AllowAll())
	if err != nil {
		b.Fatal(err)
	}
	objects := n / 40
	pages := []struct {
		name string
		path func(i int) string
	}{
		{"site_history", func(int) string { return "/" }},
		{"site_history_actor", func(i int) string { return "/?actor=user-" + strconv.Itoa(i%1000) }},
		{"site_history_model_action", func(int) string { return "/?model=items&action=update" }},
		{"object_timeline", func(i int) string { return "/object?model=items&pk=" + strconv.Itoa((i*7919)%objects) }},
		{"api_100", func(int) string { return "/api/entries?limit=100" }},
		{"cid", func(i int) string { return "/?cid=req-" + strconv.Itoa((i*31)%(n/10)) }},
	}
	for _, pg := range pages {
		b.Run(fmt.Sprintf("postgres/entries_%d/%s", n, pg.name), func(b *testing.B) {
			var times []time.Duration
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, pg.path(i), nil)
				start := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", req.URL, rec.Code, rec.Body)
				}
			}
			reportPercentiles(b, times)
		})
	}
}

func reportPercentiles(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	at := func(q float64) float64 {
		return float64(times[int(q*float64(len(times)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
}

// BenchmarkExport streams CSV exports of the newest benchEntries/100 and
// benchEntries/10 entries (10,000 and 100,000 of a 1M log) and reports the peak heap in use during the export (peak-heap-MB), sampled
// at every flush: it stays flat while the entry count grows tenfold. B/op
// counts every allocation, so it grows with the count by design.
func BenchmarkExport(b *testing.B) {
	n := benchEntries(b)
	db := openTestDB(b, "postgres")
	p := auditlog.New()
	if err := db.Use(p); err != nil {
		b.Fatal(err)
	}
	fillLog(b, db, n)
	h, err := Handler(p, db, AllowAll())
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{n / 100, n / 10} {
		// Entries since a time: the newest size entries (one a second).
		since := benchStart.Add(time.Duration(n-size) * time.Second).Format(time.RFC3339)
		b.Run(fmt.Sprintf("postgres/export_%d", size), func(b *testing.B) {
			b.ReportAllocs()
			var peak uint64
			for b.Loop() {
				runtime.GC()
				w := &heapWriter{header: http.Header{}}
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/export.csv?since="+since, nil))
				if w.lines != size+1 {
					b.Fatalf("%d lines, want %d", w.lines, size+1)
				}
				peak = max(peak, w.peak)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// heapWriter is a ResponseWriter that discards the body, counts its lines
// and samples the heap in use at each flush.
type heapWriter struct {
	header http.Header
	lines  int
	peak   uint64
}

func (w *heapWriter) Header() http.Header { return w.header }
func (w *heapWriter) WriteHeader(int)     {}
func (w *heapWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			w.lines++
		}
	}
	return len(p), nil
}

func (w *heapWriter) Flush() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.peak = max(w.peak, m.HeapInuse)
}

// benchStart is the time of the first generated entry.
var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fillLog generates n entries server-side: objects of items and orders, 20
// entries each, one a second, with actors, cids and changes. Indexes are
// dropped for the insert and rebuilt after it, then ANALYZE.
func fillLog(b *testing.B, db *gorm.DB, n int) {
	b.Helper()
	if err := db.AutoMigrate(&auditlog.LogEntry{}); err != nil {
		b.Fatal(err)
	}
	var indexes []string
	if err := db.Raw(`SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_log_entries' AND indexname LIKE 'idx_%'
		AND schemaname = current_schema()`).Scan(&indexes).Error; err != nil {
		b.Fatal(err)
	}
	stmts := []string{
		`DO $$ DECLARE r record; BEGIN FOR r IN SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log_entries'
		 AND indexname LIKE 'idx_%' AND schemaname = current_schema() LOOP EXECUTE 'DROP INDEX ' || quote_ident(r.indexname); END LOOP; END $$`,
		fmt.Sprintf(`INSERT INTO audit_log_entries (table_name, object_pk, object_repr, action, changes, actor_id, cid, created_at)
		 SELECT CASE WHEN i %% 2 = 0 THEN 'items' ELSE 'orders' END, ((i / 2) %% %d)::text, 'Item ' || ((i / 2) %% %d),
		        CASE WHEN i %% 20 = 0 THEN 'create' ELSE 'update' END,
		        '{"qty": [1, 2], "note": ["first draft of the note", "second draft of the note"]}', 'user-' || (i %% 1000),
		        'req-' || (i / 10), timestamptz '2026-01-01' + (i - 1) * interval '1 second'
		 FROM generate_series(1, %d) AS i`, n/40, n/40, n),
	}
	for _, stmt := range append(stmts, indexes...) {
		if err := db.Exec(stmt).Error; err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Exec("ANALYZE audit_log_entries").Error; err != nil {
		b.Fatal(err)
	}
}
