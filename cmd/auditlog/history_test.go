package main

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
)

func TestHistoryTable(t *testing.T) {
	dsn, _ := newDB(t)
	tests := []struct {
		name string
		args []string
	}{
		{"item1", []string{"-model", "items", "-pk", "1"}},
		{"item2", []string{"-model", "items", "-pk", "2"}},
		{"bulk", []string{"-model", "items", "-pk", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, append([]string{"-dsn", dsn, "history"}, tt.args...)...)
			if r.stderr != "" {
				t.Errorf("stderr: %s", r.stderr)
			}
			golden(t, r.stdout)
			// Reading one entry a page gives the same output.
			paged := mustRun(t, append([]string{"-dsn", dsn, "history", "-page-size", "1"}, tt.args...)...)
			if diff := cmp.Diff(r.stdout, paged.stdout); diff != "" {
				t.Errorf("with -page-size 1 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryJSON(t *testing.T) {
	dsn, _ := newDB(t)
	r := mustRun(t, "-dsn", dsn, "history", "-model", "items", "-pk", "1", "-format", "json", "-page-size", "2")
	got := decodeLines(t, r.stdout)

	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeDB(db) })
	want, err := auditlog.New().History(context.Background(), db, &Item{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("fixture: item 1 has %d entries, want 3", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history -format json (-want +got):\n%s", diff)
	}
}

// A model whose table is gone still has its history.
func TestHistoryDroppedTable(t *testing.T) {
	dsn, _ := newDB(t)
	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Migrator().DropTable("items")
	closeDB(db)
	if err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, "-dsn", dsn, "history", "-model", "items", "-pk", "2", "-format", "json")
	if got, want := ids(decodeLines(t, r.stdout)), []int64{5, 3}; !slices.Equal(got, want) {
		t.Errorf("IDs = %v, want %v", got, want)
	}
}
