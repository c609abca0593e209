package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestHistoryDisplay: the table and the JSON lines keep null, "" and "null"
// apart, quote and escape strings, show JSON objects key by key, the zero
// time as stored, sub-second times and the correlation id; the table cuts
// long values unless -max-len 0.
func TestHistoryDisplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd.db")
	db, err := openDB(sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeDB(db) })
	if err := db.AutoMigrate(&auditlog.LogEntry{}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 4, 34, 1, 0, time.UTC)
	entries := []auditlog.LogEntry{
		{Table: "orders", ObjectPK: "42", ObjectRepr: "Order(42)", Action: auditlog.ActionCreate, Changes: auditlog.Changes{
			"status":   {Old: nil, New: "active"},
			"note":     {Old: nil, New: ""},
			"total":    {Old: nil, New: json.Number("12500.50")},
			"settings": {Old: nil, New: map[string]any{"theme": "dark", "old": true}},
			"due_at":   {Old: nil, New: "0001-01-01T00:00:00Z"},
		}, ActorID: "alice", CID: "req-7f3a", CreatedAt: at.Add(100 * time.Millisecond)},
		{Table: "orders", ObjectPK: "42", ObjectRepr: "Order(42)", Action: auditlog.ActionUpdate, Changes: auditlog.Changes{
			"status":   {Old: "active", New: nil},
			"note":     {Old: "", New: "null"},
			"title":    {Old: `say "hi" <b>`, New: "line 1\nline 2\ttab"},
			"remark":   {Old: "x; qty: 1 → 2", New: "x"},
			"settings": {Old: map[string]any{"theme": "dark", "old": true}, New: map[string]any{"theme": "light", "beta": nil}},
			"body":     {Old: nil, New: strings.Repeat("0123456789", 10)},
		}, ActorID: "bob", RemoteAddr: "203.0.113.9", CID: "req-7f3a", CreatedAt: at.Add(250*time.Millisecond + 7*time.Microsecond)},
		{Table: "orders", ObjectPK: "42", ObjectRepr: "Order(42)", Action: "order.viewed", CreatedAt: at.Add(time.Second)},
	}
	if err := db.Create(&entries).Error; err != nil {
		t.Fatal(err)
	}
	dsn := sqliteDSN(path)
	tests := []struct {
		name string
		args []string
	}{
		{"table", nil},
		{"table_whole_values", []string{"-max-len", "0"}},
		{"table_cut_at_10", []string{"-max-len", "10"}},
		{"json", []string{"-format", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, append([]string{"-dsn", dsn, "history", "-model", "orders", "-pk", "42"}, tt.args...)...)
			golden(t, r.stdout)
		})
	}
	// export writes the same JSON lines, oldest first.
	hist := mustRun(t, "-dsn", dsn, "history", "-model", "orders", "-pk", "42", "-format", "json")
	exp := mustRun(t, "-dsn", dsn, "export", "-model", "orders", "-oldest=false", "-quiet")
	if diff := cmp.Diff(hist.stdout, exp.stdout); diff != "" {
		t.Errorf("export -oldest=false differs from history -format json (-want +got):\n%s", diff)
	}
}
