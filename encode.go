package auditlog

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendChanges appends c as the JSON object {"column": [old, new], ...}
// with keys sorted. Canonical scalar values (nil, bool, string,
// json.Number) are written directly; anything else goes through
// encoding/json. It is Changes.Value's encoder: one buffer per entry instead
// of encoding/json's reflection and re-compaction of each Change.
func appendChanges(buf []byte, c Changes) ([]byte, error) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':', '[')
		var err error
		if buf, err = appendJSONValue(buf, c[k].Old); err != nil {
			return nil, err
		}
		buf = append(buf, ',')
		if buf, err = appendJSONValue(buf, c[k].New); err != nil {
			return nil, err
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), nil
}

func appendJSONValue(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case string:
		return appendJSONString(buf, x), nil
	case json.Number:
		if x != "" && json.Valid([]byte(x)) {
			return append(buf, x...), nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(buf, b...), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does; HTML characters are not escaped.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
