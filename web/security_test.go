package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"
)

var attrValue = regexp.MustCompile(`value="[^"]*"`)

// TestHostileValuesRenderInert: logged values reach pages as text only.
func TestHostileValuesRenderInert(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll())
		for _, path := range []string{"/", "/object?model=customers&pk=1", "/entry?id=6", "/state?id=6", "/entry?id=7", "/?q=" + "%3Cscript%3E"} {
			code, body, _ := get(t, h, path)
			if code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, code, body)
			}
			// Attribute values keep the exact value (a filter must match
			// it); only text shows, and text holds no bidi override.
			text := attrValue.ReplaceAllString(body, `value=""`)
			for _, bad := range []string{"<script", "<img", "onerror=\"", `href="javascript:`, "\u202e"} {
				if strings.Contains(text, bad) {
					t.Errorf("%s: contains %q", path, bad)
				}
			}
		}
		_, body, _ := get(t, h, "/entry?id=6")
		if !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("entry 6 does not show the value escaped")
		}
		_, body, _ = get(t, h, "/entry?id=7")
		if !strings.Contains(body, "⟨U&#43;202E⟩gnp.exe") {
			t.Errorf("entry 7 does not show the RTL override as a code point")
		}
		// The cid link is a relative query, never a javascript: URL.
		_, body, _ = get(t, h, "/?id=6")
		if !strings.Contains(body, `href="./?cid=javascript%3Aalert%281%29"`) {
			t.Errorf("cid link not a relative query:\n%s", body)
		}
	})
}

func TestSecurityHeadersAndMethods(t *testing.T) {
	db := openTestDB(t, "sqlite")
	p := seed(t, db)
	h := newHandler(t, p, db, AllowAll())
	for _, path := range []string{"/", "/api/entries", "/export.csv", "/nope", "/style.css"} {
		_, _, hdr := get(t, h, path)
		csp := hdr.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "style-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP allows script: %q", path, csp)
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		for _, path := range []string{"/", "/api/entries", "/export.csv"} {
			code, _, hdr := do(t, h, m, path)
			if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d, Allow %q", m, path, code, hdr.Get("Allow"))
			}
		}
	}
	code, body, _ := do(t, h, http.MethodHead, "/")
	if code != http.StatusOK || body != "" {
		t.Errorf("HEAD /: %d, body %q", code, body)
	}
}

// TestBadInput: a bad filter answers 400 with a message saying what is
// wrong, on pages, exports and the API.
func TestBadInput(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll())
		strict := newHandler(t, p, db, AllowAll(), Tables("invoices", "customers"))
		tests := []struct {
			name, path, want string
			h                http.Handler
		}{
			{name: "malformed cursor", path: "/?cursor=zzz", want: "invalid cursor"},
			{name: "cursor of another filter", path: "/api/entries?actor=bob&cursor=" + firstCursor(t, h), want: "another query"},
			{name: "bad time", path: "/?since=yesterday", want: "since: &#34;yesterday&#34; is not a time"},
			{name: "bad time in the api", path: "/api/entries?until=13:00", want: `until: \"13:00\" is not a time`},
			{name: "reversed range", path: "/api/entries?since=2026-03-05&until=2026-03-04", want: "empty or reversed"},
			{name: "unknown model", path: "/?model=nosuch", want: "unknown model", h: strict},
			{name: "not a table name", path: "/?model=a%20b", want: "unknown model"},
			{name: "pk without one model", path: "/?pk=1", want: "exactly one model"},
			{name: "field without one model", path: "/?field=total", want: "exactly one model"},
			{name: "unknown field", path: "/?model=invoices&field=nosuch", want: "nosuch"},
			{name: "bad action", path: "/?action=a%20b", want: "invalid action"},
			{name: "bad id", path: "/entry?id=x", want: "not an entry id"},
			{name: "bad id filter", path: "/api/entries?id=-1", want: "not an entry id"},
			{name: "bad limit", path: "/api/entries?limit=0", want: "limit"},
			{name: "timeline without key", path: "/object?model=invoices", want: "needs model and pk"},
			{name: "export with bad time", path: "/export.csv?since=x", want: "not a time"},
			{name: "too many values", path: "/?actor=" + strings.Repeat("a&actor=", 60) + "a", want: "more than"},
		}
		for _, tt := range tests {
			hh := tt.h
			if hh == nil {
				hh = h
			}
			code, body, _ := get(t, hh, tt.path)
			if code != http.StatusBadRequest || !strings.Contains(body, tt.want) {
				t.Errorf("%s: %d, want 400 with %q:\n%.600s", tt.name, code, tt.want, body)
			}
		}
	})
}

func firstCursor(t *testing.T, h http.Handler) string {
	t.Helper()
	_, pg := apiIDs(t, h, "limit=1")
	return pg.Next
}

// TestDatabaseErrorsHidden: a failing query is logged and answered with
// "internal error", never with the database's message.
func TestDatabaseErrorsHidden(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		var logged bytes.Buffer
		h := newHandler(t, p, db, AllowAll(), Logger(slog.New(slog.NewTextHandler(&logged, nil))))
		if err := db.Migrator().DropTable("audit_log_entries"); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/", "/api/entries", "/export.csv", "/entry?id=1", "/object?model=invoices&pk=1"} {
			code, body, _ := get(t, h, path)
			if code != http.StatusInternalServerError || !strings.Contains(body, "internal error") || strings.Contains(body, "audit_log_entries") {
				t.Errorf("%s: %d %s", path, code, body)
			}
		}
		if !strings.Contains(logged.String(), "audit_log_entries") {
			t.Errorf("the database error was not logged: %s", logged.String())
		}
	})
}
