package auditlog

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// canonJSON is the canonical JSON of docs/LEAF-ENCODING.md written straight
// from the stored text, without building maps: Verify and Seal run it on
// every entry. It accepts what encoding/json accepts and writes what
// appendCanonicalJSON writes for the decoded value (FuzzCanonJSON checks
// both against each other).

// errCanonJSON: the stored text is not valid JSON.
var errCanonJSON = errors.New("invalid JSON")

// maxCanonDepth is encoding/json's nesting limit.
const maxCanonDepth = 10000

// canonParser walks one JSON text.
type canonParser struct {
	s     []byte
	i     int
	depth int
}

// appendCanonJSON appends the canonical form of the JSON text src, and
// reports whether it is an empty object.
func appendCanonJSON(dst, src []byte) ([]byte, bool, error) {
	p := canonParser{s: src}
	start := len(dst)
	dst, err := p.value(dst)
	if err != nil {
		return nil, false, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, false, errCanonJSON
	}
	return dst, string(dst[start:]) == "{}", nil
}

func (p *canonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *canonParser) value(dst []byte) ([]byte, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errCanonJSON
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.object(dst)
	case c == '[':
		return p.array(dst)
	case c == '"':
		str, err := p.str()
		if err != nil {
			return nil, err
		}
		return appendCanonicalString(dst, str), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number(dst)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(p.s[p.i:], []byte(lit)) {
			p.i += len(lit)
			return append(dst, lit...), nil
		}
	}
	return nil, errCanonJSON
}

// member is an object member: its key and the canonical form of its value.
type member struct {
	key   string
	value []byte
}

func (p *canonParser) object(dst []byte) ([]byte, error) {
	if p.depth++; p.depth > maxCanonDepth {
		return nil, errCanonJSON
	}
	p.i++ // '{'
	var ms []member
	for first := true; ; first = false {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' && first {
			break
		}
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, errCanonJSON
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, errCanonJSON
		}
		p.i++
		v, err := p.value(nil)
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{key, v})
		if done, err := p.next('}'); err != nil || done {
			if err != nil {
				return nil, err
			}
			break
		}
	}
	p.i++ // '}'
	p.depth--
	// The last of equal keys counts, as in encoding/json.
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare([]byte(a.key), []byte(b.key)) })
	dst = append(dst, '{')
	for i, m := range ms {
		if i+1 < len(ms) && ms[i+1].key == m.key {
			continue
		}
		if len(dst) > 0 && dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = appendCanonicalString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}'), nil
}

func (p *canonParser) array(dst []byte) ([]byte, error) {
	if p.depth++; p.depth > maxCanonDepth {
		return nil, errCanonJSON
	}
	p.i++ // '['
	dst = append(dst, '[')
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		return append(dst, ']'), nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = p.value(dst); err != nil {
			return nil, err
		}
		done, err := p.next(']')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	p.i++ // ']'
	p.depth--
	return append(dst, ']'), nil
}

// next consumes a ',' and reports false, or finds end (left unconsumed)
// and reports true.
func (p *canonParser) next(end byte) (bool, error) {
	p.space()
	switch {
	case p.i >= len(p.s):
		return false, errCanonJSON
	case p.s[p.i] == end:
		return true, nil
	case p.s[p.i] == ',':
		p.i++
		return false, nil
	}
	return false, errCanonJSON
}

// number copies a JSON number as written, after checking its grammar.
func (p *canonParser) number(dst []byte) ([]byte, error) {
	s, start := p.s, p.i
	i := start
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return nil, errCanonJSON
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return nil, errCanonJSON
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, errCanonJSON
		}
	}
	p.i = i
	return append(dst, s[start:i]...), nil
}

// str decodes a JSON string as encoding/json does: escapes resolved, a
// lone surrogate and each byte of invalid UTF-8 as U+FFFD.
func (p *canonParser) str() (string, error) {
	s := p.s
	i := p.i + 1
	var out []byte
	for {
		if i >= len(s) {
			return "", errCanonJSON
		}
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(out), nil
		case c < 0x20:
			return "", errCanonJSON
		case c == '\\':
			var err error
			if out, i, err = unescape(out, s, i); err != nil {
				return "", err
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
}

// unescape decodes the escape at s[i] ('\\') and returns the index after it.
func unescape(out, s []byte, i int) ([]byte, int, error) {
	if i+1 >= len(s) {
		return nil, 0, errCanonJSON
	}
	switch e := s[i+1]; e {
	case '"', '\\', '/':
		return append(out, e), i + 2, nil
	case 'b':
		return append(out, '\b'), i + 2, nil
	case 'f':
		return append(out, '\f'), i + 2, nil
	case 'n':
		return append(out, '\n'), i + 2, nil
	case 'r':
		return append(out, '\r'), i + 2, nil
	case 't':
		return append(out, '\t'), i + 2, nil
	case 'u':
		r, ok := hex4(s, i+2)
		if !ok {
			return nil, 0, errCanonJSON
		}
		i += 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(-1), false
			if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
				r2, ok = hex4(s, i+2)
			}
			if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
				return utf8.AppendRune(out, dec), i + 6, nil
			}
			r = utf8.RuneError
		}
		return utf8.AppendRune(out, r), i, nil
	}
	return nil, 0, errCanonJSON
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
