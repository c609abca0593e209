package auditlog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

type Order struct {
	ID    int64
	Ref   string `gorm:"size:20"`
	Lines []Line
}

type Line struct {
	ID      int64
	OrderID int64
	SKU     string `gorm:"size:20"`
}

// TestAssociationsAndSaveSlice: children saved with their parent get their
// own create entries; saving them again unchanged (GORM's ON CONFLICT upsert
// of associations) writes nothing; Save of a slice logs inserts and updates.
func TestAssociationsAndSaveSlice(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Order{}, &Line{}})
		o := Order{Ref: "A1", Lines: []Line{{SKU: "pen"}, {SKU: "ink"}}}
		if err := db.Create(&o).Error; err != nil {
			t.Fatal(err)
		}
		type tagged struct {
			Table string
			Entry summary
		}
		got := func() []tagged {
			var out []tagged
			for _, e := range allEntries(t, db) {
				out = append(out, tagged{e.Table, summary{e.Action, e.ObjectPK, e.Changes}})
			}
			return out
		}
		want := []tagged{
			{"lines", summary{ActionCreate, "1", Changes{"id": {nil, num("1")}, "order_id": {nil, num("1")}, "sku": {nil, "pen"}}}},
			{"lines", summary{ActionCreate, "2", Changes{"id": {nil, num("2")}, "order_id": {nil, num("1")}, "sku": {nil, "ink"}}}},
			{"orders", summary{ActionCreate, "1", Changes{"id": {nil, num("1")}, "ref": {nil, "A1"}}}},
		}
		if diff := cmp.Diff(want, got()); diff != "" {
			t.Errorf("entries after create (-want +got):\n%s", diff)
		}
		clearEntries(t, db)

		o.Ref = "A2"
		if err := db.Save(&o).Error; err != nil {
			t.Fatal(err)
		}
		want = []tagged{{"orders", summary{ActionUpdate, "1", Changes{"ref": {"A1", "A2"}}}}}
		if diff := cmp.Diff(want, got()); diff != "" {
			t.Errorf("entries after saving the parent (-want +got):\n%s", diff)
		}
		clearEntries(t, db)

		lines := []Line{{ID: 1, OrderID: 1, SKU: "quill"}, {ID: 9, OrderID: 1, SKU: "pad"}}
		if err := db.Save(&lines).Error; err != nil {
			t.Fatal(err)
		}
		want = []tagged{
			{"lines", summary{ActionUpdate, "1", Changes{"sku": {"pen", "quill"}}}},
			{"lines", summary{ActionCreate, "9", Changes{"id": {nil, num("9")}, "order_id": {nil, num("1")}, "sku": {nil, "pad"}}}},
		}
		if diff := cmp.Diff(want, got()); diff != "" {
			t.Errorf("entries after saving a slice (-want +got):\n%s", diff)
		}
	})
}
