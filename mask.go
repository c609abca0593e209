package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaskString hides the first half of s the way django-auditlog's mask_str does:
// the first len/2 runes (rounded down) are replaced by '*' and the rest is kept,
// so "confidential" becomes "******ential". It counts runes, not bytes, so a
// multi-byte character is never split; bytes that are not valid UTF-8 count as
// one rune each and are replaced by U+FFFD when they fall in the kept half, so
// the result is always valid UTF-8.
//
// MaskString is what the plugin applies to fields named in Mask and
// WithMask before anything is stored. It allocates one string.
func MaskString(s string) string {
	n := utf8.RuneCountInString(s)
	hide := n / 2
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < hide; i++ {
		b.WriteByte('*')
	}
	i := 0
	for _, r := range s {
		if i >= hide {
			b.WriteRune(r)
		}
		i++
	}
	return b.String()
}

// secrets returns the clear text of the masked fields in the given states,
// for scrub. Values of fewer than two runes are left out: masking does not
// change them.
func (pl *plan) secrets(states ...rowState) []string {
	var out []string
	for _, state := range states {
		for i, tf := range pl.fields {
			if !tf.masked || state == nil {
				continue
			}
			if s := textOf(state[i]); utf8.RuneCountInString(s) >= 2 && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// scrub masks the clear values of masked fields (secrets) wherever a hook or
// the context's data put them into e: ObjectRepr falls back to "Model(pk)",
// and in Data every string containing a secret has it replaced by its masked
// form, as has every number equal to one. Data is encoded once to look for
// the secrets; it is rebuilt only when one is found.
func (pl *plan) scrub(e *LogEntry, secrets []string) error {
	if len(secrets) == 0 {
		return nil
	}
	for _, s := range secrets {
		if strings.Contains(e.ObjectRepr, s) {
			e.ObjectRepr = pl.schema.Name + "(" + e.ObjectPK + ")"
			break
		}
	}
	if len(e.Data) == 0 {
		return nil
	}
	raw, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("auditlog: data of %s %s %s: %w", e.Action, e.Table, e.ObjectPK, err)
	}
	found := false
	for _, s := range secrets {
		quoted, _ := json.Marshal(s)
		if bytes.Contains(raw, quoted[1:len(quoted)-1]) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	var data map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return fmt.Errorf("auditlog: data of %s %s %s: %w", e.Action, e.Table, e.ObjectPK, err)
	}
	e.Data = maskSecrets(data, secrets).(map[string]any)
	return nil
}

// maskSecrets replaces the secrets in a decoded JSON value.
func maskSecrets(v any, secrets []string) any {
	switch x := v.(type) {
	case string:
		for _, s := range secrets {
			x = strings.ReplaceAll(x, s, MaskString(s))
		}
		return x
	case json.Number:
		if slices.Contains(secrets, string(x)) {
			return MaskString(string(x))
		}
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[maskSecrets(k, secrets).(string)] = maskSecrets(e, secrets)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = maskSecrets(e, secrets)
		}
		return x
	}
	return v
}
