package auditlog

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// A cursor is base64url of: a version byte (2 for a cursor that continues
// after its entry, 3 for one that goes back before it), the query
// fingerprint (8 bytes), CreatedAt as Unix seconds (8 bytes) and
// nanoseconds (4 bytes), and the ID (8 bytes). Seconds and nanoseconds apart
// cover every time a database can hold (Unix nanoseconds alone overflow
// outside 1678–2262). A query that reads several sources (log tables, or a
// parent's and its children's entries) uses versions 4 and 5, followed by
// the entry's source (2 bytes): entries of two log tables may share their
// CreatedAt and ID, and the source orders them.
const (
	cursorVersion           = 2
	cursorVersionBack       = 3
	cursorVersionSource     = 4
	cursorVersionSourceBack = 5
	cursorLen               = 1 + 8 + 8 + 4 + 8
	cursorSourceLen         = cursorLen + 2
)

// cursor is a decoded cursor: the position of an entry, and whether the
// page continues before it (backward) or after it.
type cursor struct {
	at       time.Time
	id       int64
	source   int // the index of the entry's source in filters.sources
	backward bool
}

func (f *filters) encodeCursor(c cursor) string {
	at, id := c.at, c.id
	var b [cursorSourceLen]byte
	n := cursorLen
	b[0] = cursorVersion
	if c.backward {
		b[0] = cursorVersionBack
	}
	if len(f.sources) > 1 {
		n = cursorSourceLen
		b[0] += cursorVersionSource - cursorVersion
		binary.BigEndian.PutUint16(b[29:], uint16(c.source))
	}
	binary.BigEndian.PutUint64(b[1:], f.fingerprint)
	binary.BigEndian.PutUint64(b[9:], uint64(at.Unix()))
	binary.BigEndian.PutUint32(b[17:], uint32(at.Nanosecond()))
	binary.BigEndian.PutUint64(b[21:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:n])
}

func (f *filters) decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	forward, back, n := byte(cursorVersion), byte(cursorVersionBack), cursorLen
	if len(f.sources) > 1 {
		forward, back, n = cursorVersionSource, cursorVersionSourceBack, cursorSourceLen
	}
	if err != nil || len(b) != n || b[0] != forward && b[0] != back {
		return cursor{}, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	if binary.BigEndian.Uint64(b[1:]) != f.fingerprint {
		return cursor{}, fmt.Errorf("%w: it belongs to another query", ErrInvalidCursor)
	}
	nanos := binary.BigEndian.Uint32(b[17:])
	if nanos >= 1e9 {
		return cursor{}, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	c := cursor{at: time.Unix(int64(binary.BigEndian.Uint64(b[9:])), int64(nanos)).UTC(),
		id: int64(binary.BigEndian.Uint64(b[21:])), backward: b[0] == back}
	if n == cursorSourceLen {
		c.source = int(binary.BigEndian.Uint16(b[29:]))
		if c.source >= len(f.sources) {
			return cursor{}, fmt.Errorf("%w: malformed", ErrInvalidCursor)
		}
	}
	return c, nil
}

// keysetAfter selects the rows after (at, id) in the query's order.
func keysetAfter(at time.Time, id int64, oldest bool) clause.Expression {
	return keysetBound(at, id, oldest, false)
}

// keysetBound selects the rows after (at, id) in the query's order, and
// with inclusive the row at (at, id) too. The redundant bound on
// created_at alone lets the index range start there.
func keysetBound(at time.Time, id int64, oldest, inclusive bool) clause.Expression {
	createdAt := clause.Column{Name: "created_at"}
	idCol := clause.Column{Name: "id"}
	var idCond clause.Expression
	switch {
	case oldest && inclusive:
		idCond = clause.Gte{Column: idCol, Value: id}
	case oldest:
		idCond = clause.Gt{Column: idCol, Value: id}
	case inclusive:
		idCond = clause.Lte{Column: idCol, Value: id}
	default:
		idCond = clause.Lt{Column: idCol, Value: id}
	}
	if oldest {
		return clause.And(clause.Gte{Column: createdAt, Value: at}, clause.Or(clause.Gt{Column: createdAt, Value: at}, idCond))
	}
	return clause.And(clause.Lte{Column: createdAt, Value: at}, clause.Or(clause.Lt{Column: createdAt, Value: at}, idCond))
}
