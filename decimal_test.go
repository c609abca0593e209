package auditlog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Money has a decimal column with a declared scale.
type Money struct {
	ID     int64
	Amount string `gorm:"type:numeric(12,2)"`
}

// TestDecimalScale: the log shows a decimal as the column holds it, with its
// scale ("12500.50"), on create (which reads the row back) and update, while
// a value equal as stored ("12500.500") is no change.
func TestDecimalScale(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, []any{&Money{}})
		m := Money{Amount: "12500.5"}
		if err := db.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&m).Update("amount", "12500.500").Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&m).Update("amount", "9.999").Error; err != nil {
			t.Fatal(err)
		}
		// SQLite's numeric affinity keeps no scale and does not round.
		first, rounded := num("12500.50"), num("10.00")
		if db.Dialector.Name() == "sqlite" {
			first, rounded = num("12500.5"), num("9.999")
		}
		want := []summary{
			{ActionCreate, "1", Changes{"id": {nil, num("1")}, "amount": {nil, first}}},
			{ActionUpdate, "1", Changes{"amount": {first, rounded}}},
		}
		entries := allEntries(t, db)
		if diff := cmp.Diff(want, summarize(entries)); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if len(entries) == 2 {
			got := p.DisplayChanges(entries[1], DisplayOptions{}).String()
			if want := "amount: " + string(first) + " → " + string(rounded); got != want {
				t.Errorf("DisplayChanges: %s, want %s", got, want)
			}
		}
	})
}
