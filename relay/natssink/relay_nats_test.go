package natssink_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/internal/reltest"
	"github.com/gorm-auditlog/auditlog/relay/natssink"
	"gorm.io/gorm"
)

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// ledger records the IDs of committed entries, per object.
type ledger struct {
	mu        sync.Mutex
	committed map[int64]string // entry ID -> object
}

func (l *ledger) add(ids []int64, obj string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.committed[id] = obj
	}
}

// writeTx inserts 1 to 3 entries of obj in one transaction, sometimes
// waiting before the commit (a late committer: later IDs commit first),
// sometimes rolling back; the committed IDs go to the ledger.
func writeTx(db *gorm.DB, l *ledger, obj string, long time.Duration) error {
	n := 1 + rand.IntN(3)
	var ids []int64
	err := db.Transaction(func(tx *gorm.DB) error {
		for i := 0; i < n; i++ {
			e := reltest.Entry(obj)
			if err := tx.Create(e).Error; err != nil {
				return err
			}
			ids = append(ids, e.ID)
		}
		if rand.IntN(4) == 0 {
			time.Sleep(long/2 + rand.N(long))
		}
		if rand.IntN(8) == 0 {
			return errRollback
		}
		return nil
	})
	if err == errRollback {
		return nil
	}
	if err == nil {
		l.add(ids, obj)
	}
	return err
}

type rollbackError struct{}

func (rollbackError) Error() string { return "rollback" }

var errRollback error = rollbackError{}

// checkStream checks that the stream holds every committed entry exactly
// once, nothing else, each object's entries in ID order.
func checkStream(t *testing.T, l *ledger, got []int64) {
	t.Helper()
	seen := map[int64]bool{}
	last := map[string]int64{}
	for _, id := range got {
		obj, ok := l.committed[id]
		switch {
		case !ok:
			t.Errorf("entry %d published but not committed", id)
		case seen[id]:
			t.Errorf("entry %d published twice", id)
		case id < last[obj]:
			t.Errorf("object %s: entry %d after %d", obj, id, last[obj])
		}
		seen[id], last[obj] = true, id
	}
	for id := range l.committed {
		if !seen[id] {
			t.Errorf("committed entry %d not published", id)
		}
	}
}

// waitPublished waits until the relay has published every ID up to maxID.
func waitPublished(t *testing.T, r *relay.Relay, maxID int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for r.Stats().Cursor < maxID {
		if time.Now().After(deadline) {
			t.Fatalf("relay stuck at %+v, want cursor %d", r.Stats(), maxID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *ledger) max() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m int64
	for id := range l.committed {
		m = max(m, id)
	}
	return m
}

// TestRelayExactlyOnce: 16 writers with short and long transactions
// interleaved (late committers) and rollbacks; the relay is stopped and a
// new one started mid-stream; then a second relay republishes everything
// from ID 0 (a crash before any cursor save) and JetStream suppresses it.
// Every committed entry is in the stream exactly once, rolled-back ones
// never, each object's entries in order. AUDITLOG_RELAY_TXNS sets the
// transactions per writer (default 20).
func TestRelayExactlyOnce(t *testing.T) {
	js := connect(t, natsURL())
	reltest.ForEachDB(t, func(t *testing.T, db *gorm.DB) {
		name, prefix := stream(t, js)
		sink := natssink.New(js, natssink.Options{Prefix: prefix})
		opts := relay.Options{BatchSize: 50, PollInterval: 5 * time.Millisecond}
		l := &ledger{committed: map[int64]string{}}
		long := 60 * time.Millisecond
		if db.Dialector.Name() == "sqlite" {
			long = 20 * time.Millisecond // one writer at a time: the long ones add up
		}
		ctx, cancel := context.WithCancel(context.Background())
		r1, _ := relay.New(db, sink, opts)
		done := make(chan error, 1)
		go func() { done <- r1.Run(ctx) }()
		var wg sync.WaitGroup
		txns := envInt("AUDITLOG_RELAY_TXNS", 20)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < txns; i++ {
					if err := writeTx(db, l, "w"+strconv.Itoa(w%5), long); err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			}()
			if w == 8 { // mid-stream: stop the relay, start another
				time.Sleep(50 * time.Millisecond)
				cancel()
				<-done
				ctx, cancel = context.WithCancel(context.Background())
				r1, _ = relay.New(db, sink, opts)
				go func() { done <- r1.Run(ctx) }()
			}
		}
		wg.Wait()
		waitPublished(t, r1, l.max())
		cancel()
		<-done
		again, _ := relay.New(db, sink, relay.Options{Name: "again", BatchSize: 500})
		for n := 1; n > 0; {
			var err error
			if n, err = again.Step(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		got := received(t, js, name)
		checkStream(t, l, got)
		t.Logf("%d entries committed, %d in the stream", len(l.committed), len(got))
	})
}
