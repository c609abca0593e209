package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
)

type Basket struct {
	ID    int64
	Owner string
}

type BasketItem struct {
	ID       int64
	BasketID int64
	Basket   *Basket
	SKU      string
}

// TestHistoryChildren: history -children lists a parent's entries and its
// children's (auditlog.Parent), the table naming each entry's object.
func TestHistoryChildren(t *testing.T) {
	dsn, _ := newDB(t)
	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeDB(db) })
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	p := auditlog.New(auditlog.WithClock(func() time.Time { at = at.Add(time.Second); return at }))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Basket{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&BasketItem{}, auditlog.Parent("Basket")); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&Basket{}, &BasketItem{}); err != nil {
		t.Fatal(err)
	}
	// The fixture's entries come first (IDs 1..); ours follow.
	for _, step := range []func() error{
		func() error { return db.Create(&Basket{Owner: "ann"}).Error },
		func() error { return db.Create(&BasketItem{BasketID: 1, SKU: "pen"}).Error },
		func() error { return db.Model(&BasketItem{ID: 1}).Update("sku", "ink").Error },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	r := mustRun(t, "-dsn", dsn, "history", "-model", "baskets", "-pk", "1", "-children")
	golden(t, r.stdout)
	want, err := p.History(context.Background(), db, &Basket{ID: 1}, auditlog.WithChildren())
	if err != nil || len(want) != 3 {
		t.Fatalf("History: %d entries, %v; want 3", len(want), err)
	}
	r = mustRun(t, "-dsn", dsn, "history", "-model", "baskets", "-pk", "1", "-children", "-format", "json", "-page-size", "1")
	if diff := cmp.Diff(want, decodeLines(t, r.stdout)); diff != "" {
		t.Errorf("history -children -format json (-want +got):\n%s", diff)
	}
}
