package web

import (
	"net/http"
	"strconv"

	"github.com/gorm-auditlog/auditlog"
)

// apiPage is the answer of /api/entries: a page of entries in LogEntry's
// JSON form, and the cursors and links of the neighbouring pages ("" at
// either end), as InvenioRDM's REST search answers hits and links.
type apiPage struct {
	Entries []auditlog.LogEntry `json:"entries"`
	Next    string              `json:"next"`
	Prev    string              `json:"prev"`
	Links   apiLinks            `json:"links"`
	// Corrupt lists entries skipped because their stored JSON is corrupt.
	Corrupt []int64 `json:"corrupt,omitempty"`
}

type apiLinks struct {
	Next string `json:"next,omitempty"`
	Prev string `json:"prev,omitempty"`
}

// api serves /api/entries: the site history's filters (and id), cursor,
// and limit (default 100, at most auditlog.MaxPageSize), newest first.
func (s *server) api(w http.ResponseWriter, r *http.Request, acc Access) error {
	f, err := s.filter(r, acc)
	if err != nil {
		return err
	}
	limit := auditlog.DefaultPageSize
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > auditlog.MaxPageSize {
			return badf("limit: %q is not a number from 1 to %d", l, auditlog.MaxPageSize)
		}
		limit = n
	}
	pg, err := s.find(r.Context(), f, acc, limit)
	if err != nil {
		return err
	}
	out := apiPage{Entries: pg.Entries, Next: pg.Next, Prev: pg.Prev, Corrupt: pg.Corrupt}
	if out.Entries == nil {
		out.Entries = []auditlog.LogEntry{}
	}
	v := f.values("")
	if limit != auditlog.DefaultPageSize {
		v.Set("limit", strconv.Itoa(limit))
	}
	if pg.Next != "" {
		v.Set("cursor", pg.Next)
		out.Links.Next = link("entries", v)
	}
	if pg.Prev != "" {
		v.Set("cursor", pg.Prev)
		out.Links.Prev = link("entries", v)
	}
	writeJSON(w, r, http.StatusOK, out)
	return nil
}
