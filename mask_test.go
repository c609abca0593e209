package auditlog

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskString(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "django example", give: "confidential", want: "******ential"},
		{name: "empty", give: "", want: ""},
		{name: "one rune is kept", give: "x", want: "x"},
		{name: "odd length rounds down", give: "abcde", want: "**cde"},
		{name: "multi-byte runes", give: "héllo wörld", want: "***** wörld"},
		{name: "emoji", give: "🔑🔑🔒🔒", want: "**🔒🔒"},
		{name: "combining marks count as runes", give: "e\u0301e\u0301", want: "**e\u0301"},
		{name: "invalid UTF-8 stays valid", give: "ab\xff\xfe", want: "**\uFFFD\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MaskString(tt.give)
			if got != tt.want {
				t.Errorf("MaskString(%q) = %q, want %q", tt.give, got, tt.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("MaskString(%q) = %q is not valid UTF-8", tt.give, got)
			}
		})
	}
}

func FuzzMaskString(f *testing.F) {
	for _, s := range []string{"", "confidential", "héllo", "🔑🔑🔒", "a\x00b", "\xff\xfe\xfd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := MaskString(s)
		if !utf8.ValidString(got) {
			t.Fatalf("MaskString(%q) = %q: not valid UTF-8", s, got)
		}
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(s) {
			t.Fatalf("MaskString(%q) = %q: rune count changed", s, got)
		}
		hide := utf8.RuneCountInString(s) / 2
		if !strings.HasPrefix(got, strings.Repeat("*", hide)) {
			t.Fatalf("MaskString(%q) = %q: first %d runes not hidden", s, got, hide)
		}
		if MaskString(s) != got {
			t.Fatalf("MaskString(%q) is not stable", s)
		}
	})
}
