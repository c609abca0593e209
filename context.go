package auditlog

import (
	"context"
	"maps"
	"sync/atomic"
)

// scopeKey is the context key of the *scope that every With function below
// and the Middleware store: one lookup gives the plugin everything it reads
// from a context.
type scopeKey struct{}

// scope is what a context says about the entries made under it. A scope is
// never changed once stored; each With function stores a modified copy.
type scope struct {
	actor      string
	hasActor   bool       // set by WithActor: wins over the slot
	slot       *actorSlot // set by Middleware; filled by actorOf or SetActor
	cid        string
	remoteAddr string
	data       map[string]any // never mutated once stored
	disabled   bool
}

// actorSlot holds a request's actor. The Middleware creates it; SetActor
// fills it later, from handlers and middleware running inside (after
// authentication). It is safe for concurrent use.
type actorSlot struct {
	actor atomic.Pointer[string]
}

func (s *actorSlot) load() string {
	if p := s.actor.Load(); p != nil {
		return *p
	}
	return ""
}

func scopeFrom(ctx context.Context) *scope {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(scopeKey{}).(*scope)
	return s
}

// withScope stores a copy of ctx's scope changed by edit.
func withScope(ctx context.Context, edit func(*scope)) context.Context {
	var s scope
	if old := scopeFrom(ctx); old != nil {
		s = *old
	}
	edit(&s)
	return context.WithValue(ctx, scopeKey{}, &s)
}

// actor is the explicit actor, else the slot's.
func (s *scope) actorID() string {
	switch {
	case s == nil:
		return ""
	case s.hasActor:
		return s.actor
	case s.slot != nil:
		return s.slot.load()
	}
	return ""
}

// WithActor returns a copy of ctx in which entries are attributed to actor,
// usually a user id. Pass the context to GORM with db.WithContext(ctx). An
// actor set this way wins over the one the Middleware found, also when
// SetActor is called later.
func WithActor(ctx context.Context, actor string) context.Context {
	return withScope(ctx, func(s *scope) { s.actor, s.hasActor = actor, true })
}

// SetActor fills the actor slot that the Middleware put in ctx, for handlers
// and authentication middleware that run inside it and learn who the user is
// only then. Every context derived from the request's, and every write made
// with one of them from now on, sees the new actor, unless WithActor set one
// explicitly. It reports false, and does nothing, when ctx did not come
// through the Middleware. It is safe to call from several goroutines.
func SetActor(ctx context.Context, actor string) bool {
	s := scopeFrom(ctx)
	if s == nil || s.slot == nil {
		return false
	}
	s.slot.actor.Store(&actor)
	return true
}

// WithCID returns a copy of ctx whose entries carry the correlation id cid,
// which groups the entries of one request, job or script: every entry made
// under the context, by any write or by Plugin.Log, shares it.
func WithCID(ctx context.Context, cid string) context.Context {
	return withScope(ctx, func(s *scope) { s.cid = cid })
}

// WithRemoteAddr returns a copy of ctx whose entries record addr as the
// address the change came from.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return withScope(ctx, func(s *scope) { s.remoteAddr = addr })
}

// WithData returns a copy of ctx whose entries carry data in LogEntry.Data,
// merged with the data ctx already carries (keys in data win). Values must
// encode as JSON; a value that does not fails the writes made under the
// context. The map is copied: later changes to it are not seen. Each entry
// gets its own copy, so hooks may change an entry's Data freely.
func WithData(ctx context.Context, data map[string]any) context.Context {
	return withScope(ctx, func(s *scope) {
		merged := make(map[string]any, len(s.data)+len(data))
		maps.Copy(merged, s.data)
		maps.Copy(merged, data)
		s.data = merged
	})
}

// Disable returns a copy of ctx under which writes are not tracked: no reads,
// no locks, no entries, no access entries, as if no model were registered.
// Use it for imports, fixtures and migrations whose changes need no trail.
// Explicit calls to Plugin.Log and Plugin.LogAccess still write their
// entries, and actor stamps are still filled.
func Disable(ctx context.Context) context.Context {
	return withScope(ctx, func(s *scope) { s.disabled = true })
}

// Disabled reports whether Disable turned tracking off for ctx.
func Disabled(ctx context.Context) bool {
	s := scopeFrom(ctx)
	return s != nil && s.disabled
}

// ActorFrom returns the actor of ctx: the one set by WithActor, else the one
// the Middleware found or SetActor set, else "".
func ActorFrom(ctx context.Context) string {
	return scopeFrom(ctx).actorID()
}

// CIDFrom returns the correlation id set by WithCID or the Middleware, or "".
func CIDFrom(ctx context.Context) string {
	if s := scopeFrom(ctx); s != nil {
		return s.cid
	}
	return ""
}

// RemoteAddrFrom returns the address set by WithRemoteAddr or the Middleware,
// or "".
func RemoteAddrFrom(ctx context.Context) string {
	if s := scopeFrom(ctx); s != nil {
		return s.remoteAddr
	}
	return ""
}

// DataFrom returns a copy of the data attached by WithData, or nil.
func DataFrom(ctx context.Context) map[string]any {
	if s := scopeFrom(ctx); s != nil && len(s.data) > 0 {
		return maps.Clone(s.data)
	}
	return nil
}

// withRequest is the Middleware's context: the request's actor slot, filled
// with actor when it is not empty, its remote address and correlation id.
func withRequest(ctx context.Context, actor, remoteAddr, cid string) context.Context {
	return withScope(ctx, func(s *scope) {
		s.slot = &actorSlot{}
		if actor != "" {
			s.slot.actor.Store(&actor)
		}
		s.remoteAddr, s.cid = remoteAddr, cid
	})
}
