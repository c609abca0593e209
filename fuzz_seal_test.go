package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
)

// FuzzLeafJSON: encoding a stored JSON column for the leaf never panics;
// invalid JSON is kept as stored behind its marker; the canonical form of
// valid JSON is valid JSON and its own canonical form (a fixed point).
func FuzzLeafJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x"]}`, `{}`, `null`, ``, ` `, `[1,2.50,-0.0,1e400]`, `"\u2028<&>"`,
		"{\"\xff\":1}", `{"a":1,"a":2}`, `{"a":`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b := appendLeafJSON(nil, raw)
		if binary.BigEndian.Uint32(b) == invalidJSON {
			if json.Valid(raw) || !bytes.Equal(b[8:], raw) {
				t.Fatalf("%q marked invalid as %q", raw, b)
			}
			return
		}
		canon := b[4:]
		if !json.Valid(canon) {
			t.Fatalf("canonical form %q of %q is not JSON", canon, raw)
		}
		if again := appendLeafJSON(nil, canon); !bytes.Equal(again, b) {
			t.Fatalf("canonical form is not a fixed point: %q -> %q -> %q", raw, canon, again[4:])
		}
	})
}

// FuzzCanonJSON: the canonicalizer that reads the stored text agrees with
// encoding/json: it accepts what json.Valid accepts, and writes what
// appendCanonicalJSON writes for the decoded value.
func FuzzCanonJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":{"d":"\u2028","c":-0.0}}`, `{"a":1,"a":2,"a":3}`, `[1e400, 0.0, -0]`,
		`"\ud800\udc00\ud800x"`, "\"\xff\xfe\"", `{"":{}}`, `[[]]`, `01`, `1.`, `-`, `"\u00"`, `[1,]`, `{,}`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, _, err := appendCanonJSON(nil, raw)
		if valid := json.Valid(raw); (err == nil) != valid {
			t.Fatalf("%q: canonicalizer error %v, json.Valid %v", raw, err, valid)
		}
		if err != nil {
			return
		}
		v, err := decodeJSON(raw)
		if err != nil {
			t.Fatalf("%q: valid, but decodeJSON: %v", raw, err)
		}
		if want := appendCanonicalJSON(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("%q: canonical %q, from the decoded value %q", raw, got, want)
		}
	})
}

// appendCanonicalJSON writes a decoded JSON value canonically, the
// reference FuzzCanonJSON checks appendCanonJSON against: no
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

// FuzzCheckProof: checking any proof never panics, and a proof accepted
// for a leaf is not accepted for another leaf.
func FuzzCheckProof(f *testing.F) {
	leaf := func(i byte) []byte { return rfc6962.DefaultHasher.HashLeaf([]byte{i}) }
	f.Add(int64(0), int64(1), leaf(0), []byte{})
	f.Add(int64(1), int64(2), leaf(1), leaf(0))
	f.Add(int64(5), int64(3), leaf(2), bytes.Repeat([]byte{1}, 64))
	f.Add(int64(-1), int64(-1), []byte{}, []byte{1})
	f.Fuzz(func(t *testing.T, index, size int64, leafHash, flat []byte) {
		var hashes [][]byte
		for len(flat) >= sha256.Size {
			hashes = append(hashes, flat[:sha256.Size])
			flat = flat[sha256.Size:]
		}
		if len(flat) > 0 {
			hashes = append(hashes, flat)
		}
		root := rfc6962.DefaultHasher.HashLeaf([]byte("root"))
		pr := Proof{Index: index, TreeSize: size, LeafHash: leafHash, Hashes: hashes}
		err := CheckProof(pr, Checkpoint{Size: size, Root: root})
		if err == nil {
			other := pr
			other.LeafHash = bytes.Repeat([]byte{0xee}, sha256.Size)
			if bytes.Equal(other.LeafHash, leafHash) || CheckProof(other, Checkpoint{Size: size, Root: root}) == nil {
				t.Fatalf("a proof checks for two leaves: %+v", pr)
			}
		} else if !errors.Is(err, ErrTampered) {
			t.Fatalf("CheckProof error %v does not wrap ErrTampered", err)
		}
	})
}

// FuzzParseCheckpoint: parsing any checkpoint text never panics, and what
// it accepts marshals to text that parses to the same checkpoint.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\ntime 2026-01-02T03:04:05Z\n"))
	f.Add([]byte("o\n0\n\n"))
	f.Add([]byte("o\n-1\nAQ==\nhead 1 x\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		cp, err := parseCheckpointBody(text)
		if err != nil {
			if !errors.Is(err, ErrInvalidCheckpoint) {
				t.Fatalf("error %v does not wrap ErrInvalidCheckpoint", err)
			}
			return
		}
		if bytes.ContainsAny([]byte(cp.Origin), "\n") {
			t.Fatalf("origin with a newline: %q", cp.Origin)
		}
		again, err := parseCheckpointBody(cp.Marshal())
		if err != nil || again.Size != cp.Size || !bytes.Equal(again.Root, cp.Root) || again.HeadBatch != cp.HeadBatch {
			t.Fatalf("round trip of %q: %+v, %v", text, again, err)
		}
	})
}
