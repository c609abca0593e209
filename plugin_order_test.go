package auditlog

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestOrderAndLimitFollowTheDialect: GORM renders ORDER BY and LIMIT in an
// UPDATE or DELETE only where the dialect has them (MySQL); elsewhere it
// ignores them. The plugin must change exactly the rows GORM would, and log
// exactly those.
func TestOrderAndLimitFollowTheDialect(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}})
		seedItems(t, db)
		updateErr := db.Model(&Item{}).Where("qty >= ?", 0).Order("id desc").Limit(2).Update("name", "limited").Error
		var changed []string
		for _, it := range allItems(t, db) {
			if it.Name == "limited" {
				changed = append(changed, fmt.Sprint(it.ID))
			}
		}
		var logged []string
		for _, e := range allEntries(t, db) {
			logged = append(logged, e.ObjectPK)
		}
		slices.Sort(logged)
		want := map[string][]string{"mysql": {"2", "3"}, "postgres": {"1", "2", "3"}}[db.Dialector.Name()]
		if updateErr != nil {
			want = nil // SQLite without SQLITE_ENABLE_UPDATE_DELETE_LIMIT, if GORM renders it
			t.Logf("update failed: %v", updateErr)
		} else if want == nil {
			want = changed
		}
		if diff := cmp.Diff(want, changed); diff != "" {
			t.Errorf("changed rows (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(changed, logged); diff != "" {
			t.Errorf("logged rows differ from changed rows (-changed +logged):\n%s", diff)
		}

		clearEntries(t, db)
		deleteErr := db.Where("qty >= ?", 0).Order("id").Limit(1).Delete(&Item{}).Error
		var deleted, loggedDeletes []string
		for _, it := range allItems(t, db) {
			if it.DeletedAt.Valid {
				deleted = append(deleted, fmt.Sprint(it.ID))
			}
		}
		for _, e := range allEntries(t, db) {
			loggedDeletes = append(loggedDeletes, e.ObjectPK)
		}
		if db.Dialector.Name() == "mysql" && deleteErr == nil && len(deleted) != 1 {
			t.Errorf("MySQL soft delete with LIMIT 1 deleted %v", deleted)
		}
		if diff := cmp.Diff(deleted, loggedDeletes); diff != "" {
			t.Errorf("logged deletes differ from deleted rows (err %v) (-deleted +logged):\n%s", deleteErr, diff)
		}

		// A hard delete: on MariaDB it is the DELETE with its ORDER BY and
		// LIMIT and RETURNING appended (capture_exec.go).
		clearEntries(t, db)
		before := allItems(t, db)
		hardErr := db.Unscoped().Where("qty >= ?", 0).Order("id desc").Limit(1).Delete(&Item{}).Error
		if hardErr != nil {
			t.Logf("hard delete failed: %v", hardErr) // SQLite, if GORM renders LIMIT
		}
		var gone, loggedGone []string
		after := map[int64]bool{}
		for _, it := range allItems(t, db) {
			after[it.ID] = true
		}
		for _, it := range before {
			if !after[it.ID] {
				gone = append(gone, fmt.Sprint(it.ID))
			}
		}
		for _, e := range allEntries(t, db) {
			if e.Action != ActionDelete || e.Changes["id"].New != nil {
				t.Errorf("hard delete entry %s %v", e.Action, e.Changes)
			}
			loggedGone = append(loggedGone, e.ObjectPK)
		}
		slices.Sort(loggedGone)
		wantGone := map[string][]string{"mysql": {"3"}, "postgres": {"1", "2", "3"}, "sqlite": {"1", "2", "3"}}[db.Dialector.Name()]
		if hardErr != nil {
			wantGone = nil
		}
		if diff := cmp.Diff(wantGone, gone); diff != "" {
			t.Errorf("hard-deleted rows (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(gone, loggedGone); diff != "" {
			t.Errorf("logged hard deletes differ from deleted rows (-deleted +logged):\n%s", diff)
		}
	})
}

// TestTableOnlyWrites: writes through db.Table(name) without a model are
// recorded for a registered model of that table. GORM knows no model there,
// so it applies no soft-delete scope, and neither does the plugin.
func TestTableOnlyWrites(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}}, Mask("Secret"))
		seedItems(t, db)
		steps := []func() error{
			func() error { return db.Table("items").Where("qty > ?", 1).Updates(map[string]any{"qty": 0}).Error },
			func() error {
				return db.Table("items").Where("id = ?", 3).Update("name", gorm.Expr("'pa' || 'per'")).Error
			},
			func() error {
				return db.Table("items").Create(map[string]any{"id": 20, "name": "tbl", "secret": "classified"}).Error
			},
			func() error { return db.Table("items").Where("id = ?", 20).Delete(map[string]any{}).Error },
		}
		if db.Dialector.Name() == "mysql" { // no || concatenation
			steps[1] = func() error {
				return db.Table("items").Where("id = ?", 3).Update("name", gorm.Expr("CONCAT('pa', 'per')")).Error
			}
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		want := []summary{
			{ActionUpdate, "1", Changes{"qty": {num("10"), num("0")}}},
			{ActionUpdate, "2", Changes{"qty": {num("3"), num("0")}}},
			{ActionUpdate, "3", Changes{"name": {"pad", "paper"}}},
			{ActionCreate, "20", Changes{"id": {nil, num("20")}, "name": {nil, "tbl"}, "secret": {nil, "*****ified"}}},
			{ActionDelete, "20", Changes{"id": {num("20"), nil}, "name": {"tbl", nil}, "secret": {"*****ified", nil}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

func TestTableOnlyCreateWithoutKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}})
		err := db.Table("items").Create(map[string]any{"name": "anon"}).Error
		if db.Dialector.Name() == "postgres" {
			// No LastInsertId and, without a model, no RETURNING: the row
			// cannot be identified, so the create fails and rolls back.
			if !errors.Is(err, ErrUnidentifiedRow) {
				t.Fatalf("create: %v, want %v", err, ErrUnidentifiedRow)
			}
			if n := len(allItems(t, db)); n != 0 {
				t.Errorf("%d items after the failed create, want 0", n)
			}
			if got := allEntries(t, db); len(got) != 0 {
				t.Errorf("entries: %v, want none", summarize(got))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		want := []summary{{ActionCreate, "1", Changes{"id": {nil, num("1")}, "name": {nil, "anon"}}}}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}
