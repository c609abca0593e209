package auditlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Fault tests: whatever goes wrong between a change and its entry, the two
// commit together or neither does. After each fault the items and the log
// are read back with a fresh session.
//
// Covered elsewhere, not repeated here:
//   - a driver.Valuer that fails while the values are read:
//     TestFailingValuerFailsTheChange (transaction_test.go), on create and
//     update, on every database;
//   - a BeforeLog hook that fails: TestBeforeLogError (hooks_test.go);
//   - a dropped log table with GORM's default transaction on, off in the
//     config and off in the session, for create, update, Where update, soft,
//     hard and Where delete: TestFailedEntryInsertFailsTheChange
//     (transaction_test.go). TestFaultLogTableMissing adds the other write
//     paths and Log.

// faultChains are the write chains a fault is injected into, each with a
// write through it that affects one row.
var faultChains = []struct {
	chain string
	do    func(db *gorm.DB) error
}{
	{"create", func(db *gorm.DB) error { return db.Create(&Item{Name: "new", Qty: 1}).Error }},
	{"update", func(db *gorm.DB) error { return db.Model(&Item{ID: 1}).Update("qty", 99).Error }},
	{"delete", func(db *gorm.DB) error { return db.Unscoped().Delete(&Item{ID: 1}).Error }},
}

// faultPoints are where, between the change and the commit, a fault strikes:
// after the change and before its entry is inserted, or after the entry is
// inserted and before the commit.
var faultPoints = []string{"before entry", "after entry"}

// faultModes are the ways a write gets its transaction.
var faultModes = []struct {
	name string
	cfg  *gorm.Config
	// beforeCommit is the callback that commits: the "after entry" fault
	// runs just before it.
	beforeCommit string
	run          func(db *gorm.DB, write func(*gorm.DB) error) error
}{
	{
		name:         "default transaction",
		beforeCommit: "gorm:commit_or_rollback_transaction",
		run:          func(db *gorm.DB, write func(*gorm.DB) error) error { return write(db) },
	},
	{
		name:         "plugin's transaction",
		cfg:          &gorm.Config{SkipDefaultTransaction: true},
		beforeCommit: cbEnd, // gorm:commit_or_rollback_transaction is not in the chain
		run:          func(db *gorm.DB, write func(*gorm.DB) error) error { return write(db) },
	},
	{
		name:         "caller's transaction",
		beforeCommit: "gorm:commit_or_rollback_transaction", // a no-op: db.Transaction commits
		run:          func(db *gorm.DB, write func(*gorm.DB) error) error { return db.Transaction(write) },
	},
}

// faultInjector calls fault from a callback at the armed chain and point.
type faultInjector struct {
	armed atomic.Value // "update/after entry", or ""
	fired atomic.Int32
	fault func(tx *gorm.DB) error
}

// inject registers the injector's callbacks on every write chain of db.
// Before the entry a callback checks that the change was made in the
// transaction (one row affected, no entry yet); after the entry, that the
// entry is there; then it runs the fault.
func (fi *faultInjector) inject(t *testing.T, db *gorm.DB, beforeCommit string) {
	t.Helper()
	fi.armed.Store("")
	for _, c := range faultChains {
		for _, point := range faultPoints {
			name := c.chain + "/" + point
			fn := func(tx *gorm.DB) {
				if fi.armed.Load() != name || tx.Error != nil {
					return
				}
				fi.armed.Store("")
				if tx.Statement.RowsAffected != 1 {
					tx.AddError(fmt.Errorf("fault at %s: %d rows affected, want 1", name, tx.Statement.RowsAffected))
					return
				}
				var n int64
				err := tx.Statement.ConnPool.QueryRowContext(tx.Statement.Context, "SELECT COUNT(*) FROM "+DefaultTable).Scan(&n)
				if want := map[string]int64{"before entry": 0, "after entry": 1}[point]; err != nil || n != want {
					tx.AddError(fmt.Errorf("fault at %s: %d entries in the transaction (err %v), want %d", name, n, err, want))
					return
				}
				fi.fired.Add(1)
				if err := fi.fault(tx); err != nil {
					tx.AddError(fmt.Errorf("fault at %s: inject: %w", name, err))
				}
			}
			cb := db.Callback()
			var err error
			switch {
			case c.chain == "create" && point == "before entry":
				err = cb.Create().After("gorm:create").Before(cbAfter).Register("test:fault "+name, fn)
			case c.chain == "create":
				err = cb.Create().After(cbAfter).Before(beforeCommit).Register("test:fault "+name, fn)
			case c.chain == "update" && point == "before entry":
				err = cb.Update().After("gorm:update").Before(cbAfter).Register("test:fault "+name, fn)
			case c.chain == "update":
				err = cb.Update().After(cbAfter).Before(beforeCommit).Register("test:fault "+name, fn)
			case c.chain == "delete" && point == "before entry":
				err = cb.Delete().After("gorm:delete").Before(cbAfter).Register("test:fault "+name, fn)
			default:
				err = cb.Delete().After(cbAfter).Before(beforeCommit).Register("test:fault "+name, fn)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runFaults runs every chain and fault point in every transaction mode on
// every database: the write must fail with an error that begins with one of
// wantErr(dialect, point) and leave the items and the log as they were.
func runFaults(t *testing.T, databases []string, wantErr func(dialect, point string) []string, fault func(t *testing.T, dialect string) func(tx *gorm.DB) error, ctxFor func() context.Context) {
	for _, mode := range faultModes {
		t.Run(mode.name, func(t *testing.T) {
			for _, name := range databases {
				t.Run(name, func(t *testing.T) {
					db := openTestDB(t, name, mode.cfg)
					setup(t, db, []any{&Item{}})
					seedItems(t, db)
					fi := &faultInjector{fault: fault(t, name)}
					fi.inject(t, db, mode.beforeCommit)
					for _, c := range faultChains {
						for _, point := range faultPoints {
							t.Run(c.chain+" "+point, func(t *testing.T) {
								before := allItems(t, db)
								fi.armed.Store(c.chain + "/" + point)
								fired := fi.fired.Load()
								wdb := db
								if ctxFor != nil {
									wdb = db.WithContext(ctxFor())
								}
								err := mode.run(wdb, c.do)
								if fi.fired.Load() != fired+1 {
									t.Fatalf("the fault did not strike (write: %v)", err)
								}
								if want := wantErr(name, point); err == nil || !slices.ContainsFunc(want, func(w string) bool { return strings.HasPrefix(err.Error(), w) }) {
									t.Errorf("write: %v, want an error beginning with one of %q", err, want)
								}
								if diff := cmp.Diff(before, allItems(t, db)); diff != "" {
									t.Errorf("items changed by the failed write (-before +after):\n%s", diff)
								}
								if got := allEntries(t, db); len(got) != 0 {
									t.Errorf("entries after the failed write: %v, want none", summarize(got))
								}
							})
						}
					}
				})
			}
		})
	}
}

// TestFaultConnectionKilled kills the write's connection from the server side
// (from another connection) after the change, before or after its entry is
// inserted: neither commits. SQLite runs in the process, so there is no
// server-side connection to kill; a crash is its journal's business.
func TestFaultConnectionKilled(t *testing.T) {
	// Before the entry, its INSERT fails; after it, the commit does.
	wantErr := func(dialect, point string) []string {
		msg := map[string]string{
			"postgres": "FATAL: terminating connection due to administrator command (SQLSTATE 57P01)",
			"mysql":    "invalid connection",
		}[dialect]
		msgs := []string{msg}
		if dialect == "mysql" { // when the write itself fails, before anything was sent
			msgs = append(msgs, "driver: bad connection")
		}
		if point == "before entry" {
			for i := range msgs {
				msgs[i] = "auditlog: write entries: " + msgs[i]
			}
		}
		return msgs
	}
	// The MySQL driver logs the connection's EOF; keep the output quiet.
	mysqldrv.SetLogger(log.New(io.Discard, "", 0))
	defer mysqldrv.SetLogger(log.New(os.Stderr, "[mysql] ", log.Ldate|log.Ltime|log.Lshortfile))
	runFaults(t, []string{"postgres", "mysql"}, wantErr, func(t *testing.T, dialect string) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error { return killConnection(tx, dialect) }
	}, nil)
	t.Run("sqlite", func(t *testing.T) {
		t.Skip("SQLite runs in the process: there is no server-side connection to kill")
	})
}

// killConnection terminates the server session of tx's connection from
// another connection of the pool, and waits until the server has ended it.
func killConnection(tx *gorm.DB, dialect string) error {
	ctx := context.Background()
	other := tx.Session(&gorm.Session{NewDB: true, Context: ctx})
	other.Statement.ConnPool = tx.ConnPool // the pool, not the transaction
	switch dialect {
	case "postgres":
		var pid int64
		if err := tx.Statement.ConnPool.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
		var ok bool
		// pg_terminate_backend(pid, timeout) waits until the backend is gone.
		if err := other.Raw("SELECT pg_terminate_backend(?, 10000)", pid).Scan(&ok).Error; err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("backend %d was not terminated", pid)
		}
	case "mysql":
		var id int64
		if err := tx.Statement.ConnPool.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
			return err
		}
		if err := other.Exec(fmt.Sprintf("KILL CONNECTION %d", id)).Error; err != nil {
			return err
		}
		for i := 0; ; i++ {
			var n int64
			if err := other.Raw("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				break
			}
			if i == 1000 {
				return fmt.Errorf("connection %d still listed after KILL", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	default:
		return fmt.Errorf("cannot kill a %s connection", dialect)
	}
	return nil
}

// TestFaultContextCancelled cancels the write's context after the change,
// before or after its entry is inserted: database/sql rolls the transaction
// back, and neither commits.
func TestFaultContextCancelled(t *testing.T) {
	var cancel context.CancelFunc
	ctxFor := func() context.Context {
		ctx, c := context.WithCancel(context.Background())
		cancel = c
		return ctx
	}
	// Before the entry, its INSERT fails; after it, the commit does, unless
	// database/sql's watcher of the context rolled the transaction back
	// first.
	wantErr := func(dialect, point string) []string {
		if point == "before entry" {
			return []string{"auditlog: write entries: context canceled"}
		}
		return []string{"context canceled", sql.ErrTxDone.Error()}
	}
	runFaults(t, testDatabases, wantErr, func(t *testing.T, dialect string) func(tx *gorm.DB) error {
		return func(tx *gorm.DB) error { cancel(); return nil }
	}, ctxFor)
}

// faultWrites are the write paths (and Log) tried against a log table that
// cannot take the entry.
var faultWrites = []struct {
	name string
	do   func(db *gorm.DB, p *Plugin) error
}{
	{"create", func(db *gorm.DB, p *Plugin) error { return db.Create(&Item{Name: "new"}).Error }},
	{"create slice", func(db *gorm.DB, p *Plugin) error { return db.Create(&[]Item{{Name: "a"}, {Name: "b"}}).Error }},
	{"create in batches", func(db *gorm.DB, p *Plugin) error {
		return db.CreateInBatches(&[]Item{{Name: "a"}, {Name: "b"}, {Name: "c"}}, 2).Error
	}},
	{"save update", func(db *gorm.DB, p *Plugin) error {
		var it Item
		if err := db.First(&it, 1).Error; err != nil {
			return fmt.Errorf("unexpected: %w", err)
		}
		it.Name = "saved"
		return db.Save(&it).Error
	}},
	{"save upsert fallback", func(db *gorm.DB, p *Plugin) error { return db.Save(&Item{ID: 10, Name: "saved"}).Error }},
	{"updates struct", func(db *gorm.DB, p *Plugin) error {
		return db.Model(&Item{ID: 1}).Updates(Item{Name: "x", Qty: 7}).Error
	}},
	{"updates map", func(db *gorm.DB, p *Plugin) error {
		return db.Model(&Item{ID: 1}).Updates(map[string]any{"name": "x", "qty": 7}).Error
	}},
	{"update column expression", func(db *gorm.DB, p *Plugin) error {
		return db.Model(&Item{ID: 1}).UpdateColumn("qty", gorm.Expr("qty + ?", 1)).Error
	}},
	{"where update", func(db *gorm.DB, p *Plugin) error {
		return db.Model(&Item{}).Where("qty >= ?", 0).Update("qty", 5).Error
	}},
	{"upsert", func(db *gorm.DB, p *Plugin) error {
		return db.Clauses(clause.OnConflict{UpdateAll: true}).Create(&[]Item{{ID: 2, Name: "ink2"}, {ID: 12, Name: "new"}}).Error
	}},
	{"soft delete", func(db *gorm.DB, p *Plugin) error { return db.Delete(&Item{ID: 1}).Error }},
	{"hard delete by where", func(db *gorm.DB, p *Plugin) error {
		return db.Unscoped().Where("qty > ?", 1).Delete(&Item{}).Error
	}},
	{"log", func(db *gorm.DB, p *Plugin) error {
		return db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&Item{ID: 1}).UpdateColumn("qty", 42).Error; err != nil {
				return fmt.Errorf("unexpected: %w", err)
			}
			return p.Log(context.Background(), tx, &Item{ID: 1}, ActionAccess, map[string]any{"k": "v"})
		})
	}},
}

// runLogTableFaults runs every fault write on every database after breaking
// the log table with breakLog: each write must fail with an error naming the
// entry insert and containing wantErr (by dialect), and change nothing.
func runLogTableFaults(t *testing.T, wantErr map[string]string, readLog bool, breakLog func(t *testing.T, db *gorm.DB)) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, []any{&Item{}})
		seedItems(t, db)
		breakLog(t, db)
		for _, w := range faultWrites {
			t.Run(w.name, func(t *testing.T) {
				before := allItems(t, db)
				err := w.do(db, p)
				// The entry insert is named by its prefix, or by ErrNoLogTable
				// when the table is missing.
				named := err != nil && (strings.Contains(err.Error(), "auditlog: write entries: ") || errors.Is(err, ErrNoLogTable))
				if !named || !strings.Contains(err.Error(), wantErr[db.Dialector.Name()]) {
					t.Errorf("write: %v, want the entry insert's error containing %q", err, wantErr[db.Dialector.Name()])
				}
				if diff := cmp.Diff(before, allItems(t, db)); diff != "" {
					t.Errorf("items changed by the failed write (-before +after):\n%s", diff)
				}
				if readLog {
					if got := allEntries(t, db); len(got) != 0 {
						t.Errorf("entries after the failed write: %v, want none", summarize(got))
					}
				}
			})
		}
	})
}

// TestFaultLogTableMissing drops the log table: every write fails and changes
// nothing.
func TestFaultLogTableMissing(t *testing.T) {
	wantErr := map[string]string{
		"sqlite":   "no such table: " + DefaultTable,
		"postgres": `relation "` + DefaultTable + `" does not exist (SQLSTATE 42P01)`,
		"mysql":    "Error 1146 (42S02)",
	}
	runLogTableFaults(t, wantErr, false, func(t *testing.T, db *gorm.DB) {
		if err := db.Migrator().DropTable(&LogEntry{}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFaultLogTableReadOnly makes the log table refuse inserts: on PostgreSQL
// the session's role lacks INSERT on it; on MySQL and SQLite a BEFORE INSERT
// trigger raises an error. Every write fails and changes nothing.
func TestFaultLogTableReadOnly(t *testing.T) {
	wantErr := map[string]string{
		"sqlite":   "audit log is read-only",
		"postgres": "permission denied for table " + DefaultTable + " (SQLSTATE 42501)",
		"mysql":    "Error 1644 (45000): audit log is read-only",
	}
	runLogTableFaults(t, wantErr, true, func(t *testing.T, db *gorm.DB) {
		switch db.Dialector.Name() {
		case "sqlite":
			mustExec(t, db, "CREATE TRIGGER audit_read_only BEFORE INSERT ON "+DefaultTable+
				" BEGIN SELECT RAISE(ABORT, 'audit log is read-only'); END")
		case "mysql":
			mustExec(t, db, "CREATE TRIGGER audit_read_only BEFORE INSERT ON "+DefaultTable+
				" FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit log is read-only'")
		case "postgres":
			readOnlyRole(t, db)
		}
	})
}

// readOnlyRole makes db a single connection whose role may read and write the
// items but only read the log table.
func readOnlyRole(t *testing.T, db *gorm.DB) {
	t.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1) // SET ROLE holds for this one session
	sqlDB.SetMaxIdleConns(1)
	var schemaName string
	if err := db.Raw("SELECT current_schema()").Scan(&schemaName).Error; err != nil {
		t.Fatal(err)
	}
	role := randomName("auditlog_ro_")
	mustExec(t, db, "CREATE ROLE "+role+" NOLOGIN")
	t.Cleanup(func() {
		db.Exec("RESET ROLE")
		db.Exec("DROP OWNED BY " + role)
		db.Exec("DROP ROLE " + role)
	})
	mustExec(t, db, "GRANT USAGE ON SCHEMA "+schemaName+" TO "+role)
	mustExec(t, db, "GRANT SELECT, INSERT, UPDATE, DELETE ON items TO "+role)
	mustExec(t, db, "GRANT USAGE, SELECT ON SEQUENCE items_id_seq TO "+role)
	mustExec(t, db, "GRANT SELECT ON "+DefaultTable+" TO "+role)
	mustExec(t, db, "SET ROLE "+role)
	var current string
	if err := db.Raw("SELECT current_user").Scan(&current).Error; err != nil || current != role {
		t.Fatalf("current_user %q (err %v), want %q", current, err, role)
	}
}

func mustExec(t *testing.T, db *gorm.DB, sql string) {
	t.Helper()
	if err := db.Exec(sql).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
