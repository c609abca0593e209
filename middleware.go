package auditlog

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strings"
)

// DefaultCIDHeader is the request and response header that carries the
// correlation id, unless the CIDHeader option names another.
const DefaultCIDHeader = "X-Correlation-ID"

const (
	// defaultMaxCIDLength is the longest incoming correlation id accepted by
	// default, in bytes.
	defaultMaxCIDLength = 128

	// maxAddrLen is the longest textual IP address without a zone:
	// "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
	maxAddrLen = 45

	// xffHeader is X-Forwarded-For in the canonical form net/http stores.
	xffHeader = "X-Forwarded-For"
)

// MiddlewareOption configures the handler made by Middleware. Options are
// applied in order when Middleware is called, never per request; a nil one
// is ignored.
type MiddlewareOption interface {
	applyMiddleware(*middlewareConfig)
}

type middlewareOptionFunc func(*middlewareConfig)

func (f middlewareOptionFunc) applyMiddleware(c *middlewareConfig) { f(c) }

// middlewareConfig is fixed once Middleware returns; requests only read it.
type middlewareConfig struct {
	trusted   []netip.Prefix
	cidHeader string // canonical form
	newCID    func() string
	clientCID bool // AcceptClientCID
	maxCID    int
}

// TrustedProxies names the reverse proxies and load balancers whose
// X-Forwarded-For header the Middleware believes. Build the prefixes once,
// in main, with netip.MustParsePrefix("10.0.0.0/8"); a single proxy is a /32
// (IPv4) or /128 (IPv6) prefix, such as netip.MustParsePrefix("192.0.2.7/32").
// IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) match the IPv4 addresses
// they map. Invalid prefixes, such as the zero netip.Prefix, are ignored,
// which fails closed: fewer peers are trusted. Repeating the option adds
// prefixes.
//
// By default no proxy is trusted and the remote address is always the
// direct peer's. Loopback and private addresses are not trusted unless
// listed: list them only when the proxy is on the same host or network.
// Each request compares an address with every prefix, so keep the list
// short (a few dozen prefixes cost well under a microsecond).
func TrustedProxies(prefixes ...netip.Prefix) MiddlewareOption {
	norm := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		norm = append(norm, p.Masked())
	}
	return middlewareOptionFunc(func(c *middlewareConfig) {
		c.trusted = append(c.trusted, norm...)
	})
}

// CIDHeader sets the request header read for an incoming correlation id and
// the response header the chosen id is echoed in (default DefaultCIDHeader,
// "X-Correlation-ID"), for example CIDHeader("X-Request-ID"). The name is
// case-insensitive. An empty name means the default. Repeating the option
// replaces the name.
func CIDHeader(name string) MiddlewareOption {
	return middlewareOptionFunc(func(c *middlewareConfig) {
		if name == "" {
			name = DefaultCIDHeader
		}
		c.cidHeader = name
	})
}

// NewCID sets the function that makes a correlation id for a request that
// brings none (or an invalid one). The default makes 16 random bytes from
// crypto/rand, hex encoded: 32 characters, one allocation. fn is called from
// many requests at once and must be safe for concurrent use; it runs on the
// request's goroutine, and a panic in it is not recovered, like one in
// actorOf. An id that fn returns but the Middleware would not accept from a
// client (empty, longer than MaxCIDLength, characters outside the set
// documented on Middleware) is replaced by a default one, so that CIDFrom
// always holds a safe id. A nil fn means the default. Repeating the option
// replaces the function.
func NewCID(fn func() string) MiddlewareOption {
	return middlewareOptionFunc(func(c *middlewareConfig) { c.newCID = fn })
}

// AcceptClientCID takes an incoming correlation id from any client, not
// only from a trusted proxy. Use it when every client is trusted (services
// called by other services of the same system): any client can then put
// its entries under another request's id.
func AcceptClientCID() MiddlewareOption {
	return middlewareOptionFunc(func(c *middlewareConfig) { c.clientCID = true })
}

// MaxCIDLength sets the longest correlation id, in bytes, accepted from a
// request header (default 128); a longer one is replaced by a new id. It also
// bounds the ids made by a NewCID function, but not the default 32-character
// ids. Zero or less means the default. Repeating the option replaces the
// limit.
func MaxCIDLength(n int) MiddlewareOption {
	return middlewareOptionFunc(func(c *middlewareConfig) {
		if n <= 0 {
			n = defaultMaxCIDLength
		}
		c.maxCID = n
	})
}

// Middleware returns net/http middleware that gives every request an audit
// scope: the actor, the client's address and a correlation id, which the
// Plugin records on each entry written with db.WithContext(r.Context()) or a
// context derived from it. It is a plain func(http.Handler) http.Handler, so
// chi's Use, gorilla/mux's Use and echo.WrapMiddleware accept it as is.
//
// The actor is actorOf(r), called once per request with the incoming request,
// on the request's goroutine, before next. actorOf may be nil or return "" when
// authentication runs later, inside this middleware: the authentication
// middleware or the handler then names the user with SetActor(r.Context(), id),
// and every write of the request, also through contexts derived before that
// call, sees it. This avoids django-auditlog's trap where the audit middleware
// runs before authentication and the actor is lost. A WithActor inside wins
// over both. A panic in actorOf is not recovered: it propagates up the
// caller's stack, next is not called, and the caller's recoverer turns it into
// a 500 (which carries the correlation id header, already set). Swallowing it
// would record writes under a wrong or empty actor.
//
// The remote address is the direct peer's IP from r.RemoteAddr (port and IPv6
// zone dropped, IPv4-mapped IPv6 addresses as IPv4), or "" when r.RemoteAddr
// is not an IP address (Unix sockets, tests that set it to "pipe"); behind a
// proxy on a Unix socket, set r.RemoteAddr in a middleware outside this one.
// Only when the peer is inside a TrustedProxies prefix is X-Forwarded-For
// read, with the "rightmost untrusted" rule: all its header lines form one
// comma-separated list, walked from the right, skipping trusted proxies; the
// first address that is not trusted is the client. Addresses to its left are
// written by the client and never read, so a client can neither forge its
// address nor hide it behind garbage. When every address is trusted, the
// left-most one is the client (a request from inside the trusted network).
// When an element reached by the walk is malformed (empty, not a bare IP
// address, with a port or zone, brackets, spaces inside, control characters,
// longer than 45 bytes) the header is ignored and the peer's address is used:
// a header value is never stored unparsed. The Forwarded header (RFC 7239) is
// not read.
//
// The correlation id is taken from the request header named by CIDHeader
// (default "X-Correlation-ID") when it is 1 to MaxCIDLength bytes (default
// 128) of ASCII letters, digits and "-_.:/+=@"; otherwise (absent, too long,
// spaces, control or non-ASCII characters) a new id is made (see NewCID), never
// a cleaned-up copy of the bad one. An incoming id is taken only from a
// trusted proxy (TrustedProxies, as for X-Forwarded-For), which is expected
// to set or overwrite it; from any other peer it is ignored and a new id is
// made, because a client that sent another request's id would join that
// request's entries ("what did this request change"). AcceptClientCID takes
// ids from every client, for services whose clients are themselves trusted.
// The chosen id is set on the response header of the same name before next
// runs.
//
// Cost per request, beyond the next handler and actorOf: 7 allocations,
// about 500 bytes and about a microsecond, with an actor and an incoming id
// (the request copy made by r.WithContext, the scope, its actor slot, its
// context, the actor, the response header value, the address text), one more
// for a generated id. X-Forwarded-For is parsed in place, right to left, only
// as far as the walk goes. The returned handler is safe for concurrent use;
// the options are read once, when Middleware is called. next must not be nil.
func Middleware(actorOf func(*http.Request) string, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	c := middlewareConfig{cidHeader: DefaultCIDHeader, maxCID: defaultMaxCIDLength}
	for _, o := range opts {
		if o != nil {
			o.applyMiddleware(&c)
		}
	}
	c.cidHeader = http.CanonicalHeaderKey(c.cidHeader)

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, ok := peerAddr(r.RemoteAddr)
			fromProxy := ok && c.trusts(peer)
			addr := c.clientAddr(r, peer, ok, fromProxy)
			cid := c.requestCID(r, fromProxy || c.clientCID)
			w.Header().Set(c.cidHeader, cid)

			var actor string
			if actorOf != nil {
				actor = actorOf(r) // a panic propagates: see the doc comment
			}
			next.ServeHTTP(w, r.WithContext(withRequest(r.Context(), actor, addr, cid)))
		})
	}
}

// clientAddr is the request's remote address as Middleware documents it.
func (c *middlewareConfig) clientAddr(r *http.Request, peer netip.Addr, ok, fromProxy bool) string {
	if !ok {
		return ""
	}
	if fromProxy {
		if client, ok := c.forwardedFor(r.Header[xffHeader]); ok {
			return client.String()
		}
	}
	return peer.String()
}

// peerAddr parses r.RemoteAddr, "ip:port" as net/http sets it or a bare IP.
func peerAddr(remoteAddr string) (netip.Addr, bool) {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remoteAddr); err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// forwardedFor applies the rightmost-untrusted rule to the X-Forwarded-For
// lines. It reports false when the header is absent or an element reached by
// the walk is malformed.
func (c *middlewareConfig) forwardedFor(lines []string) (netip.Addr, bool) {
	var leftmost netip.Addr
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			j := strings.LastIndexByte(line, ',')
			a, ok := parseForwardedAddr(line[j+1:])
			if !ok {
				return netip.Addr{}, false
			}
			if !c.trusts(a) {
				return a, true
			}
			leftmost = a
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return leftmost, leftmost.IsValid()
}

// parseForwardedAddr parses one X-Forwarded-For element: a bare IPv4 or IPv6
// address, with optional spaces or tabs around it.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	if s == "" || len(s) > maxAddrLen {
		return netip.Addr{}, false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F' || b == '.' || b == ':') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// trusts reports whether a is inside a trusted prefix.
func (c *middlewareConfig) trusts(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// requestCID is the request's correlation id as Middleware documents it.
// accept says whether an incoming id may be taken at all: the direct peer
// is a trusted proxy, or AcceptClientCID is set.
func (c *middlewareConfig) requestCID(r *http.Request, accept bool) string {
	if v := r.Header[c.cidHeader]; accept && len(v) > 0 && validCID(v[0], c.maxCID) {
		return v[0]
	}
	if c.newCID != nil {
		if id := c.newCID(); validCID(id, c.maxCID) {
			return id
		}
	}
	return randomCID()
}

// validCID reports whether id is 1 to maxLen bytes of ASCII letters, digits
// and "-_.:/+=@".
func validCID(id string, maxLen int) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '-', b == '_', b == '.', b == ':', b == '/', b == '+', b == '=', b == '@':
		default:
			return false
		}
	}
	return true
}

// randomCID returns 16 random bytes, hex encoded. crypto/rand.Read never
// returns an error since Go 1.24: if the system's source fails, the runtime
// crashes the program (it does not panic), so there is no failure to handle.
func randomCID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	var h [32]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}
