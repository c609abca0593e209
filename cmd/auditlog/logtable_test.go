package main

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
)

type Sprocket struct {
	ID   int64
	Name string
}

// TestLogTableFlag: the entries of a model registered with
// auditlog.LogTable are read by naming that log table with -table.
func TestLogTableFlag(t *testing.T) {
	dsn, _ := newDB(t)
	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeDB(db) })
	p := auditlog.New()
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Sprocket{}, auditlog.LogTable("sprocket_log")); err != nil {
		t.Fatal(err)
	}
	if err := p.AutoMigrate(db); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&Sprocket{}); err != nil {
		t.Fatal(err)
	}
	s := Sprocket{Name: "a"}
	if err := db.Create(&s).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&s).Update("name", "b").Error; err != nil {
		t.Fatal(err)
	}
	want, err := p.History(context.Background(), db, &s)
	if err != nil || len(want) != 2 {
		t.Fatalf("History: %d entries, %v; want 2", len(want), err)
	}
	r := mustRun(t, "-dsn", dsn, "-table", "sprocket_log", "history", "-model", "sprockets", "-pk", "1", "-format", "json")
	if diff := cmp.Diff(want, decodeLines(t, r.stdout)); diff != "" {
		t.Errorf("history -table sprocket_log (-want +got):\n%s", diff)
	}
	r = mustRun(t, "-dsn", dsn, "-table", "sprocket_log", "export", "-model", "sprockets")
	if diff := cmp.Diff([]int64{1, 2}, ids(decodeLines(t, r.stdout))); diff != "" { // oldest first
		t.Errorf("export -table sprocket_log (-want +got):\n%s", diff)
	}
}
