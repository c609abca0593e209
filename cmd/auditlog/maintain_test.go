package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/internal/testdb"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// TestMaintain: policies from flags remove the fixture's entries and print
// each run; a bad policy is a usage error.
func TestMaintain(t *testing.T) {
	dsn, _ := newDB(t)
	r := mustRun(t, "-dsn", dsn, "maintain", "-retention", "*=1h", "-retention", "nothing:update=1h")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "table=nothing action=update keep=1h0m0s: removed 0") ||
		!strings.HasPrefix(lines[1], "table=* action=* keep=1h0m0s: removed 255 ") || !strings.HasSuffix(lines[1], ": ok") {
		t.Errorf("stdout %q", r.stdout)
	}
	if r := runCLI(t, nil, "-dsn", dsn, "maintain", "-retention", "access"); r.code != 2 {
		t.Errorf("bad policy: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestMaintainPartitions: on PostgreSQL, maintain -partitions -move moves a
// plain log table under a partitioned one, makes the months ahead and
// applies the policies; -move without -partitions is a usage error, and on
// SQLite -partitions fails with a clear error.
func TestMaintainPartitions(t *testing.T) {
	dsn := testdb.PostgresDSN(t)
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB(db)
	if err := db.AutoMigrate(&auditlog.LogEntry{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	old := auditlog.LogEntry{Table: "items", ObjectPK: "1", Action: auditlog.ActionUpdate, CreatedAt: now.AddDate(-2, 0, 0)}
	recent := auditlog.LogEntry{Table: "items", ObjectPK: "1", Action: auditlog.ActionUpdate, CreatedAt: now.Add(-time.Hour)}
	if err := db.Create([]*auditlog.LogEntry{&old, &recent}).Error; err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, "-driver", "postgres", "-dsn", dsn, "maintain", "-partitions", "2", "-move", "-retention", "*=365d")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || lines[0] != "audit_log_entries is partitioned by month" ||
		!strings.HasPrefix(lines[1], "table=* action=* keep=8760h0m0s: removed 1 created before ") || !strings.HasSuffix(lines[1], ": ok") {
		t.Fatalf("stdout %q", r.stdout)
	}
	var parts []string
	db.Raw(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'audit_log_entries'::regclass ORDER BY 1`).Scan(&parts)
	last := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 2, 0)
	if !slices.Contains(parts, "audit_log_entries_plegacy") || !slices.Contains(parts, "audit_log_entries_pdefault") ||
		!slices.Contains(parts, "audit_log_entries_"+last.Format("p200601")) {
		t.Fatalf("partitions %v", parts)
	}
	var ids []int64
	db.Table("audit_log_entries").Order("id").Pluck("id", &ids)
	if !slices.Equal(ids, []int64{recent.ID}) {
		t.Fatalf("entries left %v, want %d", ids, recent.ID)
	}
	if r := runCLI(t, nil, "-driver", "postgres", "-dsn", dsn, "maintain", "-move"); r.code != 2 {
		t.Errorf("-move alone: exit %d, stderr %q", r.code, r.stderr)
	}
	sqliteDSN, _ := newDB(t)
	r = runCLI(t, nil, "-dsn", sqliteDSN, "maintain", "-partitions", "1")
	if r.code != 1 || !strings.Contains(r.stderr, "PostgreSQL only") {
		t.Errorf("on SQLite: exit %d, stderr %q", r.code, r.stderr)
	}
}
