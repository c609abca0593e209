package auditlog

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// returningPool stands in for a statement's connection between
// auditlog:before and the end of gorm:update or gorm:delete. When that
// callback executes the statement's own SQL, the pool runs it so that it
// returns rows, and keeps them. By mode:
//
//   - returnOldNew (PostgreSQL updates and soft deletes): one statement that
//     locks the matched rows, updates exactly those and returns their old and
//     new values, so an audited update costs one statement plus the entries'
//     INSERT:
//
//     WITH "auditlog_locked" AS (SELECT <key and tracked columns> AS "auditlog_0", ...
//     FROM <table> WHERE <the UPDATE's WHERE> ORDER BY <key> FOR UPDATE)
//     UPDATE <table> SET <the UPDATE's SET> FROM "auditlog_locked"
//     WHERE <key> = "auditlog_locked"."auditlog_0" RETURNING <old columns>, <new columns>
//
//   - returnDeleted (hard deletes): on PostgreSQL the same lock, then
//     DELETE FROM <table> USING "auditlog_locked" WHERE <key> = ... RETURNING
//     <the deleted rows' columns>; on SQLite 3.35+ and MariaDB 10.5+, the
//     DELETE with RETURNING of the plan's columns appended (SQLite has one
//     writer at a time, and InnoDB's DELETE locks and returns the rows it
//     deletes);
//
//   - returnNew (SQLite 3.35+ updates whose old rows auditlog:before has read
//     already): the UPDATE with RETURNING of the new values appended.
//
// The one-statement forms on PostgreSQL are built with GORM's clause builder from the
// statement's own clauses, and only after checking that those clauses build
// exactly the SQL GORM is executing. Every other call (nested statements of
// hooks or associations, which copy the connection) passes through
// unchanged.
type returningPool struct {
	gorm.ConnPool
	stmt  *gorm.Statement
	pl    *plan
	mode  returnMode
	built []string // the clause names the statement's SQL is built from
	// appended: the statement runs as GORM built it, with RETURNING of the
	// plan's columns appended (returnNew; returnDeleted outside PostgreSQL).
	appended bool

	used bool
	rows []scannedRow // new values (deleted rows for returnDeleted), in key order but for returnNew
	old  []scannedRow // old values, parallel to rows, for returnOldNew
	sql  string       // what ran, for GORM's log
	vars []any
}

// returnMode is what a returningPool makes the statement return.
type returnMode int

const (
	returnNew returnMode = iota
	returnOldNew
	returnDeleted
)

// Names of the locked-rows CTE and its columns (see returningPool): the
// columns are aliased so that the UPDATE's SET, which may name the table's
// columns unqualified, never finds them twice.
const (
	lockedTable  = "auditlog_locked"
	lockedColumn = "auditlog_"
)

// canReturn reports whether the plugin may read an UPDATE's new rows from
// the UPDATE itself: on PostgreSQL, and SQLite when GORM builds RETURNING for
// it (3.35+), when the statement has no RETURNING of its own (gorm:update
// then scans it itself). MariaDB has RETURNING for INSERT and DELETE only,
// though GORM's dialector lists it for every statement there.
func canReturn(db *gorm.DB) bool {
	if name := db.Dialector.Name(); name != "postgres" && name != "sqlite" {
		return false
	}
	_, own := db.Statement.Clauses["RETURNING"]
	return !own && slices.Contains(db.Callback().Update().Clauses, "RETURNING")
}

// oneStatementUpdate returns a pool for an update, or a soft delete (built
// as an UPDATE), that can run as one statement returning old and new values:
// on PostgreSQL, when the statement has no clause but UPDATE, SET and WHERE.
func oneStatementUpdate(db *gorm.DB, pl *plan, softDelete bool) *returningPool {
	if db.Dialector.Name() != "postgres" || !canReturn(db) {
		return nil
	}
	built := db.Statement.BuildClauses
	if len(built) == 0 || softDelete {
		built = db.Callback().Update().Clauses // gorm:update's, and SoftDeleteDeleteClause's
	}
	r := &returningPool{ConnPool: db.Statement.ConnPool, stmt: db.Statement, pl: pl, mode: returnOldNew, built: built}
	if r.unexpectedClause() != "" {
		return nil
	}
	return r
}

// oneStatementDelete returns a pool for a hard delete that can run as one
// statement returning the deleted rows: where GORM builds RETURNING for a
// DELETE (PostgreSQL, SQLite 3.35+, MariaDB 10.5+) and the statement has
// none of its own; on PostgreSQL, when the statement has no clause but
// DELETE, WHERE and a FROM of its own table only.
func oneStatementDelete(db *gorm.DB, pl *plan) *returningPool {
	_, own := db.Statement.Clauses["RETURNING"]
	if own || !slices.Contains(db.Callback().Delete().Clauses, "RETURNING") {
		return nil
	}
	if db.Dialector.Name() != "postgres" {
		return &returningPool{ConnPool: db.Statement.ConnPool, stmt: db.Statement, pl: pl, mode: returnDeleted, appended: true}
	}
	built := db.Statement.BuildClauses
	if len(built) == 0 {
		built = db.Callback().Delete().Clauses
	}
	r := &returningPool{ConnPool: db.Statement.ConnPool, stmt: db.Statement, pl: pl, mode: returnDeleted, built: built}
	if r.unexpectedClause() != "" {
		return nil
	}
	return r
}

func newReturningPool(db *gorm.DB, pl *plan) *returningPool {
	return &returningPool{ConnPool: db.Statement.ConnPool, stmt: db.Statement, pl: pl, mode: returnNew, appended: true}
}

// unexpectedClause returns the name of a clause of the statement that the
// one-statement form does not carry over, or "" if there is none.
func (r *returningPool) unexpectedClause() string {
	for _, name := range r.built {
		c, ok := r.stmt.Clauses[name]
		if !ok {
			continue
		}
		switch name {
		case "WHERE":
			continue
		case "UPDATE", "SET":
			if r.mode == returnOldNew {
				continue
			}
		case "DELETE":
			if r.mode == returnDeleted {
				continue
			}
		case "FROM":
			// gorm:delete adds FROM the statement's table; an UPDATE has none.
			if from, ok := c.Expression.(clause.From); ok && r.mode == returnDeleted && len(from.Tables) == 0 && len(from.Joins) == 0 {
				continue
			}
		}
		return name
	}
	return ""
}

// ExecContext runs the statement's own SQL so that it returns rows and keeps
// them; anything else goes to the wrapped connection.
func (r *returningPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if r.used || query != r.stmt.SQL.String() {
		return r.ConnPool.ExecContext(ctx, query, args...)
	}
	r.used = true
	if r.appended {
		r.sql, r.vars = query+r.returningColumns(), args
	} else {
		// Between auditlog:before and the write another callback may have
		// changed the statement: refuse rather than run a different one.
		if err := r.checkBuilt(query); err != nil {
			return nil, err
		}
		r.sql, r.vars = r.oneStatement()
	}
	rows, err := r.ConnPool.QueryContext(ctx, r.sql, r.vars...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	copies := 1
	if r.mode == returnOldNew {
		copies = 2
	}
	sc := newRowScanner(r.pl, copies)
	for rows.Next() {
		if err := rows.Scan(sc.dests...); err != nil {
			return nil, err
		}
		first, err := sc.row(ctx, 0)
		if err != nil {
			return nil, err
		}
		if r.mode != returnOldNew {
			r.rows = append(r.rows, first)
			continue
		}
		row, err := sc.rowLike(ctx, 1, 0, &first)
		if err != nil {
			return nil, err
		}
		r.old = append(r.old, first)
		r.rows = append(r.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if r.mode != returnNew {
		r.sortByKey()
	}
	return returnedRows(len(r.rows)), nil
}

// addEntries adds to b an entry of action for each row the one-statement
// write returned: the deleted values for returnDeleted, and for
// returnOldNew the changes from old to new, keyed by the old key like every
// update entry (an UPDATE that changes a key closes the old key's history).
// It fails when the write did not run through the pool.
func (r *returningPool) addEntries(b *entryBatch, action Action) error {
	if !r.used {
		return r.notUsed()
	}
	pl := r.pl
	b.entries = slices.Grow(b.entries, len(r.rows))
	for i, row := range r.rows {
		if r.mode == returnDeleted {
			b.add(action, row.key, row.model, pl.diff(row.state, nil), row.state, nil)
			continue
		}
		old := r.old[i]
		if changes := pl.diff(old.state, row.state); changes != nil {
			b.add(action, old.key, row.model, changes, row.state, old.state)
		}
	}
	return nil
}

// notUsed is the error of a write that did not run through the pool:
// another callback took the place of gorm:update or gorm:delete, or gave the
// statement a RETURNING of its own. Its rows are unknown, so the change must
// not commit without its entries.
func (r *returningPool) notUsed() error {
	return fmt.Errorf("auditlog: cannot record the %s of %s: it did not run through auditlog:before's connection", r.verb(), r.pl.schema.Table)
}

// verb is the statement the pool runs, for errors.
func (r *returningPool) verb() string {
	if r.mode == returnDeleted {
		return "DELETE"
	}
	return "UPDATE"
}

// checkBuilt checks that the statement's clauses are still only those the
// one-statement form carries over, and that they build exactly query.
func (r *returningPool) checkBuilt(query string) error {
	if name := r.unexpectedClause(); name != "" {
		return fmt.Errorf("auditlog: cannot record the %s of %s: clause %s was added after auditlog:before", r.verb(), r.pl.schema.Table, name)
	}
	st := r.newStatement()
	st.Clauses = r.stmt.Clauses
	st.Build(r.built...)
	if st.SQL.String() != query {
		return fmt.Errorf("auditlog: cannot record the %s of %s: its SQL is not the one its clauses build", r.verb(), r.pl.schema.Table)
	}
	return nil
}

// newStatement is an empty statement on the same table as the pool's, for
// building SQL with its own variables.
func (r *returningPool) newStatement() *gorm.Statement {
	stmt := r.stmt
	st := &gorm.Statement{DB: stmt.DB, Context: stmt.Context, Schema: stmt.Schema, Table: stmt.Table,
		TableExpr: stmt.TableExpr, Clauses: map[string]clause.Clause{}, Vars: make([]any, 0, len(stmt.Vars))}
	st.SQL.Grow(2 * stmt.SQL.Len())
	return st
}

// returningColumns is "\nRETURNING col, ..." of the plan's columns: on a
// line of its own, so that a "--" comment ending the statement's SQL (in a
// raw Where condition) cannot swallow it.
func (r *returningPool) returningColumns() string {
	var b strings.Builder
	b.WriteString("\nRETURNING ")
	for i, c := range r.pl.columns {
		if i > 0 {
			b.WriteByte(',')
		}
		r.stmt.DB.Dialector.QuoteTo(&b, c)
	}
	return b.String()
}

// oneStatement builds the statement described at returningPool from the
// statement's clauses, with its own variables. The WHERE, soft-delete
// condition included, selects the rows to lock; the write changes the
// locked rows only.
func (r *returningPool) oneStatement() (string, []any) {
	stmt, lc := r.stmt, &r.pl.locked
	st := r.newStatement()
	// A line ends after each clause that may hold the caller's raw SQL (WHERE,
	// SET), so that a "--" comment in it cannot swallow the clauses after it.
	st.WriteString("WITH ")
	st.WriteQuoted(lockedTable)
	st.WriteString(" AS (")
	st.Clauses["SELECT"] = clause.Clause{Name: "SELECT", Expression: clause.Select{Columns: lc.selected}}
	st.Clauses["FROM"] = clause.Clause{Name: "FROM", Expression: clause.From{}}
	if where, ok := stmt.Clauses["WHERE"]; ok {
		st.Clauses["WHERE"] = where
	}
	st.Clauses["ORDER BY"] = clause.Clause{Name: "ORDER BY", Expression: lc.order}
	st.Clauses["FOR"] = clause.Clause{Name: "FOR", Expression: clause.Locking{Strength: clause.LockingStrengthUpdate}}
	buildQuery(st, stmt.DB.Callback().Query().Clauses)
	st.WriteString(")\n")

	join := clause.Clause{Name: "WHERE", Expression: clause.Where{Exprs: lc.join}}
	if r.mode == returnDeleted {
		st.Clauses = map[string]clause.Clause{
			"DELETE":    stmt.Clauses["DELETE"],
			"FROM":      stmt.Clauses["FROM"],
			"WHERE":     join,
			"RETURNING": {Name: "RETURNING", Expression: clause.Returning{Columns: r.pl.selectColumns}},
		}
		st.Build("DELETE", "FROM")
		st.WriteString(" USING ")
		st.WriteQuoted(lockedTable)
		st.WriteByte(' ')
		st.Build("WHERE", "RETURNING")
		return st.SQL.String(), st.Vars
	}
	st.Clauses = map[string]clause.Clause{
		"UPDATE":    stmt.Clauses["UPDATE"],
		"SET":       stmt.Clauses["SET"],
		"FROM":      {Name: "FROM", Expression: clause.From{Tables: []clause.Table{{Name: lockedTable}}}},
		"WHERE":     join,
		"RETURNING": {Name: "RETURNING", Expression: clause.Returning{Columns: lc.returning}},
	}
	st.Build("UPDATE", "SET")
	st.WriteByte('\n')
	st.Build("FROM", "WHERE", "RETURNING")
	return st.SQL.String(), st.Vars
}

// lockedColumns are the parts of the one-statement update that depend on
// the plan only, built once with it.
type lockedColumns struct {
	selected  []clause.Column     // the CTE's columns: key and tracked, aliased
	join      []clause.Expression // table key = CTE key
	returning []clause.Column     // the CTE's columns (old), then the table's (new)
	order     clause.OrderBy      // by key, the order the rows are locked in
}

func newLockedColumns(pl *plan) lockedColumns {
	var lc lockedColumns
	lc.selected = make([]clause.Column, len(pl.columns))
	lc.returning = make([]clause.Column, 0, 2*len(pl.columns))
	for i, c := range pl.columns {
		lc.selected[i] = clause.Column{Table: clause.CurrentTable, Name: c, Alias: lockedColumn + strconv.Itoa(i)}
		lc.returning = append(lc.returning, clause.Column{Table: lockedTable, Name: lc.selected[i].Alias})
	}
	lc.returning = append(lc.returning, pl.selectColumns...)
	lc.order = pkOrder(pl)
	for _, col := range pl.keyColumns {
		lc.join = append(lc.join, clause.Eq{Column: pl.selectColumns[col], Value: clause.Column{Table: lockedTable, Name: lc.selected[col].Alias}})
	}
	return lc
}

// sortByKey puts the returned rows in primary-key order, the order of the
// entries of every other write: RETURNING follows the join's order.
func (r *returningPool) sortByKey() {
	idx := make([]int, len(r.rows))
	for i := range idx {
		idx[i] = i
	}
	keys := r.old // old keys: an UPDATE may change a key
	if keys == nil {
		keys = r.rows
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareKeys(keys[a].keyValues, keys[b].keyValues) })
	rows := make([]scannedRow, len(idx))
	for i, j := range idx {
		rows[i] = r.rows[j]
	}
	if r.old != nil {
		old := make([]scannedRow, len(idx))
		for i, j := range idx {
			old[i] = r.old[j]
		}
		r.old = old
	}
	r.rows = rows
}

// compareKeys orders primary-key values as scanned: numbers, strings and
// times by value, anything else by its text.
func compareKeys(a, b []any) int {
	for i := range a {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(a, b any) int {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.IsValid() && vb.IsValid() && va.Type() == vb.Type() {
		switch va.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return cmp.Compare(va.Int(), vb.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return cmp.Compare(va.Uint(), vb.Uint())
		case reflect.String:
			return strings.Compare(va.String(), vb.String())
		}
		if ta, ok := a.(time.Time); ok {
			return ta.Compare(b.(time.Time))
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// returnedRows is the sql.Result of an UPDATE run with RETURNING.
type returnedRows int64

func (n returnedRows) LastInsertId() (int64, error) {
	return 0, errors.New("auditlog: no LastInsertId for an UPDATE")
}

func (n returnedRows) RowsAffected() (int64, error) { return int64(n), nil }

// unwrap puts the statement's connection back right after gorm:update, so
// that nothing after it (associations, hooks, the entries' INSERT) sees the
// wrapper, and puts the SQL that ran in the statement, for GORM's log.
func (p *Plugin) unwrap(db *gorm.DB) {
	v, ok := db.Statement.Settings.Load(opKey)
	if !ok {
		return
	}
	o := v.(*op)
	if o.stmt != db.Statement || o.returning == nil {
		return
	}
	o.unwrap(db.Statement)
}

func (o *op) unwrap(stmt *gorm.Statement) {
	r := o.returning
	if r == nil || stmt.ConnPool != r {
		return
	}
	stmt.ConnPool = r.ConnPool
	if r.used {
		stmt.SQL.Reset()
		stmt.SQL.WriteString(r.sql)
		stmt.Vars = r.vars
	}
}
