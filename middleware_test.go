package auditlog

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mwSeen is what a handler inside the Middleware sees, and what the client
// gets back.
type mwSeen struct {
	Actor      string
	CID        string
	RemoteAddr string
	RespCID    string // the response header, DefaultCIDHeader unless noted
}

// mwServe runs r through mw around a handler that records its context.
func mwServe(t testing.TB, mw func(http.Handler) http.Handler, r *http.Request, respHeader string) mwSeen {
	t.Helper()
	var got mwSeen
	called := false
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		ctx := r.Context()
		got.Actor, got.CID, got.RemoteAddr = ActorFrom(ctx), CIDFrom(ctx), RemoteAddrFrom(ctx)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if !called {
		t.Fatal("next handler not called")
	}
	if respHeader == "" {
		respHeader = DefaultCIDHeader
	}
	got.RespCID = rec.Header().Get(respHeader)
	return got
}

func mwRequest(remoteAddr string, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remoteAddr
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

// isGeneratedCID reports whether id looks like a default id: 32 lower-case
// hex characters.
func isGeneratedCID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !('0' <= b && b <= '9' || 'a' <= b && b <= 'f') {
			return false
		}
	}
	return true
}

func TestMiddlewareRemoteAddr(t *testing.T) {
	trusted := TrustedProxies(
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:f::/48"),
		netip.MustParsePrefix("192.0.2.7/32"), // one proxy
	)
	xff := func(lines ...string) http.Header { return http.Header{"X-Forwarded-For": lines} }
	tests := []struct {
		name       string
		opts       []MiddlewareOption
		remoteAddr string
		header     http.Header
		want       string
	}{
		// untrusted peers
		{name: "peer, no header", opts: []MiddlewareOption{trusted}, remoteAddr: "203.0.113.9:51000", want: "203.0.113.9"},
		{name: "untrusted peer spoofs XFF", opts: []MiddlewareOption{trusted}, remoteAddr: "203.0.113.9:51000", header: xff("198.51.100.1"), want: "203.0.113.9"},
		{name: "nothing trusted by default", remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1"), want: "10.0.0.1"},
		{name: "loopback not trusted unless listed", opts: []MiddlewareOption{trusted}, remoteAddr: "127.0.0.1:51000", header: xff("198.51.100.1"), want: "127.0.0.1"},
		{name: "neighbour of a /32 proxy", opts: []MiddlewareOption{trusted}, remoteAddr: "192.0.2.8:51000", header: xff("198.51.100.1"), want: "192.0.2.8"},
		{name: "invalid prefix ignored", opts: []MiddlewareOption{TrustedProxies(netip.Prefix{})}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1"), want: "10.0.0.1"},

		// trusted peers
		{name: "trusted peer, no header", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", want: "10.0.0.1"},
		{name: "trusted peer", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1"), want: "198.51.100.1"},
		{name: "client spoofs left of its address", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("1.1.1.1, 10.0.0.9, 198.51.100.1"), want: "198.51.100.1"},
		{name: "client hides behind garbage", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("garbage, :80, \x00, 198.51.100.1"), want: "198.51.100.1"},
		{name: "chain of trusted proxies", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1, 10.0.0.2, 192.0.2.7, 10.0.0.3"), want: "198.51.100.1"},
		{name: "single-address proxy", opts: []MiddlewareOption{trusted}, remoteAddr: "192.0.2.7:51000", header: xff("198.51.100.1"), want: "198.51.100.1"},
		{name: "every address trusted: left-most", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("10.0.0.5, 10.0.0.2"), want: "10.0.0.5"},
		{name: "several header lines", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("1.1.1.1, 198.51.100.1", "10.0.0.2"), want: "198.51.100.1"},
		{name: "last header line first", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1", "198.51.100.2"), want: "198.51.100.2"},
		{name: "trusted across header lines: left-most", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("10.0.0.7", "10.0.0.2, 10.0.0.3"), want: "10.0.0.7"},
		{name: "spaces and tabs around elements", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff(" 198.51.100.1\t,\t10.0.0.2 "), want: "198.51.100.1"},
		{name: "repeated option adds", opts: []MiddlewareOption{TrustedProxies(netip.MustParsePrefix("10.0.0.1/32")), TrustedProxies(netip.MustParsePrefix("10.0.0.2/32"))}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1, 10.0.0.2"), want: "198.51.100.1"},
		{name: "long trusted chain", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1" + strings.Repeat(", 10.0.0.2", 1000)), want: "198.51.100.1"},

		// IPv6
		{name: "IPv6 peer", opts: []MiddlewareOption{trusted}, remoteAddr: "[2001:db8::1]:443", header: xff("198.51.100.1"), want: "2001:db8::1"},
		{name: "IPv6 trusted peer, IPv6 client", opts: []MiddlewareOption{trusted}, remoteAddr: "[2001:db8:f::1]:443", header: xff("2001:DB8:0:0::42"), want: "2001:db8::42"},
		{name: "IPv6 trusted peer, IPv4 client", opts: []MiddlewareOption{trusted}, remoteAddr: "[2001:db8:f::1]:443", header: xff("198.51.100.1, 2001:db8:f::2"), want: "198.51.100.1"},
		{name: "zone dropped", remoteAddr: "[fe80::1%eth0]:80", want: "fe80::1"},
		{name: "IPv4-mapped peer unmapped", remoteAddr: "[::ffff:203.0.113.9]:80", want: "203.0.113.9"},
		{name: "IPv4-mapped peer trusted", opts: []MiddlewareOption{trusted}, remoteAddr: "[::ffff:10.0.0.1]:80", header: xff("198.51.100.1"), want: "198.51.100.1"},
		{name: "IPv4-mapped XFF element", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:80", header: xff("::ffff:198.51.100.1, ::ffff:10.0.0.2"), want: "198.51.100.1"},
		{name: "IPv4-mapped prefix", opts: []MiddlewareOption{TrustedProxies(netip.MustParsePrefix("::ffff:10.0.0.0/104"))}, remoteAddr: "10.0.0.1:80", header: xff("198.51.100.1"), want: "198.51.100.1"},

		// RemoteAddr forms
		{name: "bare address", remoteAddr: "203.0.113.9", want: "203.0.113.9"},
		{name: "bare IPv6 address", remoteAddr: "2001:db8::1", want: "2001:db8::1"},
		{name: "pipe", opts: []MiddlewareOption{trusted}, remoteAddr: "pipe", header: xff("198.51.100.1"), want: ""},
		{name: "empty", remoteAddr: "", want: ""},
		{name: "unix socket", remoteAddr: "@", want: ""},
		{name: "host name", remoteAddr: "localhost:80", want: ""},
		{name: "garbage", remoteAddr: "10.0.0.1:80\r\nX-Evil: 1", want: ""},

		// malformed X-Forwarded-For from a trusted peer: the peer
		{name: "garbage element", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("garbage"), want: "10.0.0.1"},
		{name: "element with port", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1:8080"), want: "10.0.0.1"},
		{name: "bracketed IPv6", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("[2001:db8::1]"), want: "10.0.0.1"},
		{name: "bracketed IPv6 with port", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("[2001:db8::1]:443"), want: "10.0.0.1"},
		{name: "zone in element", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("fe80::1%eth0"), want: "10.0.0.1"},
		{name: "leading zeros", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.051.100.1"), want: "10.0.0.1"},
		{name: "empty header line", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff(""), want: "10.0.0.1"},
		{name: "empty element inside the walk", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1,,10.0.0.2"), want: "10.0.0.1"},
		{name: "trailing comma", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1,"), want: "10.0.0.1"},
		{name: "empty later header line", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1", " "), want: "10.0.0.1"},
		{name: "control character", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1\x00"), want: "10.0.0.1"},
		{name: "newline", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1\r\n"), want: "10.0.0.1"},
		{name: "space inside", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51. 100.1"), want: "10.0.0.1"},
		{name: "non-ASCII", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.１"), want: "10.0.0.1"},
		{name: "overlong element", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff(strings.Repeat("0", 40) + "198.51.100.1"), want: "10.0.0.1"},
		{name: "oversized header", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff(strings.Repeat("10.0.0.2, ", 10000) + strings.Repeat("x", 1<<16)), want: "10.0.0.1"},
		{name: "malformed behind trusted proxies", opts: []MiddlewareOption{trusted}, remoteAddr: "10.0.0.1:51000", header: xff("198.51.100.1, bogus, 10.0.0.2"), want: "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mwServe(t, Middleware(nil, tt.opts...), mwRequest(tt.remoteAddr, tt.header), "").RemoteAddr
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("remote address (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMiddlewareCID(t *testing.T) {
	const generated = "<generated>"
	tests := []struct {
		name       string
		opts       []MiddlewareOption
		header     http.Header
		respHeader string
		want       string // generated: 32 hex characters
	}{
		{name: "header used as is", header: http.Header{"X-Correlation-Id": {"req-7f3a"}}, want: "req-7f3a"},
		{name: "whole charset", header: http.Header{"X-Correlation-Id": {"azAZ09-_.:/+=@"}}, want: "azAZ09-_.:/+=@"},
		{name: "UUID", header: http.Header{"X-Correlation-Id": {"0b1c6a8e-2a55-4d6f-9f0e-6f8c5e1d2b3a"}}, want: "0b1c6a8e-2a55-4d6f-9f0e-6f8c5e1d2b3a"},
		{name: "first header line", header: http.Header{"X-Correlation-Id": {"first", "second"}}, want: "first"},
		{name: "128 bytes", header: http.Header{"X-Correlation-Id": {strings.Repeat("a", 128)}}, want: strings.Repeat("a", 128)},
		{name: "absent", want: generated},
		{name: "empty", header: http.Header{"X-Correlation-Id": {""}}, want: generated},
		{name: "129 bytes", header: http.Header{"X-Correlation-Id": {strings.Repeat("a", 129)}}, want: generated},
		{name: "control character", header: http.Header{"X-Correlation-Id": {"req\x01"}}, want: generated},
		{name: "newline", header: http.Header{"X-Correlation-Id": {"req\r\nX-Evil: 1"}}, want: generated},
		{name: "space", header: http.Header{"X-Correlation-Id": {"req 7f3a"}}, want: generated},
		{name: "tab", header: http.Header{"X-Correlation-Id": {"req\t7f3a"}}, want: generated},
		{name: "non-ASCII", header: http.Header{"X-Correlation-Id": {"café"}}, want: generated},
		{name: "quote", header: http.Header{"X-Correlation-Id": {`req"7f3a`}}, want: generated},
		{name: "MaxCIDLength accepts", opts: []MiddlewareOption{MaxCIDLength(8)}, header: http.Header{"X-Correlation-Id": {"abcdefgh"}}, want: "abcdefgh"},
		{name: "MaxCIDLength rejects", opts: []MiddlewareOption{MaxCIDLength(8)}, header: http.Header{"X-Correlation-Id": {"abcdefghi"}}, want: generated},
		{name: "MaxCIDLength replaces", opts: []MiddlewareOption{MaxCIDLength(4), MaxCIDLength(8)}, header: http.Header{"X-Correlation-Id": {"abcdefgh"}}, want: "abcdefgh"},
		{name: "MaxCIDLength zero is the default", opts: []MiddlewareOption{MaxCIDLength(0)}, header: http.Header{"X-Correlation-Id": {strings.Repeat("a", 128)}}, want: strings.Repeat("a", 128)},
		{name: "CIDHeader", opts: []MiddlewareOption{CIDHeader("X-Request-ID")}, header: http.Header{"X-Request-Id": {"r-1"}}, respHeader: "X-Request-ID", want: "r-1"},
		{name: "CIDHeader lower case", opts: []MiddlewareOption{CIDHeader("x-request-id")}, header: http.Header{"X-Request-Id": {"r-1"}}, respHeader: "X-Request-ID", want: "r-1"},
		{name: "CIDHeader ignores the default header", opts: []MiddlewareOption{CIDHeader("X-Request-ID")}, header: http.Header{"X-Correlation-Id": {"req-7f3a"}}, respHeader: "X-Request-ID", want: generated},
		{name: "CIDHeader replaces", opts: []MiddlewareOption{CIDHeader("X-Other"), CIDHeader("X-Request-ID")}, header: http.Header{"X-Request-Id": {"r-1"}}, respHeader: "X-Request-ID", want: "r-1"},
		{name: "CIDHeader empty is the default", opts: []MiddlewareOption{CIDHeader("")}, header: http.Header{"X-Correlation-Id": {"req-7f3a"}}, want: "req-7f3a"},
		{name: "NewCID", opts: []MiddlewareOption{NewCID(func() string { return "job-1" })}, want: "job-1"},
		{name: "NewCID not used for a valid header", opts: []MiddlewareOption{NewCID(func() string { return "job-1" })}, header: http.Header{"X-Correlation-Id": {"req-7f3a"}}, want: "req-7f3a"},
		{name: "NewCID replaces a bad header", opts: []MiddlewareOption{NewCID(func() string { return "job-1" })}, header: http.Header{"X-Correlation-Id": {"bad id"}}, want: "job-1"},
		{name: "NewCID invalid output", opts: []MiddlewareOption{NewCID(func() string { return "bad id" })}, want: generated},
		{name: "NewCID empty output", opts: []MiddlewareOption{NewCID(func() string { return "" })}, want: generated},
		{name: "NewCID too long", opts: []MiddlewareOption{MaxCIDLength(4), NewCID(func() string { return "job-1" })}, want: generated},
		{name: "NewCID nil", opts: []MiddlewareOption{NewCID(nil)}, want: generated},
		{name: "nil option", opts: []MiddlewareOption{nil}, header: http.Header{"X-Correlation-Id": {"req-7f3a"}}, want: "req-7f3a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through a trusted proxy: the only peer whose ids are taken
			// by default (TestMiddlewareCIDTrust).
			opts := append([]MiddlewareOption{TrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))}, tt.opts...)
			got := mwServe(t, Middleware(nil, opts...), mwRequest("10.0.0.1:51000", tt.header), tt.respHeader)
			if got.RespCID != got.CID {
				t.Errorf("response header %q, context %q: want the same id", got.RespCID, got.CID)
			}
			if tt.want == generated {
				if !isGeneratedCID(got.CID) {
					t.Errorf("CID = %q, want 32 hex characters", got.CID)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got.CID); diff != "" {
				t.Errorf("CID (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMiddlewareCIDUnique(t *testing.T) {
	mw := Middleware(nil)
	seen := map[string]bool{}
	for range 100 {
		got := mwServe(t, mw, mwRequest("203.0.113.9:51000", nil), "")
		if !isGeneratedCID(got.CID) || got.RespCID != got.CID {
			t.Fatalf("got %+v, want the same generated id in context and response", got)
		}
		if seen[got.CID] {
			t.Fatalf("id %q generated twice", got.CID)
		}
		seen[got.CID] = true
	}
}

func TestMiddlewareActor(t *testing.T) {
	tests := []struct {
		name    string
		actorOf func(*http.Request) string
		inner   func(http.Handler) http.Handler // runs between the Middleware and the handler
		want    string
	}{
		{name: "actorOf", actorOf: func(r *http.Request) string { return r.Header.Get("X-User") }, want: "user-42"},
		{name: "actorOf nil", want: ""},
		{name: "actorOf empty", actorOf: func(*http.Request) string { return "" }, want: ""},
		{
			name:    "SetActor after actorOf",
			actorOf: func(*http.Request) string { return "anonymous" },
			inner: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					SetActor(r.Context(), "user-7")
					next.ServeHTTP(w, r)
				})
			},
			want: "user-7",
		},
		{
			name:    "WithActor inside wins",
			actorOf: func(r *http.Request) string { return r.Header.Get("X-User") },
			inner: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), "system")))
				})
			},
			want: "system",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw := Middleware(tt.actorOf)
			if tt.inner != nil {
				mw = func(next http.Handler) http.Handler { return Middleware(tt.actorOf)(tt.inner(next)) }
			}
			got := mwServe(t, mw, mwRequest("203.0.113.9:51000", http.Header{"X-User": {"user-42"}}), "").Actor
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("actor (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMiddlewareSetActorLater is the authentication-runs-inside case: the
// actor is unknown when the Middleware runs and is named later.
func TestMiddlewareSetActorLater(t *testing.T) {
	type result struct {
		SetOK, SetExplicitOK, SetOutsideOK                                           bool
		ActorBefore, ActorAfter, ActorDerived, ActorCID, ActorExplicit, ActorRequest string
	}
	var got result
	h := Middleware(func(*http.Request) string { return "" })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		derived, cancel := context.WithCancel(ctx) // derived before SetActor
		defer cancel()
		withCID := WithCID(ctx, "other") // a scope copy, derived before SetActor
		explicit := WithActor(ctx, "system")

		got.ActorBefore = ActorFrom(ctx)
		got.SetOK = SetActor(ctx, "user-42")
		got.ActorAfter = ActorFrom(ctx)
		got.ActorDerived = ActorFrom(derived)
		got.ActorCID = ActorFrom(withCID)
		got.SetExplicitOK = SetActor(explicit, "user-43") // fills the shared slot ...
		got.ActorRequest = ActorFrom(ctx)                 // ... seen by the request,
		got.ActorExplicit = ActorFrom(explicit)           // not by the explicit one
		got.SetOutsideOK = SetActor(context.Background(), "nobody")
	}))
	h.ServeHTTP(httptest.NewRecorder(), mwRequest("203.0.113.9:51000", nil))

	want := result{
		SetOK: true, SetExplicitOK: true, SetOutsideOK: false,
		ActorBefore: "", ActorAfter: "user-42", ActorDerived: "user-42", ActorCID: "user-42",
		ActorExplicit: "system", ActorRequest: "user-43",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestMiddlewareActorOfPanics(t *testing.T) {
	called := false
	h := Middleware(func(*http.Request) string { panic("auth backend down") }, AcceptClientCID())(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	r := mwRequest("203.0.113.9:51000", http.Header{"X-Correlation-Id": {"req-7f3a"}})

	recovered := func() (v any) {
		defer func() { v = recover() }()
		h.ServeHTTP(rec, r)
		return nil
	}()

	type result struct {
		Recovered any
		Called    bool
		RespCID   string
	}
	want := result{Recovered: "auth backend down", Called: false, RespCID: "req-7f3a"}
	got := result{Recovered: recovered, Called: called, RespCID: rec.Header().Get("X-Correlation-ID")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
