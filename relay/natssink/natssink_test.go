package natssink_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/natssink"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsURL is the shared test server (AUDITLOG_NATS_URL overrides it).
func natsURL() string {
	if u := os.Getenv("AUDITLOG_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// connect connects to url, skipping the test when it does not answer unless
// AUDITLOG_REQUIRE_NATS=1.
func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("AUDITLOG_REQUIRE_NATS") == "1" {
			t.Fatalf("NATS is required (AUDITLOG_REQUIRE_NATS=1) but unreachable: %v", err)
		}
		t.Skipf("NATS unreachable at %s, skipping: %v", url, err)
	}
	nc.Close()
	nc, js, err := natssink.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// stream creates a stream of its own for the test, capturing prefix.>, and
// deletes it at the end.
func stream(t testing.TB, js jetstream.JetStream) (name, prefix string) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name = "AUDITLOG_T_" + strings.ToUpper(hex.EncodeToString(b))
	prefix = "auditlog_t_" + hex.EncodeToString(b)
	ctx := context.Background()
	if err := natssink.EnsureStream(ctx, js, name, []string{prefix + ".>"}, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.DeleteStream(context.Background(), name) })
	return name, prefix
}

// received reads the whole stream: entry IDs in stream order.
func received(t testing.TB, js jetstream.JetStream, name string) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	n := s.CachedInfo().State.Msgs
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for uint64(len(ids)) < n {
		batch, err := cons.Fetch(int(min(n-uint64(len(ids)), 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			var e auditlog.LogEntry
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				t.Fatalf("message %q: %v", m.Data(), err)
			}
			ids = append(ids, e.ID)
			got++
		}
		if got == 0 {
			t.Fatalf("stream %s: %d of %d messages read", name, len(ids), n)
		}
	}
	return ids
}

// TestSinkDuplicateSuppressed: the same message published twice is stored
// once; the subject is the prefix and the entry's table.
func TestSinkDuplicateSuppressed(t *testing.T) {
	js := connect(t, natsURL())
	name, prefix := stream(t, js)
	sink := natssink.New(js, natssink.Options{Prefix: prefix})
	e := auditlog.LogEntry{ID: 7, Table: "my.table*", ObjectPK: "1", Action: auditlog.ActionCreate}
	data, _ := json.Marshal(e)
	msgs := []relay.Message{{ID: "audit_log_entries:7", Entry: e, Data: data}}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := sink.Publish(ctx, msgs); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if got := received(t, js, name); len(got) != 1 || got[0] != 7 {
		t.Errorf("stream holds %v, want [7]", got)
	}
	if got, want := sink.SubjectOf(e), prefix+".my_table_"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
}
