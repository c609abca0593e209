package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/natssink"
)

// runRelay publishes the committed entries to NATS JetStream until
// interrupted (or, with -once, until it has caught up), with progress and
// lag on stderr.
func runRelay(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	url := fs.String("nats", "nats://127.0.0.1:4222", "NATS server `URL`")
	stream := fs.String("stream", "AUDITLOG", "JetStream stream `name`, created (capturing PREFIX.>) or updated when -create-stream")
	create := fs.Bool("create-stream", true, "create or update the stream")
	prefix := fs.String("subject-prefix", "auditlog", "subjects are PREFIX.<model table>")
	name := fs.String("name", "default", "the relay's cursor `name`")
	batch := fs.Int("batch", 1000, "most entries published at once")
	every := fs.Duration("progress", 5*time.Second, "print progress every `duration`")
	once := fs.Bool("once", false, "stop once every committed entry is published (no gap held back)")
	if err := parse(fs, args); err != nil {
		return err
	}
	db, _, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	nc, js, err := natssink.Connect(*url)
	if err != nil {
		return err
	}
	defer nc.Close()
	if *create {
		if err := natssink.EnsureStream(ctx, js, *stream, []string{*prefix + ".>"}, 0); err != nil {
			return err
		}
	}
	r, err := relay.New(db, natssink.New(js, natssink.Options{Prefix: *prefix}), relay.Options{
		Table: e.table, Name: *name, BatchSize: *batch,
		OnError: func(err error) { fmt.Fprintf(e.stderr, "auditlog relay: %v\n", err) },
	})
	if err != nil {
		return err
	}
	if *once {
		return relayOnce(ctx, e, r, *batch)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			printRelay(e, r.Stats())
			return err
		case <-tick.C:
			printRelay(e, r.Stats())
		}
	}
}

// relayOnce steps until a read returns fewer than a batch and nothing is
// held back behind a gap.
func relayOnce(ctx context.Context, e *env, r *relay.Relay, batch int) error {
	for {
		n, err := r.Step(ctx)
		if err != nil {
			return err
		}
		if n < batch && !r.Stats().Waiting {
			printRelay(e, r.Stats())
			return nil
		}
		if n == 0 || r.Stats().Waiting {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func printRelay(e *env, s relay.Stats) {
	state := ""
	if s.Waiting {
		state = ", waiting on an open transaction"
	}
	if s.LastError != nil {
		state += fmt.Sprintf(", failing: %v", s.LastError)
	}
	fmt.Fprintf(e.stderr, "relay: cursor %d, published %d, lag %v%s\n", s.Cursor, s.Published, s.Lag.Round(time.Millisecond), state)
}
