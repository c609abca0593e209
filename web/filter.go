package web

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorm-auditlog/auditlog"
)

// filter is the filter of a request, as the query string gives it: the
// same parameters for the site history, timelines, exports and the API.
//
//	model=T (repeated)   entries of these tables
//	pk=K                 of this object key (needs one model)
//	actor=A (repeated)   by these actors ("" is not a filter)
//	action=X (repeated)  of these actions
//	cid=C                of this correlation id
//	since=T, until=T     Since <= created_at < Until: RFC 3339, or a local
//	                     2006-01-02T15:04 or 2006-01-02 in the view's zone
//	field=F              whose changes include column F (needs one model)
//	q=text               whose object repr contains text, ignoring case
//	id=N (repeated)      these entries
//	cursor=C             the page after (or before) a previous one
type filter struct {
	Models  []string
	PK      string
	Actors  []string
	Actions []string
	CID     string
	Since   string
	Until   string
	Field   string
	Text    string
	IDs     []int64
	Cursor  string

	since, until time.Time
}

// maxParam bounds every parameter's length, and maxValues the values of a
// repeated one.
const (
	maxParam  = 1000
	maxValues = 50
)

// badRequest is a filter the handler refuses with 400 and this message.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{msg: fmt.Sprintf(format, args...)} }

// parseFilter reads and checks the filter of a query string. Times without
// a zone are read in loc.
func parseFilter(v url.Values, loc *time.Location) (filter, error) {
	for name, vals := range v {
		if len(vals) > maxValues {
			return filter{}, badf("%s: more than %d values", name, maxValues)
		}
		for _, s := range vals {
			if len(s) > maxParam || !utf8.ValidString(s) {
				return filter{}, badf("%s: too long or not UTF-8", name)
			}
		}
	}
	f := filter{Models: nonEmpty(v["model"]), PK: v.Get("pk"), Actors: nonEmpty(v["actor"]),
		Actions: nonEmpty(v["action"]), CID: v.Get("cid"), Since: strings.TrimSpace(v.Get("since")),
		Until: strings.TrimSpace(v.Get("until")), Field: v.Get("field"), Text: v.Get("q"), Cursor: v.Get("cursor")}
	for _, s := range nonEmpty(v["id"]) {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return filter{}, badf("id: %q is not an entry id", s)
		}
		f.IDs = append(f.IDs, id)
	}
	var err error
	if f.since, err = parseTime("since", f.Since, loc); err != nil {
		return filter{}, err
	}
	if f.until, err = parseTime("until", f.Until, loc); err != nil {
		return filter{}, err
	}
	if f.PK != "" && len(f.Models) != 1 {
		return filter{}, badf("pk: an object key needs exactly one model")
	}
	if f.Field != "" && len(f.Models) != 1 {
		return filter{}, badf("field: a changed-field filter needs exactly one model")
	}
	return f, nil
}

func nonEmpty(vals []string) []string {
	var out []string
	for _, s := range vals {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseTime(name, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// The forms of the filter form's datetime-local and date inputs.
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badf("%s: %q is not a time (RFC 3339 such as 2026-01-02T15:04:05Z, or 2026-01-02T15:04, or 2026-01-02)", name, s)
}

// query is the auditlog.Query of f.
func (f filter) query(limit int) auditlog.Query {
	q := auditlog.Query{Actors: f.Actors, CID: f.CID, Since: f.since, Until: f.until, Field: f.Field,
		ReprContains: f.Text, IDs: f.IDs, Limit: limit, Cursor: f.Cursor}
	switch len(f.Models) {
	case 0:
	case 1:
		q.Table = f.Models[0]
	default:
		q.Tables = f.Models
	}
	if f.PK != "" {
		q.ObjectPKs = []string{f.PK}
	}
	for _, a := range f.Actions {
		q.Actions = append(q.Actions, auditlog.Action(a))
	}
	return q
}

// values is f as a query string, with another cursor; an empty one starts
// at the first page.
func (f filter) values(cursor string) url.Values {
	v := url.Values{}
	set := func(k string, vals ...string) {
		for _, s := range vals {
			if s != "" {
				v.Add(k, s)
			}
		}
	}
	set("model", f.Models...)
	set("pk", f.PK)
	set("actor", f.Actors...)
	set("action", f.Actions...)
	set("cid", f.CID)
	set("since", f.Since)
	set("until", f.Until)
	set("field", f.Field)
	set("q", f.Text)
	for _, id := range f.IDs {
		v.Add("id", strconv.FormatInt(id, 10))
	}
	set("cursor", cursor)
	return v
}

// link is a relative URL to page with the query string v.
func link(page string, v url.Values) string {
	if len(v) == 0 {
		return page
	}
	return page + "?" + v.Encode()
}
