package auditlog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

// leafVector is one test vector of docs/LEAF-ENCODING.md: an entry's stored
// columns (JSON columns as their stored text, null for NULL), its leaf
// encoding and its leaf hash, in hex.
type leafVector struct {
	Name       string  `json:"name"`
	ID         int64   `json:"id"`
	Table      string  `json:"table_name"`
	ObjectPK   string  `json:"object_pk"`
	ObjectRepr string  `json:"object_repr"`
	Action     string  `json:"action"`
	Changes    *string `json:"changes"`
	ActorID    string  `json:"actor_id"`
	RemoteAddr string  `json:"remote_addr"`
	CID        string  `json:"cid"`
	Data       *string `json:"data"`
	Snapshot   *string `json:"snapshot"`
	CreatedAt  string  `json:"created_at"`
	// ParentTable and ParentPK, when either is set, make a version 2 leaf.
	ParentTable string `json:"parent_table,omitempty"`
	ParentPK    string `json:"parent_pk,omitempty"`
	LeafInput   string `json:"leaf_input_hex"`
	LeafHash    string `json:"leaf_hash_hex"`
}

func strp(s string) *string { return &s }

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func (lv *leafVector) row(t *testing.T) leafRow {
	at, err := time.Parse(time.RFC3339Nano, lv.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	return leafRow{ID: lv.ID, Table: lv.Table, ObjectPK: lv.ObjectPK, ObjectRepr: lv.ObjectRepr, Action: lv.Action,
		Changes: bytesOf(lv.Changes), ActorID: lv.ActorID, RemoteAddr: lv.RemoteAddr, CID: lv.CID,
		Data: bytesOf(lv.Data), Snapshot: bytesOf(lv.Snapshot), CreatedAt: at,
		ParentTable: lv.ParentTable, ParentPK: lv.ParentPK}
}

func leafVectorInputs() []leafVector {
	return []leafVector{
		{Name: "create", ID: 1, Table: "items", ObjectPK: "1", ObjectRepr: "Item(1)", Action: "create",
			Changes: strp(`{"name": [null, "pen"], "price": [null, 1.50]}`), ActorID: "user-42",
			RemoteAddr: "203.0.113.9", CID: "req-7f3a", CreatedAt: "2026-01-02T03:04:05.123456Z"},
		{Name: "nulls and empty", ID: 2, Table: "items", ObjectPK: "2", Action: "access",
			Changes: nil, Data: strp(`{}`), Snapshot: strp(`null`), CreatedAt: "1970-01-01T00:00:00Z"},
		{Name: "unicode, escapes and key order", ID: 9007199254740993, Table: "t\u00e9", ObjectPK: `["acme","42"]`,
			ObjectRepr: "\u65e5\u672c", Action: "custom", Changes: strp(`{"z":["a\"b\\c\n\u0001","\u00e9<>&"],"a":[{"y":1,"x":[true,false,null]},2e10]}`),
			Data: strp(`{"b":1,"a":{"d":"\u2028","c":-0.0}}`), Snapshot: strp(`{"k":"v"}`), CreatedAt: "2026-12-31T23:59:59.999999999Z"},
		{Name: "corrupt JSON kept as stored", ID: 3, Table: "items", ObjectPK: "3", Action: "update",
			Changes: strp(` {"a": [1, 2]`), Data: strp(`NaN`), CreatedAt: "2026-01-02T03:04:05Z"},
		{Name: "before the epoch", ID: -5, Table: "x", ObjectPK: "", Action: "delete",
			Changes: strp(`{"a":[1,null]}`), CreatedAt: "1969-12-31T23:59:59.5Z"},
		{Name: "child with a parent (version 2)", ID: 12, Table: "lines", ObjectPK: "7", ObjectRepr: "Line(7)", Action: "update",
			Changes: strp(`{"order_id": [1, 2]}`), ActorID: "user-42", CreatedAt: "2026-01-02T03:04:05.5Z",
			ParentTable: "orders", ParentPK: "2"},
		{Name: "composite parent key (version 2)", ID: 13, Table: "parcels", ObjectPK: "1", Action: "delete",
			Changes: strp(`{"weight":[3,null]}`), CreatedAt: "2026-01-02T03:04:05Z",
			ParentTable: "shipments", ParentPK: `["eu","7"]`},
	}
}

// TestLeafVectors: the leaf encoding and hash of the vectors in
// testdata/TestLeafVectors/vectors.json, the ones docs/LEAF-ENCODING.md
// specifies; -update rewrites them.
func TestLeafVectors(t *testing.T) {
	path := filepath.Join("testdata", "TestLeafVectors", "vectors.json")
	var got []leafVector
	for _, lv := range leafVectorInputs() {
		r := lv.row(t)
		input := appendLeafInput(nil, &r)
		sum, _ := leafHash(nil, &r)
		lv.LeafInput, lv.LeafHash = hex.EncodeToString(input), hex.EncodeToString(sum[:])
		got = append(got, lv)
	}
	checkGoldenJSON(t, path, got)
}

func checkGoldenJSON(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// TestLeafEncodingInvariance: what the databases may change in stored JSON
// (whitespace, key order, an empty object for NULL) does not change a leaf.
func TestLeafEncodingInvariance(t *testing.T) {
	base := leafRow{ID: 7, Table: "t", Changes: []byte(`{"a":[1,"x"],"b":[null,{"k":2,"j":1}]}`), CreatedAt: testNow}
	variant := base
	variant.Changes = []byte(` { "b" : [ null , { "j" : 1 , "k" : 2 } ] , "a" : [ 1 , "x" ] } `)
	variant.Data = []byte(`{}`)
	variant.Snapshot = []byte(`null`)
	h1, _ := leafHash(nil, &base)
	h2, _ := leafHash(nil, &variant)
	if h1 != h2 {
		t.Error("equivalent stored JSON gives another leaf hash")
	}
	variant.Changes = []byte(`{"a":[1.0,"x"],"b":[null,{"k":2,"j":1}]}`)
	if h3, _ := leafHash(nil, &variant); h3 == h1 {
		t.Error("a number written otherwise gives the same leaf hash; numbers are hashed as stored")
	}
}

// fixedReader is a deterministic source of key material for golden keys.
type fixedReader byte

func (r fixedReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(r)
	}
	return len(b), nil
}

// TestCheckpointGolden: a checkpoint of a fixed tree, clock and key is
// byte for byte testdata/TestCheckpointGolden/checkpoint.note, and it opens
// with the key's verifier and with no other.
func TestCheckpointGolden(t *testing.T) {
	skey, vkey, err := note.GenerateKey(fixedReader(7), "auditlog-golden")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	ver, _ := note.NewVerifier(vkey)
	p := New(WithClock(func() time.Time { return testNow }), Sealing(SealConfig{Signer: signer}))
	head := &BatchHeader{Batch: 1, Kind: HeaderSeal, Size: 1, FirstID: 1, LastID: 1, TreeSize: 1,
		Root: bytes.Repeat([]byte{1}, 32), TreeRoot: bytes.Repeat([]byte{1}, 32), Compact: bytes.Repeat([]byte{1}, 32)}
	signed, err := p.signCheckpoint(p.sealConfig(), head)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "TestCheckpointGolden", "checkpoint.note")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, signed, 0o644)
		os.WriteFile(filepath.Join(filepath.Dir(path), "key.vkey"), []byte(vkey+"\n"), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(signed)); diff != "" {
		t.Errorf("checkpoint (-want +got):\n%s", diff)
	}
	cp, err := OpenCheckpoint(want, ver)
	if err != nil || cp.Size != 1 || cp.HeadBatch != 1 || !cp.Time.Equal(testNow) || cp.Origin != "auditlog/audit_log_entries" {
		t.Fatalf("open = %+v, %v", cp, err)
	}
	_, other := testKeys(t)
	if _, err := OpenCheckpoint(want, other); !errors.Is(err, ErrTampered) {
		t.Errorf("open with another key: %v; want ErrTampered", err)
	}
	forged := bytes.Replace(want, []byte("\n1\n"), []byte("\n2\n"), 1)
	if _, err := OpenCheckpoint(forged, ver); !errors.Is(err, ErrTampered) {
		t.Errorf("open an edited checkpoint: %v; want ErrTampered", err)
	}
}
