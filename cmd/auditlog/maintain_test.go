package main

import (
	"strings"
	"testing"
)

// TestMaintain: policies from flags remove the fixture's entries and print
// each run; a bad policy is a usage error.
func TestMaintain(t *testing.T) {
	dsn, _ := newDB(t)
	r := mustRun(t, "-dsn", dsn, "maintain", "-retention", "*=1h", "-retention", "nothing:update=1h")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "table=nothing action=update keep=1h0m0s: removed 0") ||
		!strings.HasPrefix(lines[1], "table=* action=* keep=1h0m0s: removed 255 ") || !strings.HasSuffix(lines[1], ": ok") {
		t.Errorf("stdout %q", r.stdout)
	}
	if r := runCLI(t, nil, "-dsn", dsn, "maintain", "-retention", "access"); r.code != 2 {
		t.Errorf("bad policy: exit %d, stderr %q", r.code, r.stderr)
	}
}
