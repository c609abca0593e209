package auditlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Gadget is registered with Serialize: its entries carry snapshots.
type Gadget struct {
	ID    int64
	Name  string `gorm:"size:50"`
	Color string `gorm:"size:50"`
}

// stateSetup registers Item (name, qty, secret masked, deleted_at) and
// Gadget (snapshots) with a clock that ticks a second per operation.
func stateSetup(t *testing.T, db *gorm.DB) *Plugin {
	t.Helper()
	p := New(WithClock(tickingClock()))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}, &Item{}, &Gadget{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Item{}, Include("Name", "Qty", "Secret", "DeletedAt"), Mask("Secret")); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Gadget{}, Serialize()); err != nil {
		t.Fatal(err)
	}
	return p
}

// entryTimes returns the CreatedAt of obj's entries, oldest first.
func entryTimes(t *testing.T, p *Plugin, db *gorm.DB, obj any) ([]time.Time, []int64) {
	t.Helper()
	entries, err := p.History(context.Background(), db, obj)
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	var ids []int64
	for i := len(entries) - 1; i >= 0; i-- {
		times = append(times, entries[i].CreatedAt)
		ids = append(ids, entries[i].ID)
	}
	return times, ids
}

func TestStateAt(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		ctx := context.Background()
		item := Item{Name: "pen", Qty: 1, Secret: "confidential"}
		gone := Item{Name: "ink", Qty: 2}
		steps := []func() error{
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("name", "pencil").Error },
			func() error {
				return db.Model(&Item{}).Where("id = ?", item.ID).Update("qty", gorm.Expr("qty + 4")).Error
			},
			func() error { return db.Delete(&item).Error },
			func() error { return db.Create(&gone).Error },
			func() error { return db.Unscoped().Delete(&gone).Error },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		times, _ := entryTimes(t, p, db, &Item{ID: item.ID})
		if len(times) != 4 {
			t.Fatalf("%d entries for item 1, want 4", len(times))
		}
		created := map[string]any{"name": "pen", "qty": num("1"), "secret": "******ential", "deleted_at": nil}
		renamed := map[string]any{"name": "pencil", "qty": num("1"), "secret": "******ential", "deleted_at": nil}
		more := map[string]any{"name": "pencil", "qty": num("5"), "secret": "******ential", "deleted_at": nil}
		tests := []struct {
			name string
			obj  any
			at   time.Time
			want map[string]any
			err  error
		}{
			{name: "before creation", obj: &Item{ID: item.ID}, at: times[0].Add(-time.Second), err: ErrNoState},
			{name: "at creation", obj: &Item{ID: item.ID}, at: times[0], want: created},
			{name: "between entries", obj: &Item{ID: item.ID}, at: times[1].Add(time.Second / 2), want: renamed},
			{name: "after an expression update", obj: &Item{ID: item.ID}, at: times[2], want: more},
			{name: "soft-deleted", obj: &Item{ID: item.ID}, at: times[3].Add(time.Hour), want: nil},
			{name: "hard-deleted: before", obj: &Item{ID: gone.ID}, at: times[3].Add(time.Second),
				want: map[string]any{"name": "ink", "qty": num("2"), "secret": "", "deleted_at": nil}},
			{name: "hard-deleted: after", obj: &Item{ID: gone.ID}, at: times[3].Add(time.Hour), err: ErrNoState},
			{name: "never written", obj: &Item{ID: 999}, at: times[3], err: ErrNoState},
			{name: "no key", obj: &Item{}, at: times[3], err: ErrNoObjectKey},
		}
		for _, tt := range tests {
			got, err := p.StateAt(ctx, db, tt.obj, tt.at)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			if tt.want == nil { // soft-deleted: deleted_at is a time
				if _, ok := got["deleted_at"].(string); !ok || got["name"] != "pencil" {
					t.Errorf("%s: %v, want pencil with deleted_at set", tt.name, got)
				}
				continue
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

// TestStateAtSnapshots checks that snapshots give the whole state even when
// earlier entries are gone (purged).
func TestStateAtSnapshots(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		g := Gadget{Name: "dial", Color: "red"}
		if err := db.Create(&g).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&g).Update("color", "blue").Error; err != nil {
			t.Fatal(err)
		}
		times, ids := entryTimes(t, p, db, &g)
		if err := db.Exec("DELETE FROM audit_log_entries WHERE id = ?", ids[0]).Error; err != nil {
			t.Fatal(err)
		}
		got, err := p.StateAt(context.Background(), db, &Gadget{ID: g.ID}, times[1])
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"id": num("1"), "name": "dial", "color": "blue"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("state (-want +got):\n%s", diff)
		}
	})
}

func TestRevert(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		ctx := context.Background()
		item := Item{Name: "pen", Qty: 1, Secret: "confidential"}
		steps := []func() error{
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("name", "pencil").Error },
			func() error { return db.Model(&item).Update("qty", 5).Error },
			func() error { return db.Delete(&item).Error },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		_, ids := entryTimes(t, p, db, &item)

		// Back to before the rename: name, qty and the deletion undone, in
		// one audited update.
		target := Item{ID: item.ID}
		if err := p.Revert(WithActor(ctx, "admin"), db, &target, ids[1]); err != nil {
			t.Fatal(err)
		}
		var row Item
		if err := db.First(&row, item.ID).Error; err != nil {
			t.Fatalf("reverted row is not visible: %v", err)
		}
		if row.Name != "pen" || row.Qty != 1 || row.Secret != "confidential" {
			t.Errorf("row after revert: %+v", row)
		}
		entries, err := p.History(ctx, db, &item)
		if err != nil {
			t.Fatal(err)
		}
		last := entries[0]
		if last.Action != ActionUpdate || last.ActorID != "admin" {
			t.Errorf("revert entry: %s by %q", last.Action, last.ActorID)
		}
		if diff := cmp.Diff(JSONMap{DataRevertOf: num(itoa(ids[1]))}, last.Data); diff != "" {
			t.Errorf("revert entry's data (-want +got):\n%s", diff)
		}
		del := last.Changes["deleted_at"]
		if _, ok := del.Old.(string); !ok || del.New != nil {
			t.Errorf("deleted_at change %v, want time → null", del)
		}
		delete(last.Changes, "deleted_at")
		want := Changes{"name": {"pencil", "pen"}, "qty": {num("5"), num("1")}}
		if diff := cmp.Diff(want, last.Changes); diff != "" {
			t.Errorf("revert changes (-want +got):\n%s", diff)
		}

		// Reverting again changes nothing and writes nothing.
		if err := p.Revert(ctx, db, &Item{ID: item.ID}, ids[1]); err != nil {
			t.Fatal(err)
		}
		if again, _ := p.History(ctx, db, &item); len(again) != len(entries) {
			t.Errorf("%d entries after a no-op revert, want %d", len(again), len(entries))
		}

		// A masked field that changed since cannot be restored.
		if err := db.Model(&Item{ID: item.ID}).Update("secret", "new-secret-value").Error; err != nil {
			t.Fatal(err)
		}
		_, ids = entryTimes(t, p, db, &item)
		if err := p.Revert(ctx, db, &Item{ID: item.ID}, ids[len(ids)-1]); !errors.Is(err, ErrMaskedField) {
			t.Errorf("revert of a masked change: %v, want ErrMaskedField", err)
		}

		errs := []struct {
			name string
			obj  any
			id   int64
			want error
		}{
			{name: "the create entry", obj: &Item{ID: item.ID}, id: ids[0], want: ErrNoState},
			{name: "another object's entry", obj: &Item{ID: 999}, id: ids[1], want: ErrEntryNotFound},
			{name: "unknown entry", obj: &Item{ID: item.ID}, id: -5, want: ErrEntryNotFound},
			{name: "unregistered model", obj: &Note{ID: 1}, id: ids[1], want: ErrNotRegistered},
		}
		for _, tt := range errs {
			if err := p.Revert(ctx, db, tt.obj, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}

		// A hard-deleted object has no row to revert.
		if err := db.Unscoped().Delete(&Item{ID: item.ID}).Error; err != nil {
			t.Fatal(err)
		}
		if err := p.Revert(ctx, db, &Item{ID: item.ID}, ids[1]); !errors.Is(err, ErrNoState) {
			t.Errorf("revert of a hard-deleted object: %v, want ErrNoState", err)
		}
	})
}
