package auditlog

import (
	"context"
	"regexp"
	"slices"
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

// lockedUpdate matches the one-statement update of returning.go: a CTE that
// locks the rows, and the UPDATE of those rows returning old and new values.
var lockedUpdate = regexp.MustCompile(`(?s)^WITH "auditlog_locked" AS \(SELECT .*\sFOR UPDATE\)\sUPDATE "(\w+)" SET .*\sFROM "auditlog_locked" WHERE .*\sRETURNING\s`)

// lockedDelete matches the one-statement hard delete of returning.go.
var lockedDelete = regexp.MustCompile(`(?s)^WITH "auditlog_locked" AS \(SELECT .*\sFOR UPDATE\)\sDELETE FROM "(\w+)" USING "auditlog_locked" WHERE .*\sRETURNING\s`)

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

// TestStatementsPerOperation checks that a batch costs a fixed number of
// statements, whatever its size: one locked read of the old rows, one read
// of the new ones where the write does not carry them, and one multi-row
// INSERT of the entries. On PostgreSQL an update or delete is one statement
// that locks, writes and returns the rows (capture_sql.go).
func TestStatementsPerOperation(t *testing.T) {
	valueUpdate := map[string][]string{
		"sqlite":   {"SELECT items", "UPDATE items", "INSERT audit_log_entries"},
		"postgres": {"LOCK+UPDATE items RETURNING", "INSERT audit_log_entries"},
		"mysql":    {"SELECT FOR UPDATE items", "UPDATE items", "INSERT audit_log_entries"},
	}
	exprUpdate := map[string][]string{
		"sqlite":   {"SELECT items", "UPDATE items RETURNING", "INSERT audit_log_entries"},
		"postgres": {"LOCK+UPDATE items RETURNING", "INSERT audit_log_entries"},
		"mysql":    {"SELECT FOR UPDATE items", "UPDATE items", "SELECT items", "INSERT audit_log_entries"},
	}
	softDelete := map[string][]string{
		"sqlite":   {"SELECT items", "UPDATE items RETURNING", "INSERT audit_log_entries"},
		"postgres": {"LOCK+UPDATE items RETURNING", "INSERT audit_log_entries"},
		"mysql":    {"SELECT FOR UPDATE items", "UPDATE items", "SELECT items", "INSERT audit_log_entries"},
	}
	hardDelete := map[string][]string{
		"sqlite":   {"DELETE items RETURNING", "INSERT audit_log_entries"},
		"postgres": {"LOCK+DELETE items RETURNING", "INSERT audit_log_entries"},
		"mysql":    {"DELETE items RETURNING", "INSERT audit_log_entries"},
	}
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			rec := &sqlRecorder{}
			db := openTestDB(t, name, &gorm.Config{Logger: rec})
			setup(t, db, []any{&Item{}})
			if name == "mysql" && !slices.Contains(db.Callback().Delete().Clauses, "RETURNING") {
				// MySQL, and MariaDB before 10.5, have no DELETE ... RETURNING.
				hardDelete[name] = []string{"SELECT FOR UPDATE items", "DELETE items", "INSERT audit_log_entries"}
			}
			steps := []struct {
				name string
				do   func() error
				want []string
			}{
				{
					name: "create 50",
					do: func() error {
						items := make([]Item, 50)
						return db.Create(&items).Error
					},
					want: []string{"INSERT items", "INSERT audit_log_entries"},
				},
				{
					name: "where update of 50 with a value: new values come from the statement",
					do:   func() error { return db.Model(&Item{}).Where("id > ?", 0).Update("qty", 1).Error },
					want: valueUpdate[name],
				},
				{
					name: "where update of 50 with an expression: new values come from RETURNING, or are read back",
					do:   func() error { return db.Model(&Item{}).Where("id > ?", 0).Update("qty", gorm.Expr("qty + 1")).Error },
					want: exprUpdate[name],
				},
				{
					name: "where soft delete of 50",
					do:   func() error { return db.Where("qty = ?", 2).Delete(&Item{}).Error },
					want: softDelete[name],
				},
				{
					name: "hard delete of 50",
					do:   func() error { return db.Unscoped().Where("qty = ?", 2).Delete(&Item{}).Error },
					want: hardDelete[name],
				},
			}
			for _, step := range steps {
				rec.reset()
				if err := step.do(); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				// GORM traces a statement after its callbacks ran, so the
				// order of the log is not the order of execution.
				if diff := cmp.Diff(step.want, rec.kinds(), anyOrder); diff != "" {
					t.Errorf("%s: statements (-want +got):\n%s", step.name, diff)
				}
			}
			if n := len(allEntries(t, db)); n != 250 {
				t.Errorf("%d entries, want 250", n)
			}
		})
	}
}
