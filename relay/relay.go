// Package relay publishes every committed audit log entry to a message
// broker, in commit order per object, exactly once when the broker
// suppresses duplicate message IDs (NATS JetStream's duplicate window: see
// package relay/natssink).
//
// A Relay runs apart from the application: it only reads the log table and
// writes its own cursor table, so the application's writes never wait on it
// or on the broker. It reads entries in ID order above a durable cursor,
// holds back every entry above an ID that might still belong to an
// uncommitted transaction (see "Late commits" below), hands the ready
// entries to a Sink, and moves the cursor only after the Sink returned,
// that is after the broker acknowledged them.
//
// # Late commits
//
// IDs are drawn when an entry is inserted, not when its transaction
// commits: entry 57 may commit after entry 58 was visible and published.
// The relay never publishes past a gap in the IDs until the gap is settled:
// until every transaction that could hold a missing ID has ended, so the
// missing ID is either visible now or will never be (a rollback, a sequence
// gap). How a gap is settled is the only thing that differs per database:
//
//   - PostgreSQL: after the read that saw the gap, the relay records the
//     xmax of a fresh snapshot (pg_snapshot_xmax(pg_current_snapshot()),
//     an xid8: 64 bits, no wraparound). The gap is settled when the xmin of
//     a later snapshot has reached it and none of the virtual transactions
//     open then (pg_locks, locktype virtualxid) is still open: every
//     transaction that had started when the gap was seen has committed or
//     rolled back. (A transaction gets its xid at its first write, and one
//     whose first write is the log insert draws the ID from the sequence
//     before that, when it is in no snapshot; it has held its virtual
//     transaction ID since it began.) A transaction
//     open anywhere on the cluster for a long time delays the relay (not
//     the writes) behind a gap for as long.
//   - MySQL/MariaDB: there is no snapshot visibility function; the relay
//     records the IDs of the open InnoDB transactions
//     (information_schema.innodb_trx, which needs the PROCESS privilege)
//     and the gap is settled when none of them is still open. InnoDB
//     serves innodb_trx from a cache refreshed only after 100ms without a
//     reader: the relay reads it at most every 250ms, and a tool that
//     polls innodb_trx more often than every 100ms would make it stale (a
//     transaction begun just before the gap was seen could be missed). When
//     innodb_trx cannot be read, a gap is waited on for Options.GapTimeout
//     and then treated as a rollback: an entry whose transaction stays open
//     longer than that would be skipped (the risk, documented; grant
//     PROCESS to avoid it).
//   - SQLite has one writer at a time: transactions commit in ID order,
//     a gap is a rollback or a purge and is settled at once.
//
// The reasoning needs IDs drawn in time order: on PostgreSQL the log's ID
// sequence must have CACHE 1 (the default of the serial/identity column
// AutoMigrate creates); with a larger cache a session could insert an ID
// below one published long after the gap settled, and it would be skipped.
//
// The same reasoning orders the entries of one object: writes to one row
// are serialized by its row lock, so its entries draw their IDs in commit
// order, and the relay publishes in ID order.
//
// # Delivery
//
// At least once: a crash after the broker acknowledged a batch and before
// the cursor was saved republishes that batch. Each Message carries its
// entry's ID as a message ID (Message.ID), so a broker with a duplicate
// window (JetStream) stores it once: exactly once, as long as a republish
// comes within the window (JetStream's default is two minutes).
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

// Message is one entry ready to publish.
type Message struct {
	// ID is the message ID the broker deduplicates by: the log table and
	// the entry's ID, "audit_log_entries:42".
	ID string
	// Entry is the entry; Data its JSON form (auditlog.LogEntry's
	// MarshalJSON, the one JSON form of an entry).
	Entry auditlog.LogEntry
	Data  []byte
}

// Sink publishes messages to a broker. Publish publishes msgs in order and
// returns nil only once the broker has acknowledged every one of them (the
// relay then moves its cursor past them). On an error the relay publishes
// the same messages again later, so a Sink must tolerate republishing (a
// broker deduplicating by Message.ID makes it exactly once). Publish should
// return when ctx is done. The relay calls Publish from one goroutine.
type Sink interface {
	Publish(ctx context.Context, msgs []Message) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, msgs []Message) error

// Publish calls f.
func (f SinkFunc) Publish(ctx context.Context, msgs []Message) error { return f(ctx, msgs) }

// Options configure a Relay. The zero value is usable.
type Options struct {
	// Table is the log table (default auditlog.DefaultTable).
	Table string
	// Name names the relay's cursor: relays with different names publish
	// the same log independently (default "default").
	Name string
	// CursorTable is the table holding the cursors, created when missing
	// (default "auditlog_relay_cursors").
	CursorTable string
	// BatchSize is the most entries read and published at once (default
	// 1000); memory is about 1 KiB per entry of a batch.
	BatchSize int
	// PollInterval is the wait between reads once the relay has caught up
	// (default 100ms): the floor of the commit-to-publish latency.
	PollInterval time.Duration
	// GapTimeout bounds the wait on a gap where the database cannot say
	// which transactions are open (MySQL/MariaDB without access to
	// information_schema.innodb_trx): default 30s.
	GapTimeout time.Duration
	// RetryMax caps the backoff between failed attempts (default 5s; the
	// first retry waits 100ms, each next one twice as long).
	RetryMax time.Duration
	// OnError is called (from Run's goroutine) with each failed attempt's
	// error; Run retries after it. nil ignores them.
	OnError func(error)
}

func (o *Options) defaults() {
	if o.Table == "" {
		o.Table = auditlog.DefaultTable
	}
	if o.Name == "" {
		o.Name = "default"
	}
	if o.CursorTable == "" {
		o.CursorTable = "auditlog_relay_cursors"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 100 * time.Millisecond
	}
	if o.GapTimeout <= 0 {
		o.GapTimeout = 30 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
}

// Stats is a Relay's progress.
type Stats struct {
	// Cursor is the ID of the last entry published (and acknowledged);
	// every committed entry up to it has been published.
	Cursor int64
	// Published counts the entries this Relay published since New.
	Published int64
	// Lag is the age (by created_at) of the oldest committed entry not yet
	// published, as of the last read; 0 when the relay has caught up.
	Lag time.Duration
	// Waiting is true while the relay holds back entries behind a gap that
	// is not settled yet (an open transaction may still commit there).
	Waiting bool
	// LastError is the error of the last attempt, nil when it succeeded.
	LastError error
}

// Relay publishes a log table's committed entries to a Sink. It is safe to
// call Stats concurrently with Run; Run and Step must not run concurrently
// with each other. Two relays with the same name on the same log would
// publish the same entries (deduplicated by the broker) and race on the
// cursor: run one per name.
type Relay struct {
	db   *gorm.DB
	sink Sink
	opts Options
	gaps settler

	loaded   bool
	cursor   int64
	resolved int64    // every missing ID up to it is settled: it never commits
	mark     *gapMark // the unsettled gap seen last, nil when none
	now      func() time.Time

	mu    sync.Mutex
	stats Stats
}

type gapMark struct {
	upto  int64 // the highest ID visible when the gap was seen
	token any
}

// New returns a Relay publishing db's log to sink. It does not touch the
// database: the cursor table is created by the first Step.
func New(db *gorm.DB, sink Sink, opts Options) (*Relay, error) {
	if db == nil || sink == nil {
		return nil, errors.New("relay: nil database or sink")
	}
	opts.defaults()
	return &Relay{db: db, sink: sink, opts: opts, gaps: newSettler(db, opts.GapTimeout), now: time.Now}, nil
}

// Stats returns the relay's progress as of its last Step.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run publishes entries until ctx is done, then returns nil. A failed
// attempt (database or broker down or slow) is reported to Options.OnError
// and retried after a backoff; the entries wait in the log meanwhile
// (backpressure: at most one batch is held in memory, and the application's
// writes are never blocked). Run returns an error only for a failure no
// retry can fix: none at present.
func (r *Relay) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		n, err := r.Step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := time.Duration(0)
		switch {
		case err != nil:
			if r.opts.OnError != nil {
				r.opts.OnError(err)
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), r.opts.RetryMax)
			wait = backoff
		case n < r.opts.BatchSize:
			backoff = 0
			wait = r.opts.PollInterval
		default:
			backoff = 0
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// Step reads once and publishes the entries that are ready: at most
// Options.BatchSize, all committed, in ID order, none past an unsettled
// gap. It returns how many it read (published or held back). On a Sink
// error the cursor stays and the same entries are published by the next
// Step. An entry whose stored JSON cannot be decoded fails every Step at
// it (never skipped silently): repair or remove the row. Cost: one
// indexed range read on the log's primary key, one cursor upsert, and on
// a gap one or two small queries (see the package doc).
func (r *Relay) Step(ctx context.Context) (int, error) {
	n, err := r.step(ctx)
	r.mu.Lock()
	r.stats.LastError = err
	r.mu.Unlock()
	return n, err
}

func (r *Relay) step(ctx context.Context) (int, error) {
	db := r.db.WithContext(ctx)
	if !r.loaded {
		cur, err := loadCursor(db, r.opts.CursorTable, r.opts.Name)
		if err != nil {
			return 0, err
		}
		r.cursor, r.loaded = cur, true
	}
	if r.mark != nil { // settle before reading: what committed since is read
		ok, err := r.gaps.settled(db, r.mark.token)
		if err != nil {
			return 0, fmt.Errorf("relay: gap: %w", err)
		}
		if ok {
			r.resolved, r.mark = max(r.resolved, r.mark.upto), nil
		}
	}
	var rows []auditlog.LogEntry
	err := db.Table(r.opts.Table).Where("id > ?", r.cursor).Order("id").Limit(r.opts.BatchSize).Find(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("relay: read: %w", err)
	}
	ready := r.readyPrefix(rows)
	if ready < len(rows) && r.mark == nil {
		token, err := r.gaps.mark(db)
		if err != nil {
			return 0, fmt.Errorf("relay: gap: %w", err)
		}
		r.mark = &gapMark{upto: rows[len(rows)-1].ID, token: token}
	}
	if ready > 0 {
		if err := r.publish(ctx, rows[:ready]); err != nil {
			r.record(rows, 0) // the lag grows while the broker fails
			return len(rows), err
		}
	}
	r.record(rows, ready)
	return len(rows), nil
}

// readyPrefix returns how many of rows (in ID order above the cursor) can
// be published: up to the first gap that is not settled.
func (r *Relay) readyPrefix(rows []auditlog.LogEntry) int {
	next := r.cursor + 1
	for i, e := range rows {
		if e.ID != next && e.ID-1 > r.resolved {
			return i
		}
		next = e.ID + 1
	}
	return len(rows)
}

func (r *Relay) publish(ctx context.Context, rows []auditlog.LogEntry) error {
	msgs := make([]Message, len(rows))
	for i, e := range rows {
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		msgs[i] = Message{ID: r.opts.Table + ":" + strconv.FormatInt(e.ID, 10), Entry: e, Data: data}
	}
	if err := r.sink.Publish(ctx, msgs); err != nil {
		return fmt.Errorf("relay: publish: %w", err)
	}
	last := rows[len(rows)-1].ID
	if err := saveCursor(r.db.WithContext(ctx), r.opts.CursorTable, r.opts.Name, last); err != nil {
		return err
	}
	r.cursor = last
	return nil
}

// record updates the stats after a read of rows of which ready were
// published.
func (r *Relay) record(rows []auditlog.LogEntry, ready int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Cursor = r.cursor
	r.stats.Published += int64(ready)
	r.stats.Waiting = r.mark != nil && ready < len(rows)
	switch {
	case ready < len(rows):
		r.stats.Lag = r.now().Sub(rows[ready].CreatedAt)
	case len(rows) == r.opts.BatchSize:
		r.stats.Lag = r.now().Sub(rows[len(rows)-1].CreatedAt)
	default:
		r.stats.Lag = 0
	}
	if r.stats.Lag < 0 {
		r.stats.Lag = 0
	}
}
