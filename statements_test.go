package auditlog

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// sqlRecorder is a GORM logger that keeps every statement executed.
type sqlRecorder struct {
	mu  sync.Mutex
	sql []string
}

func (r *sqlRecorder) LogMode(logger.LogLevel) logger.Interface      { return r }
func (r *sqlRecorder) Info(context.Context, string, ...interface{})  {}
func (r *sqlRecorder) Warn(context.Context, string, ...interface{})  {}
func (r *sqlRecorder) Error(context.Context, string, ...interface{}) {}
func (r *sqlRecorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	s, _ := fc()
	r.mu.Lock()
	r.sql = append(r.sql, s)
	r.mu.Unlock()
}

// lockedUpdate matches the one-statement update of capture_sql.go: a CTE that
// locks the rows, and the UPDATE of those rows returning old and new values
// (a page of a paged write: in a second CTE, its rows selected in key order).
var lockedUpdate = regexp.MustCompile(`(?s)^WITH "auditlog_locked" AS \(SELECT .*\sFOR UPDATE\)\s(?:, "auditlog_written" AS \()?UPDATE "(\w+)" SET .*\sFROM "auditlog_locked" WHERE .*\sRETURNING\s`)

// lockedDelete matches the one-statement hard delete of capture_sql.go.
var lockedDelete = regexp.MustCompile(`(?s)^WITH "auditlog_locked" AS \(SELECT .*\sFOR UPDATE\)\s(?:, "auditlog_written" AS \()?DELETE FROM "(\w+)" USING "auditlog_locked" WHERE .*\sRETURNING\s`)

var verbAndTable = regexp.MustCompile(`(?i)^\s*(INSERT INTO|UPDATE|DELETE FROM|SELECT .*? FROM)\s+[\x60"]?(\w+)`)

// kinds reduces the recorded statements to "VERB table" lines.
func (r *sqlRecorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.sql {
		if m := lockedUpdate.FindStringSubmatch(s); m != nil {
			out = append(out, "LOCK+UPDATE "+m[1]+" RETURNING")
			continue
		}
		if m := lockedDelete.FindStringSubmatch(s); m != nil {
			out = append(out, "LOCK+DELETE "+m[1]+" RETURNING")
			continue
		}
		m := verbAndTable.FindStringSubmatch(s)
		if m == nil {
			out = append(out, s)
			continue
		}
		verb := strings.ToUpper(strings.Fields(m[1])[0])
		suffix := ""
		if strings.Contains(strings.ToUpper(s), "FOR UPDATE") {
			verb += " FOR UPDATE"
		}
		if (verb == "UPDATE" || verb == "DELETE") && regexp.MustCompile(`\sRETURNING\s`).MatchString(s) {
			suffix = " RETURNING"
		}
		out = append(out, verb+" "+m[2]+suffix)
	}
	return out
}

// anyOrder compares statement lists regardless of order: GORM traces a
// statement after its callbacks ran, so the log's order is not the order of
// execution.
var anyOrder = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func (r *sqlRecorder) reset() {
	r.mu.Lock()
	r.sql = nil
	r.mu.Unlock()
}

// execRecorder stands in for a write's connection from before the plugin's
// capture on, and records the statements run through it in the order they
// are executed (GORM's logger traces a write after its callbacks ran).
type execRecorder struct {
	gorm.ConnPool
	rec *sqlRecorder
}

func (e *execRecorder) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	e.rec.Trace(ctx, time.Time{}, func() (string, int64) { return query, 0 }, nil)
	return e.ConnPool.ExecContext(ctx, query, args...)
}

func (e *execRecorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	e.rec.Trace(ctx, time.Time{}, func() (string, int64) { return query, 0 }, nil)
	return e.ConnPool.QueryContext(ctx, query, args...)
}

func (e *execRecorder) Commit() error   { return e.ConnPool.(gorm.TxCommitter).Commit() }
func (e *execRecorder) Rollback() error { return e.ConnPool.(gorm.TxCommitter).Rollback() }

// recordExecution installs an execRecorder on every write of db.
func recordExecution(t *testing.T, db *gorm.DB, rec *sqlRecorder) {
	t.Helper()
	wrap := func(tx *gorm.DB) { tx.Statement.ConnPool = &execRecorder{ConnPool: tx.Statement.ConnPool, rec: rec} }
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("auditlog:begin").Before("auditlog:stamp").Register("test:record", wrap),
		cb.Update().After("auditlog:begin").Before("auditlog:before").Register("test:record", wrap),
		cb.Delete().After("auditlog:begin").Before("auditlog:before").Register("test:record", wrap),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// strategyStatements are the statements, in order, each strategy runs for
// a write of items, before the entries' INSERT; lock is the locked read
// ("SELECT FOR UPDATE items", "SELECT items" on SQLite).
func strategyStatements(st strategy, verb, lock string) []string {
	switch st {
	case oneStatement:
		return []string{"LOCK+" + verb + " items RETURNING"}
	case deleteReturning:
		return []string{"DELETE items RETURNING"}
	case readDelete:
		return []string{lock, "DELETE items"}
	case readCarry:
		return []string{lock, "UPDATE items"}
	case readReturning:
		return []string{lock, "UPDATE items RETURNING"}
	case readReread:
		return []string{lock, "UPDATE items", "SELECT items"}
	case insertSent:
		return []string{"INSERT items"}
	case insertReread:
		return []string{"INSERT items", "SELECT items"}
	}
	return nil
}

// TestStatementsPerOperation checks, for every strategy forced in turn on
// every database, that a batch costs a fixed number of statements whatever
// its size, run in order: the lock before the write, the write before the
// read-back, the entries' multi-row INSERT last.
func TestStatementsPerOperation(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			probe := openTestDB(t, name, nil)
			caps := newCapabilities(probe)
			for _, st := range strategiesOn(caps) {
				t.Run(st.String(), func(t *testing.T) {
					rec := &sqlRecorder{}
					db := openTestDB(t, name, nil)
					setupWith(t, db, []Option{forceStrategy(st)}, []any{&Item{}})
					recordExecution(t, db, rec)
					checkStatementsPerOperation(t, db, rec, caps, st)
				})
			}
		})
	}
}

func checkStatementsPerOperation(t *testing.T, db *gorm.DB, rec *sqlRecorder, caps capabilities, st strategy) {
	t.Helper()
	lock := "SELECT FOR UPDATE items"
	if !caps.rowLocks {
		lock = "SELECT items"
	}
	steps := []struct {
		name  string
		kind  writeKind
		shape shape
		verb  string
		do    func() error
	}{
		{"where update of 50 with a value", writeUpdate, shape{plain: true, carried: true}, "UPDATE",
			func() error { return db.Model(&Item{}).Where("id > ?", 0).Update("qty", 1).Error }},
		{"where update of 50 with an expression", writeUpdate, shape{plain: true}, "UPDATE",
			func() error { return db.Model(&Item{}).Where("id > ?", 0).Update("qty", gorm.Expr("qty + 1")).Error }},
		{"where soft delete of 50", writeSoftDelete, shape{plain: true}, "UPDATE",
			func() error { return db.Where("qty = ?", 2).Delete(&Item{}).Error }},
		{"hard delete of 50", writeHardDelete, shape{plain: true}, "DELETE",
			func() error { return db.Unscoped().Where("qty = ?", 2).Delete(&Item{}).Error }},
	}
	if err := db.Create(make([]Item, 50)).Error; err != nil {
		t.Fatal(err)
	}
	used := chooseStrategy(caps, writeCreate, shape{carried: true}, st)
	if diff := cmp.Diff(append(strategyStatements(used, "INSERT", lock), "INSERT audit_log_entries"), rec.kinds()); diff != "" {
		t.Errorf("create 50 (%s): statements (-want +got):\n%s", used, diff)
	}
	for _, step := range steps {
		rec.reset()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		used := chooseStrategy(caps, step.kind, step.shape, st)
		want := append(strategyStatements(used, step.verb, lock), "INSERT audit_log_entries")
		if diff := cmp.Diff(want, rec.kinds()); diff != "" {
			t.Errorf("%s (%s): statements (-want +got):\n%s", step.name, used, diff)
		}
	}
	if n := len(allEntries(t, db)); n != 250 {
		t.Errorf("%d entries, want 250", n)
	}
}
