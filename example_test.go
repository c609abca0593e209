package auditlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

type User struct {
	ID       int64
	Name     string
	Email    string
	Password string
}

// openExampleDB opens a SQLite file in a new temporary folder.
func openExampleDB() (*gorm.DB, func()) {
	dir, err := os.MkdirTemp("", "auditlog-example")
	if err != nil {
		panic(err)
	}
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_txlock=immediate&_busy_timeout=5000"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
		os.RemoveAll(dir)
	}
}

// printChanges prints an entry's changes sorted by column.
func printChanges(e auditlog.LogEntry) {
	cols := make([]string, 0, len(e.Changes))
	for c := range e.Changes {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	fmt.Printf("%s %s by %s:", e.Action, e.ObjectPK, e.ActorID)
	for _, c := range cols {
		fmt.Printf(" %s %v→%v", c, e.Changes[c].Old, e.Changes[c].New)
	}
	fmt.Println()
}

// The plugin in five lines: install it, migrate the log table, register a
// model. Writes through db.WithContext(ctx) are attributed to the context's
// actor, and History reads an object's entries back, newest first.
func Example() {
	db, cleanup := openExampleDB()
	defer cleanup()

	audit := auditlog.New()
	if err := db.Use(audit); err != nil {
		panic(err)
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &User{}); err != nil {
		panic(err)
	}
	if err := audit.Register(&User{}, auditlog.Exclude("Password")); err != nil {
		panic(err)
	}

	ctx := auditlog.WithActor(context.Background(), "admin")
	u := User{Name: "Ada", Email: "ada@example.com", Password: "x"}
	db.WithContext(ctx).Create(&u)
	db.WithContext(ctx).Model(&u).Update("email", "ada@lovelace.dev")

	entries, err := audit.History(ctx, db, &u)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		printChanges(e)
	}
	// Output:
	// update 1 by admin: email ada@example.com→ada@lovelace.dev
	// create 1 by admin: email <nil>→ada@example.com id <nil>→1 name <nil>→Ada
}

// Mask stores a field with its first half hidden, as django-auditlog's
// mask_str does; the clear value never reaches the log table.
func ExampleMask() {
	db, cleanup := openExampleDB()
	defer cleanup()

	audit := auditlog.New()
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &User{})
	audit.Register(&User{}, auditlog.Include("Password"), auditlog.Mask("Password"))

	u := User{Name: "Ada", Password: "confidential"}
	db.Create(&u)
	db.Model(&u).Update("password", "top-secret-2")

	entries, _ := audit.History(context.Background(), db, &u)
	for _, e := range entries {
		printChanges(e)
	}
	// Output:
	// update 1 by : password ******ential→******cret-2
	// create 1 by : password <nil>→******ential
}

// Redact records that a secret changed, was set or was cleared, and stores
// no part of it: Mask would keep half of a password hash.
func ExampleRedact() {
	db, cleanup := openExampleDB()
	defer cleanup()

	type Account struct {
		ID           int64
		Email        string
		PasswordHash *string
	}
	audit := auditlog.New()
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Account{})
	audit.Register(&Account{}, auditlog.Redact("PasswordHash"))

	h1 := "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	h2 := "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z3MmmYq9XcDnvnmN2BBYxAOu"
	a := Account{Email: "ada@example.com", PasswordHash: &h1}
	db.Create(&a)
	db.Model(&a).Update("password_hash", h2)  // changed
	db.Model(&a).Update("password_hash", nil) // cleared

	entries, _ := audit.History(context.Background(), db, &a)
	for _, e := range entries {
		printChanges(e)
	}
	// Output:
	// update 1 by : password_hash [redacted]→<nil>
	// update 1 by : password_hash [redacted]→[redacted]
	// create 1 by : email <nil>→ada@example.com id <nil>→1 password_hash <nil>→[redacted]
}

// A Where update with no primary key in hand gets one entry per row it
// changed, each with that row's own old value.
func ExamplePlugin_Register_whereUpdate() {
	db, cleanup := openExampleDB()
	defer cleanup()

	audit := auditlog.New()
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &User{})
	audit.Register(&User{}, auditlog.Include("Email"))
	db.Create(&[]User{{Email: "a@old.example"}, {Email: "b@old.example"}, {Email: "c@new.example"}})

	ctx := auditlog.WithActor(context.Background(), "migration")
	db.WithContext(ctx).Model(&User{}).Where("email LIKE ?", "%@old.example").
		Update("email", "moved@new.example")

	var entries []auditlog.LogEntry
	db.Where("action = ?", auditlog.ActionUpdate).Order("id").Find(&entries)
	for _, e := range entries {
		printChanges(e)
	}
	// Output:
	// update 1 by migration: email a@old.example→moved@new.example
	// update 2 by migration: email b@old.example→moved@new.example
}

type Document struct {
	ID    int64
	Title string
}

func (d *Document) String() string { return fmt.Sprintf("%q", d.Title) }

// Custom actions (Wagtail's log(), InvenioRDM's audit log actions): define
// the action with a label and a message template once, then log it for any
// object, in the transaction of the work it describes.
func ExamplePlugin_Log() {
	db, cleanup := openExampleDB()
	defer cleanup()

	audit := auditlog.New()
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Document{})
	err := audit.DefineAction("document.publish", "Published", "{actor} published {object} to {data.channel}")
	if err != nil {
		panic(err)
	}

	doc := Document{Title: "Q3 report"}
	db.Create(&doc) // Document is not registered: no create entry

	ctx := auditlog.WithActor(context.Background(), "editor-7")
	err = db.Transaction(func(tx *gorm.DB) error {
		// ... publish the document with tx ...
		return audit.Log(ctx, tx, &doc, "document.publish", map[string]any{"channel": "intranet"})
	})
	if err != nil {
		panic(err)
	}

	err = audit.Log(ctx, db, &doc, "document.unpublish", nil)
	fmt.Println(errors.Is(err, auditlog.ErrUnknownAction))

	entries, _ := audit.History(ctx, db, &doc)
	for _, e := range entries {
		fmt.Printf("%s: %s\n", audit.ActionLabel(e.Action), audit.Message(e))
	}
	// Output:
	// true
	// Published: editor-7 published "Q3 report" to intranet
}

// A BeforeLog hook can enrich entries or veto them with ErrSkipEntry; any
// other error fails the change itself.
func ExampleBeforeLog() {
	db, cleanup := openExampleDB()
	defer cleanup()

	skipBots := auditlog.BeforeLog(func(ctx context.Context, e *auditlog.LogEntry) error {
		if strings.HasPrefix(e.ActorID, "bot-") {
			return auditlog.ErrSkipEntry // the change goes ahead without an entry
		}
		e.Data = map[string]any{"tenant": "acme"}
		return nil
	})
	audit := auditlog.New(skipBots)
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &User{})
	audit.Register(&User{}, auditlog.Include("Name"))

	u := User{Name: "Ada"}
	db.WithContext(auditlog.WithActor(context.Background(), "admin")).Create(&u)
	db.WithContext(auditlog.WithActor(context.Background(), "bot-sync")).Model(&u).Update("name", "Ada L.")

	entries, _ := audit.History(context.Background(), db, &u)
	for _, e := range entries {
		fmt.Println(e.Action, e.ActorID, e.Data)
	}
	db.First(&u, u.ID)
	fmt.Println(u.Name)
	// Output:
	// create admin map[tenant:acme]
	// Ada L.
}

type Invoice struct {
	ID     int64
	Number string
	Status string
	Total  int
}

// tick is a clock for examples: 2026-01-01 09:00 UTC, one minute later at
// each call.
func tick() func() time.Time {
	t := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Minute); return t }
}

// Find reads entries page by page with a keyset cursor; filters combine.
func ExamplePlugin_Find() {
	db, cleanup := openExampleDB()
	defer cleanup()
	audit := auditlog.New(auditlog.WithClock(tick()))
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{})
	audit.Register(&Invoice{})

	ctx := auditlog.WithActor(context.Background(), "clerk")
	inv := Invoice{Number: "2026-001", Status: "draft", Total: 100}
	db.WithContext(ctx).Create(&inv)
	for _, status := range []string{"sent", "paid", "archived"} {
		db.WithContext(ctx).Model(&inv).Update("status", status)
	}

	q := auditlog.Query{Objects: &inv, Field: "Status", Oldest: true, Limit: 2}
	for {
		page, err := audit.Find(ctx, db, q)
		if err != nil {
			panic(err)
		}
		for _, e := range page.Entries {
			fmt.Println(e.CreatedAt.Format("15:04"), e.Action, e.ChangesString())
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	// Output:
	// 09:01 create id: null → 1; number: null → "2026-001"; status: null → "draft"; total: null → 100
	// 09:02 update status: "draft" → "sent"
	// 09:03 update status: "sent" → "paid"
	// 09:04 update status: "paid" → "archived"
}

// DisplayChanges renders an entry for people: labels, values as JSON text
// (strings quoted, so "" and null stay apart), values cut to a length.
// Changes are named by column unless a Label says otherwise.
func ExamplePlugin_DisplayChanges() {
	db, cleanup := openExampleDB()
	defer cleanup()
	audit := auditlog.New()
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{})
	audit.Register(&Invoice{}, auditlog.Label("Total", "Amount (EUR)"), auditlog.Exclude("ID"))

	inv := Invoice{Number: "2026-001", Status: "draft", Total: 100}
	db.Create(&inv)
	db.Model(&inv).Updates(map[string]any{"number": "", "status": "sent to the customer by registered mail", "total": 120})

	entries, _ := audit.History(context.Background(), db, &inv)
	for _, c := range audit.DisplayChanges(entries[0], auditlog.DisplayOptions{MaxLen: 20}) {
		fmt.Printf("%s: %s → %s\n", c.Name(), c.Old, c.New)
	}
	// Output:
	// number: "2026-001" → ""
	// status: "draft" → "sent to the custom…
	// Amount (EUR): 100 → 120
}

// StateAt answers "what was it at that time?"; Revert restores it with a
// normal, audited update.
func ExamplePlugin_Revert() {
	db, cleanup := openExampleDB()
	defer cleanup()
	audit := auditlog.New(auditlog.WithClock(tick()))
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{})
	audit.Register(&Invoice{}, auditlog.Include("Status", "Total"))

	ctx := context.Background()
	inv := Invoice{Number: "2026-001", Status: "draft", Total: 100}
	db.Create(&inv)                                                      // 09:01
	db.Model(&inv).Updates(Invoice{Status: "sent", Total: 90})           // 09:02
	db.Model(&inv).Updates(map[string]any{"status": "void", "total": 0}) // 09:03

	at := time.Date(2026, 1, 1, 9, 2, 30, 0, time.UTC)
	state, _ := audit.StateAt(ctx, db, &inv, at)
	fmt.Println("at 09:02:30:", state["status"], state["total"])

	entries, _ := audit.History(ctx, db, &inv) // newest first
	if err := audit.Revert(auditlog.WithActor(ctx, "admin"), db, &inv, entries[0].ID); err != nil {
		panic(err)
	}
	db.First(&inv, inv.ID)
	fmt.Println("after revert:", inv.Status, inv.Total)
	entries, _ = audit.History(ctx, db, &inv)
	fmt.Println(entries[0].ActorID, entries[0].ChangesString(), entries[0].Data)
	// Output:
	// at 09:02:30: sent 90
	// after revert: sent 90
	// admin status: "void" → "sent"; total: 0 → 90 map[revert_of:3]
}

// Undo reverses one entry: only the fields it changed go back, and only if
// nobody changed them since (ErrConflict). Later changes of other fields
// stay, where Revert would restore the whole earlier state.
func ExamplePlugin_Undo() {
	db, cleanup := openExampleDB()
	defer cleanup()
	audit := auditlog.New(auditlog.WithClock(tick()))
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{})
	audit.Register(&Invoice{}, auditlog.Include("Status", "Total"))

	ctx := context.Background()
	inv := Invoice{Number: "2026-001", Status: "draft", Total: 100}
	db.Create(&inv)
	db.Model(&inv).Update("total", 90)         // the change to undo
	db.Model(&inv).Update("status", "sent")    // a later change of another field
	db.Model(&inv).Update("status", "paid")    // and of that field again
	entries, _ := audit.History(ctx, db, &inv) // newest first
	discount, firstSend := entries[2], entries[1]

	if err := audit.Undo(auditlog.WithActor(ctx, "admin"), db, &inv, discount.ID); err != nil {
		panic(err)
	}
	db.First(&inv, inv.ID)
	fmt.Println("after undo:", inv.Status, inv.Total)
	entries, _ = audit.History(ctx, db, &inv)
	fmt.Println(entries[0].ActorID, entries[0].ChangesString(), entries[0].Data[auditlog.DataUndoOf] == json.Number(fmt.Sprint(discount.ID)))

	err := audit.Undo(ctx, db, &inv, firstSend.ID)
	fmt.Println(errors.Is(err, auditlog.ErrConflict))
	fmt.Println(err)
	// Output:
	// after undo: paid 100
	// admin total: 90 → 100 true
	// true
	// auditlog: the field changed since the entry: Invoice.Status of 1 is "paid" now, entry 3 set it to "sent"
}

// Purge deletes old entries in batches and reports how many went.
func ExamplePlugin_Purge() {
	db, cleanup := openExampleDB()
	defer cleanup()
	audit := auditlog.New(auditlog.WithClock(tick()))
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{})
	audit.Register(&Invoice{})

	for i := range 5 {
		db.Create(&Invoice{Number: fmt.Sprint("2026-00", i)}) // 09:01 ... 09:05
	}
	before := time.Date(2026, 1, 1, 9, 4, 0, 0, time.UTC)
	n, err := audit.Purge(context.Background(), db, before, auditlog.PurgeOptions{BatchSize: 2})
	fmt.Println(n, err)
	// Output:
	// 3 <nil>
}
