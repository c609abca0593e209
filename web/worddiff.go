package web

import (
	"strings"
	"unicode"
)

// diffPart is a run of words of a word-level diff: in both texts (Op 0),
// only the old one (Op -1, deleted) or only the new one (Op 1, inserted).
type diffPart struct {
	Op   int
	Text string
}

// Del and Ins say how to show the part.
func (d diffPart) Del() bool { return d.Op < 0 }
func (d diffPart) Ins() bool { return d.Op > 0 }

// maxDiffWords bounds the words of each side a word diff compares: its
// cost is their product in time and memory.
const maxDiffWords = 600

// wordDiff is the word-level diff of two texts, from their longest common
// subsequence of words (runs of non-space and of space); nil when a side has
// more than maxDiffWords words.
func wordDiff(old, new string) []diffPart {
	a, b := words(old), words(new)
	if len(a) > maxDiffWords || len(b) > maxDiffWords {
		return nil
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:]
	// and b[j:], in one flat slice.
	w := len(b) + 1
	lcs := make([]int32, (len(a)+1)*w)
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var parts []diffPart
	add := func(op int, s string) {
		if n := len(parts); n > 0 && parts[n-1].Op == op {
			parts[n-1].Text += s
			return
		}
		parts = append(parts, diffPart{Op: op, Text: s})
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			add(0, a[i])
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
			add(-1, a[i])
			i++
		default:
			add(1, b[j])
			j++
		}
	}
	return parts
}

// words splits s into runs of space and runs of other characters; joined,
// they are s.
func words(s string) []string {
	var out []string
	start, space := 0, false
	for i, r := range s {
		if sp := unicode.IsSpace(r); i == 0 || sp != space {
			if i > start {
				out = append(out, s[start:i])
				start = i
			}
			space = sp
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// longText reports whether a change's values deserve a word diff: both are
// strings (JSON text in quotes) and one is long.
func longText(old, new string) bool {
	const long = 60
	return strings.HasPrefix(old, `"`) && strings.HasPrefix(new, `"`) && (len(old) > long || len(new) > long)
}
