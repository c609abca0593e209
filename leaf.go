package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The leaf encoding of a sealed entry, version 1, specified byte for byte in
// docs/LEAF-ENCODING.md and pinned by testdata/TestLeafVectors.

// leafVersion is the first byte of every leaf encoding.
const leafVersion = 1

// leafRow is an entry as stored: its text columns as read and its JSON
// columns as the database returns their text. The leaf hash is computed from
// it, so that the sealer and Verify, reading the same row, agree.
type leafRow struct {
	ID         int64     `gorm:"column:id"`
	Table      string    `gorm:"column:table_name"`
	ObjectPK   string    `gorm:"column:object_pk"`
	ObjectRepr string    `gorm:"column:object_repr"`
	Action     string    `gorm:"column:action"`
	Changes    []byte    `gorm:"column:changes"`
	ActorID    string    `gorm:"column:actor_id"`
	RemoteAddr string    `gorm:"column:remote_addr"`
	CID        string    `gorm:"column:cid"`
	Data       []byte    `gorm:"column:data"`
	Snapshot   []byte    `gorm:"column:snapshot"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	SealSeq    *int64    `gorm:"column:seal_seq"`
	LeafHash   []byte    `gorm:"column:leaf_hash"`
	ErasedBy   *int64    `gorm:"column:erased_by"`
}

// leafColumns are the columns leafRow reads, in its field order.
var leafColumns = []string{"id", "table_name", "object_pk", "object_repr", "action", "changes",
	"actor_id", "remote_addr", "cid", "data", "snapshot", "created_at", "seal_seq", "leaf_hash", "erased_by"}

// appendLeafInput appends the version 1 leaf encoding of r to b: the
// version byte, the ID, the text and JSON columns each as a 4-byte length
// and its bytes (JSON columns in canonical form), and the creation time as
// seconds and nanoseconds since the Unix epoch in UTC. It fails only for a
// JSON column that is not valid JSON.
func appendLeafInput(b []byte, r *leafRow) ([]byte, error) {
	b = append(b, leafVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.ID))
	for _, s := range [...]string{r.Table, r.ObjectPK, r.ObjectRepr, r.Action} {
		b = appendLeafString(b, s)
	}
	var err error
	if b, err = appendLeafJSON(b, "changes", r.Changes); err != nil {
		return nil, err
	}
	for _, s := range [...]string{r.ActorID, r.RemoteAddr, r.CID} {
		b = appendLeafString(b, s)
	}
	if b, err = appendLeafJSON(b, "data", r.Data); err != nil {
		return nil, err
	}
	if b, err = appendLeafJSON(b, "snapshot", r.Snapshot); err != nil {
		return nil, err
	}
	t := r.CreatedAt.UTC()
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	return b, nil
}

// leafHash is the RFC 6962 leaf hash of r: SHA-256 of the byte 0x00 and the
// leaf encoding. buf is scratch space, returned grown for the next call.
func leafHash(buf []byte, r *leafRow) (hash [32]byte, scratch []byte, err error) {
	buf = append(buf[:0], 0x00) // RFC 6962 leaf prefix
	buf, err = appendLeafInput(buf, r)
	if err != nil {
		return hash, buf, fmt.Errorf("auditlog: entry %d: %w", r.ID, err)
	}
	return sha256.Sum256(buf), buf, nil
}

func appendLeafString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendLeafJSON appends a JSON column: its canonical form (see
// appendCanonicalJSON), "null" for NULL, empty text, JSON null or an empty
// object, which the plugin stores alike.
func appendLeafJSON(b []byte, column string, raw []byte) ([]byte, error) {
	var v any
	if raw := bytes.TrimSpace(raw); len(raw) > 0 {
		var err error
		if v, err = decodeJSON(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", column, err)
		}
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		v = nil
	}
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0)
	b = appendCanonicalJSON(b, v)
	binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	return b, nil
}

// appendCanonicalJSON writes a decoded JSON value canonically: no
// whitespace, object keys sorted by their UTF-8 bytes, numbers exactly as
// they were written in the stored text, strings with only '"', '\\' and the
// control characters U+0000 to U+001F escaped (as \", \\ and \u00xx with
// lowercase hex digits), everything else as UTF-8.
func appendCanonicalJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case json.Number:
		return append(b, x...)
	case string:
		return appendCanonicalString(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonicalString(b, k)
			b = append(b, ':')
			b = appendCanonicalJSON(b, x[k])
		}
		return append(b, '}')
	}
	// decodeJSON yields only the types above.
	return append(b, "null"...)
}

func appendCanonicalString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // invalid UTF-8 becomes U+FFFD
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}
