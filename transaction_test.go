package auditlog

import (
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

var errAbort = errors.New("abort")

// allItems returns every item, soft-deleted ones too, by id.
func allItems(t *testing.T, db *gorm.DB) []Item {
	t.Helper()
	var items []Item
	if err := db.Session(&gorm.Session{NewDB: true}).Unscoped().Order("id").Find(&items).Error; err != nil {
		t.Fatalf("read items: %v", err)
	}
	return items
}

func TestRolledBackTransactionLeavesNoEntry(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}})
		seedItems(t, db)
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&Item{Name: "temp"}).Error; err != nil {
				return err
			}
			if err := tx.Model(&Item{ID: 1}).Update("name", "changed").Error; err != nil {
				return err
			}
			if err := tx.Delete(&Item{ID: 2}).Error; err != nil {
				return err
			}
			var inside int64
			tx.Model(&LogEntry{}).Count(&inside)
			if inside != 3 {
				t.Errorf("inside the transaction: %d entries, want 3", inside)
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("transaction: %v, want %v", err, errAbort)
		}
		if got := allEntries(t, db); len(got) != 0 {
			t.Errorf("entries after rollback: %v, want none", summarize(got))
		}
	})
}

// TestFailedEntryInsertFailsTheChange drops the log table so that writing the
// entry fails, and checks that the change is rolled back with it, whether
// GORM's default transaction is on, off for the session, or off for the db
// (then the plugin opens the transaction itself).
func TestFailedEntryInsertFailsTheChange(t *testing.T) {
	modes := []struct {
		name    string
		cfg     *gorm.Config
		session bool
	}{
		{name: "default transaction"},
		{name: "SkipDefaultTransaction in config", cfg: &gorm.Config{SkipDefaultTransaction: true}},
		{name: "SkipDefaultTransaction in session", session: true},
	}
	writes := []struct {
		name string
		do   func(db *gorm.DB) error
	}{
		{name: "create", do: func(db *gorm.DB) error { return db.Create(&Item{Name: "new"}).Error }},
		{name: "update", do: func(db *gorm.DB) error { return db.Model(&Item{ID: 1}).Update("qty", 99).Error }},
		{name: "where update", do: func(db *gorm.DB) error { return db.Model(&Item{}).Where("qty > 1").Update("qty", 0).Error }},
		{name: "soft delete", do: func(db *gorm.DB) error { return db.Delete(&Item{ID: 1}).Error }},
		{name: "hard delete", do: func(db *gorm.DB) error { return db.Unscoped().Delete(&Item{ID: 1}).Error }},
		{name: "where delete", do: func(db *gorm.DB) error { return db.Unscoped().Where("qty > 1").Delete(&Item{}).Error }},
	}
	for _, mode := range modes {
		for _, w := range writes {
			t.Run(mode.name+"/"+w.name, func(t *testing.T) {
				for _, name := range testDatabases {
					t.Run(name, func(t *testing.T) {
						db := openTestDB(t, name, mode.cfg)
						setup(t, db, []any{&Item{}})
						seedItems(t, db)
						if err := db.Migrator().DropTable(&LogEntry{}); err != nil {
							t.Fatal(err)
						}
						wdb := db
						if mode.session {
							wdb = db.Session(&gorm.Session{SkipDefaultTransaction: true})
						}
						before := allItems(t, db)
						if err := w.do(wdb); err == nil {
							t.Error("write succeeded although its entry could not be inserted")
						}
						if diff := cmp.Diff(before, allItems(t, db)); diff != "" {
							t.Errorf("items changed by the failed write (-before +after):\n%s", diff)
						}
					})
				}
			})
		}
	}
}

func TestSkipDefaultTransactionStillRecords(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			db := openTestDB(t, name, &gorm.Config{SkipDefaultTransaction: true})
			setup(t, db, []any{&Item{}})
			seedItems(t, db)
			if err := db.Model(&Item{ID: 1}).Update("qty", 11).Error; err != nil {
				t.Fatal(err)
			}
			want := []summary{{ActionUpdate, "1", Changes{"qty": {num("10"), num("11")}}}}
			if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

// failingCode is a column type whose Value fails for "bad".
type failingCode string

var errBadCode = errors.New("bad code")

func (c failingCode) Value() (driver.Value, error) {
	if c == "bad" {
		return nil, errBadCode
	}
	return string(c), nil
}

type Coded struct {
	ID   int64
	Code failingCode `gorm:"type:varchar(20)"`
}

func TestFailingValuerFailsTheChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Coded{}})
		if err := db.Create(&Coded{Code: "ok"}).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		if err := db.Create(&Coded{Code: "bad"}).Error; !errors.Is(err, errBadCode) {
			t.Errorf("create: %v, want %v", err, errBadCode)
		}
		if err := db.Model(&Coded{ID: 1}).Update("code", failingCode("bad")).Error; !errors.Is(err, errBadCode) {
			t.Errorf("update: %v, want %v", err, errBadCode)
		}
		var codes []Coded
		db.Order("id").Find(&codes)
		if diff := cmp.Diff([]Coded{{ID: 1, Code: "ok"}}, codes); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		if got := allEntries(t, db); len(got) != 0 {
			t.Errorf("entries: %v, want none", summarize(got))
		}
	})
}

// TestTooManyRowsFailsCleanly: on MySQL/MariaDB a Where write that is not
// paged (here: with a LIMIT) and matches more rows than the plugin can
// restrict the statement to fails with ErrTooManyRows and changes nothing.
// A plain Where write has no such limit on any database: it is captured a
// page of rows at a time (capture_stream.go).
func TestTooManyRowsFailsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 30001 rows")
	}
	const n = maxKeyParams + 1
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		if err := db.AutoMigrate(&Item{}); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateInBatches(make([]Item, n), 2000).Error; err != nil {
			t.Fatal(err)
		}
		setup(t, db, []any{&Item{}})
		count := func(q *gorm.DB) (c int64) {
			t.Helper()
			if err := q.Count(&c).Error; err != nil {
				t.Fatal(err)
			}
			return c
		}
		changed := func(action Action, rows *gorm.DB, want int64) {
			t.Helper()
			entries := count(db.Model(&LogEntry{}).Where("action = ?", action))
			if got := count(rows); got != want || entries != want {
				t.Errorf("%s: %d rows changed, %d entries, want %d of each", action, got, entries, want)
			}
		}
		if db.Dialector.Name() == "mysql" {
			err := db.Model(&Item{}).Where("qty = ?", 0).Limit(n).Update("qty", 1).Error
			if !errors.Is(err, ErrTooManyRows) {
				t.Fatalf("update with LIMIT: %v, want %v", err, ErrTooManyRows)
			}
			changed(ActionUpdate, db.Model(&Item{}).Where("qty = ?", 1), 0)
		}
		err := db.Model(&Item{}).Where("qty = ?", 0).Update("qty", 1).Error
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		const want = n
		changed(ActionUpdate, db.Model(&Item{}).Where("qty = ?", 1), want)

		err = db.Where("id > ?", 0).Delete(&Item{}).Error
		if err != nil {
			t.Fatalf("delete: %v", err)
		}
		changed(ActionDelete, db.Unscoped().Model(&Item{}).Where("deleted_at IS NOT NULL"), want)
	})
}

// TestSavepointRollbackDropsItsEntries: entries are written in the caller's
// transaction, so rolling back to a savepoint (and a nested Transaction,
// which GORM runs as a savepoint) takes the entries of the writes after it
// with them, and keeps the ones before.
func TestSavepointRollbackDropsItsEntries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}}, Include("Qty"))
		seedItems(t, db) // qty 10, 3, 0
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&Item{ID: 1}).Update("qty", 11).Error; err != nil {
				return err
			}
			if err := tx.SavePoint("sp").Error; err != nil {
				return err
			}
			if err := tx.Model(&Item{ID: 2}).Update("qty", 4).Error; err != nil {
				return err
			}
			if err := tx.RollbackTo("sp").Error; err != nil {
				return err
			}
			nested := tx.Transaction(func(inner *gorm.DB) error {
				if err := inner.Model(&Item{ID: 3}).Update("qty", 1).Error; err != nil {
					return err
				}
				return errors.New("undo the nested transaction")
			})
			if nested == nil {
				return errors.New("the nested transaction did not fail")
			}
			return tx.Where("id = ?", 2).Delete(&Item{}).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []summary{
			{ActionUpdate, "1", Changes{"qty": {num("10"), num("11")}}},
			{ActionDelete, "2", Changes{"deleted_at": {nil, nowText}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		var items []Item
		if err := db.Unscoped().Order("id").Find(&items).Error; err != nil {
			t.Fatal(err)
		}
		if items[0].Qty != 11 || items[1].Qty != 3 || !items[1].DeletedAt.Valid || items[2].Qty != 0 {
			t.Errorf("rows: %+v", items)
		}
	})
}
