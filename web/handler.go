// Package web is a read-only history view of an auditlog log and a JSON API
// over it, for administrators: the site history with filters, one object's
// timeline with field diffs and its state at each entry, an entry's detail,
// exports as CSV and JSON lines, and /api/entries.
//
// It depends only on the public API of package auditlog. Pages are rendered
// on the server with html/template and need no JavaScript; the stylesheet
// is embedded. Every logged value is treated as untrusted. See Handler.
package web

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

//go:embed templates/*.html static/style.css
var assets embed.FS

// defaultPageSize is the entries per page of the HTML views.
const defaultPageSize = 50

// securityHeaders are set on every answer: no script at all, styles and
// images only from the handler itself, no framing, no sniffing, no referrer
// (URLs carry filter values).
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// server is the handler Handler returns. It holds no mutable state: it is
// safe for concurrent use.
type server struct {
	p    *auditlog.Plugin
	db   *gorm.DB
	cfg  config
	tmpl *template.Template
	css  []byte
}

// route is one page, given the viewer's Access.
type route func(s *server, w http.ResponseWriter, r *http.Request, acc Access) error

// Handler returns the history view and JSON API of p's log in db, read-only.
// It is mountable under any prefix ending in "/": http.StripPrefix("/audit",
// h) on "/audit/", a ServeMux pattern "/audit/" or chi's Mount("/audit", h),
// with or without the prefix stripped: it routes on the end of the path and
// every link it writes is relative. Link to the prefix with its slash.
//
// Pages: "/" the site history, "/object?model=T&pk=K" one object's
// timeline, "/entry?id=N" one entry, "/state?id=N" the object's state at an
// entry, "/export.csv" and "/export.jsonl" the current filter's entries,
// "/api/entries" the JSON API (see filter for the parameters).
//
// It answers GET and HEAD only (405 otherwise), 400 with a message for a
// bad filter, 403 when the AuthorizeFunc denies, 404 for an entry the viewer
// may not see or that does not exist; database errors are logged (Logger)
// and answered 500 "internal error". Every answer carries a strict
// Content-Security-Policy. Each page costs one keyset query of the log (and
// one for the filter choices on the site history); no page counts rows.
//
// It returns an error when neither Authorize nor AllowAll is given, or for
// a nil plugin or database.
func Handler(p *auditlog.Plugin, db *gorm.DB, opts ...Option) (http.Handler, error) {
	if p == nil || db == nil {
		return nil, errors.New("auditlog/web: Handler needs a plugin and a database")
	}
	cfg := config{loc: time.UTC, pageSize: defaultPageSize, logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.authorize == nil {
		return nil, errors.New("auditlog/web: Handler needs web.Authorize(fn) or, explicitly, web.AllowAll()")
	}
	if cfg.loc == nil || cfg.logger == nil || cfg.now == nil {
		return nil, errors.New("auditlog/web: nil Location, Logger or Clock")
	}
	if cfg.pageSize <= 0 || cfg.pageSize > auditlog.MaxPageSize {
		return nil, fmt.Errorf("auditlog/web: page size %d not in 1..%d", cfg.pageSize, auditlog.MaxPageSize)
	}
	tmpl, err := parseTemplates(cfg.loc)
	if err != nil {
		return nil, err
	}
	css, err := assets.ReadFile("static/style.css")
	if err != nil {
		return nil, fmt.Errorf("auditlog/web: %w", err)
	}
	return &server{p: p, db: db, cfg: cfg, tmpl: tmpl, css: css}, nil
}

// routeOf is the page of a path, found by the end of the path: it routes on
// the last segments of the path, so that it works whether the prefix it is
// mounted under was stripped (http.StripPrefix) or not (chi's Mount, a
// ServeMux pattern "/audit/"); every link it writes is relative.
func routeOf(path string) (route, bool) {
	pages := []struct {
		name string
		rt   route
	}{
		{"/api/entries", (*server).api},
		{"/object", (*server).timeline},
		{"/entry", (*server).entry},
		{"/state", (*server).state},
		{"/export.csv", (*server).exportCSV},
		{"/export.jsonl", (*server).exportJSONL},
		{"/", (*server).history},
	}
	for _, pg := range pages {
		if strings.HasSuffix(path, pg.name) {
			return pg.rt, true
		}
	}
	return nil, false
}

// ServeHTTP checks the method, serves the stylesheet, authorizes, and runs
// the page's route.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, http.StatusMethodNotAllowed, "method not allowed: this view is read-only")
		return
	}
	switch {
	case r.URL.Path == "":
		// Mounted without its trailing slash: relative links need one.
		u, err := url.ParseRequestURI(r.RequestURI)
		if err != nil || !localPath(u.Path) {
			s.fail(w, r, http.StatusNotFound, "not found")
			return
		}
		u.Path += "/"
		http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
		return
	case strings.HasSuffix(r.URL.Path, "/style.css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(s.css)
		return
	}
	rt, ok := routeOf(r.URL.Path)
	if !ok {
		s.fail(w, r, http.StatusNotFound, "not found")
		return
	}
	acc, ok := s.cfg.authorize(r)
	if !ok || acc.empty() {
		s.fail(w, r, http.StatusForbidden, "forbidden")
		return
	}
	if err := rt(s, w, r, acc); err != nil {
		s.failErr(w, r, err)
	}
}

// localPath reports whether a redirect to path stays on this host: it
// starts with one "/" (browsers read "//" and "/\" as another host).
func localPath(path string) bool {
	return strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "//") && !strings.HasPrefix(path, "/\\")
}

// notFound is an entry the viewer may not see or that does not exist.
var errNotFound = errors.New("not found")

// failErr answers err: 400 for a bad filter, 404, or 500 after logging a
// database error (its text is never shown).
func (s *server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var bad *badRequest
	switch {
	case errors.As(err, &bad):
		s.fail(w, r, http.StatusBadRequest, bad.msg)
	case errors.Is(err, auditlog.ErrInvalidQuery), errors.Is(err, auditlog.ErrInvalidCursor),
		errors.Is(err, auditlog.ErrUnknownField), errors.Is(err, auditlog.ErrInvalidAction),
		errors.Is(err, auditlog.ErrInvalidModel):
		s.fail(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, errNotFound):
		s.fail(w, r, http.StatusNotFound, "not found")
	default:
		s.cfg.logger.ErrorContext(r.Context(), "auditlog/web: request failed", "path", r.URL.Path, "err", err)
		s.fail(w, r, http.StatusInternalServerError, "internal error")
	}
}
