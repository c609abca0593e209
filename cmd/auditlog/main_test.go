package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// binary is the command, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "auditlog-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "auditlog")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	fixtureDir = dir
	return m.Run()
}

// Item is the audited model of the fixture.
type Item struct {
	ID     int64
	Name   string
	Qty    int
	Status string
}

// The fixture's times.
var (
	day1 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)  // entries 1-5 on items 1 and 2
	bulk = time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC) // entries 6-255, a minute apart
)

const bulkItems = 250

var (
	fixtureDir  string
	fixtureOnce sync.Once
	fixturePath string
	fixtureErr  error
)

// newDB returns the DSN of a fresh copy of the fixture database:
//
//	entry 1      day1       alice (cid setup) creates item 1 {widget, 5, draft}
//	entry 2      day1+1h    bob updates item 1: qty 5 → 7, status draft → ready
//	entry 3      day1+2h    alice creates item 2 {gizmo, 1, draft}
//	entry 4      day1+3h    no actor updates item 1: name widget → widget "XL"
//	entry 5      day1+4h    carol deletes item 2
//	entries 6-255 bulk+i min importer (cid bulk-1) creates item i+3 {bulk-%03d, i, new}
func newDB(t testing.TB) (dsn, path string) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixturePath = filepath.Join(fixtureDir, "fixture.db")
		fixtureErr = writeFixture(fixturePath)
	})
	if fixtureErr != nil {
		t.Fatalf("fixture: %v", fixtureErr)
	}
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "app.db")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return sqliteDSN(path), path
}

func sqliteDSN(path string) string {
	return "file:" + path + "?_txlock=immediate&_busy_timeout=5000"
}

func openDB(dsn string) (*gorm.DB, error) {
	return gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
}

func writeFixture(path string) (err error) {
	db, err := openDB(sqliteDSN(path))
	if err != nil {
		return err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, sqlDB.Close()) }()
	var now time.Time
	audit := auditlog.New(auditlog.WithClock(func() time.Time { return now }))
	if err := db.Use(audit); err != nil {
		return err
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &Item{}); err != nil {
		return err
	}
	if err := audit.Register(&Item{}); err != nil {
		return err
	}
	as := func(actor, cid string) *gorm.DB {
		ctx := context.Background()
		if actor != "" {
			ctx = auditlog.WithActor(ctx, actor)
		}
		if cid != "" {
			ctx = auditlog.WithCID(ctx, cid)
		}
		return db.WithContext(ctx)
	}
	item1 := Item{Name: "widget", Qty: 5, Status: "draft"}
	item2 := Item{Name: "gizmo", Qty: 1, Status: "draft"}
	steps := []func() error{
		func() error { return as("alice", "setup").Create(&item1).Error },
		func() error {
			return as("bob", "").Model(&item1).Updates(map[string]any{"qty": 7, "status": "ready"}).Error
		},
		func() error { return as("alice", "").Create(&item2).Error },
		func() error { return as("", "").Model(&item1).Update("name", `widget "XL"`).Error },
		func() error { return as("carol", "").Delete(&item2).Error },
	}
	for i, step := range steps {
		now = day1.Add(time.Duration(i) * time.Hour)
		if err := step(); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	for i := range bulkItems {
		now = bulk.Add(time.Duration(i) * time.Minute)
		it := Item{Name: fmt.Sprintf("bulk-%03d", i), Qty: i, Status: "new"}
		if err := as("importer", "bulk-1").Create(&it).Error; err != nil {
			return fmt.Errorf("bulk %d: %w", i, err)
		}
	}
	return nil
}

// result is what a run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the command with args and the environment without
// AUDITLOG_DSN, plus env.
func runCLI(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AUDITLOG_DSN=") })
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
	case err != nil:
		t.Fatalf("auditlog %s: %v\nstderr: %s", strings.Join(args, " "), err, &stderr)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs the command and fails the test unless it exits 0.
func mustRun(t testing.TB, args ...string) result {
	t.Helper()
	r := runCLI(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("auditlog %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// decodeLines parses JSON lines of LogEntry.
func decodeLines(t testing.TB, out string) []auditlog.LogEntry {
	t.Helper()
	var entries []auditlog.LogEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e auditlog.LogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v: %s", len(entries)+1, err, sc.Text())
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return entries
}

func ids(entries []auditlog.LogEntry) []int64 {
	var out []int64
	for _, e := range entries {
		out = append(out, e.ID)
	}
	return out
}

// idRange returns from, from+1, ..., to (or downwards).
func idRange(from, to int64) []int64 {
	var out []int64
	step := int64(1)
	if to < from {
		step = -1
	}
	for id := from; ; id += step {
		out = append(out, id)
		if id == to {
			return out
		}
	}
}

// golden compares got with testdata/<test name>.golden, rewriting it with -update.
func golden(t *testing.T, got string) {
	t.Helper()
	path := filepath.Join("testdata", filepath.FromSlash(t.Name())+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

// Rows whose JSON is corrupt are skipped and named on stderr; the command
// still succeeds.
func TestCorruptEntries(t *testing.T) {
	dsn, _ := newDB(t)
	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Exec(`UPDATE audit_log_entries SET changes = '{"a":' WHERE id IN (2, 100)`).Error
	closeDB(db)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantIDs    []int64
		wantStdout string
		wantStderr string
	}{
		{
			name:       "history",
			args:       []string{"history", "-model", "items", "-pk", "1", "-format", "json"},
			wantIDs:    []int64{4, 1},
			wantStderr: "skipped corrupt entries: IDs 2 ",
		},
		{
			name:       "export",
			args:       []string{"export", "-page-size", "50", "-quiet"},
			wantIDs:    slices.DeleteFunc(idRange(1, 255), func(id int64) bool { return id == 2 || id == 100 }),
			wantStderr: "skipped corrupt entries: IDs 100 ",
		},
		{
			name:       "purge dry run counts them",
			args:       []string{"purge", "-before", "2026-01-10T01:35:00Z", "-dry-run"},
			wantStdout: "would purge 100 entries\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, append([]string{"-dsn", dsn}, tt.args...)...)
			if tt.wantIDs != nil {
				if diff := cmp.Diff(tt.wantIDs, ids(decodeLines(t, r.stdout))); diff != "" {
					t.Errorf("IDs (-want +got):\n%s", diff)
				}
			} else if r.stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tt.wantStderr)
			}
		})
	}
	t.Run("history table", func(t *testing.T) {
		r := mustRun(t, "-dsn", dsn, "history", "-model", "items", "-pk", "1")
		if want := "auditlog: warning: skipped corrupt entries: IDs 2 (their stored JSON cannot be decoded)\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
		if strings.Contains(r.stdout, "\n2 ") || !strings.Contains(r.stdout, "\n1 ") {
			t.Errorf("stdout shows entry 2 or lacks entry 1:\n%s", r.stdout)
		}
	})
}

func TestBadInput(t *testing.T) {
	dsn, path := newDB(t)
	missing := sqliteDSN(filepath.Join(t.TempDir(), "missing.db"))
	history := []string{"history", "-model", "items", "-pk", "1"}
	tests := []struct {
		name       string
		env        []string
		args       []string
		wantCode   int
		wantStderr string
	}{
		// Usage errors.
		{"no command", nil, []string{"-dsn", dsn}, 2, "auditlog: no command"},
		{"unknown command", nil, []string{"-dsn", dsn, "frobnicate"}, 2, `auditlog: unknown command "frobnicate"`},
		{"unknown global flag", nil, []string{"-colour", "history"}, 2, "flag provided but not defined: -colour"},
		{"unknown flag", nil, []string{"-dsn", dsn, "history", "-colour"}, 2, "flag provided but not defined: -colour"},
		{"missing dsn", nil, history, 2, "auditlog history: missing -dsn (or $AUDITLOG_DSN)"},
		{"missing model", nil, []string{"-dsn", dsn, "history", "-pk", "1"}, 2, "auditlog history: missing -model"},
		{"missing pk", nil, []string{"-dsn", dsn, "history", "-model", "items"}, 2, "auditlog history: missing -pk"},
		{"missing before", nil, []string{"-dsn", dsn, "purge", "-model", "items"}, 2, "auditlog purge: missing -before"},
		{"bad time", nil, []string{"-dsn", dsn, "export", "-since", "yesterday"}, 2, `invalid value "yesterday" for flag -since: want RFC 3339`},
		{"bad days", nil, []string{"-dsn", dsn, "purge", "-before", "1.5d"}, 2, `invalid value "1.5d" for flag -before`},
		{"negative age", nil, []string{"-dsn", dsn, "purge", "-before", "-24h"}, 2, `invalid value "-24h" for flag -before`},
		{"bad format", nil, append([]string{"-dsn", dsn}, append(history, "-format", "xml")...), 2, `unknown -format "xml": want table or json`},
		{"extra argument", nil, append([]string{"-dsn", dsn}, append(history, "extra")...), 2, `unexpected argument "extra"`},
		{"unknown driver", nil, append([]string{"-dsn", dsn, "-driver", "oracle"}, history...), 2, `unknown -driver "oracle"`},
		{"negative batch", nil, []string{"-dsn", dsn, "purge", "-before", "2026-01-01", "-batch", "-1"}, 2, "-batch must not be negative"},
		{"help for an unknown command", nil, []string{"help", "frobnicate"}, 2, `unknown command "frobnicate"`},

		// Runtime errors.
		{"unknown field", nil, []string{"-dsn", dsn, "export", "-model", "items", "-field", "colour"}, 1,
			`auditlog: unknown field "colour" in Query.Field: table "items" has no such column`},
		{"field without a model", nil, []string{"-dsn", dsn, "export", "-field", "status"}, 1,
			"auditlog: invalid query: Field needs Model or Table"},
		{"reversed range", nil, []string{"-dsn", dsn, "export", "-since", "2026-01-03", "-until", "2026-01-02"}, 1,
			"auditlog: invalid query: time range from 2026-01-03T00:00:00Z to 2026-01-02T00:00:00Z is empty or reversed"},
		{"unknown model in history", nil, []string{"-dsn", dsn, "history", "-model", "itms", "-pk", "1"}, 1, `auditlog: unknown model/table "itms"`},
		{"unknown model in export", nil, []string{"-dsn", dsn, "export", "-model", "itms"}, 1, `auditlog: unknown model/table "itms"`},
		{"unknown model in purge", nil, []string{"-dsn", dsn, "purge", "-before", "2026-01-06", "-model", "items", "-model", "itms"}, 1, `auditlog: unknown model/table "itms"`},
		{"missing sqlite file", nil, append([]string{"-dsn", missing}, history...), 1, "auditlog: open sqlite database: stat "},
		{"missing log table", nil, append([]string{"-dsn", dsn, "-table", "other_log"}, history...), 1, `auditlog: log table "other_log" does not exist`},
		{"no database server", nil, append([]string{"-driver", "postgres", "-dsn", "host=127.0.0.1 port=1 user=x dbname=y sslmode=disable connect_timeout=2"}, history...), 1,
			"auditlog: connect to postgres database: "},
		{"guessed postgres", nil, append([]string{"-dsn", "postgres://x@127.0.0.1:1/y?sslmode=disable&connect_timeout=2"}, history...), 1,
			"auditlog: connect to postgres database: "},
		{"malformed action", nil, []string{"-dsn", dsn, "export", "-action", "bad action!"}, 1, "auditlog: invalid action"},
		{"purge batch too large", nil, []string{"-dsn", dsn, "purge", "-before", "2026-01-06", "-batch", "20000"}, 1,
			"auditlog: invalid query: purge batch size 20000 is not between 1 and 10000"},

		// Not errors.
		{"help", nil, []string{"-h"}, 0, "usage: auditlog [global flags] <command> [flags]"},
		{"command help", nil, []string{"purge", "-h"}, 0, "usage: auditlog [global flags] purge -before T"},
		{"dsn from the environment", []string{"AUDITLOG_DSN=" + dsn}, history, 0, ""},
		{"global flags after the command", nil, append(history, "-dsn", dsn, "-table", "audit_log_entries", "-driver", "sqlite"), 0, ""},
		{"plain sqlite path", nil, append([]string{"-dsn", path}, history...), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, r.stderr)
			}
			if tt.wantCode != 0 && r.stdout != "" && !strings.HasPrefix(r.stdout, "purged 0 entries") {
				t.Errorf("stdout of a failure: %q", r.stdout)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
				t.Errorf("stderr shows a panic:\n%s", r.stderr)
			}
		})
	}
	// No failure above created the missing database file.
	if _, err := os.Stat(strings.TrimPrefix(strings.Split(missing, "?")[0], "file:")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing database file: stat error %v, want not exist", err)
	}
}

// help prints to stdout, so that it can be paged.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"help", "history"}, {"help", "export"}, {"help", "purge"}} {
		r := mustRun(t, args...)
		if !strings.HasPrefix(r.stdout, "usage: auditlog") || r.stderr != "" {
			t.Errorf("auditlog %s: stdout %q, stderr %q", strings.Join(args, " "), r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "page-size") {
			t.Errorf("auditlog %s shows the hidden -page-size flag", strings.Join(args, " "))
		}
	}
}

// go vet is clean on the command.
func TestVet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	out, err := exec.Command("go", "vet", "github.com/gorm-auditlog/auditlog/cmd/...").CombinedOutput()
	if err != nil {
		t.Errorf("go vet: %v\n%s", err, out)
	}
}
