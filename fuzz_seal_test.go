package auditlog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"
)

// FuzzLeafJSON: decoding a stored JSON column for the leaf never panics;
// what it accepts, its canonical form decodes again to the same canonical
// form (canonical JSON is a fixed point) and is valid JSON.
func FuzzLeafJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x"]}`, `{}`, `null`, ``, ` `, `[1,2.50,-0.0,1e400]`, `"\u2028<&>"`,
		"{\"\xff\":1}", `{"a":1,"a":2}`, `{"a":`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := appendLeafJSON(nil, "x", raw)
		if err != nil {
			return
		}
		canon := b[4:]
		again, err := appendLeafJSON(nil, "x", canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not decode: %v", canon, raw, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("canonical form is not a fixed point: %q -> %q -> %q", raw, canon, again[4:])
		}
	})
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
