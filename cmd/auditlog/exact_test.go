package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// mysqlDB creates a fresh database on the MySQL/MariaDB server of the root
// package's tests (AUDITLOG_MYSQL_DSN) and returns its DSN. An unreachable
// server skips the test unless AUDITLOG_REQUIRE_DBS names mysql.
func mysqlDB(t *testing.T) (*gorm.DB, string) {
	t.Helper()
	server := os.Getenv("AUDITLOG_MYSQL_DSN")
	if server == "" {
		server = "root@tcp(127.0.0.1:3306)/test"
	}
	unavailable := func(err error) {
		t.Helper()
		if slices.Contains(strings.Split(os.Getenv("AUDITLOG_REQUIRE_DBS"), ","), "mysql") {
			t.Fatalf("mysql is required (AUDITLOG_REQUIRE_DBS) but unreachable: %v", err)
		}
		t.Skipf("mysql unreachable, skipping: %v", err)
	}
	cfg := &gorm.Config{Logger: logger.Discard}
	admin, err := gorm.Open(mysql.Open(server), cfg)
	if err != nil {
		unavailable(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "auditlog_cli_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE DATABASE " + name).Error; err != nil {
		unavailable(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name)
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	dsn := strings.Replace(server, "/test", "/"+name, 1)
	if !strings.Contains(dsn, name) {
		t.Skipf("cannot derive a database DSN from %q", server)
	}
	db, err := gorm.Open(mysql.Open(dsn+"?parseTime=true"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db, dsn
}

// The command's filters compare exactly on MariaDB, whose default collation
// ignores case and trailing spaces.
func TestCommandsCompareExactly(t *testing.T) {
	db, dsn := mysqlDB(t)
	if err := db.AutoMigrate(&auditlog.LogEntry{}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i, v := range []string{"abc", "ABC", "abc "} {
		e := auditlog.LogEntry{Table: "codes", ObjectPK: v, Action: auditlog.Action([]string{"publish", "Publish", "publish "}[i]),
			Changes: auditlog.Changes{"title": {Old: nil, New: v}}, ActorID: v, CID: "req-" + v,
			CreatedAt: at.Add(time.Duration(i) * time.Minute)}
		if err := db.Create(&e).Error; err != nil {
			t.Fatal(err)
		}
	}
	keys := func(out string) []string {
		var got []string
		for _, e := range decodeLines(t, out) {
			got = append(got, e.ObjectPK)
		}
		return got
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"export", "-quiet", "-actor", "abc"}, []string{"abc"}},
		{[]string{"export", "-quiet", "-actor", "abc "}, []string{"abc "}},
		{[]string{"export", "-quiet", "-action", "Publish"}, []string{"ABC"}},
		{[]string{"export", "-quiet", "-cid", "req-abc"}, []string{"abc"}},
		{[]string{"history", "-model", "codes", "-pk", "ABC", "-format", "json"}, []string{"ABC"}},
	}
	for _, c := range cases {
		r := mustRun(t, append(c.args, "-dsn", dsn)...)
		if diff := cmp.Diff(c.want, keys(r.stdout)); diff != "" {
			t.Errorf("auditlog %s (-want +got):\n%s", strings.Join(c.args, " "), diff)
		}
	}
	r := mustRun(t, "purge", "-quiet", "-before", "2026-02-01", "-action", "publish", "-dsn", dsn)
	left := mustRun(t, "export", "-quiet", "-dsn", dsn)
	if diff := cmp.Diff([]string{"ABC", "abc "}, keys(left.stdout)); diff != "" {
		t.Errorf("left after purge -action publish (-want +got):\n%s\npurge said: %s", diff, r.stdout)
	}
}
