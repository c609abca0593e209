// Package testdb opens a fresh test database per test for the tests of the
// subpackages (web, relay): a SQLite file, a PostgreSQL schema or a
// MySQL/MariaDB database, each dropped at the end. An unreachable server
// skips the test unless AUDITLOG_REQUIRE_DBS names it, as the root
// package's own test helpers (db_test.go) do. DSNs come from
// AUDITLOG_POSTGRES_DSN and AUDITLOG_MYSQL_DSN.
package testdb

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Databases are the subtests ForEachDB runs.
var Databases = []string{"sqlite", "postgres", "mysql"}

// ForEachDB runs fn once per database as a subtest, each with a fresh,
// empty database.
func ForEachDB(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, name := range Databases {
		t.Run(name, func(t *testing.T) { fn(t, Open(t, name)) })
	}
}

// Open opens a fresh, empty database of the named kind. Its connections
// close when the test ends.
func Open(t testing.TB, name string) *gorm.DB {
	t.Helper()
	cfg := &gorm.Config{Logger: logger.Discard}
	var db *gorm.DB
	switch name {
	case "sqlite":
		dsn := "file:" + filepath.Join(t.TempDir(), "t.db") + "?_txlock=immediate&_busy_timeout=10000&_journal_mode=WAL"
		var err error
		if db, err = gorm.Open(sqlite.Open(dsn), cfg); err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
	case "postgres":
		db = openPostgres(t, cfg)
	case "mysql":
		db = openMySQL(t, cfg)
	default:
		t.Fatalf("unknown database %q", name)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

func unavailable(t testing.TB, name string, err error) {
	t.Helper()
	if slices.Contains(strings.Split(os.Getenv("AUDITLOG_REQUIRE_DBS"), ","), name) {
		t.Fatalf("%s is required (AUDITLOG_REQUIRE_DBS) but unreachable: %v", name, err)
	}
	t.Skipf("%s unreachable, skipping: %v", name, err)
}

func randomName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "auditlog_t_" + hex.EncodeToString(b)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func openPostgres(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(PostgresDSN(t)), cfg)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	return db
}

// PostgresDSN makes a fresh schema, dropped when the test ends, and
// returns a DSN whose search_path is that schema: for tests of programs
// that open the database themselves (the auditlog command).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := envOr("AUDITLOG_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable")
	admin, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = admin.Exec("SELECT 1").Error
	}
	if err != nil {
		unavailable(t, "postgres", err)
	}
	schema := randomName()
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	sep := " "
	if strings.Contains(dsn, "://") {
		sep = "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
	}
	return dsn + sep + "search_path=" + schema
}

func openMySQL(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	base, err := mysqldrv.ParseDSN(envOr("AUDITLOG_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test"))
	if err != nil {
		t.Fatalf("AUDITLOG_MYSQL_DSN: %v", err)
	}
	base.ParseTime, base.Loc = true, time.UTC
	admin, err := gorm.Open(mysql.Open(base.FormatDSN()), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = admin.Exec("SELECT 1").Error
	}
	if err != nil {
		unavailable(t, "mysql", err)
	}
	name := randomName()
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name)
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	base.DBName = name
	db, err := gorm.Open(mysql.Open(base.FormatDSN()), cfg)
	if err != nil {
		t.Fatalf("open mysql: %v", err)
	}
	return db
}
