package auditlog

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMiddlewareServer runs the Middleware behind a real listener, where
// RemoteAddr and headers are what net/http makes of the wire.
func TestMiddlewareServer(t *testing.T) {
	handler := func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		_ = json.NewEncoder(w).Encode(mwSeen{Actor: ActorFrom(ctx), CID: CIDFrom(ctx), RemoteAddr: RemoteAddrFrom(ctx)})
	}
	actorOf := func(r *http.Request) string { return r.Header.Get("X-User") }
	loopback := TrustedProxies(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))

	tests := []struct {
		name   string
		opts   []MiddlewareOption
		header http.Header
		want   mwSeen // CID "": generated
	}{
		{
			name:   "trusted loopback proxy",
			opts:   []MiddlewareOption{loopback},
			header: http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.9"}, "X-Correlation-Id": {"req-7f3a"}, "X-User": {"user-42"}},
			want:   mwSeen{Actor: "user-42", CID: "req-7f3a", RemoteAddr: "198.51.100.9", RespCID: "req-7f3a"},
		},
		{
			name:   "untrusted peer",
			header: http.Header{"X-Forwarded-For": {"198.51.100.9"}, "X-User": {"user-42"}},
			want:   mwSeen{Actor: "user-42", RemoteAddr: "127.0.0.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(Middleware(actorOf, tt.opts...)(http.HandlerFunc(handler)))
			t.Cleanup(srv.Close)
			if strings.Contains(srv.Listener.Addr().String(), "[") {
				tt.want.RemoteAddr = strings.Replace(tt.want.RemoteAddr, "127.0.0.1", "::1", 1)
			}

			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got mwSeen
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			got.RespCID = resp.Header.Get("X-Correlation-ID")

			if tt.want.CID == "" {
				if !isGeneratedCID(got.CID) || got.RespCID != got.CID {
					t.Errorf("CID %q, response header %q: want one generated id", got.CID, got.RespCID)
				}
				got.CID, got.RespCID = "", ""
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMiddlewareAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	mw := Middleware(func(*http.Request) string { return "user-42" },
		TrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	w := &mwDiscard{h: http.Header{}}
	tests := []struct {
		name string
		r    *http.Request
		max  float64
	}{
		{name: "incoming id", r: mwRequest("10.0.0.1:51000", http.Header{"X-Forwarded-For": {"198.51.100.1, 10.0.0.2, 10.0.0.3"}, "X-Correlation-Id": {"req-7f3a"}}), max: 7},
		{name: "generated id", r: mwRequest("203.0.113.9:51000", nil), max: 9}, // 8, and one more for crypto/rand under -race
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, tt.r) })
			if got > tt.max {
				t.Errorf("%v allocations per request, want at most %v", got, tt.max)
			}
		})
	}
}

// mwDiscard is a ResponseWriter that allocates nothing itself.
type mwDiscard struct{ h http.Header }

func (d *mwDiscard) Header() http.Header         { return d.h }
func (d *mwDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (d *mwDiscard) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mw := Middleware(func(*http.Request) string { return "user-42" },
		TrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	benchmarks := []struct {
		name string
		h    http.Handler
		r    *http.Request
	}{
		{name: "baseline", h: next, r: mwRequest("203.0.113.9:51000", nil)},
		{name: "no XFF", h: mw(next), r: mwRequest("203.0.113.9:51000", nil)},
		{name: "no XFF, incoming id", h: mw(next), r: mwRequest("203.0.113.9:51000", http.Header{"X-Correlation-Id": {"req-7f3a"}})},
		{name: "trusted peer, 3-element XFF", h: mw(next), r: mwRequest("10.0.0.1:51000", http.Header{"X-Forwarded-For": {"198.51.100.1, 10.0.0.2, 10.0.0.3"}, "X-Correlation-Id": {"req-7f3a"}})},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			w := &mwDiscard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bm.h.ServeHTTP(w, bm.r)
			}
		})
	}
}

func FuzzMiddlewareHeaders(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.2", "req-7f3a", "10.0.0.1:51000")
	f.Add("garbage, 198.51.100.1", "bad id", "[::ffff:10.0.0.1]:80")
	f.Add("2001:db8::1\n10.0.0.2,", "", "pipe")
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	mw := Middleware(nil, TrustedProxies(trusted...))
	f.Fuzz(func(t *testing.T, xff, cid, remoteAddr string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remoteAddr
		r.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		r.Header["X-Correlation-Id"] = []string{cid}
		got := mwServe(t, mw, r, "")

		if got.RemoteAddr != "" {
			a, err := netip.ParseAddr(got.RemoteAddr)
			if err != nil || a.String() != got.RemoteAddr || a.Zone() != "" || a.Is4In6() {
				t.Errorf("remote address %q is not a canonical IP address", got.RemoteAddr)
			}
		}
		if peer, ok := peerAddr(remoteAddr); got.RemoteAddr != "" && got.RemoteAddr != peer.String() {
			if !ok || !slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(peer) }) {
				t.Errorf("remote address %q taken from X-Forwarded-For of untrusted peer %q", got.RemoteAddr, remoteAddr)
			}
			if !mwListed(xff, got.RemoteAddr) {
				t.Errorf("remote address %q is neither the peer %q nor in X-Forwarded-For %q", got.RemoteAddr, remoteAddr, xff)
			}
		}
		if !validCID(got.CID, defaultMaxCIDLength) || got.RespCID != got.CID {
			t.Errorf("CID %q, response header %q: want one valid id", got.CID, got.RespCID)
		}
		peer, ok := peerAddr(remoteAddr)
		fromProxy := ok && slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(peer) })
		if fromProxy && validCID(cid, defaultMaxCIDLength) && got.CID != cid {
			t.Errorf("valid incoming CID %q from trusted proxy %q replaced by %q", cid, remoteAddr, got.CID)
		}
		if (!fromProxy || !validCID(cid, defaultMaxCIDLength)) && !isGeneratedCID(got.CID) {
			t.Errorf("incoming CID %q from %q kept as %q: want a generated id", cid, remoteAddr, got.CID)
		}
	})
}

// mwListed reports whether addr is one of the elements of the X-Forwarded-For
// lines in xff.
func mwListed(xff, addr string) bool {
	for _, e := range strings.FieldsFunc(xff, func(r rune) bool { return r == ',' || r == '\n' }) {
		if a, err := netip.ParseAddr(strings.Trim(e, " \t")); err == nil && a.Unmap().String() == addr {
			return true
		}
	}
	return false
}
