package auditlog

import (
	"net/http"
	"net/netip"
	"testing"
)

// An incoming correlation id is taken from a trusted proxy, or from any
// client with AcceptClientCID; otherwise a new one is made, so that a
// client cannot put its entries under another request's id.
func TestMiddlewareCIDTrust(t *testing.T) {
	proxy := TrustedProxies(netip.MustParsePrefix("10.0.0.0/8"))
	header := http.Header{"X-Correlation-Id": {"req-7f3a"}}
	tests := []struct {
		name   string
		opts   []MiddlewareOption
		peer   string
		header http.Header
		want   string // "": a generated id
	}{
		{name: "client, no proxies", peer: "203.0.113.9:51000", header: header},
		{name: "client, proxies configured", opts: []MiddlewareOption{proxy}, peer: "203.0.113.9:51000", header: header},
		{name: "loopback client", peer: "127.0.0.1:51000", header: header},
		{name: "trusted proxy", opts: []MiddlewareOption{proxy}, peer: "10.0.0.1:51000", header: header, want: "req-7f3a"},
		{name: "trusted proxy, forwarded client", opts: []MiddlewareOption{proxy}, peer: "10.0.0.1:51000",
			header: http.Header{"X-Correlation-Id": {"req-7f3a"}, "X-Forwarded-For": {"203.0.113.9"}}, want: "req-7f3a"},
		{name: "AcceptClientCID", opts: []MiddlewareOption{AcceptClientCID()}, peer: "203.0.113.9:51000", header: header, want: "req-7f3a"},
		{name: "AcceptClientCID still validates", opts: []MiddlewareOption{AcceptClientCID()}, peer: "203.0.113.9:51000",
			header: http.Header{"X-Correlation-Id": {"bad id"}}},
		{name: "unparsable peer", opts: []MiddlewareOption{proxy}, peer: "garbage", header: header},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mwServe(t, Middleware(nil, tt.opts...), mwRequest(tt.peer, tt.header), "")
			if got.RespCID != got.CID {
				t.Errorf("response header %q, context %q: want the same id", got.RespCID, got.CID)
			}
			switch {
			case tt.want == "" && !isGeneratedCID(got.CID):
				t.Errorf("CID = %q, want a generated id", got.CID)
			case tt.want != "" && got.CID != tt.want:
				t.Errorf("CID = %q, want %q", got.CID, tt.want)
			}
		})
	}
}
