package auditlog

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestMiddlewareEntries runs requests through a real HTTP server: the
// middleware, then an authentication middleware that sets the actor late,
// then a handler that writes through GORM. Every entry of a request carries
// that request's actor, address and correlation id.
func TestMiddlewareEntries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}})
		authenticate := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if user, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
					SetActor(r.Context(), user)
				}
				next.ServeHTTP(w, r)
			})
		}
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tx := db.WithContext(r.Context())
			item := Item{Name: r.URL.Query().Get("name")}
			if err := tx.Create(&item).Error; err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if err := tx.Model(&item).Update("qty", 1).Error; err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
		// The test server's peer is 127.0.0.1: trust it as a proxy.
		mw := Middleware(nil, TrustedProxies(netip.MustParsePrefix("127.0.0.0/8")))
		srv := httptest.NewServer(mw(authenticate(handler)))
		defer srv.Close()

		requests := []struct {
			name, auth, xff, cid string
		}{
			{name: "a", auth: "Bearer alice", xff: "203.0.113.9", cid: "req-1"},
			{name: "b", xff: "198.51.100.2, 127.0.0.1", cid: "bad id with spaces"},
			{name: "c", auth: "Bearer carol", xff: "not-an-ip", cid: "req-3"},
		}
		var cids []string
		for _, rq := range requests {
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/?name="+rq.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rq.auth != "" {
				req.Header.Set("Authorization", rq.auth)
			}
			req.Header.Set("X-Forwarded-For", rq.xff)
			req.Header.Set("X-Correlation-ID", rq.cid)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %s: status %d", rq.name, resp.StatusCode)
			}
			cids = append(cids, resp.Header.Get("X-Correlation-ID"))
		}
		if cids[0] != "req-1" || cids[2] != "req-3" || len(cids[1]) != 32 {
			t.Fatalf("response correlation ids %q", cids)
		}
		type who struct{ Action, PK, Actor, Remote, CID string }
		var got []who
		for _, e := range allEntries(t, db) {
			got = append(got, who{string(e.Action), e.ObjectPK, e.ActorID, e.RemoteAddr, e.CID})
		}
		want := []who{
			{"create", "1", "alice", "203.0.113.9", "req-1"},
			{"update", "1", "alice", "203.0.113.9", "req-1"},
			{"create", "2", "", "198.51.100.2", cids[1]},
			{"update", "2", "", "198.51.100.2", cids[1]},
			{"create", "3", "carol", "127.0.0.1", "req-3"},
			{"update", "3", "carol", "127.0.0.1", "req-3"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}
