package auditlog_test

import (
	"context"
	"fmt"

	"github.com/gorm-auditlog/auditlog"
)

type Cart struct {
	ID    int64
	Owner string
}

type CartItem struct {
	ID     int64
	CartID int64
	Cart   *Cart
	SKU    string
	Qty    int
}

// Parent puts a child's entries on its parent's timeline: each CartItem
// entry carries its cart's table and key, and History WithChildren (or
// Find with Query.Children) lists the cart's entries and its items' in one
// (CreatedAt, ID) stream. An item moved to another cart belongs to the new
// cart's timeline; the old cart's key is in the entry's Changes.
func ExampleParent() {
	db, cleanup := openExampleDB()
	defer cleanup()

	audit := auditlog.New()
	if err := db.Use(audit); err != nil {
		panic(err)
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &Cart{}, &CartItem{}); err != nil {
		panic(err)
	}
	if err := audit.Register(&Cart{}); err != nil {
		panic(err)
	}
	if err := audit.Register(&CartItem{}, auditlog.Parent("Cart")); err != nil {
		panic(err)
	}
	ctx := context.Background()
	db.Create(&[]Cart{{Owner: "ann"}, {Owner: "bob"}})
	db.Create(&CartItem{CartID: 1, SKU: "pen", Qty: 1})
	db.Create(&CartItem{CartID: 1, SKU: "ink", Qty: 2})
	db.Model(&CartItem{ID: 1}).Update("qty", 3)
	db.Model(&CartItem{ID: 2}).Update("cart_id", 2) // moved to bob's cart
	db.Delete(&CartItem{ID: 1})

	entries, err := audit.History(ctx, db, &Cart{ID: 1}, auditlog.WithChildren())
	if err != nil {
		panic(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		fmt.Printf("%-10s %-6s parent %s/%s\n", e.Table+"/"+e.ObjectPK, e.Action, e.ParentTable, e.ParentPK)
	}
	page, err := audit.Find(ctx, db, auditlog.Query{Objects: &Cart{ID: 2}, Children: true, Limit: 10})
	if err != nil {
		panic(err)
	}
	fmt.Println("bob's cart:")
	for _, e := range page.Entries {
		printChanges(e)
	}
	// Output:
	// carts/1    create parent /
	// cart_items/1 create parent carts/1
	// cart_items/2 create parent carts/1
	// cart_items/1 update parent carts/1
	// cart_items/1 delete parent carts/1
	// bob's cart:
	// update 2 by : cart_id 1→2
	// create 2 by : id <nil>→2 owner <nil>→bob
}
