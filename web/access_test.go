package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

// TestAuthorization: what Access hides is absent from every answer: pages
// (which stay full), filter choices, entries, exports and the API.
func TestAuthorization(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		invoicesOnly := Access{Tables: []string{"invoices"}, Actions: []auditlog.Action{auditlog.ActionCreate, auditlog.ActionUpdate}}
		h := newHandler(t, p, db, PageSize(2), Authorize(func(r *http.Request) (Access, bool) {
			switch r.Header.Get("X-User") {
			case "denied":
				return Access{}, false
			case "nothing":
				return Access{AllActions: true}, true
			}
			return invoicesOnly, true
		}))

		ids, _ := apiIDs(t, h, "")
		if diff := cmp.Diff([]int64{3, 2, 1}, ids); diff != "" {
			t.Errorf("api (-want +got):\n%s", diff)
		}
		// Pages are full: the first page holds two visible entries.
		_, body, _ := get(t, h, "/")
		if n := entryLinks(body); n != 2 || !strings.Contains(body, `href="entry?id=3"`) || !strings.Contains(body, `href="entry?id=2"`) {
			t.Errorf("first page shows %d entries:\n%s", n, body)
		}
		for _, hidden := range []string{"customers", "carol", "invoice.sent", "Deleted", "Acme", "gnp.exe"} {
			if strings.Contains(body, hidden) {
				t.Errorf("history reveals %q", hidden)
			}
		}
		checkHiddenStatus(t, h)
		// Filtering on a hidden action gives nothing, not an error.
		if ids, _ := apiIDs(t, h, "action=delete"); len(ids) != 0 {
			t.Errorf("hidden action filter: %v", ids)
		}
		_, csv, _ := get(t, h, "/export.csv")
		if strings.Count(csv, "\n") != 4 || strings.Contains(csv, "customers") {
			t.Errorf("export shows hidden entries:\n%s", csv)
		}
		for _, user := range []string{"denied", "nothing"} {
			for _, path := range []string{"/", "/api/entries", "/export.csv", "/entry?id=1"} {
				req := httptestRequest(path)
				req.Header.Set("X-User", user)
				rec := serve(h, req)
				if rec.Code != http.StatusForbidden {
					t.Errorf("%s %s: %d, want 403", user, path, rec.Code)
				}
			}
		}
	})
}

// checkHiddenStatus: entries, states and timelines outside the viewer's
// Access answer as if they did not exist.
func checkHiddenStatus(t *testing.T, h http.Handler) {
	t.Helper()
	tests := []struct {
		name, path string
		code       int
	}{
		{name: "hidden table in the filter", path: "/?model=customers", code: http.StatusBadRequest},
		{name: "hidden table in the api", path: "/api/entries?model=customers", code: http.StatusBadRequest},
		{name: "hidden entry", path: "/entry?id=5", code: http.StatusNotFound},
		{name: "hidden action's entry", path: "/entry?id=4", code: http.StatusNotFound},
		{name: "hidden entry's state", path: "/state?id=7", code: http.StatusNotFound},
		{name: "missing entry", path: "/entry?id=99", code: http.StatusNotFound},
		{name: "visible entry", path: "/entry?id=3", code: http.StatusOK},
		{name: "hidden timeline", path: "/object?model=customers&pk=1", code: http.StatusBadRequest},
	}
	for _, tt := range tests {
		if code, body, _ := get(t, h, tt.path); code != tt.code {
			t.Errorf("%s: %d, want %d: %s", tt.name, code, tt.code, body)
		}
	}
}

func TestAccessRestrict(t *testing.T) {
	tests := []struct {
		name   string
		acc    Access
		give   auditlog.Query
		want   auditlog.Query
		wantOK bool
	}{
		{name: "everything", acc: Everything(), give: auditlog.Query{Table: "a"}, want: auditlog.Query{Table: "a"}, wantOK: true},
		{name: "allowed tables fill an empty filter", acc: Access{Tables: []string{"a", "b"}, AllActions: true},
			want: auditlog.Query{Tables: []string{"a", "b"}}, wantOK: true},
		{name: "hidden tables dropped", acc: Access{Tables: []string{"a"}, AllActions: true},
			give: auditlog.Query{Tables: []string{"a", "c"}}, want: auditlog.Query{Tables: []string{"a"}}, wantOK: true},
		{name: "only hidden tables", acc: Access{Tables: []string{"a"}, AllActions: true},
			give: auditlog.Query{Tables: []string{"c"}}, wantOK: false},
		{name: "hidden table", acc: Access{Tables: []string{"a"}, AllActions: true}, give: auditlog.Query{Table: "c"}, wantOK: false},
		{name: "allowed actions", acc: Access{AllTables: true, Actions: []auditlog.Action{"create"}},
			give: auditlog.Query{Actions: []auditlog.Action{"create", "delete"}}, want: auditlog.Query{Actions: []auditlog.Action{"create"}}, wantOK: true},
		{name: "only hidden actions", acc: Access{AllTables: true, Actions: []auditlog.Action{"create"}},
			give: auditlog.Query{Actions: []auditlog.Action{"delete"}}, wantOK: false},
	}
	for _, tt := range tests {
		q := tt.give
		ok := tt.acc.restrict(&q)
		if ok != tt.wantOK {
			t.Errorf("%s: ok %v, want %v", tt.name, ok, tt.wantOK)
			continue
		}
		if ok {
			if diff := cmp.Diff(tt.want, q); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	}
}
