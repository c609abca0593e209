package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPurge(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStdout string
		wantStderr string
		wantLeft   []int64 // IDs left afterwards
	}{
		{
			name:       "before a date",
			args:       []string{"-before", "2026-01-06"},
			wantStdout: "purged 5 entries\n",
			wantStderr: "purged 5 entries so far\n",
			wantLeft:   idRange(6, 255),
		},
		{
			name:       "models and actions in batches",
			args:       []string{"-before", "2026-01-11", "-model", "items", "-model", "items", "-action", "update", "-action", "delete", "-batch", "1"},
			wantStdout: "purged 3 entries\n",
			wantStderr: "purged 1 entries so far\npurged 2 entries so far\npurged 3 entries so far\n",
			wantLeft:   append([]int64{1, 3}, idRange(6, 255)...),
		},
		{
			name:       "quiet",
			args:       []string{"-before", "2026-01-10T00:05:00Z", "-quiet", "-batch", "2"},
			wantStdout: "purged 10 entries\n",
			wantLeft:   idRange(11, 255),
		},
		{
			name:       "nothing to purge",
			args:       []string{"-before", "2025-01-01"},
			wantStdout: "purged 0 entries\n",
			wantLeft:   idRange(1, 255),
		},
		{
			name:       "dry run",
			args:       []string{"-before", "2026-01-10T00:05:00Z", "-dry-run"},
			wantStdout: "would purge 10 entries\n",
			wantLeft:   idRange(1, 255),
		},
		{
			name:       "dry run of models and actions",
			args:       []string{"-before", "2026-01-11", "-model", "items", "-action", "create", "-dry-run"},
			wantStdout: "would purge 252 entries\n",
			wantLeft:   idRange(1, 255),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, _ := newDB(t)
			r := mustRun(t, append([]string{"-dsn", dsn, "purge"}, tt.args...)...)
			if diff := cmp.Diff(tt.wantStdout, r.stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStderr, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			left := mustRun(t, "-dsn", dsn, "export", "-quiet")
			if diff := cmp.Diff(tt.wantLeft, ids(decodeLines(t, left.stdout))); diff != "" {
				t.Errorf("entries left (-want +got):\n%s", diff)
			}
		})
	}
}

// After a purge, history shows what is left.
func TestPurgeThenHistory(t *testing.T) {
	dsn, _ := newDB(t)
	mustRun(t, "-dsn", dsn, "purge", "-before", "2026-01-05T10:30:00Z", "-quiet")
	r := mustRun(t, "-dsn", dsn, "history", "-model", "items", "-pk", "1", "-format", "json")
	if got, want := ids(decodeLines(t, r.stdout)), []int64{4}; !slices.Equal(got, want) {
		t.Errorf("history after purge: IDs %v, want %v", got, want)
	}
	mustRun(t, "-dsn", dsn, "purge", "-before", "2026-01-06", "-quiet")
	r = mustRun(t, "-dsn", dsn, "history", "-model", "items", "-pk", "1")
	if want := "ID  TIME  ACTION  ACTOR  CID  CHANGES\n"; r.stdout != want {
		t.Errorf("history of a purged object: stdout %q, want %q", r.stdout, want)
	}
	if want := "no entries for items 1"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not contain %q", r.stderr, want)
	}
}
