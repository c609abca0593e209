package auditlog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// Reading is a model without a primary key.
type Reading struct {
	Sensor string `gorm:"size:20"`
	Value  int
}

// countRows is the number of rows of model's table.
func countRows(t *testing.T, db *gorm.DB, model any) int64 {
	t.Helper()
	var n int64
	if err := db.Model(model).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// A tracked write without the log table fails with ErrNoLogTable and says
// how to create it; the change is rolled back.
func TestMissingLogTableSaysToMigrate(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(TrackAll())
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&Item{}); err != nil {
			t.Fatal(err)
		}
		err := db.Create(&Item{Name: "pen"}).Error
		if !errors.Is(err, ErrNoLogTable) {
			t.Fatalf("Create without a log table: %v, want ErrNoLogTable", err)
		}
		if !strings.Contains(err.Error(), "AutoMigrate(&auditlog.LogEntry{})") {
			t.Errorf("error %q does not say how to create the table", err)
		}
		if n := countRows(t, db, &Item{}); n != 0 {
			t.Errorf("%d items after the failed create, want 0", n)
		}
	})
}

// TrackAll refuses writes of a model without a primary key, naming it,
// unless the model is excepted.
func TestTrackAllRefusesModelsWithoutKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(TrackAll())
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}, &Reading{}); err != nil {
			t.Fatal(err)
		}
		writes := map[string]func(*gorm.DB) error{
			"create": func(db *gorm.DB) error { return db.Create(&Reading{Sensor: "a", Value: 1}).Error },
			"update": func(db *gorm.DB) error {
				return db.Model(&Reading{}).Where("sensor = ?", "a").Update("value", 2).Error
			},
			"delete": func(db *gorm.DB) error { return db.Where("sensor = ?", "a").Delete(&Reading{}).Error },
		}
		for name, write := range writes {
			err := write(db)
			if !errors.Is(err, ErrNoPrimaryKey) || !strings.Contains(err.Error(), "Reading") {
				t.Errorf("%s: %v, want ErrNoPrimaryKey naming Reading", name, err)
			}
		}
		if n := countRows(t, db, &Reading{}); n != 0 {
			t.Errorf("%d readings after refused creates, want 0", n)
		}

		q := New(TrackAll(&Reading{}))
		db2 := openTestDB(t, db.Dialector.Name(), nil)
		if err := db2.Use(q); err != nil {
			t.Fatal(err)
		}
		if err := db2.AutoMigrate(&LogEntry{}, &Reading{}); err != nil {
			t.Fatal(err)
		}
		for name, write := range writes {
			if err := write(db2); err != nil {
				t.Errorf("%s of an excepted model: %v", name, err)
			}
		}
		if n := countRows(t, db2, &LogEntry{}); n != 0 {
			t.Errorf("%d entries for an excepted model, want 0", n)
		}
	})
}

// RequireActor refuses tracked writes without an actor before anything is
// written; with an actor, or with auditing disabled, they go ahead.
func TestRequireActor(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(RequireActor())
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}, &Item{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&Item{}, Include("Name")); err != nil {
			t.Fatal(err)
		}
		alice := db.WithContext(WithActor(context.Background(), "alice"))
		it := Item{Name: "pen"}
		if err := alice.Create(&it).Error; err != nil {
			t.Fatal(err)
		}
		refused := map[string]error{
			"create": db.Create(&Item{Name: "ink"}).Error,
			"update": db.Model(&it).Update("name", "pencil").Error,
			"delete": db.Delete(&it).Error,
		}
		for name, err := range refused {
			if !errors.Is(err, ErrNoActor) {
				t.Errorf("%s without an actor: %v, want ErrNoActor", name, err)
			}
		}
		var items []Item
		if err := db.Find(&items).Error; err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].Name != "pen" {
			t.Errorf("items after refused writes: %+v, want only pen", items)
		}
		if n := countRows(t, db, &LogEntry{}); n != 1 {
			t.Errorf("%d entries, want 1 (alice's create)", n)
		}
		if err := db.WithContext(Disable(context.Background())).Model(&it).Update("name", "quill").Error; err != nil {
			t.Errorf("disabled write: %v", err)
		}
		if err := alice.Model(&it).Update("name", "pencil").Error; err != nil {
			t.Errorf("write with an actor: %v", err)
		}
		if n := countRows(t, db, &LogEntry{}); n != 2 {
			t.Errorf("%d entries, want 2", n)
		}
	})
}
