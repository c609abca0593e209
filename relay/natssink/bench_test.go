package natssink_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/internal/reltest"
	"github.com/gorm-auditlog/auditlog/relay/natssink"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gorm.io/gorm"
)

// BenchmarkRelayThroughput publishes AUDITLOG_RELAY_BENCH_N entries
// (default 2000) already in the log to a fresh stream per iteration and
// reports entries/s. The figure of BENCHMARKS.md:
//
//	AUDITLOG_RELAY_BENCH_N=200000 go test -run '^$' -bench RelayThroughput -benchtime 3x ./relay/natssink/
func BenchmarkRelayThroughput(b *testing.B) {
	js := connect(b, natsURL())
	n := envInt("AUDITLOG_RELAY_BENCH_N", 2000)
	for _, dbName := range reltest.Databases {
		b.Run(dbName, func(b *testing.B) {
			db := reltest.Open(b, dbName)
			fill(b, db, n)
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				_, prefix := stream(b, js)
				r, _ := relay.New(db, natssink.New(js, natssink.Options{Prefix: prefix}),
					relay.Options{Name: prefix, BatchSize: 1000})
				b.StartTimer()
				start := time.Now()
				for r.Stats().Cursor < int64(n) {
					if _, err := r.Step(context.Background()); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "entries/s")
		})
	}
}

// fill inserts n entries in multi-row INSERTs.
func fill(b *testing.B, db *gorm.DB, n int) {
	b.Helper()
	rows := make([]auditlog.LogEntry, 0, 1000)
	for i := 0; i < n; i++ {
		e := reltest.Entry("o")
		e.Changes = auditlog.Changes{"price": {Old: 10, New: 12}}
		rows = append(rows, *e)
		if len(rows) == cap(rows) || i == n-1 {
			if err := db.CreateInBatches(rows, 500).Error; err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
}

// BenchmarkRelayLatency writes AUDITLOG_RELAY_BENCH_RATE entries/s
// (default 1000) for AUDITLOG_RELAY_BENCH_SECONDS (default 2) while the
// relay runs, and reports the p50 and p99 time from an entry's created_at
// (taken just before its commit) to its arrival at a NATS subscriber.
func BenchmarkRelayLatency(b *testing.B) {
	js := connect(b, natsURL())
	nc, err := nats.Connect(natsURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	rate := envInt("AUDITLOG_RELAY_BENCH_RATE", 1000)
	secs := envInt("AUDITLOG_RELAY_BENCH_SECONDS", 2)
	for _, dbName := range reltest.Databases {
		b.Run(dbName, func(b *testing.B) {
			db := reltest.Open(b, dbName)
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				_, prefix := stream(b, js)
				lat = append(lat, measureLatency(b, db, nc, js, prefix, rate, secs)...)
			}
			slices.Sort(lat)
			if len(lat) == 0 {
				b.Fatal("nothing received")
			}
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(len(lat))/float64(secs*b.N), "entries/s")
		})
	}
}

// measureLatency runs the relay while latencyWriters writers write rate entries/s in
// all for secs seconds; it returns the latencies seen by a subscriber.
func measureLatency(b *testing.B, db *gorm.DB, nc *nats.Conn, js jetstream.JetStream, prefix string, rate, secs int) []time.Duration {
	var mu sync.Mutex
	var lat []time.Duration
	sub, err := nc.Subscribe(prefix+".>", func(m *nats.Msg) {
		var e auditlog.LogEntry
		if json.Unmarshal(m.Data, &e) == nil {
			mu.Lock()
			lat = append(lat, time.Since(e.CreatedAt))
			mu.Unlock()
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	r, _ := relay.New(db, natssink.New(js, natssink.Options{Prefix: prefix}),
		relay.Options{Name: prefix, PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var wg sync.WaitGroup
	var last atomic.Int64
	end := time.Now().Add(time.Duration(secs) * time.Second)
	writers := envInt("AUDITLOG_RELAY_BENCH_WRITERS", latencyWriters)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(writers) * time.Second / time.Duration(rate))
			defer tick.Stop()
			for ; time.Now().Before(end); <-tick.C {
				e := reltest.Entry("o")
				if err := db.Create(e).Error; err != nil {
					b.Error(err)
					return
				}
				for old := last.Load(); e.ID > old && !last.CompareAndSwap(old, e.ID); old = last.Load() {
				}
			}
		}()
	}
	wg.Wait()
	for r.Stats().Cursor < last.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	nc.Flush()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(lat)
}

// latencyWriters write concurrently in BenchmarkRelayLatency: one writer
// cannot commit 1,000 entries/s on every database. AUDITLOG_RELAY_BENCH_WRITERS
// sets another number (where each commit waits for a slow disk's sync, more
// writers share each sync).
const latencyWriters = 16
