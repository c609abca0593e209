package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// The leaf encoding of a sealed entry, specified byte for byte in
// docs/LEAF-ENCODING.md and pinned by testdata/TestLeafVectors: version 1
// for an entry without a parent, version 2 (version 1's fields followed by
// the parent table and key) for an entry with one (Parent), so that every
// entry sealed before the parent columns existed keeps its leaf hash.

// leafVersion is the first byte of the leaf encoding of an entry without a
// parent; leafVersionParent of one with a parent table or key.
const (
	leafVersion       = 1
	leafVersionParent = 2
)

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
	// ParentTable and ParentPK: NULL (in rows written before the columns
	// existed) reads as empty.
	ParentTable string `gorm:"column:parent_table"`
	ParentPK    string `gorm:"column:parent_pk"`
	SealSeq     *int64 `gorm:"column:seal_seq"`
	LeafHash    []byte `gorm:"column:leaf_hash"`
	ErasedBy    *int64 `gorm:"column:erased_by"`
	// computed is the leaf hash recomputed from the fields, when already
	// done (by Verify's reader, beside the checking); not a column.
	computed []byte `gorm:"-"`
}

// leafSelect and unsealedSelect are the columns leafRow reads, in its
// field order, from the log (e) and the seal table (s).
const (
	leafSelect = "e.id, e.table_name, e.object_pk, e.object_repr, e.action, e.changes, e.actor_id, e.remote_addr, " +
		"e.cid, e.data, e.snapshot, e.created_at, e.parent_table, e.parent_pk, s.seal_seq, s.leaf_hash, e.erased_by"
	unsealedSelect = "e.id, e.table_name, e.object_pk, e.object_repr, e.action, e.changes, e.actor_id, e.remote_addr, " +
		"e.cid, e.data, e.snapshot, e.created_at, e.parent_table, e.parent_pk, NULL, NULL, e.erased_by"
)

// appendLeafInput appends the leaf encoding of r to b: the version byte,
// the ID, the text and JSON columns each as a 4-byte length and its bytes
// (JSON columns in canonical form), and the creation time as seconds and
// nanoseconds since the Unix epoch in UTC; then, in version 2 only (an
// entry whose parent table or key is not empty), the parent table and key
// as lengths and bytes. Emptying an entry's parent columns changes its
// encoding's version, and so its hash.
func appendLeafInput(b []byte, r *leafRow) []byte {
	parent := r.ParentTable != "" || r.ParentPK != ""
	if parent {
		b = append(b, leafVersionParent)
	} else {
		b = append(b, leafVersion)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(r.ID))
	for _, s := range [...]string{r.Table, r.ObjectPK, r.ObjectRepr, r.Action} {
		b = appendLeafString(b, s)
	}
	b = appendLeafJSON(b, r.Changes)
	for _, s := range [...]string{r.ActorID, r.RemoteAddr, r.CID} {
		b = appendLeafString(b, s)
	}
	b = appendLeafJSON(b, r.Data)
	b = appendLeafJSON(b, r.Snapshot)
	t := r.CreatedAt.UTC()
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	if parent {
		b = appendLeafString(b, r.ParentTable)
		b = appendLeafString(b, r.ParentPK)
	}
	return b
}

// leafHash is the RFC 6962 leaf hash of r: SHA-256 of the byte 0x00 and the
// leaf encoding. buf is scratch space, returned grown for the next call.
func leafHash(buf []byte, r *leafRow) (hash [32]byte, scratch []byte) {
	buf = appendLeafInput(append(buf[:0], 0x00), r) // RFC 6962 leaf prefix
	return sha256.Sum256(buf), buf
}

func appendLeafString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// invalidJSON marks a JSON column whose stored text is not valid JSON: it
// is followed by the text as stored (length and bytes).
const invalidJSON = 0xFFFFFFFF

// appendLeafJSON appends a JSON column: its canonical form (see
// appendCanonJSON), "null" for NULL, empty text, JSON null or an empty
// object, which the plugin stores alike; a text that is not valid JSON (a
// corrupt row, which SQLite may hold) as the marker invalidJSON and the
// text as stored, so that it can be sealed and verified too.
func appendLeafJSON(b []byte, raw []byte) []byte {
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0)
	if trimmed := bytes.Trim(raw, " \t\n\r"); len(trimmed) == 0 { // JSON whitespace
		b = append(b, "null"...)
	} else {
		out, empty, err := appendCanonJSON(b, trimmed)
		switch {
		case err != nil:
			b = binary.BigEndian.AppendUint32(b[:lenAt], invalidJSON)
			return appendLeafString(b, string(raw))
		case empty:
			b = append(b[:lenAt+4], "null"...)
		default:
			b = out
		}
	}
	binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	return b
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
