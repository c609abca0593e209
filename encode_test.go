package auditlog

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendChanges(t *testing.T) {
	c := Changes{
		"b":    {Old: "quote \" back \\ nl \n tab \t ctl \x01 <html> é 🔑", New: nil},
		"a":    {Old: json.Number("1.5"), New: true},
		"json": {Old: map[string]any{"k": []any{json.Number("1"), "x"}}, New: "bad \xff utf8"},
	}
	got, err := appendChanges(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[1.5,true],"b":["quote \" back \\ nl \n tab \t ctl \u0001 <html> é 🔑",null],"json":[{"k":[1,"x"]},"bad \ufffd utf8"]}`
	if string(got) != want {
		t.Errorf("appendChanges:\n got %s\nwant %s", got, want)
	}
	var back Changes
	if err := back.Scan(got); err != nil {
		t.Fatal(err)
	}
	c["json"] = Change{Old: c["json"].Old, New: "bad \uFFFD utf8"}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x1f", "é🔑", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: invalid JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(s) // encoding/json's reading of s, invalid UTF-8 replaced
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("appendJSONString(%q) decodes to %q, encoding/json's to %q", s, back, wantBack)
		}
	})
}

// FuzzScanChanges: decoding stored changes never panics; what it accepts it
// encodes again to JSON that decodes to the same changes.
func FuzzScanChanges(f *testing.F) {
	for _, s := range []string{`{"a":[1,2]}`, `{"a":[null,"x"],"b":[{"k":[1]},true]}`, `{"a":[1]}`, `[`, `null`, `{"a":[1,2,3]}`, "{\"a\":[\"\xff\",1]}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c Changes
		if err := c.Scan(raw); err != nil {
			return
		}
		v, err := c.Value()
		if err != nil {
			t.Fatalf("Value of scanned %q: %v", raw, err)
		}
		if v == nil {
			return
		}
		var back Changes
		if err := back.Scan(v); err != nil {
			t.Fatalf("re-scan of %s: %v", v, err)
		}
		if !reflect.DeepEqual(c, back) { // cmp.Diff is slow on deep nesting
			t.Fatalf("round trip of %q (-first +second):\n%s", raw, cmp.Diff(c, back))
		}
	})
}
