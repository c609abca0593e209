package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorm-auditlog/auditlog"
)

// summaryFields caps the changed fields named in a row's summary.
const summaryFields = 4

// row is one entry as a line of the site history or a timeline.
type row struct {
	ID                 int64
	At                 time.Time
	Table, PK, Repr    string
	Action, Label      string
	Actor, CID, Remote string
	Summary            string
	ObjectURL, CIDURL  string
	EntryURL, StateURL string
	ActorURL           string
	// ParentTable, ParentPK and ParentURL name the entry's parent object
	// (auditlog.Parent), when it has one.
	ParentTable, ParentPK, ParentURL string
}

func (s *server) row(e auditlog.LogEntry) row {
	r := row{ID: e.ID, At: e.CreatedAt, Table: e.Table, PK: e.ObjectPK, Repr: e.ObjectRepr, Action: string(e.Action),
		Label: s.p.ActionLabel(e.Action), Actor: e.ActorID, CID: e.CID, Remote: e.RemoteAddr}
	r.ObjectURL = link("object", url.Values{"model": {e.Table}, "pk": {e.ObjectPK}})
	id := url.Values{"id": {strconv.FormatInt(e.ID, 10)}}
	if len(s.p.LogTables()) > 1 {
		// An ID is unique within its log table only (auditlog.LogTable):
		// the model's table names the log table.
		id.Set("model", e.Table)
	}
	r.EntryURL, r.StateURL = link("entry", id), link("state", id)
	if e.CID != "" {
		r.CIDURL = link("./", url.Values{"cid": {e.CID}})
	}
	if e.ParentTable != "" {
		r.ParentTable, r.ParentPK = e.ParentTable, e.ParentPK
		r.ParentURL = link("object", url.Values{"model": {e.ParentTable}, "pk": {e.ParentPK}})
	}
	if e.ActorID != "" {
		r.ActorURL = link("./", url.Values{"actor": {e.ActorID}})
	}
	var names []string
	for _, c := range s.p.DisplayChanges(e, auditlog.DisplayOptions{MaxLen: 1}) {
		if !slices.Contains(names, c.Label) {
			names = append(names, c.Label)
		}
	}
	if len(names) > summaryFields {
		names = append(names[:summaryFields], "+"+strconv.Itoa(len(names)-summaryFields)+" more")
	}
	r.Summary = strings.Join(names, ", ")
	return r
}

// pager holds the links to the neighbouring pages.
type pager struct {
	Newer, Older string
	Corrupt      []int64
}

func pagerOf(base string, f filter, pg auditlog.Page) pager {
	var p pager
	if pg.Prev != "" {
		p.Newer = link(base, f.values(pg.Prev))
	}
	if pg.Next != "" {
		p.Older = link(base, f.values(pg.Next))
	}
	p.Corrupt = pg.Corrupt
	return p
}

// historyData is the site history page.
type historyData struct {
	Page    page
	F       filter
	Choices choices
	Rows    []row
	Pager   pager
	CSV     string
	JSONL   string
	API     string
}

// history serves the site history: one keyset page of the visible entries
// matching the filter, newest first.
func (s *server) history(w http.ResponseWriter, r *http.Request, acc Access) error {
	f, err := s.filter(r, acc)
	if err != nil {
		return err
	}
	ch, err := s.choices(r.Context(), acc)
	if err != nil {
		return err
	}
	pg, err := s.find(r.Context(), f, acc, s.cfg.pageSize)
	if err != nil {
		return err
	}
	d := historyData{Page: page{Title: "Audit log", Home: "./"}, F: f, Choices: ch, Pager: pagerOf("./", f, pg),
		CSV: link("export.csv", f.values("")), JSONL: link("export.jsonl", f.values("")), API: link("api/entries", f.values(""))}
	for _, e := range pg.Entries {
		d.Rows = append(d.Rows, s.row(e))
	}
	return s.render(w, r, http.StatusOK, "history.html", d)
}

// filter is the request's filter, checked (checkModels).
func (s *server) filter(r *http.Request, acc Access) (filter, error) {
	f, err := parseFilter(r.URL.Query(), s.cfg.loc)
	if err != nil {
		return filter{}, err
	}
	return f, s.checkModels(f, acc)
}

// checkModels refuses (400 "unknown model") a model filter naming a table
// the viewer may not see, one outside Tables when that option is given,
// or a name that cannot be a table: the same answer for a hidden table as
// for one that does not exist.
func (s *server) checkModels(f filter, acc Access) error {
	for _, m := range f.Models {
		known := plausibleTable(m) && acc.mayTable(m) && (len(s.cfg.tables) == 0 || slices.Contains(s.cfg.tables, m))
		if !known {
			return badf("model: unknown model %q", inert(m))
		}
	}
	return nil
}

// plausibleTable reports whether name could be a table of the log: at most
// 191 bytes (the column's size) of letters, digits and "_.$-".
func plausibleTable(name string) bool {
	return len(name) <= 191 && !strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '_' || r == '.' || r == '$' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
}

// find runs f's query, restricted to acc; an empty page when acc leaves
// nothing to ask.
func (s *server) find(ctx context.Context, f filter, acc Access, limit int) (auditlog.Page, error) {
	q := f.query(limit)
	if !acc.restrict(&q) {
		if f.Cursor != "" {
			return auditlog.Page{}, badf("cursor: not a cursor of this filter")
		}
		return auditlog.Page{}, nil
	}
	return s.p.Find(ctx, s.db, q)
}
