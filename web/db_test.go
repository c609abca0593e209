package web

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

// The test databases, as in the root package's db_test.go: each test body
// runs as the subtests sqlite, postgres and mysql, each on a fresh database
// (a temporary file, a schema, a database). A server that does not answer
// skips its subtest unless AUDITLOG_REQUIRE_DBS names it.

func forEachDB(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(name, func(t *testing.T) { fn(t, openTestDB(t, name)) })
	}
}

func openTestDB(t testing.TB, name string) *gorm.DB {
	t.Helper()
	cfg := &gorm.Config{Logger: logger.Discard}
	var db *gorm.DB
	var err error
	switch name {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "test.db")
		db, err = gorm.Open(sqlite.Open("file:"+path+"?_txlock=immediate&_busy_timeout=10000"), cfg)
	case "postgres":
		db, err = openPostgres(t, cfg)
	case "mysql":
		db, err = openMySQL(t, cfg)
	}
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
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
	return "auditlog_web_" + hex.EncodeToString(b)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func openPostgres(t testing.TB, cfg *gorm.Config) (*gorm.DB, error) {
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
	if strings.Contains(dsn, "://") {
		sep := "&"
		if !strings.Contains(dsn, "?") {
			sep = "?"
		}
		return gorm.Open(postgres.Open(dsn+sep+"search_path="+schema), cfg)
	}
	return gorm.Open(postgres.Open(dsn+" search_path="+schema), cfg)
}

func openMySQL(t testing.TB, cfg *gorm.Config) (*gorm.DB, error) {
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
	return gorm.Open(mysql.Open(base.FormatDSN()), cfg)
}
