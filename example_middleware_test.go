package auditlog_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/gorm-auditlog/auditlog"
)

// The audit middleware runs first, before authentication; the authentication
// middleware names the actor with SetActor once it knows the user. Every
// write made with db.WithContext(r.Context()) in the handler is recorded with
// that actor, the client's address and the request's correlation id.
func ExampleMiddleware() {
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer token-of-42" { // check a session, a JWT...
				auditlog.SetActor(r.Context(), "user-42")
			}
			next.ServeHTTP(w, r)
		})
	}
	pay := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context() // db.WithContext(ctx).Model(&invoice).Update("status", "paid")
		fmt.Println("actor:", auditlog.ActorFrom(ctx))
		fmt.Println("cid:", auditlog.CIDFrom(ctx))
		fmt.Println("remote:", auditlog.RemoteAddrFrom(ctx))
	})

	audit := auditlog.Middleware(nil, // no actor yet: authenticate sets it
		auditlog.TrustedProxies(netip.MustParsePrefix("10.0.0.0/8")), // our load balancers
	)
	handler := audit(authenticate(pay)) // with chi: r.Use(audit, authenticate)

	req := httptest.NewRequest(http.MethodPost, "/invoices/7/pay", nil)
	req.RemoteAddr = "10.0.0.5:41234" // a load balancer, trusted
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.0.0.3")
	req.Header.Set("X-Correlation-ID", "req-7f3a")
	req.Header.Set("Authorization", "Bearer token-of-42")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("response:", rec.Header().Get("X-Correlation-ID"))
	// Output:
	// actor: user-42
	// cid: req-7f3a
	// remote: 203.0.113.9
	// response: req-7f3a
}

// X-Forwarded-For is read only from trusted proxies, right to left: a client
// can neither forge its address nor hide it.
func ExampleTrustedProxies() {
	audit := auditlog.Middleware(nil,
		auditlog.TrustedProxies(
			netip.MustParsePrefix("10.0.0.0/8"),
			netip.MustParsePrefix("2001:db8:f::/48"),
			netip.MustParsePrefix("192.0.2.7/32"), // a single proxy
		),
	)
	show := audit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(auditlog.RemoteAddrFrom(r.Context()))
	}))

	for _, c := range []struct{ peer, xff string }{
		{"203.0.113.9:51000", "198.51.100.1"},             // untrusted peer: header ignored
		{"10.0.0.5:41234", "1.1.1.1, 198.51.100.1"},       // the client wrote 1.1.1.1
		{"192.0.2.7:41234", "198.51.100.1, 10.0.0.3"},     // a chain of trusted proxies
		{"[2001:db8:f::1]:443", "garbage, 198.51.100.1"},  // left of the client: not read
		{"10.0.0.5:41234", "198.51.100.1:8080, 10.0.0.3"}, // malformed: the peer
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = c.peer
		req.Header.Set("X-Forwarded-For", c.xff)
		show.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// 203.0.113.9
	// 198.51.100.1
	// 198.51.100.1
	// 198.51.100.1
	// 10.0.0.5
}
