package auditlog_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gorm-auditlog/auditlog"
)

type Sprocket struct {
	ID   int64
	Name string
}

type Gear struct {
	ID    int64
	Teeth int
}

// LogTable sends a model's entries to a log table of its own (Wagtail's
// register_model): AutoMigrate creates it, History and Find with the model
// read it, and Find without a model merges every log table.
func ExampleLogTable() {
	db, cleanup := openExampleDB()
	defer cleanup()

	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	audit := auditlog.New(auditlog.WithClock(func() time.Time { now = now.Add(time.Second); return now }))
	if err := db.Use(audit); err != nil {
		panic(err)
	}
	if err := audit.Register(&Sprocket{}, auditlog.LogTable("sprocket_log")); err != nil {
		panic(err)
	}
	if err := audit.Register(&Gear{}); err != nil {
		panic(err)
	}
	if err := audit.AutoMigrate(db); err != nil { // audit_log_entries and sprocket_log
		panic(err)
	}
	if err := db.AutoMigrate(&Sprocket{}, &Gear{}); err != nil {
		panic(err)
	}
	ctx := context.Background()
	db.Create(&Sprocket{Name: "s1"})
	db.Create(&Gear{Teeth: 12})
	db.Model(&Sprocket{ID: 1}).Update("name", "s2")

	var n int64
	db.Table("sprocket_log").Count(&n)
	fmt.Println("log tables:", audit.LogTables(), "entries in sprocket_log:", n)
	entries, _ := audit.History(ctx, db, &Sprocket{ID: 1})
	fmt.Println("history of sprocket 1:", len(entries), "entries")
	page, _ := audit.Find(ctx, db, auditlog.Query{Oldest: true})
	for _, e := range page.Entries {
		fmt.Println(e.Table, e.ObjectPK, e.Action)
	}
	// Output:
	// log tables: [audit_log_entries sprocket_log] entries in sprocket_log: 2
	// history of sprocket 1: 2 entries
	// sprockets 1 create
	// gears 1 create
	// sprockets 1 update
}
