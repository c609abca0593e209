package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorm-auditlog/auditlog"
)

// cutLen is where the timeline cuts a value; the whole value is one click
// (a <details> element) away.
const cutLen = 120

// changeView is one change of an entry: its name, its values cut and
// whole, and a word diff of long text.
type changeView struct {
	Name     string
	Old, New string
	FullOld  string
	FullNew  string
	Cut      bool
	Diff     []diffPart
}

// entryView is an entry of a timeline: its row and its changes.
type entryView struct {
	row
	Changes []changeView
}

func (s *server) changes(e auditlog.LogEntry) []changeView {
	short := s.p.DisplayChanges(e, auditlog.DisplayOptions{Location: s.cfg.loc, MaxLen: cutLen})
	full := s.p.DisplayChanges(e, auditlog.DisplayOptions{Location: s.cfg.loc, MaxLen: -1})
	out := make([]changeView, 0, len(full))
	for i, c := range full {
		v := changeView{Name: c.Name(), Old: c.Old, New: c.New, FullOld: c.Old, FullNew: c.New}
		if i < len(short) && short[i].Name() == c.Name() {
			v.Old, v.New = short[i].Old, short[i].New
		}
		v.Cut = v.Old != v.FullOld || v.New != v.FullNew
		if longText(c.Old, c.New) {
			v.Diff = wordDiff(c.Old, c.New)
		}
		out = append(out, v)
	}
	return out
}

// timelineData is an object's timeline page.
type timelineData struct {
	Page    page
	F       filter
	Table   string
	PK      string
	Repr    string
	Actions []actionChoice
	Entries []entryView
	Pager   pager
}

// timeline serves one object's entries, newest first, with action, actor
// and time filters. A deleted object keeps its timeline: it is read from
// the log alone. A table the viewer may not see shows no entries, like an
// object without any.
func (s *server) timeline(w http.ResponseWriter, r *http.Request, acc Access) error {
	f, err := s.filter(r, acc)
	if err != nil {
		return err
	}
	if len(f.Models) != 1 || f.PK == "" {
		return badf("an object timeline needs model and pk")
	}
	pg, err := s.find(r.Context(), f, acc, s.cfg.pageSize)
	if err != nil {
		return err
	}
	d := timelineData{F: f, Table: f.Models[0], PK: f.PK, Pager: pagerOf("object", f, pg)}
	d.Page = page{Title: f.Models[0] + " " + f.PK, Home: "./"}
	for _, a := range []auditlog.Action{auditlog.ActionCreate, auditlog.ActionUpdate, auditlog.ActionDelete, auditlog.ActionAccess} {
		if acc.mayAction(a) {
			d.Actions = append(d.Actions, actionChoice{Name: string(a), Label: s.p.ActionLabel(a)})
		}
	}
	for _, e := range pg.Entries {
		if d.Repr == "" {
			d.Repr = e.ObjectRepr
		}
		d.Entries = append(d.Entries, entryView{row: s.row(e), Changes: s.changes(e)})
	}
	return s.render(w, r, http.StatusOK, "timeline.html", d)
}

// entryByID is the entry of the request's id parameter, if acc may see it.
func (s *server) entryByID(r *http.Request, acc Access) (auditlog.LogEntry, error) {
	id, err := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	if err != nil || id <= 0 {
		return auditlog.LogEntry{}, badf("id: not an entry id")
	}
	// model, when given, is the entry's model table, which names its log
	// table: entries of models with their own log table (auditlog.LogTable)
	// share IDs with the others.
	q := auditlog.Query{IDs: []int64{id}, Table: r.URL.Query().Get("model"), Limit: 1}
	if !acc.restrict(&q) {
		return auditlog.LogEntry{}, errNotFound
	}
	pg, err := s.p.Find(r.Context(), s.db, q)
	if err != nil {
		return auditlog.LogEntry{}, err
	}
	if len(pg.Entries) == 0 {
		if len(pg.Corrupt) > 0 {
			return auditlog.LogEntry{}, badf("entry %d: its stored JSON is corrupt", id)
		}
		return auditlog.LogEntry{}, errNotFound
	}
	return pg.Entries[0], nil
}

// entryData is an entry's detail page.
type entryData struct {
	Page     page
	Row      row
	Changes  []changeView
	Data     string
	Snapshot string
	Raw      string
}

// entry serves one entry: every field, its changes whole, Data and
// Snapshot as indented JSON, and its raw JSON form.
func (s *server) entry(w http.ResponseWriter, r *http.Request, acc Access) error {
	e, err := s.entryByID(r, acc)
	if err != nil {
		return err
	}
	d := entryData{Row: s.row(e), Changes: s.changes(e), Raw: prettyJSON(e)}
	for i := range d.Changes { // the detail shows values whole
		c := &d.Changes[i]
		c.Old, c.New, c.Cut = c.FullOld, c.FullNew, false
	}
	d.Page = page{Title: "Entry " + strconv.FormatInt(e.ID, 10), Home: "./"}
	if e.Data != nil {
		d.Data = prettyJSON(e.Data)
	}
	if e.Snapshot != nil {
		d.Snapshot = prettyJSON(e.Snapshot)
	}
	return s.render(w, r, http.StatusOK, "entry.html", d)
}

// stateData is the state of an object at one of its entries.
type stateData struct {
	Page   page
	Row    row
	Gone   bool
	Fields []stateField
}

type stateField struct{ Name, Value string }

// state serves the object's state at an entry (auditlog's StateAtKey at
// the entry's time: after every entry of the object up to that time).
func (s *server) state(w http.ResponseWriter, r *http.Request, acc Access) error {
	e, err := s.entryByID(r, acc)
	if err != nil {
		return err
	}
	d := stateData{Row: s.row(e)}
	d.Page = page{Title: "State of " + e.Table + " " + e.ObjectPK, Home: "./"}
	st, err := s.p.StateAtKey(r.Context(), s.db, e.Table, e.ObjectPK, e.CreatedAt)
	switch {
	case errors.Is(err, auditlog.ErrNoState):
		d.Gone = true
	case err != nil:
		return err
	}
	for k, v := range st {
		d.Fields = append(d.Fields, stateField{Name: k, Value: prettyJSON(v)})
	}
	slices.SortFunc(d.Fields, func(a, b stateField) int { return strings.Compare(a.Name, b.Name) })
	return s.render(w, r, http.StatusOK, "state.html", d)
}
