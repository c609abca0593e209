package auditlog

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Invoice embeds ActorStamps anonymously.
type Invoice struct {
	ID     int64
	Number string `gorm:"size:20"`
	Total  int
	ActorStamps
}

// Memo embeds ActorStamps as a tagged field and is not registered.
type Memo struct {
	ID     int64
	Text   string      `gorm:"size:50"`
	Stamps ActorStamps `gorm:"embedded"`
}

func TestActorStamps(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Invoice{}})
		if err := db.AutoMigrate(&Memo{}); err != nil {
			t.Fatal(err)
		}
		as := func(actor string) *gorm.DB { return db.WithContext(WithActor(context.Background(), actor)) }
		stamps := func(id int64) ActorStamps {
			t.Helper()
			var inv Invoice
			if err := db.First(&inv, id).Error; err != nil {
				t.Fatal(err)
			}
			return inv.ActorStamps
		}

		inv := Invoice{Number: "A-1"}
		if err := as("alice").Create(&inv).Error; err != nil {
			t.Fatal(err)
		}
		if want := (ActorStamps{CreatedBy: "alice", UpdatedBy: "alice"}); inv.ActorStamps != want || stamps(inv.ID) != want {
			t.Errorf("create: in memory %+v, stored %+v, want %+v", inv.ActorStamps, stamps(inv.ID), want)
		}

		imported := Invoice{Number: "A-2", ActorStamps: ActorStamps{CreatedBy: "legacy"}}
		if err := as("alice").Create(&imported).Error; err != nil {
			t.Fatal(err)
		}
		if got, want := stamps(imported.ID), (ActorStamps{CreatedBy: "legacy", UpdatedBy: "alice"}); got != want {
			t.Errorf("create with CreatedBy set: %+v, want %+v", got, want)
		}

		steps := []struct {
			name string
			do   func() error
			want ActorStamps
		}{
			{"Update", func() error { return as("bob").Model(&inv).Update("total", 1).Error }, ActorStamps{"alice", "bob"}},
			{"Updates map", func() error { return as("carol").Model(&inv).Updates(map[string]any{"total": 2}).Error }, ActorStamps{"alice", "carol"}},
			{"Updates struct value", func() error { return as("dave").Model(&inv).Updates(Invoice{Total: 3}).Error }, ActorStamps{"alice", "dave"}},
			{"Save of a struct loaded before", func() error {
				loaded := inv
				loaded.UpdatedBy = "stale"
				loaded.Total = 4
				return as("erin").Save(&loaded).Error
			}, ActorStamps{"alice", "erin"}},
			{"Where update", func() error {
				return as("frank").Model(&Invoice{}).Where("number = ?", "A-1").Update("total", 5).Error
			}, ActorStamps{"alice", "frank"}},
			{"explicit UpdatedBy in a map is kept", func() error {
				return as("grace").Model(&inv).Updates(map[string]any{"total": 6, "updated_by": "batch-job"}).Error
			}, ActorStamps{"alice", "batch-job"}},
			{"UpdateColumn skips stamps", func() error { return as("heidi").Model(&inv).UpdateColumn("total", 7).Error }, ActorStamps{"alice", "batch-job"}},
			{"no actor leaves them", func() error { return db.Model(&inv).Update("total", 8).Error }, ActorStamps{"alice", "batch-job"}},
			{"Omit leaves them", func() error { return as("ivan").Model(&inv).Omit("UpdatedBy").Update("total", 9).Error }, ActorStamps{"alice", "batch-job"}},
		}
		for _, step := range steps {
			if err := step.do(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			if got := stamps(inv.ID); got != step.want {
				t.Errorf("%s: stored %+v, want %+v", step.name, got, step.want)
			}
		}

		// The stamp is part of the change, so the trail shows it.
		var last Changes
		for _, e := range allEntries(t, db) {
			if e.ObjectPK == "1" && e.Action == ActionUpdate && e.Changes["total"].New == num("2") {
				last = e.Changes
			}
		}
		want := Changes{"total": {num("1"), num("2")}, "updated_by": {"bob", "carol"}}
		if diff := cmp.Diff(want, last); diff != "" {
			t.Errorf("update entry (-want +got):\n%s", diff)
		}

		// A model that is not registered and embeds the stamps as a field;
		// a map create.
		memo := Memo{Text: "hi"}
		if err := as("judy").Create(&memo).Error; err != nil {
			t.Fatal(err)
		}
		if err := as("mallory").Model(&memo).Update("text", "hello").Error; err != nil {
			t.Fatal(err)
		}
		fields := map[string]any{"id": 7, "text": "from a map"}
		if err := as("niaj").Model(&Memo{}).Create(fields).Error; err != nil {
			t.Fatal(err)
		}
		var memos []Memo
		if err := db.Order("id").Find(&memos).Error; err != nil {
			t.Fatal(err)
		}
		wantMemos := []Memo{
			{ID: memo.ID, Text: "hello", Stamps: ActorStamps{"judy", "mallory"}},
			{ID: 7, Text: "from a map", Stamps: ActorStamps{"niaj", "niaj"}},
		}
		if diff := cmp.Diff(wantMemos, memos); diff != "" {
			t.Errorf("memos (-want +got):\n%s", diff)
		}
	})
}
