package auditlog

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// lastEntry returns obj's newest entry and the number of its entries.
func lastEntry(t *testing.T, p *Plugin, db *gorm.DB, obj any) (LogEntry, int) {
	t.Helper()
	entries, err := p.History(context.Background(), db, obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no entries")
	}
	return entries[0], len(entries)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// runSteps runs writes in order and fails the test at the first error.
func runSteps(t *testing.T, steps ...func() error) {
	t.Helper()
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

// TestUndo (issue 16, item 14): Undo reverses only the fields one entry
// changed, refuses when one of them changed since, and its entry names the
// entry it undid.
func TestUndo(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		ctx := WithActor(context.Background(), "admin")
		if err := p.DefineAction("item.checked", "Checked", "{actor} checked {object}"); err != nil {
			t.Fatal(err)
		}
		item := Item{Name: "pen", Qty: 1, Secret: "confidential"}
		runSteps(t,
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("name", "pencil").Error },
			func() error { return db.Model(&item).Update("qty", 5).Error },
			func() error { return db.Model(&item).Update("name", "marker").Error },
		)
		_, ids := entryTimes(t, p, db, &item)

		// The quantity change alone is reversed; the later rename stays.
		target := Item{ID: item.ID}
		if err := p.Undo(ctx, db, &target, ids[2]); err != nil {
			t.Fatal(err)
		}
		if target.Qty != 1 {
			t.Errorf("obj after undo: qty %d, want 1", target.Qty)
		}
		var row Item
		if err := db.First(&row, item.ID).Error; err != nil {
			t.Fatal(err)
		}
		if row.Name != "marker" || row.Qty != 1 {
			t.Errorf("row after undo: %s × %d, want marker × 1", row.Name, row.Qty)
		}
		last, n := lastEntry(t, p, db, &item)
		want := summary{ActionUpdate, "1", Changes{"qty": {num("5"), num("1")}}}
		if diff := cmp.Diff(want, summarize([]LogEntry{last})[0]); diff != "" {
			t.Errorf("undo entry (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(JSONMap{DataUndoOf: num(itoa(ids[2]))}, last.Data); diff != "" || last.ActorID != "admin" {
			t.Errorf("undo entry by %q, data (-want +got):\n%s", last.ActorID, diff)
		}

		// The first rename was overwritten by the second: a conflict.
		err := p.Undo(ctx, db, &Item{ID: item.ID}, ids[1])
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `Item.Name of 1 is "marker" now, entry `+itoa(ids[1])+` set it to "pencil"`) {
			t.Errorf("undo of an overwritten rename: %v, want ErrConflict naming the field", err)
		}
		// Undoing the same entry twice is a conflict too.
		if err := p.Undo(ctx, db, &Item{ID: item.ID}, ids[2]); !errors.Is(err, ErrConflict) {
			t.Errorf("second undo: %v, want ErrConflict", err)
		}
		if _, again := lastEntry(t, p, db, &item); again != n {
			t.Errorf("%d entries after refused undos, want %d", again, n)
		}

		// A masked change cannot be undone; a soft delete can.
		if err := p.Log(ctx, db, &Item{ID: item.ID}, "item.checked", nil); err != nil {
			t.Fatal(err)
		}
		runSteps(t,
			func() error { return db.Model(&Item{ID: item.ID}).Update("secret", "new-secret-value").Error },
			func() error { return db.Delete(&Item{ID: item.ID}).Error },
		)
		_, ids = entryTimes(t, p, db, &item)
		secretID, deleteID, checkedID := ids[len(ids)-2], ids[len(ids)-1], ids[len(ids)-3]
		if err := p.Undo(ctx, db, &Item{ID: item.ID}, secretID); !errors.Is(err, ErrMaskedField) {
			t.Errorf("undo of a masked change: %v, want ErrMaskedField", err)
		}
		if err := p.Undo(ctx, db, &Item{ID: item.ID}, deleteID); err != nil {
			t.Fatalf("undo of a soft delete: %v", err)
		}
		if err := db.First(&row, item.ID).Error; err != nil {
			t.Errorf("row after undoing its soft delete: %v", err)
		}
		last, _ = lastEntry(t, p, db, &item)
		if del := last.Changes["deleted_at"]; len(last.Changes) != 1 || del.New != nil || del.Old == nil {
			t.Errorf("undo of the soft delete: changes %v, want deleted_at time → null", last.Changes)
		}

		errs := []struct {
			name string
			obj  any
			id   int64
			want error
		}{
			{name: "the create entry", obj: &Item{ID: item.ID}, id: ids[0], want: ErrNotReversible},
			{name: "a custom action", obj: &Item{ID: item.ID}, id: checkedID, want: ErrNotReversible},
			{name: "another object's entry", obj: &Item{ID: 999}, id: ids[2], want: ErrEntryNotFound},
			{name: "unknown entry", obj: &Item{ID: item.ID}, id: -5, want: ErrEntryNotFound},
			{name: "unregistered model", obj: &Note{ID: 1}, id: ids[2], want: ErrNotRegistered},
			{name: "no key", obj: &Item{}, id: ids[2], want: ErrNoObjectKey},
			{name: "not a model", obj: 5, id: ids[2], want: ErrInvalidModel},
		}
		for _, tt := range errs {
			if err := p.Undo(ctx, db, tt.obj, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		// A hard-deleted object has no row to change.
		if err := db.Unscoped().Delete(&Item{ID: item.ID}).Error; err != nil {
			t.Fatal(err)
		}
		if err := p.Undo(ctx, db, &Item{ID: item.ID}, ids[3]); !errors.Is(err, ErrNoState) {
			t.Errorf("undo on a hard-deleted object: %v, want ErrNoState", err)
		}
	})
}

// TestUndoInCallersTransaction: Undo runs in the caller's transaction, so
// rolling it back leaves neither the change nor its entry.
func TestUndoInCallersTransaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		item := Item{Name: "pen", Qty: 1}
		runSteps(t,
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("qty", 5).Error },
		)
		_, ids := entryTimes(t, p, db, &item)
		rollback := errors.New("roll back")
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := p.Undo(context.Background(), tx, &Item{ID: item.ID}, ids[1]); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("transaction: %v", err)
		}
		var row Item
		if err := db.First(&row, item.ID).Error; err != nil || row.Qty != 5 {
			t.Errorf("row after a rolled-back undo: qty %d (%v), want 5", row.Qty, err)
		}
		if _, n := lastEntry(t, p, db, &item); n != 2 {
			t.Errorf("%d entries after a rolled-back undo, want 2", n)
		}
	})
}

// Profile has fields stored through GORM's JSON serializer (issue 16, item
// 5: Revert sent their Go values to the driver).
type Profile struct {
	ID    int64
	Name  string       `gorm:"size:50"`
	Tags  []string     `gorm:"serializer:json"`
	Prefs ProfilePrefs `gorm:"serializer:json"`
}

type ProfilePrefs struct {
	Theme string `json:"theme"`
	Size  int    `json:"size"`
}

// TestRestoreSerializerFields: Revert and Undo write serializer fields in
// their stored form, on every database.
func TestRestoreSerializerFields(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setupWith(t, db, []Option{WithClock(tickingClock())}, []any{&Profile{}})
		ctx := context.Background()
		pr := Profile{Name: "ann", Tags: []string{"a", "b"}, Prefs: ProfilePrefs{Theme: "dark", Size: 1}}
		runSteps(t,
			func() error { return db.Create(&pr).Error },
			func() error {
				return db.Model(&pr).Select("Tags", "Prefs").
					Updates(Profile{Tags: []string{"a", "b", "c"}, Prefs: ProfilePrefs{Theme: "light", Size: 2}}).Error
			},
			func() error { return db.Model(&pr).Update("name", "ann2").Error },
		)
		_, ids := entryTimes(t, p, db, &pr)

		// Revert to before the serializer change: every field goes back.
		target := Profile{ID: pr.ID}
		if err := p.Revert(ctx, db, &target, ids[1]); err != nil {
			t.Fatal(err)
		}
		wantRow := Profile{ID: pr.ID, Name: "ann", Tags: []string{"a", "b"}, Prefs: ProfilePrefs{Theme: "dark", Size: 1}}
		var row Profile
		if err := db.First(&row, pr.ID).Error; err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantRow, row); diff != "" {
			t.Errorf("row after revert (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantRow, target); diff != "" {
			t.Errorf("obj after revert (-want +got):\n%s", diff)
		}
		last, _ := lastEntry(t, p, db, &pr)
		want := Changes{
			"name":  {"ann2", "ann"},
			"tags":  {[]any{"a", "b", "c"}, []any{"a", "b"}},
			"prefs": {map[string]any{"theme": "light", "size": num("2")}, map[string]any{"theme": "dark", "size": num("1")}},
		}
		if diff := cmp.Diff(want, last.Changes); diff != "" {
			t.Errorf("revert entry (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(JSONMap{DataRevertOf: num(itoa(ids[1]))}, last.Data); diff != "" {
			t.Errorf("revert entry's data (-want +got):\n%s", diff)
		}

		// Undo the revert: the serializer fields and the name come back.
		if err := p.Undo(ctx, db, &Profile{ID: pr.ID}, last.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.First(&row, pr.ID).Error; err != nil {
			t.Fatal(err)
		}
		wantRow = Profile{ID: pr.ID, Name: "ann2", Tags: []string{"a", "b", "c"}, Prefs: ProfilePrefs{Theme: "light", Size: 2}}
		if diff := cmp.Diff(wantRow, row); diff != "" {
			t.Errorf("row after undo (-want +got):\n%s", diff)
		}
	})
}

// TestReplayIgnoresCorruptData: StateAt and Revert replay Changes and
// Snapshot only, so a corrupt Data of an earlier entry does not fail them;
// corrupt Changes still do.
func TestReplayIgnoresCorruptData(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := stateSetup(t, db)
		ctx := context.Background()
		item := Item{Name: "pen", Qty: 1}
		runSteps(t,
			func() error { return db.Create(&item).Error },
			func() error { return db.Model(&item).Update("name", "pencil").Error },
		)
		times, ids := entryTimes(t, p, db, &item)
		// Valid JSON that is not an object: PostgreSQL and MySQL check JSON.
		if err := db.Exec("UPDATE audit_log_entries SET data = ? WHERE id = ?", `[1, 2]`, ids[0]).Error; err != nil {
			t.Fatal(err)
		}
		got, err := p.StateAt(ctx, db, &Item{ID: item.ID}, times[1])
		if err != nil {
			t.Fatalf("StateAt with a corrupt Data: %v", err)
		}
		want := map[string]any{"name": "pencil", "qty": num("1"), "secret": "", "deleted_at": nil}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("state (-want +got):\n%s", diff)
		}
		if err := p.Revert(ctx, db, &Item{ID: item.ID}, ids[1]); err != nil {
			t.Errorf("Revert with a corrupt Data: %v", err)
		}
		if err := db.Exec("UPDATE audit_log_entries SET changes = ? WHERE id = ?", `{"name": "no pair"}`, ids[0]).Error; err != nil {
			t.Fatal(err)
		}
		var corrupt *CorruptEntriesError
		if _, err := p.StateAt(ctx, db, &Item{ID: item.ID}, times[1]); !errors.As(err, &corrupt) || corrupt.IDs[0] != ids[0] {
			t.Errorf("StateAt with corrupt Changes: %v, want a *CorruptEntriesError naming %d", err, ids[0])
		}
	})
}

// TestUndoLeavesTimestampsToGORM: with UpdatedAt tracked and moving at each
// write, Undo of an older entry is no conflict on updated_at, and GORM
// stamps the undo like any update (it is not set back).
func TestUndoLeavesTimestampsToGORM(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			db := openTestDB(t, name, &gorm.Config{NowFunc: tickingClock()})
			p := setup(t, db, []any{&Item{}}, Include("Name", "Qty", "UpdatedAt"))
			item := Item{Name: "pen", Qty: 1}
			runSteps(t,
				func() error { return db.Create(&item).Error },
				func() error { return db.Model(&item).Update("qty", 5).Error },
				func() error { return db.Model(&item).Update("name", "marker").Error },
			)
			_, ids := entryTimes(t, p, db, &item)
			var before, after Item
			if err := db.First(&before, item.ID).Error; err != nil {
				t.Fatal(err)
			}
			if err := p.Undo(context.Background(), db, &Item{ID: item.ID}, ids[1]); err != nil {
				t.Fatalf("undo with a later updated_at: %v", err)
			}
			if err := db.First(&after, item.ID).Error; err != nil {
				t.Fatal(err)
			}
			if after.Qty != 1 || after.Name != "marker" || !after.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("row after undo: %s × %d updated %s (was %s), want marker × 1, updated later",
					after.Name, after.Qty, after.UpdatedAt, before.UpdatedAt)
			}
			last, _ := lastEntry(t, p, db, &item)
			want := Changes{
				"qty":        {num("5"), num("1")},
				"updated_at": {formatTime(before.UpdatedAt), formatTime(after.UpdatedAt)},
			}
			if diff := cmp.Diff(want, last.Changes); diff != "" {
				t.Errorf("undo entry (-want +got):\n%s", diff)
			}
		})
	}
}
