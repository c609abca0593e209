package natssink_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/internal/reltest"
	"github.com/gorm-auditlog/auditlog/relay/natssink"
	"gorm.io/gorm"
)

// privateServer runs a nats-server of the test's own on a free port, so
// that the test can stop and restart it.
type privateServer struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func newPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	bin := "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("AUDITLOG_REQUIRE_NATS") == "1" {
			t.Fatalf("no %s: %v", bin, err)
		}
		t.Skipf("no %s", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &privateServer{t: t, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *privateServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *privateServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("/usr/sbin/nats-server", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("private nats-server did not start")
}

func (s *privateServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
	s.cmd = nil
}

// TestRelayBrokerOutage: the broker is stopped for AUDITLOG_NATS_OUTAGE
// (default 10s) while the application keeps writing; writes do not wait
// on it, the relay reports the failures and its growing lag, and after the
// restart every entry arrives exactly once.
func TestRelayBrokerOutage(t *testing.T) {
	srv := newPrivateServer(t)
	js := connect(t, srv.url())
	name, prefix := stream(t, js)
	db := reltest.Open(t, "sqlite")
	sink := natssink.New(js, natssink.Options{Prefix: prefix, AckTimeout: time.Second})
	var errs sync.Map
	r, _ := relay.New(db, sink, relay.Options{BatchSize: 100, PollInterval: 10 * time.Millisecond,
		RetryMax: time.Second, OnError: func(err error) { errs.Store("seen", err) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	l := &ledger{committed: map[int64]string{}}
	stopWriting := make(chan struct{})
	slowest := make(chan time.Duration, 1)
	go func() { slowest <- writeUntil(t, db, l, stopWriting) }()

	time.Sleep(500 * time.Millisecond)
	srv.stop()
	outage := time.Duration(envInt("AUDITLOG_NATS_OUTAGE", 10)) * time.Second
	time.Sleep(outage)
	stats := r.Stats()
	if _, ok := errs.Load("seen"); !ok || stats.LastError == nil || stats.Lag < outage/2 {
		t.Errorf("during the outage: stats %+v, an error reported: %v", stats, ok)
	}
	srv.start()
	time.Sleep(500 * time.Millisecond)
	close(stopWriting)
	if d := <-slowest; d > time.Second {
		t.Errorf("a write took %v during the outage", d)
	}
	waitPublished(t, r, l.max())
	cancel()
	<-done
	checkStream(t, l, received(t, js, name))
	t.Logf("%d entries, %d published, stats %+v", len(l.committed), r.Stats().Published, r.Stats())
}

// writeUntil writes a transaction every 5ms until stop and returns the
// slowest one's duration.
func writeUntil(t *testing.T, db *gorm.DB, l *ledger, stop chan struct{}) time.Duration {
	var slowest time.Duration
	for {
		select {
		case <-stop:
			return slowest
		case <-time.After(5 * time.Millisecond):
		}
		start := time.Now()
		if err := writeTx(db, l, "o", time.Millisecond); err != nil {
			t.Errorf("write: %v", err)
			return slowest
		}
		slowest = max(slowest, time.Since(start))
	}
}
