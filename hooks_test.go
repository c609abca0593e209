package auditlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// setupWith is setup with plugin options.
func setupWith(t *testing.T, db *gorm.DB, opts []Option, models []any, modelOpts ...ModelOption) *Plugin {
	t.Helper()
	p := New(append([]Option{WithClock(func() time.Time { return testNow })}, opts...)...)
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(append([]any{&LogEntry{}}, models...)...); err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		if err := p.Register(m, modelOpts...); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestBeforeLogEnriches checks that a hook's changes to an entry are stored,
// and that clear values of masked fields it adds are masked.
func TestBeforeLogEnriches(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		hook := func(ctx context.Context, e *LogEntry) error {
			if e.Data == nil {
				e.Data = JSONMap{}
			}
			e.Data["tenant"] = "acme"
			e.Data["leak"] = "secret is confidential"
			e.ObjectRepr = "item with confidential"
			return nil
		}
		setupWith(t, db, []Option{BeforeLog(hook)}, []any{&Item{}}, Mask("Secret"))
		if err := db.Create(&Item{Name: "pen", Secret: "confidential"}).Error; err != nil {
			t.Fatal(err)
		}
		entries := allEntries(t, db)
		if len(entries) != 1 {
			t.Fatalf("%d entries, want 1", len(entries))
		}
		want := JSONMap{"tenant": "acme", "leak": "secret is ******ential"}
		if diff := cmp.Diff(want, entries[0].Data); diff != "" {
			t.Errorf("data (-want +got):\n%s", diff)
		}
		if got := entries[0].ObjectRepr; got != "Item(1)" {
			t.Errorf("repr %q, want Item(1)", got)
		}
	})
}

// TestBeforeLogVeto checks ErrSkipEntry on every write path: the change
// commits, the vetoed entries are not written, the others are.
func TestBeforeLogVeto(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		veto := func(ctx context.Context, e *LogEntry) error {
			if e.ObjectPK == "2" {
				return fmt.Errorf("item 2 is not audited: %w", ErrSkipEntry)
			}
			return nil
		}
		setupWith(t, db, []Option{BeforeLog(veto)}, []any{&Item{}})
		items := []Item{{Name: "a"}, {Name: "b"}, {Name: "c"}}
		if err := db.Create(&items).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&Item{}).Where("id > 0").Update("qty", 5).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Where("id IN ?", []int{1, 2}).Delete(&Item{}).Error; err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range allEntries(t, db) {
			got = append(got, string(e.Action)+" "+e.ObjectPK)
		}
		want := []string{"create 1", "create 3", "update 1", "update 3", "delete 1"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		var n int64
		db.Model(&Item{}).Where("qty = 5").Count(&n)
		if n != 1 { // items 1 and 2 are soft-deleted
			t.Errorf("%d rows updated and not deleted, want 1: the vetoed change did not commit", n)
		}
	})
}

// TestBeforeLogError checks that any other hook error fails the change on
// every write path and in Log.
func TestBeforeLogError(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		errHook := errors.New("hook refused")
		fail := false
		hook := func(ctx context.Context, e *LogEntry) error {
			if fail {
				return errHook
			}
			return nil
		}
		p := setupWith(t, db, []Option{BeforeLog(hook)}, []any{&Item{}})
		item := Item{Name: "pen", Qty: 1}
		if err := db.Create(&item).Error; err != nil {
			t.Fatal(err)
		}
		fail = true
		writes := map[string]func() error{
			"create": func() error { return db.Create(&Item{Name: "new"}).Error },
			"update": func() error { return db.Model(&Item{ID: item.ID}).Update("qty", 9).Error },
			"delete": func() error { return db.Delete(&Item{ID: item.ID}).Error },
			"log":    func() error { return p.Log(context.Background(), db, &item, ActionAccess, nil) },
		}
		for name, write := range writes {
			if err := write(); !errors.Is(err, errHook) {
				t.Errorf("%s: %v, want the hook's error", name, err)
			}
		}
		var rows []Item
		if err := db.Unscoped().Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Qty != 1 || rows[0].DeletedAt.Valid {
			t.Errorf("rows after failed writes: %+v, want item 1 unchanged", rows)
		}
		if n := len(allEntries(t, db)); n != 1 {
			t.Errorf("%d entries, want only the first create", n)
		}
	})
}

// TestAfterLog checks that AfterLog sees every written entry and none of the
// vetoed ones.
func TestAfterLog(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		var mu sync.Mutex
		var seen []string
		after := func(ctx context.Context, e *LogEntry) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, fmt.Sprintf("%s %s %s", e.Action, e.ObjectPK, ActorFrom(ctx)))
		}
		skipUpdates := func(ctx context.Context, e *LogEntry) error {
			if e.Action == ActionUpdate {
				return ErrSkipEntry
			}
			return nil
		}
		p := setupWith(t, db, []Option{BeforeLog(skipUpdates), AfterLog(after)}, []any{&Item{}})
		ctx := WithActor(context.Background(), "alice")
		tx := db.WithContext(ctx)
		items := []Item{{Name: "a"}, {Name: "b"}}
		if err := tx.Create(&items).Error; err != nil {
			t.Fatal(err)
		}
		if err := tx.Model(&items[0]).Update("qty", 3).Error; err != nil {
			t.Fatal(err)
		}
		if err := p.LogAccess(ctx, db, &items[1]); err != nil {
			t.Fatal(err)
		}
		want := []string{"create 1 alice", "create 2 alice", "access 2 alice"}
		if diff := cmp.Diff(want, seen); diff != "" {
			t.Errorf("AfterLog saw (-want +got):\n%s", diff)
		}
	})
}
