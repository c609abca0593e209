package auditlog

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// returningPool stands in for a statement's connection between
// auditlog:before and auditlog:unwrap, the span of gorm:update. When
// gorm:update executes the statement's own UPDATE, the pool runs it so that
// it returns rows, and keeps them:
//
//   - on PostgreSQL (withOld), as one statement that locks the matched rows,
//     updates exactly those and returns their old and new values:
//
//     WITH "auditlog_locked" AS (SELECT <key and tracked columns> AS "auditlog_0", ...
//     FROM <table> WHERE <the UPDATE's WHERE> ORDER BY <key> FOR UPDATE)
//     UPDATE <table> SET <the UPDATE's SET> FROM "auditlog_locked"
//     WHERE <key> = "auditlog_locked"."auditlog_0" RETURNING <old columns>, <new columns>
//
//     so an audited update costs one statement plus the entries' INSERT;
//
//   - on SQLite 3.35+, with RETURNING of the new values appended, for an
//     update whose old rows auditlog:before has read and locked already.
//
// Every other call (nested statements of hooks or associations, which copy
// the connection) passes through unchanged.
type returningPool struct {
	gorm.ConnPool
	stmt    *gorm.Statement
	pl      *plan
	withOld bool

	used bool
	rows []scannedRow // new values, in key order when withOld
	old  []scannedRow // old values, parallel to rows, when withOld
	sql  string       // what ran, for GORM's log
	vars []any
}

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

// canReturnOld reports whether the UPDATE can be run as one statement that
// returns old and new values (PostgreSQL): the statement must be one that
// gorm:update builds from its UPDATE, SET and WHERE clauses alone.
func canReturnOld(db *gorm.DB) bool {
	return db.Dialector.Name() == "postgres" && canReturn(db) && onlyUpdateClauses(db.Statement) == ""
}

// onlyUpdateClauses returns the name of a clause other than UPDATE, SET and
// WHERE that the statement would build, or "" if there is none.
func onlyUpdateClauses(stmt *gorm.Statement) string {
	names := stmt.BuildClauses
	if len(names) == 0 {
		names = stmt.DB.Callback().Update().Clauses
	}
	for _, name := range names {
		if _, ok := stmt.Clauses[name]; ok && name != "UPDATE" && name != "SET" && name != "WHERE" {
			return name
		}
	}
	return ""
}

func newReturningPool(db *gorm.DB, pl *plan, withOld bool) *returningPool {
	return &returningPool{ConnPool: db.Statement.ConnPool, stmt: db.Statement, pl: pl, withOld: withOld}
}

// ExecContext runs the statement's UPDATE so that it returns rows and keeps
// them; anything else goes to the wrapped connection.
func (r *returningPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if r.used || query != r.stmt.SQL.String() {
		return r.ConnPool.ExecContext(ctx, query, args...)
	}
	r.used = true
	r.sql, r.vars = query+r.returningNew(), args
	if r.withOld {
		// Between auditlog:before and gorm:update another callback may have
		// added a clause the one-statement form does not carry over: refuse
		// rather than run a different statement, or one without its entries.
		if name := onlyUpdateClauses(r.stmt); name != "" {
			return nil, fmt.Errorf("auditlog: cannot record the UPDATE of %s: clause %s was added after auditlog:before", r.pl.schema.Table, name)
		}
		r.sql, r.vars = r.oldAndNew()
	}
	rows, err := r.ConnPool.QueryContext(ctx, r.sql, r.vars...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	copies := 1
	if r.withOld {
		copies = 2
	}
	sc := newRowScanner(r.pl, copies)
	for rows.Next() {
		if err := rows.Scan(sc.dests...); err != nil {
			return nil, err
		}
		if !r.withOld {
			row, err := sc.row(ctx, 0)
			if err != nil {
				return nil, err
			}
			r.rows = append(r.rows, row)
			continue
		}
		old, err := sc.row(ctx, 0)
		if err != nil {
			return nil, err
		}
		row, err := sc.rowLike(ctx, 1, 0, &old)
		if err != nil {
			return nil, err
		}
		r.old = append(r.old, old)
		r.rows = append(r.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if r.withOld {
		r.sortByKey()
	}
	return returnedRows(len(r.rows)), nil
}

// returningNew is " RETURNING col, ..." of the plan's columns.
func (r *returningPool) returningNew() string {
	var b strings.Builder
	b.WriteString(" RETURNING ")
	for i, c := range r.pl.columns {
		if i > 0 {
			b.WriteByte(',')
		}
		r.stmt.DB.Dialector.QuoteTo(&b, c)
	}
	return b.String()
}

// oldAndNew builds the one-statement UPDATE described at returningPool from
// the statement's UPDATE, SET and WHERE clauses, with its own variables.
// The WHERE, soft-delete condition included, selects the rows to lock; the
// UPDATE changes the locked rows only.
func (r *returningPool) oldAndNew() (string, []any) {
	stmt, pl := r.stmt, r.pl
	st := &gorm.Statement{DB: stmt.DB, Context: stmt.Context, Schema: stmt.Schema, Table: stmt.Table,
		TableExpr: stmt.TableExpr, Clauses: map[string]clause.Clause{}, Vars: make([]any, 0, len(stmt.Vars))}
	st.SQL.Grow(2 * stmt.SQL.Len())

	st.WriteString("WITH ")
	st.WriteQuoted(lockedTable)
	st.WriteString(" AS (")
	lc := &pl.locked
	st.Clauses["SELECT"] = clause.Clause{Name: "SELECT", Expression: clause.Select{Columns: lc.selected}}
	st.Clauses["FROM"] = clause.Clause{Name: "FROM", Expression: clause.From{}}
	if where, ok := stmt.Clauses["WHERE"]; ok {
		st.Clauses["WHERE"] = where
	}
	st.Clauses["ORDER BY"] = clause.Clause{Name: "ORDER BY", Expression: lc.order}
	st.Clauses["FOR"] = clause.Clause{Name: "FOR", Expression: clause.Locking{Strength: clause.LockingStrengthUpdate}}
	st.Build(stmt.DB.Callback().Query().Clauses...)
	st.WriteString(") ")

	st.Clauses = map[string]clause.Clause{
		"UPDATE":    stmt.Clauses["UPDATE"],
		"SET":       stmt.Clauses["SET"],
		"FROM":      {Name: "FROM", Expression: clause.From{Tables: []clause.Table{{Name: lockedTable}}}},
		"WHERE":     {Name: "WHERE", Expression: clause.Where{Exprs: lc.join}},
		"RETURNING": {Name: "RETURNING", Expression: clause.Returning{Columns: lc.returning}},
	}
	st.Build("UPDATE", "SET", "FROM", "WHERE", "RETURNING")
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
	slices.SortStableFunc(idx, func(a, b int) int { return compareKeys(r.old[a].keyValues, r.old[b].keyValues) })
	rows := make([]scannedRow, len(idx))
	old := make([]scannedRow, len(idx))
	for i, j := range idx {
		rows[i], old[i] = r.rows[j], r.old[j]
	}
	r.rows, r.old = rows, old
}

// compareKeys orders primary-key values as scanned: numbers, strings, byte
// strings and times by value, anything else by its text.
func compareKeys(a, b []any) int {
	for i := range a {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case int:
		if y, ok := b.(int); ok {
			return cmp.Compare(x, y)
		}
	case int32:
		if y, ok := b.(int32); ok {
			return cmp.Compare(x, y)
		}
	case uint:
		if y, ok := b.(uint); ok {
			return cmp.Compare(x, y)
		}
	case uint64:
		if y, ok := b.(uint64); ok {
			return cmp.Compare(x, y)
		}
	case uint32:
		if y, ok := b.(uint32); ok {
			return cmp.Compare(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
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
