package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun serves the example on a free port and reads its site history.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", 60, &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	url := regexp.MustCompile(`http://\S+`)
	var u string
	for deadline := time.Now().Add(30 * time.Second); u == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		u = url.FindString(out.String())
	}
	if u == "" {
		t.Fatal("no URL printed")
	}
	resp, err := http.Get(u + "?model=customers")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "&lt;script&gt;") {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
}
