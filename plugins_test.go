package auditlog

// TestOtherPluginsKeepTheirBehaviour runs every write path on a model that
// uses gorm.io/plugin/optimisticlock and gorm.io/plugin/soft_delete, on a
// db with gorm.io/plugin/dbresolver (the same database as replica), once
// with the audit plugin and once without it: rows, RowsAffected and errors
// must be the same, and the audited db's entries exact.
//
// On HEAD a0ce297 (before the fix) it fails on all three databases, for
// optimisticlock only: every update step (Save, Update, Updates with a map
// or a struct, UpdateColumn) leaves the version at 1 where GORM alone sets
// 2, and its entry has no "version" change; later steps then differ in the
// version only. soft_delete (the three soft deletes, both hard deletes) and
// dbresolver behave as without the plugin, with exact entries.

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"
	"gorm.io/plugin/optimisticlock"
	"gorm.io/plugin/soft_delete"
)

// PlWidget is versioned by optimisticlock and soft-deleted by soft_delete
// (unix seconds in deleted_at, 0 while the row lives).
type PlWidget struct {
	ID        int64
	Name      string `gorm:"size:50"`
	Qty       int
	Version   optimisticlock.Version
	DeletedAt soft_delete.DeletedAt
}

func loadWidget(db *gorm.DB, id int64) *PlWidget {
	var w PlWidget
	db.Session(&gorm.Session{NewDB: true}).First(&w, id)
	return &w
}

// pluginWrite is one step of TestOtherPluginsKeepTheirBehaviour: steps run
// in order on the same rows, ids 1 to 7 created by the first three.
type pluginWrite struct {
	name string
	ids  []int64 // the rows it writes
	do   func(db *gorm.DB) *gorm.DB
	want []summary // the entries the step adds
}

func pluginWrites() []pluginWrite {
	deleted := num(strconv.FormatInt(testNow.Unix(), 10)) // soft_delete uses NowFunc
	created := func(id, name, qty string) summary {
		return summary{ActionCreate, id, Changes{"id": {nil, num(id)}, "name": {nil, name}, "qty": {nil, num(qty)},
			"version": {nil, num("1")}, "deleted_at": {nil, num("0")}}}
	}
	bumped := Change{num("1"), num("2")}
	softDeleted := func(id string) summary {
		return summary{ActionDelete, id, Changes{"deleted_at": {num("0"), deleted}}}
	}
	return []pluginWrite{
		{"create one", []int64{1}, func(db *gorm.DB) *gorm.DB { return db.Create(&PlWidget{Name: "a", Qty: 1}) },
			[]summary{created("1", "a", "1")}},
		{"create slice", []int64{2, 3, 4, 5, 6}, func(db *gorm.DB) *gorm.DB {
			return db.Create(&[]PlWidget{{Name: "b", Qty: 2}, {Name: "c", Qty: 3}, {Name: "d", Qty: 4}, {Name: "e", Qty: 5}, {Name: "f", Qty: 6}})
		}, []summary{created("2", "b", "2"), created("3", "c", "3"), created("4", "d", "4"), created("5", "e", "5"), created("6", "f", "6")}},
		{"save insert", []int64{7}, func(db *gorm.DB) *gorm.DB { return db.Save(&PlWidget{Name: "g", Qty: 7}) },
			[]summary{created("7", "g", "7")}},
		{"save update", []int64{1}, func(db *gorm.DB) *gorm.DB {
			w := loadWidget(db, 1)
			w.Name = "a2"
			return db.Save(w)
		}, []summary{{ActionUpdate, "1", Changes{"name": {"a", "a2"}, "version": bumped}}}},
		{"update", []int64{2}, func(db *gorm.DB) *gorm.DB { return db.Model(loadWidget(db, 2)).Update("qty", 20) },
			[]summary{{ActionUpdate, "2", Changes{"qty": {num("2"), num("20")}, "version": bumped}}}},
		{"updates map", []int64{3}, func(db *gorm.DB) *gorm.DB {
			return db.Model(loadWidget(db, 3)).Updates(map[string]any{"name": "c2", "qty": 30})
		}, []summary{{ActionUpdate, "3", Changes{"name": {"c", "c2"}, "qty": {num("3"), num("30")}, "version": bumped}}}},
		{"updates struct", []int64{4}, func(db *gorm.DB) *gorm.DB { return db.Model(loadWidget(db, 4)).Updates(PlWidget{Name: "d2"}) },
			[]summary{{ActionUpdate, "4", Changes{"name": {"d", "d2"}, "version": bumped}}}},
		{"update column", []int64{5}, func(db *gorm.DB) *gorm.DB { return db.Model(loadWidget(db, 5)).UpdateColumn("qty", 50) },
			[]summary{{ActionUpdate, "5", Changes{"qty": {num("5"), num("50")}, "version": bumped}}}},
		{"soft delete by object", []int64{6}, func(db *gorm.DB) *gorm.DB { return db.Delete(loadWidget(db, 6)) },
			[]summary{softDeleted("6")}},
		{"soft delete by key", []int64{7}, func(db *gorm.DB) *gorm.DB { return db.Delete(&PlWidget{}, 7) },
			[]summary{softDeleted("7")}},
		{"soft delete by where", []int64{3}, func(db *gorm.DB) *gorm.DB { return db.Where("name = ?", "c2").Delete(&PlWidget{}) },
			[]summary{softDeleted("3")}},
		{"unscoped delete", []int64{4}, func(db *gorm.DB) *gorm.DB { return db.Unscoped().Delete(&PlWidget{}, 4) },
			[]summary{{ActionDelete, "4", Changes{"id": {num("4"), nil}, "name": {"d2", nil}, "qty": {num("4"), nil},
				"version": {num("2"), nil}, "deleted_at": {num("0"), nil}}}}},
		{"unscoped delete of a soft-deleted row", []int64{6}, func(db *gorm.DB) *gorm.DB { return db.Unscoped().Delete(&PlWidget{}, 6) },
			[]summary{{ActionDelete, "6", Changes{"id": {num("6"), nil}, "name": {"f", nil}, "qty": {num("6"), nil},
				"version": {num("1"), nil}, "deleted_at": {deleted, nil}}}}},
	}
}

// useResolver installs dbresolver with db's own database as its replica.
func useResolver(t *testing.T, db *gorm.DB) {
	t.Helper()
	if err := db.Use(dbresolver.Register(dbresolver.Config{Replicas: []gorm.Dialector{db.Dialector}})); err != nil {
		t.Fatalf("dbresolver: %v", err)
	}
}

// widgets reads the rows with the given ids, soft-deleted ones included.
func widgets(t *testing.T, db *gorm.DB, ids ...int64) []PlWidget {
	t.Helper()
	var rows []PlWidget
	if err := db.Session(&gorm.Session{NewDB: true}).Unscoped().Order("id").Find(&rows, ids).Error; err != nil {
		t.Fatalf("read widgets: %v", err)
	}
	return rows
}

func TestOtherPluginsKeepTheirBehaviour(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		plain := openTestDB(t, db.Dialector.Name(), nil)
		setup(t, db, []any{&PlWidget{}})
		useResolver(t, db)
		useResolver(t, plain)
		if err := plain.AutoMigrate(&PlWidget{}); err != nil {
			t.Fatal(err)
		}
		for _, step := range pluginWrites() {
			clearEntries(t, db)
			without, with := step.do(plain), step.do(db)
			if diff := cmp.Diff(outcomeOf(without), outcomeOf(with)); diff != "" {
				t.Errorf("%s: outcome (-without +with the plugin):\n%s", step.name, diff)
			}
			if diff := cmp.Diff(widgets(t, plain, step.ids...), widgets(t, db, step.ids...)); diff != "" {
				t.Errorf("%s: rows (-without +with the plugin):\n%s", step.name, diff)
			}
			if diff := cmp.Diff(step.want, summarize(allEntries(t, db))); diff != "" {
				t.Errorf("%s: entries (-want +got):\n%s", step.name, diff)
			}
		}
		all := []int64{1, 2, 3, 4, 5, 6, 7}
		for name, d := range map[string]*gorm.DB{"without": plain, "with": db} {
			if diff := cmp.Diff(finalWidgets(), widgets(t, d, all...)); diff != "" {
				t.Errorf("rows at the end %s the plugin (-want +got):\n%s", name, diff)
			}
		}
	})
}

// finalWidgets are the rows left by pluginWrites.
func finalWidgets() []PlWidget {
	v1, v2 := optimisticlock.Version{Int64: 1, Valid: true}, optimisticlock.Version{Int64: 2, Valid: true}
	gone := soft_delete.DeletedAt(testNow.Unix())
	return []PlWidget{{1, "a2", 1, v2, 0}, {2, "b", 20, v2, 0}, {3, "c2", 30, v2, gone}, {5, "e", 50, v2, 0}, {7, "g", 7, v1, gone}}
}
