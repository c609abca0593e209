package auditlog

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// Databases the tests run on, as subtests of these names.
var testDatabases = []string{"sqlite", "postgres", "mysql"}

const (
	defaultPostgresDSN = "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable"
	defaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

// testNow is the fixed clock of GORM (NowFunc) and of the plugin in tests.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// forEachDB runs fn as the subtests sqlite, postgres and mysql, each with a
// fresh, empty database (a file, a schema, a database) on its own pool.
// A server that does not answer skips its subtest, unless
// AUDITLOG_REQUIRE_DBS names it.
func forEachDB(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			fn(t, openTestDB(t, name, nil))
		})
	}
}

// openTestDB opens a fresh database of the named kind with the given config
// (nil: the test default, with testNow as NowFunc and a silent logger).
func openTestDB(t testing.TB, name string, config *gorm.Config) *gorm.DB {
	t.Helper()
	// gorm.Open keeps the plugins in the config it is given: each database
	// gets its own copy, so one config can serve several opens.
	cfg := &gorm.Config{}
	if config != nil {
		*cfg = *config
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = func() time.Time { return testNow }
	}
	if cfg.Logger == nil {
		level := logger.Silent
		if os.Getenv("AUDITLOG_SQL_LOG") != "" {
			level = logger.Info
		}
		cfg.Logger = logger.Default.LogMode(level)
	}
	var db *gorm.DB
	switch name {
	case "sqlite":
		db = openSQLite(t, filepath.Join(t.TempDir(), "test.db"), cfg)
	case "postgres":
		db = openPostgres(t, cfg)
	case "mysql":
		db = openMySQL(t, cfg)
	default:
		t.Fatalf("unknown test database %q", name)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// SQLiteDSN is the DSN the tests and examples use for a SQLite file: an
// immediate transaction lock and a busy timeout make concurrent writers wait
// for each other instead of failing with "database is locked".
func sqliteDSN(path string) string {
	return "file:" + path + "?_txlock=immediate&_busy_timeout=10000&_foreign_keys=1"
}

func openSQLite(t testing.TB, path string, cfg *gorm.Config) *gorm.DB {
	db, err := gorm.Open(sqlite.Open(sqliteDSN(path)), cfg)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	return db
}

// unavailable skips or fails the test for a database that does not answer.
func unavailable(t testing.TB, name string, err error) {
	t.Helper()
	required := slices.Contains(strings.Split(os.Getenv("AUDITLOG_REQUIRE_DBS"), ","), name)
	if required {
		t.Fatalf("%s is required (AUDITLOG_REQUIRE_DBS) but unreachable: %v", name, err)
	}
	t.Skipf("%s unreachable, skipping (set AUDITLOG_REQUIRE_DBS=%s to fail instead): %v", name, name, err)
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func openPostgres(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	dsn := envOr("AUDITLOG_POSTGRES_DSN", defaultPostgresDSN)
	admin, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = admin.Exec("SELECT 1").Error
	}
	if err != nil {
		unavailable(t, "postgres", err)
	}
	schemaName := randomName("auditlog_t_")
	if err := admin.Exec("CREATE SCHEMA " + schemaName).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schemaName + " CASCADE")
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	sep := " "
	if strings.Contains(dsn, "://") {
		sep = "&"
		if !strings.Contains(dsn, "?") {
			sep = "?"
		}
		dsn += sep + "search_path=" + schemaName
	} else {
		dsn += sep + "search_path=" + schemaName
	}
	db, err := gorm.Open(postgres.Open(dsn), cfg)
	if err != nil {
		t.Fatalf("open postgres schema %s: %v", schemaName, err)
	}
	return db
}

func openMySQL(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	base, err := mysqldrv.ParseDSN(envOr("AUDITLOG_MYSQL_DSN", defaultMySQLDSN))
	if err != nil {
		t.Fatalf("AUDITLOG_MYSQL_DSN: %v", err)
	}
	base.ParseTime = true
	base.Loc = time.UTC
	admin, err := gorm.Open(mysql.Open(base.FormatDSN()), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = admin.Exec("SELECT 1").Error
	}
	if err != nil {
		unavailable(t, "mysql", err)
	}
	dbName := randomName("auditlog_t_")
	if err := admin.Exec("CREATE DATABASE " + dbName).Error; err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + dbName)
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	base.DBName = dbName
	db, err := gorm.Open(mysql.Open(base.FormatDSN()), cfg)
	if err != nil {
		t.Fatalf("open mysql database %s: %v", dbName, err)
	}
	return db
}

// setup installs a plugin with a fixed clock on db, migrates the log table and
// the models, and registers them with the given options.
func setup(t testing.TB, db *gorm.DB, models []any, opts ...ModelOption) *Plugin {
	t.Helper()
	p := New(WithClock(func() time.Time { return testNow }))
	if err := db.Use(p); err != nil {
		t.Fatalf("use: %v", err)
	}
	if err := db.AutoMigrate(append([]any{&LogEntry{}}, models...)...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, m := range models {
		if err := p.Register(m, opts...); err != nil {
			t.Fatalf("register %T: %v", m, err)
		}
	}
	return p
}

// allEntries returns every entry of the default log table in insertion order.
func allEntries(t testing.TB, db *gorm.DB) []LogEntry {
	t.Helper()
	var entries []LogEntry
	if err := db.Session(&gorm.Session{NewDB: true}).Order("id").Find(&entries).Error; err != nil {
		t.Fatalf("read entries: %v", err)
	}
	return entries
}

func clearEntries(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := db.Session(&gorm.Session{NewDB: true, AllowGlobalUpdate: true}).Delete(&LogEntry{}).Error; err != nil {
		t.Fatalf("clear entries: %v", err)
	}
}

// summary is the part of an entry a write-path test asserts.
type summary struct {
	Action  Action
	PK      string
	Changes Changes
}

func (s summary) String() string { return fmt.Sprintf("%s %s %v", s.Action, s.PK, s.Changes) }

func summarize(entries []LogEntry) []summary {
	if len(entries) == 0 {
		return nil
	}
	out := make([]summary, len(entries))
	for i, e := range entries {
		out[i] = summary{Action: e.Action, PK: e.ObjectPK, Changes: e.Changes}
	}
	return out
}
