package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorm-auditlog/auditlog/web"
)

// tokenCookie holds the access token once the browser has shown it.
const tokenCookie = "auditlog_token"

// runServe serves the web view of the log, read-only, until ctx ends.
func runServe(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	addr := fs.String("addr", "127.0.0.1:8080", "`address` to listen on (loopback by default)")
	token := fs.String("token", "", "access `token` (default: a random one, printed at start)")
	noAuth := fs.Bool("insecure-no-auth", false, "serve without a token: anyone who reaches the address reads the log")
	zone := fs.String("location", "UTC", "time `zone` of the pages (IANA name, or Local)")
	if err := parse(fs, args); err != nil {
		return err
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usagef("-location: %v", err)
	}
	if *noAuth && *token != "" {
		return usagef("-token and -insecure-no-auth exclude each other")
	}
	if !*noAuth && *token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		*token = hex.EncodeToString(b)
	}
	db, audit, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	h, err := web.Handler(audit, db, web.AllowAll(), web.Location(loc),
		web.Logger(slog.New(slog.NewTextHandler(e.stderr, nil))))
	if err != nil {
		return err
	}
	if !*noAuth {
		h = requireToken(*token, h)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	if !*noAuth {
		url += "?token=" + *token
	} else if ip, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(ip).IsLoopback() {
		fmt.Fprintf(e.stderr, "auditlog serve: warning: the log is readable without a token on %s\n", ln.Addr())
	}
	fmt.Fprintf(e.stdout, "auditlog serve: read-only audit log view at %s\n", url)
	return serveUntil(ctx, ln, h)
}

// serveUntil serves on ln until ctx ends, then shuts down gracefully.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// requireToken lets a request through when it carries the token: in the
// Authorization header ("Bearer TOKEN", for curl), in the cookie, or in the
// token parameter of the URL printed at start, which sets the cookie and
// redirects to the same URL without it. Others get 401.
func requireToken(token string, next http.Handler) http.Handler {
	valid := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Has("token") && valid(q.Get("token")) {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode})
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			if strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") || !strings.HasPrefix(u.Path, "/") {
				u.Path = "/" // never a redirect to another host
			}
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		bearer, ok := cutBearer(r.Header.Get("Authorization"))
		c, err := r.Cookie(tokenCookie)
		if ok && valid(bearer) || err == nil && valid(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="auditlog"`)
		http.Error(w, "unauthorized: open the URL auditlog serve printed, or send Authorization: Bearer TOKEN",
			http.StatusUnauthorized)
	})
}

func cutBearer(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) > len(prefix) && h[:len(prefix)] == prefix {
		return h[len(prefix):], true
	}
	return "", false
}
