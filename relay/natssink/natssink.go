// Package natssink is a relay.Sink publishing audit log entries to NATS
// JetStream: each entry's JSON form (auditlog.LogEntry's MarshalJSON) to a
// subject derived from the entry's table, with the relay's message ID
// ("<log table>:<entry id>") in the Nats-Msg-Id header, so that the
// stream's duplicate window stores a republished entry once.
//
// It is the only package of the module that imports NATS: the root package
// and package relay do not depend on it.
//
// The stream must exist and capture the subjects (EnsureStream creates or
// updates one). Its duplicate window (StreamConfig.Duplicates, default two
// minutes) must be longer than the time between a publish and its
// republish after a relay crash or broker outage for exactly-once delivery;
// a republish after the window is stored twice (at-least-once).
package natssink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EntryIDHeader carries the entry's ID on every message, so that a consumer
// can order or deduplicate without decoding the body.
const EntryIDHeader = "Auditlog-Entry-Id"

// Options configure a Sink. The zero value is usable.
type Options struct {
	// Prefix starts every subject: "<Prefix>.<entry table>" (default
	// "auditlog"). Characters of a table name a subject token cannot hold
	// (".", "*", ">", spaces, anything but letters, digits, "_" and "-")
	// become "_".
	Prefix string
	// Subject, when set, replaces the default subject.
	Subject func(e auditlog.LogEntry) string
	// AckTimeout bounds the wait for a batch's acknowledgements (default
	// 10s): a slow or absent broker fails the batch, and the relay retries.
	AckTimeout time.Duration
}

// Sink publishes to JetStream. It is safe for use by one relay at a time.
type Sink struct {
	js   jetstream.JetStream
	opts Options
}

var _ relay.Sink = (*Sink)(nil)

// New returns a Sink publishing through js. Create js with
// jetstream.WithPublishAsyncMaxPending at least the relay's batch size
// (the default, 4000, fits the relay's default batch of 1000).
func New(js jetstream.JetStream, opts Options) *Sink {
	if opts.Prefix == "" {
		opts.Prefix = "auditlog"
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 10 * time.Second
	}
	return &Sink{js: js, opts: opts}
}

// SubjectOf returns the subject an entry is published to.
func (s *Sink) SubjectOf(e auditlog.LogEntry) string {
	if s.opts.Subject != nil {
		return s.opts.Subject(e)
	}
	return s.opts.Prefix + "." + token(e.Table)
}

func token(table string) string {
	if table == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, table)
}

// Publish sends msgs asynchronously, in order, on one connection, and
// waits for every acknowledgement (or ctx, or AckTimeout). It returns nil
// only when JetStream acknowledged all of them, duplicates included. Cost:
// one round trip per batch plus the broker's storage; memory, the batch.
//
// Order: messages are sent in order and JetStream stores them in the order
// it receives them. The client's own retries are off, so a message is never
// resent behind a later one by the client; after a failed batch the relay
// republishes the whole batch, whose already stored messages are
// duplicates. A broker that loses an earlier message of a batch but stores
// a later one (a cluster leader change mid-batch) stores the earlier one
// after it: consumers needing strict per-object order across such events
// order by EntryIDHeader.
func (s *Sink) Publish(ctx context.Context, msgs []relay.Message) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.AckTimeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		msg := nats.NewMsg(s.SubjectOf(m.Entry))
		msg.Data = m.Data
		msg.Header.Set(EntryIDHeader, strconv.FormatInt(m.Entry.ID, 10))
		f, err := s.js.PublishMsgAsync(msg, jetstream.WithMsgID(m.ID), jetstream.WithRetryAttempts(0))
		if err != nil {
			return fmt.Errorf("natssink: publish %s: %w", m.ID, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("natssink: publish %s: %w", msgs[i].ID, err)
		case <-ctx.Done():
			return fmt.Errorf("natssink: publish %s: no acknowledgement: %w", msgs[i].ID, ctx.Err())
		}
	}
	return nil
}

// EnsureStream creates the named stream capturing subjects, or updates its
// subjects and duplicate window when it exists. duplicates 0 keeps
// JetStream's default (two minutes).
func EnsureStream(ctx context.Context, js jetstream.JetStream, name string, subjects []string, duplicates time.Duration) error {
	cfg := jetstream.StreamConfig{Name: name, Subjects: subjects, Duplicates: duplicates, Storage: jetstream.FileStorage}
	_, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("natssink: stream %s: %w", name, err)
	}
	return nil
}

// errNoJS is returned by Connect for an unusable URL.
var errNoJS = errors.New("natssink: no JetStream")

// Connect connects to the NATS server at url with reconnects forever (the
// relay keeps retrying while the broker is down) and returns the
// connection and its JetStream context. Close the connection when done.
func Connect(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond),
		nats.RetryOnFailedConnect(true)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("natssink: connect %s: %w", url, err)
	}
	// Futures of a batch the broker never acknowledged are dropped after
	// a while, so that an outage does not fill the pending-acks table.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%w: %w", errNoJS, err)
	}
	return nc, js, nil
}
