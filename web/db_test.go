package web

import (
	"testing"

	"github.com/gorm-auditlog/auditlog/internal/testdb"
	"gorm.io/gorm"
)

// The test databases (internal/testdb): each test body runs as the subtests
// sqlite, postgres and mysql, each on a fresh database (a temporary file, a
// schema, a database). A server that does not answer skips its subtest
// unless AUDITLOG_REQUIRE_DBS names it.

func forEachDB(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	testdb.ForEachDB(t, fn)
}

func openTestDB(t testing.TB, name string) *gorm.DB {
	t.Helper()
	return testdb.Open(t, name)
}
