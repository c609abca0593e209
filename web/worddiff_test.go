package web

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWordDiff(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           []diffPart
	}{
		{name: "one word", old: "a quick fox", new: "a slow fox",
			want: []diffPart{{0, "a "}, {-1, "quick"}, {1, "slow"}, {0, " fox"}}},
		{name: "insert", old: "a fox", new: "a red fox", want: []diffPart{{0, "a "}, {1, "red "}, {0, "fox"}}},
		{name: "equal", old: "same", new: "same", want: []diffPart{{0, "same"}}},
		{name: "from empty", old: "", new: "new text", want: []diffPart{{1, "new text"}}},
		{name: "too long", old: strings.Repeat("w ", maxDiffWords), new: "x", want: nil},
	}
	for _, tt := range tests {
		got := wordDiff(tt.old, tt.new)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
		var oldText, newText strings.Builder
		for _, p := range got {
			if p.Op <= 0 {
				oldText.WriteString(p.Text)
			}
			if p.Op >= 0 {
				newText.WriteString(p.Text)
			}
		}
		if got != nil && (oldText.String() != tt.old || newText.String() != tt.new) {
			t.Errorf("%s: parts do not rebuild both texts", tt.name)
		}
	}
}

func TestInert(t *testing.T) {
	tests := []struct{ give, want string }{
		{give: "plain <b> text\tand\nlines", want: "plain <b> text\tand\nlines"},
		{give: "\u202egnp.exe", want: "⟨U+202E⟩gnp.exe"},
		{give: "a\u200bb\x00c\x1b", want: "a⟨U+200B⟩b⟨U+0000⟩c⟨U+001B⟩"},
		{give: "\u2066isolate\u2069", want: "⟨U+2066⟩isolate⟨U+2069⟩"},
	}
	for _, tt := range tests {
		if got := inert(tt.give); got != tt.want {
			t.Errorf("inert(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for path, want := range map[string]bool{"/audit": true, "/": true, "//evil.example": false, `/\evil.example`: false, "audit": false, "": false} {
		if got := localPath(path); got != want {
			t.Errorf("localPath(%q) = %v, want %v", path, got, want)
		}
	}
}
