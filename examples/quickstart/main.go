// Command quickstart shows auditlog on a SQLite file in a temporary folder:
// it creates, updates and deletes a few invoices as two users and prints each
// invoice's history. Run it with
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Invoice is the audited model.
type Invoice struct {
	ID       int64
	Customer string
	Amount   string `gorm:"type:decimal(10,2)"`
	Status   string
	IBAN     string // stored masked in the log
}

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer) error {
	dir, err := os.MkdirTemp("", "auditlog-quickstart")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// _txlock=immediate and a busy timeout make concurrent writers wait for
	// each other instead of failing with "database is locked".
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_txlock=immediate&_busy_timeout=5000"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}

	// The five lines: a plugin, its log table, a registered model.
	audit := auditlog.New()
	if err := db.Use(audit); err != nil {
		return err
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{}); err != nil {
		return err
	}
	if err := audit.Register(&Invoice{}, auditlog.Mask("IBAN")); err != nil {
		return err
	}

	// In a web service the actor comes from auditlog.Middleware; here we set
	// it on the context by hand.
	alice := db.WithContext(auditlog.WithActor(context.Background(), "alice"))
	bob := db.WithContext(auditlog.WithCID(auditlog.WithActor(context.Background(), "bob"), "job-42"))

	inv := Invoice{Customer: "ACME", Amount: "120.00", Status: "draft", IBAN: "DE89370400440532013000"}
	if err := alice.Create(&inv).Error; err != nil {
		return err
	}
	other := Invoice{Customer: "Globex", Amount: "80.50", Status: "draft"}
	if err := alice.Create(&other).Error; err != nil {
		return err
	}
	if err := alice.Model(&inv).Updates(map[string]any{"amount": "99.90", "status": "sent"}).Error; err != nil {
		return err
	}
	// A Where update without a key in hand: one entry per row it changed.
	if err := bob.Model(&Invoice{}).Where("status = ?", "sent").Update("status", "paid").Error; err != nil {
		return err
	}
	if err := bob.Delete(&other).Error; err != nil {
		return err
	}

	for _, obj := range []*Invoice{&inv, &other} {
		entries, err := audit.History(context.Background(), db, obj)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "History of invoice %d (newest first):\n", obj.ID)
		for _, e := range entries {
			fmt.Fprintf(out, "  %-6s by %-5s %s\n", e.Action, e.ActorID, describe(e.Changes))
		}
	}
	return nil
}

// describe renders changes as "field: old → new" sorted by field.
func describe(changes auditlog.Changes) string {
	fields := make([]string, 0, len(changes))
	for f := range changes {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, len(fields))
	for i, f := range fields {
		c := changes[f]
		parts[i] = fmt.Sprintf("%s: %v → %v", f, show(c.Old), show(c.New))
	}
	return strings.Join(parts, "; ")
}

func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "∅"
	case string:
		return strconv.Quote(v)
	}
	return fmt.Sprint(v)
}
