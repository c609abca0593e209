package auditlog

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// TestExpressionUpdates checks the new values of gorm.Expr updates, which
// come from the UPDATE's RETURNING on PostgreSQL and SQLite and from a read
// on MySQL, in the connection modes that change the connection type, with a
// statement that brings its own RETURNING, and with a callback that runs
// another UPDATE on the statement's connection just before gorm:update.
func TestExpressionUpdates(t *testing.T) {
	configs := map[string]gorm.Config{
		"default":                  {},
		"prepared statements":      {PrepareStmt: true},
		"no default transaction":   {SkipDefaultTransaction: true},
		"callback before update":   {},
		"statement with RETURNING": {},
	}
	for cfgName, config := range configs {
		t.Run(cfgName, func(t *testing.T) {
			for _, name := range testDatabases {
				t.Run(name, func(t *testing.T) {
					if cfgName == "statement with RETURNING" && name == "mysql" {
						t.Skip("MariaDB has no UPDATE ... RETURNING")
					}
					db := openTestDB(t, name, &config)
					setup(t, db, []any{&Item{}}, Include("Qty", "Note"))
					seedItems(t, db) // qty 10, 3, 0
					if cfgName == "callback before update" {
						err := db.Callback().Update().Before("gorm:update").Register("test:nested", func(tx *gorm.DB) {
							if tx.Statement.Schema == nil || tx.Statement.Schema.Table != "items" {
								return
							}
							note := "touched"
							tx.AddError(tx.Session(&gorm.Session{NewDB: true}).Exec("UPDATE items SET note = ? WHERE id = 3", &note).Error)
						})
						if err != nil {
							t.Fatal(err)
						}
					}
					q := db.Model(&Item{}).Where("id < ?", 3)
					var returned []Item
					if cfgName == "statement with RETURNING" {
						q = db.Model(&returned).Clauses(clause.Returning{}).Where("id < ?", 3)
					}
					if err := q.Update("qty", gorm.Expr("qty * 2 + ?", 1)).Error; err != nil {
						t.Fatal(err)
					}
					want := []summary{
						{ActionUpdate, "1", Changes{"qty": {num("10"), num("21")}}},
						{ActionUpdate, "2", Changes{"qty": {num("3"), num("7")}}},
					}
					if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
						t.Errorf("entries (-want +got):\n%s", diff)
					}
					if cfgName == "statement with RETURNING" && (len(returned) != 2 || returned[0].Qty != 21) {
						t.Errorf("the statement's own RETURNING gave %+v", returned)
					}
					var items []Item
					if err := db.Order("id").Find(&items).Error; err != nil {
						t.Fatal(err)
					}
					if items[0].Qty != 21 || items[1].Qty != 7 || items[2].Qty != 0 {
						t.Errorf("rows after the update: %+v", items)
					}
					if cfgName == "callback before update" && (items[2].Note == nil || *items[2].Note != "touched") {
						t.Errorf("the nested UPDATE did not run as written: %+v", items[2])
					}
				})
			}
		})
	}
}

// TestChangedStatementIsCapturedAsRun: a callback may change the statement
// between auditlog:before and the write (another clause, its own SQL). The
// capture happens when GORM executes the statement, so it records the
// statement as it runs: one with a RETURNING of its own is recorded; one
// that the database refuses (an ambiguous FROM) fails as it does without
// the plugin; SQL that the statement's clauses do not build is refused, and
// the write changes nothing.
func TestChangedStatementIsCapturedAsRun(t *testing.T) {
	writes := map[string]struct {
		hook    string // the callback chain and the write callback
		do      func(*gorm.DB) error
		verb    string // what the error calls the statement
		sql     string // a statement of the same kind, not built from its clauses
		changed []summary
	}{
		"update": {"gorm:update", func(db *gorm.DB) error {
			return db.Model(&Item{}).Where("id < ?", 3).Update("qty", gorm.Expr("qty + 1")).Error
		}, "UPDATE", "UPDATE items SET qty = 99 WHERE id < 3", []summary{
			{ActionUpdate, "1", Changes{"qty": {num("10"), num("11")}}}, {ActionUpdate, "2", Changes{"qty": {num("3"), num("4")}}}}},
		"soft delete": {"gorm:delete", func(db *gorm.DB) error {
			return db.Where("id < ?", 3).Delete(&Item{}).Error
		}, "DELETE", "UPDATE items SET deleted_at = CURRENT_TIMESTAMP WHERE id < 3", []summary{
			{ActionDelete, "1", Changes{"deleted_at": {nil, "2026-01-02T03:04:05Z"}}},
			{ActionDelete, "2", Changes{"deleted_at": {nil, "2026-01-02T03:04:05Z"}}}}},
		"hard delete": {"gorm:delete", func(db *gorm.DB) error {
			return db.Unscoped().Where("id < ?", 3).Delete(&Item{}).Error
		}, "DELETE", "DELETE FROM items WHERE id < 3", []summary{
			{ActionDelete, "1", Changes{"qty": {num("10"), nil}}}, {ActionDelete, "2", Changes{"qty": {num("3"), nil}}}}},
	}
	changes := map[string]struct {
		change func(s *gorm.Statement, sql string)
		want   string // "": recorded; "database": the database's error; else after "auditlog: cannot record the VERB of items: "
	}{
		"FROM added": {func(s *gorm.Statement, _ string) {
			s.AddClause(clause.From{Tables: []clause.Table{{Name: "items", Alias: "other"}}})
		}, "database"},
		"RETURNING added": {func(s *gorm.Statement, _ string) { s.AddClause(clause.Returning{}) }, ""},
		"SQL written by a callback": {func(s *gorm.Statement, sql string) { s.SQL.WriteString(sql) },
			"its SQL is not the one its clauses build"},
	}
	for writeName, w := range writes {
		for changeName, c := range changes {
			t.Run(writeName+"/"+changeName, func(t *testing.T) {
				forEachDB(t, func(t *testing.T, db *gorm.DB) {
					if db.Dialector.Name() == "mysql" && writeName != "hard delete" && changeName != "SQL written by a callback" {
						t.Skip("MariaDB builds neither FROM nor RETURNING into an UPDATE (a soft delete is one)")
					}
					setup(t, db, []any{&Item{}}, Include("Qty", "DeletedAt"))
					seedItems(t, db) // qty 10, 3, 0
					chain := db.Callback().Update()
					if w.hook == "gorm:delete" {
						chain = db.Callback().Delete()
					}
					err := chain.Before(w.hook).Register("test:change", func(tx *gorm.DB) {
						c.change(tx.Statement, w.sql)
					})
					if err != nil {
						t.Fatal(err)
					}
					checkChangedStatement(t, db, w.do(db), "auditlog: cannot record the "+w.verb+" of items: "+c.want, c.want, w.changed)
				})
			})
		}
	}
}

// checkChangedStatement checks the outcome of one case of
// TestChangedStatementIsCapturedAsRun: the write recorded exactly changed,
// or failed with the expected error and changed nothing.
func checkChangedStatement(t *testing.T, db *gorm.DB, err error, wantErr, kind string, changed []summary) {
	t.Helper()
	switch kind {
	case "":
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(changed, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		return
	case "database":
		if err == nil {
			t.Fatal("the write succeeded, want the database's error")
		}
	default:
		if err == nil || err.Error() != wantErr {
			t.Fatalf("%v, want %q", err, wantErr)
		}
	}
	var items []Item
	if err := db.Unscoped().Order("id").Find(&items).Error; err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 || items[0].Qty != 10 || items[1].Qty != 3 || items[0].DeletedAt.Valid || items[1].DeletedAt.Valid {
		t.Errorf("rows after the failed write: %+v", items)
	}
	if diff := cmp.Diff([]summary(nil), summarize(allEntries(t, db))); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestPrimaryKeyChange: an update that changes a row's primary key is
// recorded under the old key, with the key's change. With gorm.Expr the new
// key is known only where the UPDATE returns old and new values together
// (PostgreSQL); elsewhere the update is refused with ErrUnidentifiedRow
// rather than committed without its entry.
func TestPrimaryKeyChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}}, Include("ID", "Qty"))
		seedItems(t, db) // ids 1, 2, 3
		if err := db.Model(&Item{}).Where("id = ?", 1).Update("id", 200).Error; err != nil {
			t.Fatal(err)
		}
		want := []summary{{ActionUpdate, "1", Changes{"id": {num("1"), num("200")}}}}
		err := db.Model(&Item{}).Where("id = ?", 2).Update("id", gorm.Expr("id + 100")).Error
		if db.Dialector.Name() == "postgres" {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, summary{ActionUpdate, "2", Changes{"id": {num("2"), num("102")}}})
		} else if !errors.Is(err, ErrUnidentifiedRow) {
			t.Fatalf("key change by expression: %v, want %v", err, ErrUnidentifiedRow)
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		var ids []int64
		if err := db.Model(&Item{}).Order("id").Pluck("id", &ids).Error; err != nil {
			t.Fatal(err)
		}
		wantIDs := []int64{2, 3, 200}
		if db.Dialector.Name() == "postgres" {
			wantIDs = []int64{3, 102, 200}
		}
		if diff := cmp.Diff(wantIDs, ids); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
}

// TestDeletesReturningRows: Where deletes take their rows from the write
// itself where they can (PostgreSQL: one statement; SQLite and MariaDB: hard
// deletes with RETURNING), in the connection modes that change the
// connection type. Each deleted row has its entry, with its own old values;
// a soft delete has the soft-delete column in its changes although Include
// and Exclude leave it out.
func TestDeletesReturningRows(t *testing.T) {
	configs := map[string]gorm.Config{
		"default":                {},
		"prepared statements":    {PrepareStmt: true},
		"no default transaction": {SkipDefaultTransaction: true},
	}
	for cfgName, config := range configs {
		t.Run(cfgName, func(t *testing.T) {
			for _, name := range testDatabases {
				t.Run(name, func(t *testing.T) {
					db := openTestDB(t, name, &config)
					setup(t, db, []any{&Item{}}, Include("Name", "Qty"), Exclude("DeletedAt"))
					seedItems(t, db) // pen 10, ink 3, pad 0
					if err := db.Where("qty > ?", 5).Delete(&Item{}).Error; err != nil {
						t.Fatal(err)
					}
					if err := db.Unscoped().Where("qty < ?", 5).Delete(&Item{}).Error; err != nil {
						t.Fatal(err)
					}
					entries := allEntries(t, db)
					want := []summary{
						{ActionDelete, "1", Changes{"deleted_at": {nil, nowText}}},
						{ActionDelete, "2", Changes{"name": {"ink", nil}, "qty": {num("3"), nil}}},
						{ActionDelete, "3", Changes{"name": {"pad", nil}, "qty": {num("0"), nil}}},
					}
					if diff := cmp.Diff(want, summarize(entries)); diff != "" {
						t.Errorf("entries (-want +got):\n%s", diff)
					}
					if items := allItems(t, db); len(items) != 1 || items[0].Name != "pen" || !items[0].DeletedAt.Valid {
						t.Errorf("rows after the deletes: %+v", items)
					}
				})
			}
		})
	}
}
