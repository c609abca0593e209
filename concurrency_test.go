package auditlog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TestConcurrentUpdatesKeepHistoryContinuous runs 8 goroutines doing 50
// updates each of one row and checks that the history is complete (400
// update entries) and continuous: each entry's old values equal the previous
// entry's new values. Without the row lock on the old-value read, two
// writers read the same old value and a state vanishes from the history.
func TestConcurrentUpdatesKeepHistoryContinuous(t *testing.T) {
	const workers, updates = 8, 50
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}})
		seedItems(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range updates {
					err := db.Model(&Item{ID: 1}).Updates(map[string]any{
						"qty":  gorm.Expr("qty + ?", 1),
						"name": fmt.Sprintf("w%d-%d", w, i),
					}).Error
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("update: %v", err)
		}

		entries := allEntries(t, db)
		if len(entries) != workers*updates {
			t.Fatalf("%d entries, want %d", len(entries), workers*updates)
		}
		prevQty, prevName := any(num("10")), any("pen")
		for i, e := range entries {
			if e.Action != ActionUpdate || e.ObjectPK != "1" {
				t.Fatalf("entry %d: %s %s, want update 1", i, e.Action, e.ObjectPK)
			}
			qty, name := e.Changes["qty"], e.Changes["name"]
			if qty.Old != prevQty || name.Old != prevName {
				t.Fatalf("entry %d: old qty %v name %v, want the previous entry's new values %v %v", i, qty.Old, name.Old, prevQty, prevName)
			}
			if want := num(fmt.Sprint(11 + i)); qty.New != want {
				t.Fatalf("entry %d: new qty %v, want %v", i, qty.New, want)
			}
			prevQty, prevName = qty.New, name.New
		}
		var it Item
		db.First(&it, 1)
		if it.Qty != 10+workers*updates || it.Name != prevName {
			t.Errorf("final row qty %d name %q, want %d %q (the last entry's new values)", it.Qty, it.Name, 10+workers*updates, prevName)
		}
	})
}

// TestPhantomRowIsNotChangedWithoutEntry commits a new matching row from
// another connection while an update runs. Under PostgreSQL's READ
// COMMITTED the UPDATE would see that row. An update that is one statement
// (capture_sql.go) locks and changes the row committed before it, with its
// entry; one that the plugin reads first (here: a statement with its own
// RETURNING) is restricted to the rows it read, so a row committed between
// the locked read and the write stays unchanged. Either way every changed
// row has its entry. (SQLite serializes writers, and InnoDB's next-key locks
// make the insert wait, so the race exists only on PostgreSQL.)
func TestPhantomRowIsNotChangedWithoutEntry(t *testing.T) {
	for _, oneStatement := range []bool{true, false} {
		t.Run(map[bool]string{true: "one statement", false: "read first"}[oneStatement], func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *gorm.DB) {
				if db.Dialector.Name() != "postgres" {
					t.Skipf("%s cannot commit a phantom between the locked read and the UPDATE", db.Dialector.Name())
				}
				setup(t, db, []any{&Item{}})
				seedItems(t, db)
				other := db.Session(&gorm.Session{NewDB: true}) // another pooled connection, autocommit
				injected := false
				inject := func() error {
					injected = true
					return other.Create(&Item{Name: "phantom", Qty: 50}).Error
				}
				// Before the statement (one statement), or right after the
				// capture's locked read (read first), under the capture.
				err := db.Callback().Update().After("gorm:before_update").Before("auditlog:before").Register("test:phantom", func(tx *gorm.DB) {
					if oneStatement {
						tx.AddError(inject())
						return
					}
					tx.Statement.ConnPool = &afterLockedRead{ConnPool: tx.Statement.ConnPool, then: inject}
				})
				if err != nil {
					t.Fatal(err)
				}
				q := db.Model(&Item{})
				if !oneStatement {
					q = db.Model(&[]Item{}).Clauses(clause.Returning{})
				}
				if err := q.Where("qty > ?", 1).Update("qty", 0).Error; err != nil {
					t.Fatal(err)
				}
				if !injected {
					t.Fatal("the phantom was not inserted")
				}
				var phantom Item
				db.Where("name = ?", "phantom").First(&phantom)
				want := []summary{
					{ActionCreate, "4", createdItem("4", "phantom", "0", "50", "")},
					{ActionUpdate, "1", Changes{"qty": {num("10"), num("0")}}},
					{ActionUpdate, "2", Changes{"qty": {num("3"), num("0")}}},
				}
				if oneStatement {
					want = append(want, summary{ActionUpdate, "4", Changes{"qty": {num("50"), num("0")}}})
					if phantom.Qty != 0 {
						t.Errorf("the phantom row was not changed (qty %d) by the one-statement update", phantom.Qty)
					}
				} else if phantom.Qty != 50 {
					t.Errorf("the phantom row was changed (qty %d) although it was not read", phantom.Qty)
				}
				if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// afterLockedRead runs then once, right after the first locking SELECT that
// goes through it.
type afterLockedRead struct {
	gorm.ConnPool
	then func() error
	done bool
}

func (p *afterLockedRead) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := p.ConnPool.QueryContext(ctx, query, args...)
	if err == nil && !p.done && strings.HasPrefix(query, "SELECT") && strings.Contains(query, "FOR UPDATE") {
		p.done = true
		if err := p.then(); err != nil {
			rows.Close()
			return nil, err
		}
	}
	return rows, err
}

// Commit and Rollback end the transaction afterLockedRead stands in for.
func (p *afterLockedRead) Commit() error   { return p.ConnPool.(gorm.TxCommitter).Commit() }
func (p *afterLockedRead) Rollback() error { return p.ConnPool.(gorm.TxCommitter).Rollback() }

// TestRestrictedUpdateUsesPrimaryKey checks the access path of the UPDATE
// that the capture restricts to the keys of its locked read, on MySQL and
// MariaDB: through the primary key, as the locked read took the rows. On a
// small table with a soft-delete index, InnoDB otherwise runs "id IN (...)
// AND deleted_at IS NULL" through that index, whose next-key locks, taken
// after the rows' locks, meet another writer's locked read taking the index
// first: the deadlocks of issue 18.
func TestRestrictedUpdateUsesPrimaryKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		if db.Dialector.Name() != "mysql" {
			t.Skip("index hints are MySQL's and MariaDB's")
		}
		setup(t, db, []any{&LoadItem{}})
		items := make([]LoadItem, 60)
		for i := range items {
			items[i] = LoadItem{Name: fmt.Sprint("n", i), Counter: int64(i)}
		}
		if err := db.Create(&items).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Where("id % 5 = 0").Delete(&LoadItem{}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("ANALYZE TABLE load_items").Error; err != nil {
			t.Fatal(err)
		}
		rec := &sqlRecorder{}
		tx := db.Session(&gorm.Session{Logger: rec})
		if err := tx.Model(&LoadItem{ID: 7}).Update("name", "x").Error; err != nil {
			t.Fatal(err)
		}
		err := tx.Model(&LoadItem{}).Where("id IN ?", []int64{3, 4, 6}).Updates(map[string]any{"counter": gorm.Expr("counter + 1")}).Error
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range rec.sql {
			if !strings.HasPrefix(s, "UPDATE") {
				continue
			}
			n++
			if !strings.Contains(s, "FORCE INDEX (PRIMARY)") {
				t.Errorf("restricted UPDATE without the primary key hint: %s", s)
			}
			var plan []map[string]any
			if err := db.Raw("EXPLAIN " + s).Scan(&plan).Error; err != nil {
				t.Fatal(err)
			}
			if len(plan) != 1 || fmt.Sprint(plan[0]["key"]) != "PRIMARY" {
				t.Errorf("EXPLAIN %s\n= %v, want one row with key PRIMARY", s, plan)
			}
		}
		if n != 2 {
			t.Errorf("%d UPDATE statements recorded, want 2: %q", n, rec.sql)
		}
	})
}

// LegacyItem's table has no PRIMARY KEY in the database: ID is GORM's key
// only, as in a table created by hand.
type LegacyItem struct {
	ID   int64
	Name string `gorm:"size:64"`
}

// TestUpdateOfTableWithoutPrimaryIndex updates rows of a table without a
// PRIMARY KEY: on MySQL and MariaDB the restricted UPDATE's index hint names
// an index that does not exist, and the capture runs it without the hint.
func TestUpdateOfTableWithoutPrimaryIndex(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, nil)
		for _, sql := range []string{"CREATE TABLE legacy_items (id bigint NOT NULL, name varchar(64))",
			"INSERT INTO legacy_items (id, name) VALUES (1, 'a'), (2, 'b')"} {
			if err := db.Exec(sql).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Register(&LegacyItem{}); err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&LegacyItem{ID: 1}).Update("name", "x").Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&LegacyItem{}).Where("id IN ?", []int64{1, 2}).Update("name", "y").Error; err != nil {
			t.Fatal(err)
		}
		want := []summary{
			{ActionUpdate, "1", Changes{"name": {"a", "x"}}},
			{ActionUpdate, "1", Changes{"name": {"x", "y"}}},
			{ActionUpdate, "2", Changes{"name": {"b", "y"}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// TestRestrictedUpdateKeepsCallersHint updates with an index hint of the
// caller's after the UPDATE's table (where gorm.io/hints puts one): the
// restricted UPDATE keeps it and adds none of its own, which MySQL would
// refuse next to it.
func TestRestrictedUpdateKeepsCallersHint(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		if db.Dialector.Name() != "mysql" {
			t.Skip("index hints are MySQL's and MariaDB's")
		}
		setup(t, db, []any{&LoadItem{}})
		if err := db.Create(&LoadItem{Name: "a"}).Error; err != nil {
			t.Fatal(err)
		}
		err := db.Callback().Update().Before("gorm:update").Register("test:hint", func(tx *gorm.DB) {
			tx.Statement.AddClause(clause.Update{})
			up := tx.Statement.Clauses["UPDATE"]
			up.AfterExpression = clause.Expr{SQL: "USE INDEX (PRIMARY)"}
			tx.Statement.Clauses["UPDATE"] = up
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := &sqlRecorder{}
		if err := db.Session(&gorm.Session{Logger: rec}).Model(&LoadItem{ID: 1}).Update("name", "b").Error; err != nil {
			t.Fatal(err)
		}
		for _, s := range rec.sql {
			if strings.HasPrefix(s, "UPDATE") && (strings.Contains(s, "FORCE INDEX") || !strings.Contains(s, "USE INDEX (PRIMARY)")) {
				t.Errorf("UPDATE without the caller's hint alone: %s", s)
			}
		}
		want := []summary{
			{ActionCreate, "1", Changes{"id": {nil, num("1")}, "name": {nil, "a"}, "counter": {nil, num("0")}}},
			{ActionUpdate, "1", Changes{"name": {"a", "b"}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}
