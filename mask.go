package auditlog

import (
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
