package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Item is the model of the write-path tests: soft delete, a masked field, a
// nullable field, numbers and auto times (fixed by testNow).
type Item struct {
	ID        int64  `gorm:"primaryKey"`
	Name      string `gorm:"size:100"`
	Price     float64
	Qty       int
	Note      *string `gorm:"size:100"`
	Secret    string  `gorm:"size:100"`
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt gorm.DeletedAt `gorm:"index"`
}

func num(s string) json.Number { return json.Number(s) }

const nowText = "2026-01-02T03:04:05Z"

// seedItems inserts items 1..3 and clears the log.
func seedItems(t *testing.T, db *gorm.DB) {
	t.Helper()
	items := []Item{
		{Name: "pen", Price: 1.5, Qty: 10, Secret: "confidential"},
		{Name: "ink", Price: 2.25, Qty: 3, Secret: "hunter2"},
		{Name: "pad", Price: 4, Qty: 0, Secret: "s3cr3t"},
	}
	if err := db.Create(&items).Error; err != nil {
		t.Fatalf("seed: %v", err)
	}
	clearEntries(t, db)
}

func createdItem(id, name, price, qty, secretMasked string) Changes {
	return Changes{
		"id":         {nil, num(id)},
		"name":       {nil, name},
		"price":      {nil, num(price)},
		"qty":        {nil, num(qty)},
		"secret":     {nil, secretMasked},
		"created_at": {nil, nowText},
		"updated_at": {nil, nowText},
	}
}

// writePathCase is one GORM write path and the entries it must give on
// items 1..3 of seedItems, with Mask("Secret").
type writePathCase struct {
	name   string
	reason string // what the case shows
	do     func(db *gorm.DB) error
	want   []summary
}

// writePathCases is the write-path table that TestWritePaths runs with the
// strategies each database chooses, and TestCaptureConformance with every
// strategy forced in turn.
func writePathCases() []writePathCase {
	note := "fragile"
	return []writePathCase{
		{
			name:   "create one",
			reason: "a struct INSERT records every tracked non-null field with old null, the masked one masked",
			do: func(db *gorm.DB) error {
				return db.Create(&Item{Name: "cup", Price: 3, Qty: 1, Secret: "topsecret", Note: &note}).Error
			},
			want: []summary{{ActionCreate, "4", func() Changes {
				c := createdItem("4", "cup", "3", "1", "****ecret")
				c["note"] = Change{nil, "fragile"}
				return c
			}()}},
		},
		{
			name:   "create slice",
			reason: "one multi-row INSERT, one entry per row, keys from the database",
			do: func(db *gorm.DB) error {
				return db.Create(&[]Item{{Name: "a", Qty: 1}, {Name: "b", Qty: 2}}).Error
			},
			want: []summary{
				{ActionCreate, "4", createdItem("4", "a", "0", "1", "")},
				{ActionCreate, "5", createdItem("5", "b", "0", "2", "")},
			},
		},
		{
			name:   "create in batches",
			reason: "each batch is its own create chain",
			do: func(db *gorm.DB) error {
				return db.CreateInBatches(&[]Item{{Name: "a"}, {Name: "b"}, {Name: "c"}}, 2).Error
			},
			want: []summary{
				{ActionCreate, "4", createdItem("4", "a", "0", "0", "")},
				{ActionCreate, "5", createdItem("5", "b", "0", "0", "")},
				{ActionCreate, "6", createdItem("6", "c", "0", "0", "")},
			},
		},
		{
			name:   "create from map",
			reason: "a map create records the columns the row holds, read back",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{}).Create(map[string]any{"id": 7, "name": "map", "qty": 2}).Error
			},
			want: []summary{{ActionCreate, "7", Changes{
				"id": {nil, num("7")}, "name": {nil, "map"}, "qty": {nil, num("2")},
			}}},
		},
		{
			name:   "save existing updates",
			reason: "Save runs the update chain with every column: only changed fields are recorded",
			do: func(db *gorm.DB) error {
				var it Item
				if err := db.First(&it, 1).Error; err != nil {
					return err
				}
				it.Name, it.Secret = "pencil", "classified"
				return db.Save(&it).Error
			},
			want: []summary{{ActionUpdate, "1", Changes{
				"name":   {"pen", "pencil"},
				"secret": {"******ential", "*****ified"},
			}}},
		},
		{
			name:   "save new key inserts",
			reason: "Save of a new key falls back to an INSERT",
			do: func(db *gorm.DB) error {
				return db.Save(&Item{ID: 10, Name: "saved", Qty: 5}).Error
			},
			want: []summary{{ActionCreate, "10", createdItem("10", "saved", "0", "5", "")}},
		},
		{
			name:   "upsert on conflict updates",
			reason: "an upsert that hits an existing row is an update with that row's old values",
			do: func(db *gorm.DB) error {
				return db.Clauses(clause.OnConflict{UpdateAll: true}).Create(&[]Item{
					{ID: 2, Name: "ink", Price: 2.25, Qty: 30, Secret: "hunter2", CreatedAt: testNow},
					{ID: 11, Name: "new"},
				}).Error
			},
			want: []summary{
				{ActionUpdate, "2", Changes{"qty": {num("3"), num("30")}}},
				{ActionCreate, "11", createdItem("11", "new", "0", "0", "")},
			},
		},
		{
			name:   "updates struct",
			reason: "non-zero struct fields only",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{ID: 1}).Updates(Item{Name: "quill", Qty: 7}).Error
			},
			want: []summary{{ActionUpdate, "1", Changes{"name": {"pen", "quill"}, "qty": {num("10"), num("7")}}}},
		},
		{
			name:   "updates map",
			reason: "a map assigns exactly its keys",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{ID: 2}).Updates(map[string]any{"price": 9.5, "note": "new note"}).Error
			},
			want: []summary{{ActionUpdate, "2", Changes{"price": {num("2.25"), num("9.5")}, "note": {nil, "new note"}}}},
		},
		{
			name:   "update one column with an expression",
			reason: "gorm.Expr: the new value is the database's",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{ID: 2}).Update("price", gorm.Expr("price * ?", 2)).Error
			},
			want: []summary{{ActionUpdate, "2", Changes{"price": {num("2.25"), num("4.5")}}}},
		},
		{
			name:   "update column",
			reason: "UpdateColumn skips hooks and auto times, not the plugin",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{ID: 3}).UpdateColumn("qty", gorm.Expr("qty + 5")).Error
			},
			want: []summary{{ActionUpdate, "3", Changes{"qty": {num("0"), num("5")}}}},
		},
		{
			name:   "update columns",
			reason: "UpdateColumns with a map",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{ID: 3}).UpdateColumns(map[string]any{"name": "paper", "secret": nil}).Error
			},
			want: []summary{{ActionUpdate, "3", Changes{"name": {"pad", "paper"}, "secret": {"***r3t", nil}}}},
		},
		{
			name:   "where update without a key",
			reason: "one entry per matched row, each with its own old values",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{}).Where("qty > ?", 1).Update("qty", 0).Error
			},
			want: []summary{
				{ActionUpdate, "1", Changes{"qty": {num("10"), num("0")}}},
				{ActionUpdate, "2", Changes{"qty": {num("3"), num("0")}}},
			},
		},
		{
			name:   "where update with or keeps its precedence",
			reason: "the key restriction binds to the whole (a OR b)",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{}).Where("name = ?", "pen").Or("name = ?", "pad").Update("price", 1).Error
			},
			want: []summary{
				{ActionUpdate, "1", Changes{"price": {num("1.5"), num("1")}}},
				{ActionUpdate, "3", Changes{"price": {num("4"), num("1")}}},
			},
		},
		{
			name:   "update of a slice of models",
			reason: "the keys of every model in the slice",
			do: func(db *gorm.DB) error {
				return db.Model(&[]Item{{ID: 1}, {ID: 3}}).Update("name", "x").Error
			},
			want: []summary{
				{ActionUpdate, "1", Changes{"name": {"pen", "x"}}},
				{ActionUpdate, "3", Changes{"name": {"pad", "x"}}},
			},
		},
		{
			name:   "global update with AllowGlobalUpdate",
			reason: "no WHERE: every row",
			do: func(db *gorm.DB) error {
				return db.Session(&gorm.Session{AllowGlobalUpdate: true}).Model(&Item{}).Update("qty", 3).Error
			},
			want: []summary{
				{ActionUpdate, "1", Changes{"qty": {num("10"), num("3")}}},
				{ActionUpdate, "3", Changes{"qty": {num("0"), num("3")}}},
			},
		},
		{
			name:   "update without conditions fails and writes nothing",
			reason: "GORM refuses it before executing; no entry",
			do: func(db *gorm.DB) error {
				if err := db.Model(&Item{}).Update("qty", 3).Error; !errors.Is(err, gorm.ErrMissingWhereClause) {
					return fmt.Errorf("got %v, want %w", err, gorm.ErrMissingWhereClause)
				}
				return nil
			},
			want: nil,
		},
		{
			name:   "hard delete of a slice of objects",
			reason: "the keys of every object",
			do: func(db *gorm.DB) error {
				return db.Unscoped().Delete(&[]Item{{ID: 1}, {ID: 3}}).Error
			},
			want: []summary{
				{ActionDelete, "1", Changes{
					"id": {num("1"), nil}, "name": {"pen", nil}, "price": {num("1.5"), nil}, "qty": {num("10"), nil},
					"secret": {"******ential", nil}, "created_at": {nowText, nil}, "updated_at": {nowText, nil},
				}},
				{ActionDelete, "3", Changes{
					"id": {num("3"), nil}, "name": {"pad", nil}, "price": {num("4"), nil}, "qty": {num("0"), nil},
					"secret": {"***r3t", nil}, "created_at": {nowText, nil}, "updated_at": {nowText, nil},
				}},
			},
		},
		{
			name:   "update that changes nothing writes nothing",
			reason: "same values: no entry",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{ID: 1}).Updates(map[string]any{"name": "pen", "price": 1.50}).Error
			},
			want: nil,
		},
		{
			name:   "soft delete by object",
			reason: "a soft delete is a delete entry with the soft-delete column",
			do: func(db *gorm.DB) error {
				return db.Delete(&Item{ID: 2}).Error
			},
			want: []summary{{ActionDelete, "2", Changes{"deleted_at": {nil, nowText}}}},
		},
		{
			name:   "soft delete by primary key",
			reason: "Delete(&T{}, id)",
			do: func(db *gorm.DB) error {
				return db.Delete(&Item{}, 3).Error
			},
			want: []summary{{ActionDelete, "3", Changes{"deleted_at": {nil, nowText}}}},
		},
		{
			name:   "soft delete by where",
			reason: "one entry per matched row",
			do: func(db *gorm.DB) error {
				return db.Where("price < ?", 3).Delete(&Item{}).Error
			},
			want: []summary{
				{ActionDelete, "1", Changes{"deleted_at": {nil, nowText}}},
				{ActionDelete, "2", Changes{"deleted_at": {nil, nowText}}},
			},
		},
		{
			name:   "hard delete with unscoped",
			reason: "every tracked non-null field goes to null",
			do: func(db *gorm.DB) error {
				return db.Unscoped().Delete(&Item{ID: 1}).Error
			},
			want: []summary{{ActionDelete, "1", Changes{
				"id": {num("1"), nil}, "name": {"pen", nil}, "price": {num("1.5"), nil}, "qty": {num("10"), nil},
				"secret": {"******ential", nil}, "created_at": {nowText, nil}, "updated_at": {nowText, nil},
			}}},
		},
		{
			name:   "hard delete of a soft-deleted row",
			reason: "Unscoped sees soft-deleted rows",
			do: func(db *gorm.DB) error {
				if err := db.Delete(&Item{ID: 3}).Error; err != nil {
					return err
				}
				return db.Unscoped().Where("name = ?", "pad").Delete(&Item{}).Error
			},
			want: []summary{
				{ActionDelete, "3", Changes{"deleted_at": {nil, nowText}}},
				{ActionDelete, "3", Changes{
					"id": {num("3"), nil}, "name": {"pad", nil}, "price": {num("4"), nil}, "qty": {num("0"), nil},
					"secret": {"***r3t", nil}, "created_at": {nowText, nil}, "updated_at": {nowText, nil}, "deleted_at": {nowText, nil},
				}},
			},
		},
		{
			name:   "update skips soft-deleted rows",
			reason: "the soft-delete condition GORM adds is part of what is captured",
			do: func(db *gorm.DB) error {
				if err := db.Delete(&Item{ID: 1}).Error; err != nil {
					return err
				}
				return db.Model(&Item{}).Where("qty >= ?", 0).Update("qty", 99).Error
			},
			want: []summary{
				{ActionDelete, "1", Changes{"deleted_at": {nil, nowText}}},
				{ActionUpdate, "2", Changes{"qty": {num("3"), num("99")}}},
				{ActionUpdate, "3", Changes{"qty": {num("0"), num("99")}}},
			},
		},
		{
			name:   "create with Select records what was inserted",
			reason: "columns left out of the INSERT hold the database's value (here NULL), not the struct's",
			do: func(db *gorm.DB) error {
				return db.Select("Name", "Qty").Create(&Item{Name: "sel", Qty: 5, Price: 9, Secret: "topsecret"}).Error
			},
			want: []summary{{ActionCreate, "4", Changes{
				"id": {nil, num("4")}, "name": {nil, "sel"}, "qty": {nil, num("5")},
				"created_at": {nil, nowText}, "updated_at": {nil, nowText},
			}}},
		},
		{
			name:   "update that changes the key to a value",
			reason: "the row is paired by its new key; the entry is keyed by the old one",
			do: func(db *gorm.DB) error {
				return db.Model(&Item{}).Where("id = ?", 1).Updates(map[string]any{"id": 200, "qty": gorm.Expr("qty + 1")}).Error
			},
			want: []summary{{ActionUpdate, "1", Changes{"id": {num("1"), num("200")}, "qty": {num("10"), num("11")}}}},
		},
		{
			name:   "dry run writes nothing",
			reason: "DryRun executes nothing: no entry",
			do: func(db *gorm.DB) error {
				dry := db.Session(&gorm.Session{DryRun: true})
				if err := dry.Create(&Item{Name: "dry"}).Error; err != nil {
					return err
				}
				if err := dry.Model(&Item{ID: 1}).Update("name", "dry").Error; err != nil {
					return err
				}
				return dry.Delete(&Item{ID: 1}).Error
			},
			want: nil,
		},
	}
}

func TestWritePaths(t *testing.T) {
	for _, tt := range writePathCases() {
		t.Run(tt.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *gorm.DB) {
				setup(t, db, []any{&Item{}}, Mask("Secret"))
				checkWritePath(t, db, tt)
			})
		})
	}
}

// checkWritePath seeds items, runs the case and compares its entries.
func checkWritePath(t *testing.T, db *gorm.DB, tt writePathCase) {
	t.Helper()
	seedItems(t, db)
	if err := tt.do(db); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := summarize(allEntries(t, db))
	if diff := cmp.Diff(tt.want, got); diff != "" {
		t.Errorf("%s (%s): entries (-want +got):\n%s", tt.name, tt.reason, diff)
	}
}
