package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutine and the
// test's.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servedURL = regexp.MustCompile(`http://\S+`)

// startServe runs "auditlog serve" in the test's process and returns the
// URL it prints; the server stops when the test ends.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	dsn, _ := newDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"-dsn", dsn, "serve", "-addr", "127.0.0.1:0"}, args...), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("serve exited %d: %s", code, stderr.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u := servedURL.FindString(stdout.String()); u != "" {
			return u
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
	}
	t.Fatal("serve printed no URL")
	return ""
}

func TestServeRequiresToken(t *testing.T) {
	u := startServe(t)
	base, token, ok := strings.Cut(u, "?token=")
	if !ok || len(token) != 32 {
		t.Fatalf("printed URL %q carries no token", u)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(req *http.Request) (int, *http.Response) {
		t.Helper()
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp
	}
	req, _ := http.NewRequest(http.MethodGet, base+"api/entries", nil)
	if code, _ := status(req); code != http.StatusUnauthorized {
		t.Errorf("without token: %d", code)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"?token=wrong", nil)
	if code, _ := status(req); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	req, _ = http.NewRequest(http.MethodGet, u, nil)
	code, resp := status(req)
	if code != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(resp.Cookies()) != 1 {
		t.Fatalf("token URL: %d to %q, cookies %v", code, resp.Header.Get("Location"), resp.Cookies())
	}
	req, _ = http.NewRequest(http.MethodGet, base+"?actor=alice", nil)
	req.AddCookie(resp.Cookies()[0])
	if code, _ := status(req); code != http.StatusOK {
		t.Errorf("with cookie: %d", code)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"api/entries?limit=2", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if code, _ := status(req); code != http.StatusOK {
		t.Errorf("with bearer token: %d", code)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"api/entries", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if code, _ := status(req); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", code)
	}
}

func TestServeInsecureNoAuth(t *testing.T) {
	u := startServe(t, "-insecure-no-auth")
	if strings.Contains(u, "token") {
		t.Errorf("printed URL %q", u)
	}
	resp, err := http.Get(u + "api/entries?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("no auth: %d", resp.StatusCode)
	}
}

func TestServeFlags(t *testing.T) {
	dsn, _ := newDB(t)
	r := runCLI(t, nil, "-dsn", dsn, "serve", "-token", "x", "-insecure-no-auth")
	if r.code != exitUsage || !strings.Contains(r.stderr, "exclude each other") {
		t.Errorf("-token with -insecure-no-auth: %d %s", r.code, r.stderr)
	}
	r = runCLI(t, nil, "serve", "-h")
	if !strings.Contains(r.stderr, "127.0.0.1:8080") {
		t.Errorf("serve -h does not show the loopback default:\n%s", r.stderr)
	}
}

// TestRequireTokenRedirect: the token URL's redirect stays on the host.
func TestRequireTokenRedirect(t *testing.T) {
	h := requireToken("secret", http.NotFoundHandler())
	for _, target := range []string{"//evil.example/?token=secret", "/%5Cevil.example/?token=secret"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/", nil)
		req.URL, _ = url.ParseRequestURI(target)
		h.ServeHTTP(rec, req)
		if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/" {
			t.Errorf("%s: %d to %q", target, rec.Code, loc)
		}
	}
}
