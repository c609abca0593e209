package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRelay: relay -once publishes the fixture's 255 entries to a stream
// of the test's own and reports the cursor on stderr; a second run
// publishes nothing more.
func TestRelay(t *testing.T) {
	url := "nats://127.0.0.1:4222"
	if u := os.Getenv("AUDITLOG_NATS_URL"); u != "" {
		url = u
	}
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("AUDITLOG_REQUIRE_NATS") == "1" {
			t.Fatalf("NATS required but unreachable: %v", err)
		}
		t.Skipf("NATS unreachable: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	b := make([]byte, 6)
	rand.Read(b)
	stream, prefix := "AUDITLOG_CLI_"+strings.ToUpper(hex.EncodeToString(b)), "auditlog_cli_"+hex.EncodeToString(b)
	defer js.DeleteStream(context.Background(), stream)
	dsn, _ := newDB(t)
	for i := 0; i < 2; i++ {
		r := mustRun(t, "-dsn", dsn, "relay", "-nats", url, "-stream", stream, "-subject-prefix", prefix, "-once")
		if !strings.Contains(r.stderr, "relay: cursor 255") {
			t.Errorf("run %d: stderr %q", i, r.stderr)
		}
	}
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 255 {
		t.Errorf("stream holds %d messages, want 255", n)
	}
}
