package auditlog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Fuzz targets for decoding stored JSON and for masking secrets in Data.
// Their seed corpora are in testdata/fuzz/<target>; .ci/run fuzzes every
// target of the package for a few seconds.

// FuzzScanJSONMap: decoding a stored Data or Snapshot column never panics;
// corrupt input or JSON that is not an object is an error; what it accepts
// it encodes again to JSON that decodes to the same map.
func FuzzScanJSONMap(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,"x",null,true]},"c":1.50}`, `{}`, `null`, ``, `[1]`, `"s"`, `{"a":1}x`, `{"a":`, "{\"\xff\":1}", `{"a":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m JSONMap
		if err := m.Scan(raw); err != nil {
			return
		}
		if err := m.Scan(string(raw)); err != nil {
			t.Fatalf("Scan accepts %q as []byte but not as string: %v", raw, err)
		}
		v, err := m.Value()
		if err != nil {
			t.Fatalf("Value of scanned %q: %v", raw, err)
		}
		if v == nil {
			if len(m) != 0 {
				t.Fatalf("Value of %v is NULL", m)
			}
			return
		}
		var back JSONMap
		if err := back.Scan(v); err != nil {
			t.Fatalf("re-scan of %s: %v", v, err)
		}
		if !reflect.DeepEqual(m, back) { // cmp.Diff is slow on deep nesting
			t.Fatalf("round trip of %q (-first +second):\n%s", raw, cmp.Diff(m, back))
		}
	})
}

// FuzzChangeUnmarshalJSON: decoding one stored change never panics; anything
// but a two-element JSON array is an error; what it accepts encodes back to
// JSON that decodes to the same change.
func FuzzChangeUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`[1,2]`, `[null,"x"]`, `[{"k":[1]},true]`, `[1]`, `[1,2,3]`, `{}`, `null`, `[`, `[1,2]]`, "[\"\xff\",1]", `[0.170,1e2]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c Change
		if err := c.UnmarshalJSON(raw); err != nil {
			return
		}
		b, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of %#v (from %q): %v", c, raw, err)
		}
		var back Change
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		if !reflect.DeepEqual(c, back) { // cmp.Diff is slow on deep nesting
			t.Fatalf("round trip of %q (-first +second):\n%s", raw, cmp.Diff(c, back))
		}
	})
}

// FuzzMaskDataHidesSecret: once the data of an entry is masked for a secret,
// the secret is nowhere in its JSON, whether it was in a value, in a key or
// in a nested list, alone or inside a longer text.
func FuzzMaskDataHidesSecret(f *testing.F) {
	f.Add("confidential", "my ", " is it")
	f.Add("a*", "a", "")
	f.Add("pass\xffword", "<", ">")
	f.Add("🔑🔑", "", "🔑")
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		// As stored: JSON replaces each invalid UTF-8 byte with U+FFFD.
		var clear string
		quoted, _ := json.Marshal(secret)
		if err := json.Unmarshal(quoted, &clear); err != nil {
			t.Fatal(err)
		}
		if len([]rune(secret)) < 2 || MaskString(clear) == clear {
			// Masking does not change this value as stored ("*\xf7" is
			// stored as "*\ufffd", its own mask): see plan.secrets.
			t.Skip("masking does not change this value")
		}
		text := before + secret + after
		data := map[string]any{"value": text, text: "key", "list": []any{text, map[string]any{"deep": text}}}
		masked, err := maskData(data, maskedSecrets(secret))
		if err != nil {
			t.Fatal(err)
		}
		if masked == nil {
			t.Fatalf("maskData found no secret %q in %q", secret, text)
		}
		for _, s := range jsonStrings(masked) {
			if strings.Contains(s, clear) {
				t.Fatalf("secret %q in clear in %q of the masked data %#v", secret, s, masked)
			}
		}
	})
}

// jsonStrings lists every string in a decoded JSON value, keys included.
func jsonStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, k)
			out = append(out, jsonStrings(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, jsonStrings(e)...)
		}
		return out
	}
	return nil
}

// TestScanBlankJSON: a blank or null JSON column decodes as nil, whether the
// driver returns text or bytes (regression: whitespace-only text was an
// error from a string and nil from []byte).
func TestScanBlankJSON(t *testing.T) {
	for _, s := range []string{"", " ", "\n\t ", "null"} {
		for _, src := range []any{s, []byte(s)} {
			m := JSONMap{"stale": true}
			if err := m.Scan(src); err != nil || m != nil {
				t.Errorf("JSONMap.Scan(%#v): %v, %v; want nil, nil", src, m, err)
			}
			c := Changes{"stale": {}}
			if err := c.Scan(src); err != nil || c != nil {
				t.Errorf("Changes.Scan(%#v): %v, %v; want nil, nil", src, c, err)
			}
		}
	}
}

// maskedSecrets are secrets of masked (not redacted) fields.
func maskedSecrets(texts ...string) []secret {
	out := make([]secret, len(texts))
	for i, s := range texts {
		out[i] = secret{text: s}
	}
	return out
}

// FuzzRedactDataHidesSecret: data holding a redacted secret comes back
// without it anywhere in its JSON, in values, keys or nested lists (unless
// the secret is part of the marker Redacted itself).
func FuzzRedactDataHidesSecret(f *testing.F) {
	f.Add("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "hash ", "")
	f.Add("a*", "a", "")
	f.Add("pass\xffword", "<", ">")
	f.Add("12", "", "")
	f.Fuzz(func(t *testing.T, secret, before, after string) {
		var clear string
		quoted, _ := json.Marshal(secret)
		if err := json.Unmarshal(quoted, &clear); err != nil {
			t.Fatal(err)
		}
		if len([]rune(secret)) < 2 || strings.Contains(Redacted, clear) {
			t.Skip("not looked for (see plan.secrets), or part of the marker")
		}
		text := before + secret + after
		data := map[string]any{"value": text, text: "key", "list": []any{text, map[string]any{"deep": text}}}
		redacted, err := maskData(data, redactedSecrets(secret))
		if err != nil {
			t.Fatal(err)
		}
		if redacted == nil {
			t.Fatalf("maskData found no secret %q in %q", secret, text)
		}
		for _, s := range jsonStrings(redacted) {
			if strings.Contains(s, clear) {
				t.Fatalf("secret %q in clear in %q of the redacted data %#v", secret, s, redacted)
			}
		}
	})
}

// redactedSecrets are secrets of redacted fields.
func redactedSecrets(texts ...string) []secret {
	out := maskedSecrets(texts...)
	for i := range out {
		out[i].redact = true
	}
	return out
}
