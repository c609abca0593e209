package auditlog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// blockedFor is how long a test waits to see that a writer is blocked.
const blockedFor = 300 * time.Millisecond

// awaitBlocked fails the test if done delivers within blockedFor: the
// goroutine behind it was expected to wait for a lock.
func awaitBlocked(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s did not wait for the row lock (returned %v)", what, err)
	case <-time.After(blockedFor):
	}
}

// awaitDone returns what done delivers, failing the test after 30 seconds.
func awaitDone(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still waits after 30s", what)
		return nil
	}
}

// TestRestoreHoldsRowLock (issue 16, item 6): Undo and Revert lock the row
// in their transaction, so a writer on a second connection waits until it
// ends, and the history stays continuous: the writer's old value is the
// restored one.
func TestRestoreHoldsRowLock(t *testing.T) {
	restores := []struct {
		name string
		run  func(p *Plugin) func(context.Context, *gorm.DB, any, int64) error
		data string
	}{
		{"undo", func(p *Plugin) func(context.Context, *gorm.DB, any, int64) error { return p.Undo }, DataUndoOf},
		{"revert", func(p *Plugin) func(context.Context, *gorm.DB, any, int64) error { return p.Revert }, DataRevertOf},
	}
	for _, rs := range restores {
		t.Run(rs.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *gorm.DB) {
				p := stateSetup(t, db)
				item := Item{Name: "pen", Qty: 1}
				runSteps(t,
					func() error { return db.Create(&item).Error },
					func() error { return db.Model(&item).Update("qty", 5).Error },
				)
				_, ids := entryTimes(t, p, db, &item)

				tx := db.Begin()
				if err := rs.run(p)(context.Background(), tx, &Item{ID: item.ID}, ids[1]); err != nil {
					tx.Rollback()
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- db.Model(&Item{ID: item.ID}).Update("qty", 9).Error }()
				awaitBlocked(t, done, "a writer during "+rs.name)
				if err := tx.Commit().Error; err != nil {
					t.Fatal(err)
				}
				if err := awaitDone(t, done, "the writer"); err != nil {
					t.Fatalf("writer: %v", err)
				}
				entries := allEntries(t, db)
				want := []summary{
					{ActionCreate, "1", Changes{"name": {nil, "pen"}, "qty": {nil, num("1")}, "secret": {nil, ""}}},
					{ActionUpdate, "1", Changes{"qty": {num("1"), num("5")}}},
					{ActionUpdate, "1", Changes{"qty": {num("5"), num("1")}}},
					{ActionUpdate, "1", Changes{"qty": {num("1"), num("9")}}},
				}
				if diff := cmp.Diff(want, summarize(entries)); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
				if got := entries[2].Data[rs.data]; got != num(itoa(ids[1])) {
					t.Errorf("%s entry's data %v, want %s: %d", rs.name, entries[2].Data, rs.data, ids[1])
				}
			})
		})
	}
}

// TestUndoWaitsAndSeesConflict (issue 16, items 6 and 14): a writer on a
// second connection holds the row changed and uncommitted; Undo waits for
// its lock, then sees the committed value and refuses with ErrConflict,
// writing nothing. (Read without the lock, the old value passed the check
// and the writer's change was overwritten.)
func TestUndoWaitsAndSeesConflict(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		item := Item{Name: "pen", Qty: 1}
		runSteps(t,
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("qty", 5).Error },
		)
		_, ids := entryTimes(t, p, db, &item)

		writer := db.Begin()
		if err := writer.Model(&Item{ID: item.ID}).Update("qty", 7).Error; err != nil {
			writer.Rollback()
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.Undo(context.Background(), db, &Item{ID: item.ID}, ids[1]) }()
		awaitBlocked(t, done, "Undo")
		if err := writer.Commit().Error; err != nil {
			t.Fatal(err)
		}
		err := awaitDone(t, done, "Undo")
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "Item.Qty of 1 is 7 now") {
			t.Fatalf("Undo after a concurrent change: %v, want ErrConflict naming qty", err)
		}
		want := []summary{
			{ActionCreate, "1", Changes{"name": {nil, "pen"}, "qty": {nil, num("1")}, "secret": {nil, ""}}},
			{ActionUpdate, "1", Changes{"qty": {num("1"), num("5")}}},
			{ActionUpdate, "1", Changes{"qty": {num("5"), num("7")}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		var row Item
		if err := db.First(&row, item.ID).Error; err != nil || row.Qty != 7 {
			t.Errorf("row: qty %d (%v), want the writer's 7", row.Qty, err)
		}
	})
}

// TestRevertWaitsAndSeesMaskedChange (issue 16, item 6): a concurrent
// change of a masked field, committed while Revert waits for the row lock,
// makes Revert fail with ErrMaskedField instead of slipping past the check.
func TestRevertWaitsAndSeesMaskedChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		item := Item{Name: "pen", Qty: 1, Secret: "confidential"}
		runSteps(t,
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("name", "pencil").Error },
		)
		_, ids := entryTimes(t, p, db, &item)

		writer := db.Begin()
		if err := writer.Model(&Item{ID: item.ID}).Updates(map[string]any{"secret": "other-secret", "qty": 3}).Error; err != nil {
			writer.Rollback()
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.Revert(context.Background(), db, &Item{ID: item.ID}, ids[1]) }()
		awaitBlocked(t, done, "Revert")
		if err := writer.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if err := awaitDone(t, done, "Revert"); !errors.Is(err, ErrMaskedField) {
			t.Fatalf("Revert after a concurrent masked change: %v, want ErrMaskedField", err)
		}
		entries := allEntries(t, db)
		if len(entries) != 3 {
			t.Errorf("%d entries, want 3 (no revert entry): %v", len(entries), summarize(entries))
		}
		var row Item
		if err := db.First(&row, item.ID).Error; err != nil || row.Name != "pencil" || row.Qty != 3 || row.Secret != "other-secret" {
			t.Errorf("row %+v (%v), want the writer's", row, err)
		}
	})
}
