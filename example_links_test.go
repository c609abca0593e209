package auditlog_test

import (
	"context"
	"fmt"

	"github.com/gorm-auditlog/auditlog"
)

type Article struct {
	ID    int64
	Title string
	Tags  []Topic `gorm:"many2many:article_topics"`
}

type Topic struct {
	ID   int64
	Name string
}

// Associations records many-to-many links: each link GORM adds or removes
// is an update entry of the owner with the related keys removed (old) and
// added (new). A Create with links is one entry; StateAt replays the set.
func ExampleAssociations() {
	db, cleanup := openExampleDB()
	defer cleanup()

	audit := auditlog.New()
	if err := db.Use(audit); err != nil {
		panic(err)
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &Article{}, &Topic{}); err != nil {
		panic(err)
	}
	if err := audit.Register(&Article{}, auditlog.Associations("Tags")); err != nil {
		panic(err)
	}
	ctx := context.Background()
	db.Create(&[]Topic{{Name: "go"}, {Name: "sql"}, {Name: "audit"}})
	a := Article{Title: "GORM", Tags: []Topic{{ID: 1}, {ID: 2}}}
	db.Create(&a)
	db.Model(&Article{ID: a.ID}).Association("Tags").Append(&Topic{ID: 3})
	db.Model(&Article{ID: a.ID}).Association("Tags").Delete(&Topic{ID: 1})

	entries, err := audit.History(ctx, db, &a)
	if err != nil {
		panic(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		printChanges(entries[i])
	}
	state, _ := audit.StateAt(ctx, db, &a, entries[0].CreatedAt)
	fmt.Println("tags now:", state["tags"])
	// Output:
	// create 1 by : id <nil>→1 tags []→[1 2] title <nil>→GORM
	// update 1 by : tags []→[3]
	// update 1 by : tags [1]→[]
	// tags now: [2 3]
}
