package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gorm-auditlog/auditlog"
)

// Access is what one viewer may see: entries of which tables, of which
// actions. It fails closed: a viewer sees the entries of the listed tables
// (every table only with AllTables) and of the listed actions (every action
// only with AllActions); an Access that allows no table or no action denies
// the request (403). It is applied in every query, so pages are full and no
// filter choice, export or API answer reveals an entry outside it.
type Access struct {
	AllTables  bool
	Tables     []string
	AllActions bool
	Actions    []auditlog.Action
}

// Everything is the Access of a viewer who may see every entry.
func Everything() Access { return Access{AllTables: true, AllActions: true} }

// AuthorizeFunc decides, for each request, what its viewer may see; ok
// false denies the request with 403 Forbidden. It is called once per
// request, from the request's goroutine, before any query: it must be safe
// for concurrent use. It typically reads the session the surrounding
// middleware put in the request's context.
type AuthorizeFunc func(r *http.Request) (access Access, ok bool)

// Option configures Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is Handler's configuration, fixed when the handler is built.
type config struct {
	authorize AuthorizeFunc
	loc       *time.Location
	pageSize  int
	logger    *slog.Logger
	tables    []string
	now       func() time.Time
}

// Authorize sets the function that says what each request may see. Handler
// requires it or AllowAll; the last one given wins.
func Authorize(fn AuthorizeFunc) Option {
	return optionFunc(func(c *config) { c.authorize = fn })
}

// AllowAll lets every request see every entry: for a handler mounted behind
// the application's own admin authentication. It must be given explicitly;
// Handler without it or Authorize returns an error.
func AllowAll() Option {
	return Authorize(func(*http.Request) (Access, bool) { return Everything(), true })
}

// Location sets the time zone times are shown in (default UTC); the UTC
// time is shown on hover. The API and exports always use UTC.
func Location(loc *time.Location) Option {
	return optionFunc(func(c *config) { c.loc = loc })
}

// PageSize sets the entries per page of the site history and timelines
// (default 50, at most auditlog.MaxPageSize).
func PageSize(n int) Option {
	return optionFunc(func(c *config) { c.pageSize = n })
}

// Logger sets where database errors and failed exports are logged (default
// slog.Default()). Viewers see only "internal error".
func Logger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// Tables lists the tables of the model filter: the filter then accepts
// only these (400 "unknown model" for others), and offers them beside those
// seen in the latest entries. Without it, any table name is accepted. A
// viewer is offered and accepted only those Access allows. Repeating it
// adds to the list.
func Tables(tables ...string) Option {
	return optionFunc(func(c *config) { c.tables = append(c.tables, tables...) })
}

// Clock sets the clock that dates export file names (default time.Now).
func Clock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}
