package main

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
)

func TestExport(t *testing.T) {
	dsn, _ := newDB(t)
	tests := []struct {
		name       string
		args       []string
		wantIDs    []int64
		wantStderr string
	}{
		{
			name:    "everything oldest first",
			args:    []string{"-quiet"},
			wantIDs: idRange(1, 255),
		},
		{
			name:    "pages of 7 with progress every 10 pages",
			args:    []string{"-actor", "importer", "-page-size", "7"},
			wantIDs: idRange(6, 255),
			wantStderr: "exported 70 entries\nexported 140 entries\nexported 210 entries\n" +
				"exported 250 entries\n",
		},
		{
			name:       "newest first by correlation id",
			args:       []string{"-cid", "bulk-1", "-oldest=false", "-page-size", "100"},
			wantIDs:    idRange(255, 6),
			wantStderr: "exported 250 entries\n",
		},
		{
			name:       "model and action",
			args:       []string{"-model", "items", "-action", "update", "-action", "delete", "-quiet"},
			wantIDs:    []int64{2, 4, 5},
			wantStderr: "",
		},
		{
			name:    "a changed column of a model",
			args:    []string{"-model", "items", "-field", "status", "-quiet"},
			wantIDs: append([]int64{1, 2, 3}, idRange(5, 255)...), // 4 changed only the name
		},
		{
			name:    "actors",
			args:    []string{"-actor", "alice", "-actor", "carol", "-quiet"},
			wantIDs: []int64{1, 3, 5},
		},
		{
			name:    "time window, RFC 3339",
			args:    []string{"-since", "2026-01-10T00:10:00Z", "-until", "2026-01-10T01:20:00+01:00", "-quiet"},
			wantIDs: idRange(16, 25),
		},
		{
			name:    "until a date",
			args:    []string{"-until", "2026-01-06", "-quiet"},
			wantIDs: idRange(1, 5),
		},
		{
			name:       "nothing",
			args:       []string{"-cid", "no-such-cid"},
			wantIDs:    nil,
			wantStderr: "exported 0 entries\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, append([]string{"-dsn", dsn, "export"}, tt.args...)...)
			entries := decodeLines(t, r.stdout)
			if diff := cmp.Diff(tt.wantIDs, ids(entries)); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStderr, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

// An exported entry carries every field of the LogEntry.
func TestExportEntry(t *testing.T) {
	dsn, _ := newDB(t)
	r := mustRun(t, "-dsn", dsn, "export", "-cid", "setup", "-quiet")
	got := decodeLines(t, r.stdout)
	want := []auditlog.LogEntry{{
		ID: 1, Table: "items", ObjectPK: "1", ObjectRepr: "Item(1)", Action: auditlog.ActionCreate,
		Changes: auditlog.Changes{
			"id":     {Old: nil, New: json.Number("1")},
			"name":   {Old: nil, New: "widget"},
			"qty":    {Old: nil, New: json.Number("5")},
			"status": {Old: nil, New: "draft"},
		},
		ActorID: "alice", CID: "setup", CreatedAt: day1,
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
}
