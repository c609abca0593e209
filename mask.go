package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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

// Redacted is what Changes and Snapshot hold for a non-null value of a field
// named in Redact, on either side of a change: no part of the value, not
// even its length or whether it is empty, is stored. Null stays null, so an
// entry still shows that such a field was set or cleared. Data strings and
// ObjectRepr that contain a redacted value are replaced as a whole (see
// scrub).
const Redacted = "[redacted]"

// secret is the clear text of a masked or redacted field, for scrub.
type secret struct {
	text   string
	redact bool // replace what contains it by Redacted, not mask it
}

// hide is the stored form of a tracked field's canonical value: masked
// (Mask), Redacted (Redact), or as is.
func (tf *trackedField) hide(v any) any {
	switch {
	case tf.redacted:
		return redactValue(v)
	case tf.masked:
		return maskValue(v)
	}
	return v
}

// redactValue is Redacted for every value but null.
func redactValue(v any) any {
	if v == nil {
		return nil
	}
	return Redacted
}

// secrets returns the clear text of the masked and redacted fields in the
// given states, for scrub. Values of fewer than two runes are left out:
// masking does not change them, and scrubbing one would replace every text
// holding that character.
func (pl *plan) secrets(states ...rowState) []secret {
	var out []secret
	for _, state := range states {
		for i, tf := range pl.fields {
			if !tf.masked || state == nil {
				continue
			}
			s := secret{text: textOf(state[i]), redact: tf.redacted}
			if utf8.RuneCountInString(s.text) >= 2 && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// scrub hides the clear values of masked and redacted fields (secrets)
// wherever a hook or the context's data put them into e: ObjectRepr falls
// back to "Model(pk)", and in Data and Snapshot every string containing a
// masked secret has it replaced by its masked form, as has every number
// equal to one, and every string or number containing a redacted secret is
// replaced by Redacted (see maskData).
func (pl *plan) scrub(e *LogEntry, secrets []secret) error {
	if len(secrets) == 0 {
		return nil
	}
	for _, s := range secrets {
		if strings.Contains(e.ObjectRepr, s.text) {
			e.ObjectRepr = pl.schema.Name + "(" + e.ObjectPK + ")"
			break
		}
	}
	data, err := maskData(e.Data, secrets)
	if err != nil {
		return fmt.Errorf("auditlog: data of %s %s %s: %w", e.Action, e.Table, e.ObjectPK, err)
	}
	if data != nil {
		e.Data = data
	}
	snapshot, err := maskData(e.Snapshot, secrets)
	if err != nil {
		return fmt.Errorf("auditlog: snapshot of %s %s %s: %w", e.Action, e.Table, e.ObjectPK, err)
	}
	if snapshot != nil {
		e.Snapshot = snapshot
	}
	return nil
}

// maskData returns data with the secrets hidden, or nil when it holds none.
// Data is encoded once to look for the secrets; it is rebuilt only when one
// is found. Secrets are looked for as JSON stores them (invalid UTF-8 bytes
// as U+FFFD); a masked one that masking leaves unchanged ("**c") is ignored.
func maskData(data map[string]any, secrets []secret) (map[string]any, error) {
	if len(data) == 0 || len(secrets) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	found := false
	var masked, redacted []string
	seen := make(map[secret]bool, len(secrets))
	for _, s := range secrets {
		if !utf8.ValidString(s.text) {
			// JSON stores each invalid byte as U+FFFD, and a U+FFFD of the
			// data may stand for one: look in the decoded data.
			s.text, found = string([]rune(s.text)), true
		}
		if seen[s] || !s.redact && MaskString(s.text) == s.text {
			continue // a duplicate, or masking does not hide it
		}
		seen[s] = true
		if s.redact {
			redacted = append(redacted, s.text)
		} else {
			masked = append(masked, s.text)
		}
		if !found {
			quoted, _ := json.Marshal(s.text)
			found = bytes.Contains(raw, quoted[1:len(quoted)-1])
		}
	}
	if !found || len(masked)+len(redacted) == 0 {
		return nil, nil
	}
	var decoded map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return nil, err
	}
	if len(redacted) > 0 {
		decoded = redactSecrets(decoded, redacted).(map[string]any)
	}
	return maskSecrets(decoded, masked).(map[string]any), nil
}

// redactSecrets replaces every string (map keys included) and number of a
// decoded JSON value that contains one of the secrets by Redacted, in one
// pass: the replacement holds nothing of the string it replaces.
func redactSecrets(v any, secrets []string) any {
	holds := func(s string) bool {
		return slices.ContainsFunc(secrets, func(x string) bool { return strings.Contains(s, x) })
	}
	switch x := v.(type) {
	case string:
		if holds(x) {
			return Redacted
		}
	case json.Number:
		if holds(string(x)) {
			return Redacted
		}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			if holds(k) {
				k = Redacted
			}
			m[k] = redactSecrets(e, secrets)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = redactSecrets(e, secrets)
		}
	}
	return v
}

// maskSecrets replaces the secrets in a decoded JSON value. Masking one
// occurrence can complete another ("a*" in "aa*" gives "a**"), so strings
// are masked until no secret is left: each pass that changes a string turns
// more of its runes into '*' (a secret's mask differs from it and has as
// many runes), so this ends.
func maskSecrets(v any, secrets []string) any {
	if len(secrets) == 0 {
		return v
	}
	switch x := v.(type) {
	case string:
		for again := true; again; {
			again = false
			for _, s := range secrets {
				if strings.Contains(x, s) {
					x = strings.ReplaceAll(x, s, MaskString(s))
					again = true
				}
			}
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

// maskValue masks the text form of a canonical value; null stays null.
func maskValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return MaskString(x)
	case json.Number:
		return MaskString(string(x))
	case bool:
		return MaskString(strconv.FormatBool(x))
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return MaskString(fmt.Sprint(x))
		}
		return MaskString(string(raw))
	}
}
