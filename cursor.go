package auditlog

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// A cursor is base64url of: a version byte (2 for a cursor that continues
// after its entry, 3 for one that goes back before it), the query
// fingerprint (8 bytes), CreatedAt as Unix seconds (8 bytes) and
// nanoseconds (4 bytes), and the ID (8 bytes). Seconds and nanoseconds apart
// cover every time a database can hold (Unix nanoseconds alone overflow
// outside 1678–2262).
const (
	cursorVersion     = 2
	cursorVersionBack = 3
	cursorLen         = 1 + 8 + 8 + 4 + 8
)

// cursor is a decoded cursor: the position of an entry, and whether the
// page continues before it (backward) or after it.
type cursor struct {
	at       time.Time
	id       int64
	backward bool
}

func (f *filters) encodeCursor(c cursor) string {
	at, id := c.at, c.id
	var b [cursorLen]byte
	b[0] = cursorVersion
	if c.backward {
		b[0] = cursorVersionBack
	}
	binary.BigEndian.PutUint64(b[1:], f.fingerprint)
	binary.BigEndian.PutUint64(b[9:], uint64(at.Unix()))
	binary.BigEndian.PutUint32(b[17:], uint32(at.Nanosecond()))
	binary.BigEndian.PutUint64(b[21:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (f *filters) decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion && b[0] != cursorVersionBack {
		return cursor{}, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	if binary.BigEndian.Uint64(b[1:]) != f.fingerprint {
		return cursor{}, fmt.Errorf("%w: it belongs to another query", ErrInvalidCursor)
	}
	nanos := binary.BigEndian.Uint32(b[17:])
	if nanos >= 1e9 {
		return cursor{}, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(b[9:])), int64(nanos)).UTC()
	return cursor{at: at, id: int64(binary.BigEndian.Uint64(b[21:])), backward: b[0] == cursorVersionBack}, nil
}
