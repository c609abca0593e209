package relay_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/internal/reltest"
	"gorm.io/gorm"
)

// memSink records published entry IDs; fail makes Publish fail.
type memSink struct {
	mu   sync.Mutex
	ids  []int64
	fail error
}

func (s *memSink) Publish(_ context.Context, msgs []relay.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, m := range msgs {
		s.ids = append(s.ids, m.Entry.ID)
	}
	return nil
}

func (s *memSink) published() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

func insert(t *testing.T, db *gorm.DB, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := 0; i < n; i++ {
		e := reltest.Entry("1")
		if err := db.Create(e).Error; err != nil {
			t.Fatalf("insert: %v", err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func newRelay(t *testing.T, db *gorm.DB, sink relay.Sink, opts relay.Options) *relay.Relay {
	t.Helper()
	r, err := relay.New(db, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func step(t *testing.T, r *relay.Relay) int {
	t.Helper()
	n, err := r.Step(context.Background())
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	return n
}

// TestRelayResumesFromCursor: entries are published in ID order, batch by
// batch, and a new relay of the same name resumes after the last one.
func TestRelayResumesFromCursor(t *testing.T) {
	reltest.ForEachDB(t, func(t *testing.T, db *gorm.DB) {
		want := insert(t, db, 5)
		sink := &memSink{}
		r := newRelay(t, db, sink, relay.Options{BatchSize: 3})
		step(t, r)
		if got := r.Stats(); got.Cursor != want[2] || got.Published != 3 || got.Lag == 0 {
			t.Errorf("after one batch: %+v", got)
		}
		want = append(want, insert(t, db, 2)...)
		r2 := newRelay(t, db, sink, relay.Options{BatchSize: 3})
		for step(t, r2) > 0 {
		}
		if got := sink.published(); !slices.Equal(got, want) {
			t.Errorf("published %v, want %v", got, want)
		}
		if got := r2.Stats(); got.Lag != 0 || got.Cursor != want[len(want)-1] {
			t.Errorf("caught up: %+v", got)
		}
	})
}

// TestRelaySinkFailure: a failed publish leaves the cursor, the next Step
// publishes the same entries.
func TestRelaySinkFailure(t *testing.T) {
	reltest.ForEachDB(t, func(t *testing.T, db *gorm.DB) {
		want := insert(t, db, 3)
		sink := &memSink{fail: errors.New("broker down")}
		r := newRelay(t, db, sink, relay.Options{})
		if _, err := r.Step(context.Background()); err == nil || r.Stats().LastError == nil {
			t.Fatal("Step: no error from a failing sink")
		}
		sink.fail = nil
		step(t, r)
		if got := sink.published(); !slices.Equal(got, want) {
			t.Errorf("published %v, want %v", got, want)
		}
	})
}

// TestRelayLateCommit: an entry whose transaction draws its ID, waits, and
// commits after a later ID committed is published, before the later one;
// a rolled-back entry is never published and does not stop the relay.
func TestRelayLateCommit(t *testing.T) {
	reltest.ForEachDB(t, func(t *testing.T, db *gorm.DB) {
		if db.Dialector.Name() == "sqlite" {
			t.Skip("SQLite has one writer: a later ID cannot commit while an earlier one is open")
		}
		first := insert(t, db, 1)
		late, rolled := db.Begin(), db.Begin()
		le, re := reltest.Entry("late"), reltest.Entry("rolled")
		if err := late.Create(le).Error; err != nil {
			t.Fatal(err)
		}
		if err := rolled.Create(re).Error; err != nil {
			t.Fatal(err)
		}
		after := insert(t, db, 1)
		sink := &memSink{}
		r := newRelay(t, db, sink, relay.Options{GapTimeout: time.Hour})
		for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); {
			step(t, r) // past MariaDB's innodb_trx cache age: the open transactions are listed
			time.Sleep(20 * time.Millisecond)
		}
		if got := sink.published(); !slices.Equal(got, first) || !r.Stats().Waiting {
			t.Fatalf("with open transactions: published %v (want %v), stats %+v", got, first, r.Stats())
		}
		if err := late.Commit().Error; err != nil {
			t.Fatal(err)
		}
		rolled.Rollback()
		want := []int64{first[0], le.ID, after[0]}
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Equal(sink.published(), want) && time.Now().Before(deadline) {
			step(t, r)
			time.Sleep(20 * time.Millisecond)
		}
		if got := sink.published(); !slices.Equal(got, want) {
			var rows []map[string]any
			db.Raw("SELECT * FROM information_schema.innodb_trx").Scan(&rows)
			t.Errorf("published %v, want %v (rolled back %d); %v", got, want, re.ID, rows)
		}
	})
}

// TestRelayRun: Run publishes entries written while it runs and stops
// with its context.
func TestRelayRun(t *testing.T) {
	reltest.ForEachDB(t, func(t *testing.T, db *gorm.DB) {
		sink := &memSink{}
		r := newRelay(t, db, sink, relay.Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		want := insert(t, db, 20)
		deadline := time.Now().Add(10 * time.Second)
		for len(sink.published()) < len(want) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if got := sink.published(); !slices.Equal(got, want) {
			t.Errorf("published %v, want %v", got, want)
		}
		var n int64
		db.Table(auditlog.DefaultTable).Count(&n)
		if n != int64(len(want)) {
			t.Errorf("log has %d entries", n)
		}
	})
}

// TestRelayIDBeforeTransactionID: on PostgreSQL an INSERT that is its
// transaction's first write draws its ID before it has a transaction ID; a
// trigger holds it there for 1.5 s while a later entry commits and the
// relay steps. The relay must wait for it, not skip it.
func TestRelayIDBeforeTransactionID(t *testing.T) {
	db := reltest.Open(t, "postgres")
	for _, sql := range []string{
		`CREATE FUNCTION slow_entry() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$`,
		`CREATE TRIGGER slow_entry BEFORE INSERT ON audit_log_entries FOR EACH ROW WHEN (NEW.object_pk = 'slow') EXECUTE FUNCTION slow_entry()`,
	} {
		if err := db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	// nextval gives the transaction an ID when it WAL-logs the sequence:
	// at its first call, then once every 32. Not for the slow entry's.
	before := insert(t, db, 3)
	slow := reltest.Entry("slow")
	done := make(chan error, 1)
	go func() { done <- db.Create(slow).Error }()
	time.Sleep(300 * time.Millisecond) // its ID is drawn; its INSERT sleeps
	after := insert(t, db, 1)
	sink := &memSink{}
	r := newRelay(t, db, sink, relay.Options{GapTimeout: time.Hour})
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
		step(t, r)
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := append(before, slow.ID, after[0])
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(sink.published(), want) && time.Now().Before(deadline); {
		step(t, r)
		time.Sleep(20 * time.Millisecond)
	}
	if got := sink.published(); !slices.Equal(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
}
