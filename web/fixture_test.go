package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

type Invoice struct {
	ID       uint
	Number   string
	Customer string
	Total    int
	Note     string
	Secret   string
}

func (i *Invoice) String() string { return "Invoice " + i.Number }

type Customer struct {
	ID   uint
	Name string
}

func (c *Customer) String() string { return c.Name }

// t0 is the time of the first entry; each entry is one second later.
var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func ticking() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n-1) * time.Second)
	}
}

// hostile is a value that would run script if it reached the page as HTML.
const hostile = `<script>document.title="pwned"</script>"><img src=x onerror="document.title='pwned'">`

// longNote and longNote2 differ in one word: their change gets a word diff.
const (
	longNote  = "The quick brown fox jumps over the lazy dog and keeps running far beyond the hills of the valley, past the river, the mill and the old stone bridge."
	longNote2 = "The quick brown fox leaps over the lazy dog and keeps running far beyond the hills of the valley, past the river, the mill and the old stone bridge."
)

// seed writes this history (IDs in order):
//
//	1, 2  alice creates invoices 1 (INV-1) and 2 (INV-2)   cid req-1
//	3     bob updates invoice 1: total, note, secret       cid req-2
//	4     carol hard-deletes invoice 2
//	5     (system) creates customer 1 "Acme"
//	6     alice renames customer 1 to the hostile value    cid javascript:alert(1)
//	7     "\u202egnp.exe" (an RTL override) logs invoice.sent on invoice 1, with data
func seed(t *testing.T, db *gorm.DB) *auditlog.Plugin {
	t.Helper()
	p := auditlog.New(auditlog.WithClock(ticking()), auditlog.AllowUnknownActions())
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{}, &Customer{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Invoice{}, auditlog.Label("Total", "Total (EUR)"), auditlog.Mask("Secret")); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Customer{}); err != nil {
		t.Fatal(err)
	}
	as := func(actor, cid string) *gorm.DB {
		ctx := auditlog.WithActor(context.Background(), actor)
		if cid != "" {
			ctx = auditlog.WithCID(ctx, cid)
		}
		return db.WithContext(ctx)
	}
	invoices := []Invoice{{Number: "INV-1", Customer: "Acme", Total: 10, Note: longNote}, {Number: "INV-2", Total: 5}}
	customer := Customer{Name: "Acme"}
	steps := []func() error{
		func() error { return as("alice", "req-1").Create(&invoices[0]).Error },
		func() error { return as("alice", "req-1").Create(&invoices[1]).Error },
		func() error {
			return as("bob", "req-2").Model(&invoices[0]).Updates(Invoice{Total: 20, Note: longNote2, Secret: "hunter2"}).Error
		},
		func() error { return as("carol", "").Delete(&invoices[1]).Error },
		func() error { return db.Create(&customer).Error },
		func() error { return as("alice", "javascript:alert(1)").Model(&customer).Update("name", hostile).Error },
		func() error {
			ctx := auditlog.WithActor(context.Background(), "\u202egnp.exe")
			return p.Log(ctx, db, &invoices[0], "invoice.sent", map[string]any{"to": "a@example.com"})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("seed step %d: %v", i+1, err)
		}
	}
	return p
}

// get requests path from h and returns the answer's status, body and header.
func get(t *testing.T, h http.Handler, path string) (int, string, http.Header) {
	t.Helper()
	return do(t, h, http.MethodGet, path)
}

func do(t *testing.T, h http.Handler, method, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body), rec.Result().Header
}

// apiIDs asks the API and returns the entry IDs it answers, failing on any
// status but 200.
func apiIDs(t *testing.T, h http.Handler, query string) ([]int64, apiPage) {
	t.Helper()
	code, body, _ := get(t, h, "/api/entries?"+query)
	if code != http.StatusOK {
		t.Fatalf("api %q: %d %s", query, code, body)
	}
	var pg apiPage
	if err := json.Unmarshal([]byte(body), &pg); err != nil {
		t.Fatalf("api %q: %v\n%s", query, err, body)
	}
	ids := []int64{}
	for _, e := range pg.Entries {
		ids = append(ids, e.ID)
	}
	return ids, pg
}

// newHandler builds a handler or fails the test.
func newHandler(t *testing.T, p *auditlog.Plugin, db *gorm.DB, opts ...Option) http.Handler {
	t.Helper()
	h, err := Handler(p, db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// entryLinks counts the entry rows of an HTML page.
func entryLinks(body string) int { return strings.Count(body, `title="Entry `) }

func httptestRequest(path string) *http.Request {
	return httptest.NewRequest(http.MethodGet, path, nil)
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}
