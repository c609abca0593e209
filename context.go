package auditlog

import "context"

type (
	actorKey      struct{}
	cidKey        struct{}
	remoteAddrKey struct{}
)

// WithActor returns a copy of ctx in which entries are attributed to actor,
// usually a user id. Pass the context to GORM with db.WithContext(ctx).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// WithCID returns a copy of ctx whose entries carry the correlation id cid,
// which groups the entries of one request, job or script.
func WithCID(ctx context.Context, cid string) context.Context {
	return context.WithValue(ctx, cidKey{}, cid)
}

// WithRemoteAddr returns a copy of ctx whose entries record addr as the
// address the change came from.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// ActorFrom returns the actor set by WithActor, or "".
func ActorFrom(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// CIDFrom returns the correlation id set by WithCID, or "".
func CIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(cidKey{}).(string)
	return s
}

// RemoteAddrFrom returns the address set by WithRemoteAddr, or "".
func RemoteAddrFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey{}).(string)
	return s
}
