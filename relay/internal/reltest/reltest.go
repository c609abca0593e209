// Package reltest opens a fresh test database per test for the relay's
// tests, with a migrated log table (internal/testdb does the rest).
package reltest

import (
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/internal/testdb"
	"gorm.io/gorm"
)

// Databases are the subtests ForEachDB runs.
var Databases = testdb.Databases

// ForEachDB runs fn once per database as a subtest, each with a fresh
// database holding a migrated log table.
func ForEachDB(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, name := range Databases {
		t.Run(name, func(t *testing.T) { fn(t, Open(t, name)) })
	}
}

// Open opens a fresh database of the named kind with a migrated log table.
func Open(t testing.TB, name string) *gorm.DB {
	t.Helper()
	db := testdb.Open(t, name)
	if err := db.AutoMigrate(&auditlog.LogEntry{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// Entry returns a log entry of object pk to insert.
func Entry(pk string) *auditlog.LogEntry {
	return &auditlog.LogEntry{Table: "items", ObjectPK: pk, Action: auditlog.ActionUpdate,
		CreatedAt: time.Now().UTC()}
}
