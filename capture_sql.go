package auditlog

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// oneStatementSQL builds the oneStatement strategy's SQL from the
// statement's clauses, with its own variables:
//
//	WITH "auditlog_locked" AS (SELECT <key and tracked columns> AS "auditlog_0", ...
//	FROM <table> WHERE <the write's WHERE> ORDER BY <key> FOR UPDATE)
//	UPDATE <table> SET <the write's SET> FROM "auditlog_locked"
//	WHERE <key> = "auditlog_locked"."auditlog_0" RETURNING <old columns>, <new columns>
//
// or, for a hard delete, DELETE FROM <table> USING "auditlog_locked" WHERE
// <key> = ... RETURNING <the deleted rows' columns>. The WHERE, soft-delete
// and optimistic-lock conditions included, selects the rows to lock; the
// write changes the locked rows only, in key order. A line ends after each
// clause that may hold the caller's raw SQL (WHERE, SET), so that a "--"
// comment in it cannot swallow the clauses after it.
//
// A paged capture (capture_stream.go) passes the key of the last row of
// the previous page (after; nil for the first) and the page's size
// (limit; 0: no limit): the CTE then locks the next limit rows in key
// order, WHERE <key> > after AND <the write's WHERE> ... LIMIT limit, and
// the write is a second, data-modifying CTE whose rows are returned in the
// database's key order:
//
//	WITH "auditlog_locked" AS (...), "auditlog_written" AS (UPDATE ... RETURNING ...)
//	SELECT * FROM "auditlog_written" ORDER BY <old key>
//
// so that the last row is where the next page starts. The key columns'
// collation orders text keys, and it need not be Go's byte order (with
// ICU or libc collations "a" < "B" < "c"): a page starting after the last
// key in byte order would write the rows between again.
func (c *capturePool) oneStatementSQL(after []any, limit int) (string, []any) {
	st := c.newStatement()
	c.writeLocked(st, after, limit)
	if limit > 0 {
		st.WriteString(", ")
		st.WriteQuoted(writtenTable)
		st.WriteString(" AS (")
	}
	c.writeLockedWrite(st)
	if limit > 0 {
		st.WriteString(")\nSELECT * FROM ")
		st.WriteQuoted(writtenTable)
		st.WriteString(" ORDER BY ")
		for i, col := range c.pl.keyColumns {
			if i > 0 {
				st.WriteByte(',')
			}
			if c.kind == writeHardDelete { // the deleted rows' own columns
				st.WriteQuoted(c.pl.columns[col])
			} else { // the old side's
				st.WriteQuoted(c.pl.locked.selected[col].Alias)
			}
		}
	}
	return st.SQL.String(), st.Vars
}

// writeLocked writes the one statement's locking CTE (oneStatementSQL).
func (c *capturePool) writeLocked(st *gorm.Statement, after []any, limit int) {
	stmt, lc := c.stmt, &c.pl.locked
	st.WriteString("WITH ")
	st.WriteQuoted(lockedTable)
	st.WriteString(" AS (")
	st.Clauses["SELECT"] = clause.Clause{Name: "SELECT", Expression: clause.Select{Columns: lc.selected}}
	st.Clauses["FROM"] = clause.Clause{Name: "FROM", Expression: clause.From{}}
	if where, ok := stmt.Clauses["WHERE"]; ok {
		st.Clauses["WHERE"] = where
	}
	if after != nil {
		st.Clauses["WHERE"] = clause.Clause{Name: "WHERE", Expression: keyFirst(stmt, keyAfter(c.pl, after))}
	}
	if limit > 0 {
		// Named "": clause.Limit writes its keyword itself.
		st.Clauses["LIMIT"] = clause.Clause{Expression: clause.Limit{Limit: &limit}}
	}
	st.Clauses["ORDER BY"] = clause.Clause{Name: "ORDER BY", Expression: lc.order}
	st.Clauses["FOR"] = clause.Clause{Name: "FOR", Expression: clause.Locking{Strength: clause.LockingStrengthUpdate}}
	buildQuery(st, stmt.DB.Callback().Query().Clauses)
	st.WriteString(")\n")
}

// writeLockedWrite writes the one statement's UPDATE or DELETE of the
// locked rows, with its RETURNING (oneStatementSQL).
func (c *capturePool) writeLockedWrite(st *gorm.Statement) {
	stmt, lc := c.stmt, &c.pl.locked
	join := clause.Clause{Name: "WHERE", Expression: clause.Where{Exprs: lc.join}}
	if c.kind == writeHardDelete {
		st.Clauses = map[string]clause.Clause{
			"DELETE":    stmt.Clauses["DELETE"],
			"FROM":      stmt.Clauses["FROM"],
			"WHERE":     join,
			"RETURNING": {Name: "RETURNING", Expression: clause.Returning{Columns: c.pl.selectColumns}},
		}
		st.Build("DELETE", "FROM")
		st.WriteString(" USING ")
		st.WriteQuoted(lockedTable)
		st.WriteByte(' ')
		st.Build("WHERE", "RETURNING")
		return
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
}

// deletePageSQL builds one page of a paged hard delete captured by
// deleteReturning (capture_stream.go), with its own variables: the DELETE
// of the next limit rows its WHERE matches, in key order, after the key
// after (nil: from the first), returning the deleted rows. Where a DELETE
// takes ORDER BY and LIMIT (capabilities.deleteLimit: MySQL, MariaDB):
//
//	DELETE FROM <table> WHERE <key> > <after> AND <the write's WHERE>
//	ORDER BY <key> LIMIT <limit>
//	RETURNING <plan columns>
//
// elsewhere (SQLite: the amalgamation's parser has no DELETE ... LIMIT):
//
//	DELETE FROM <table> WHERE (<key>) IN (SELECT <key> FROM <table>
//	WHERE <key> > <after> AND <the write's WHERE>
//	ORDER BY <key> LIMIT <limit>)
//	RETURNING <plan columns>
//
// The key condition lets each page start where the last one ended instead
// of walking the index entries of rows already deleted (InnoDB keeps them,
// delete-marked, until the transaction ends). The page starts after the key
// of the last row returned (MariaDB returns them in the DELETE's order;
// SQLite's order is its own): for a delete any key of the previous page is
// a correct start, since every row of that page is gone, and the matching
// rows up to its last key in the database's order were all in it. A line ends after the WHERE,
// which may hold the caller's raw SQL, so that a "--" comment in it cannot
// swallow the clauses after it.
func (c *capturePool) deletePageSQL(after []any, limit int) (string, []any) {
	stmt := c.stmt
	st := c.newStatement()
	where, ok := stmt.Clauses["WHERE"]
	if after != nil {
		where, ok = clause.Clause{Name: "WHERE", Expression: keyFirst(stmt, keyAfter(c.pl, after))}, true
	}
	page := map[string]clause.Clause{
		"ORDER BY": {Name: "ORDER BY", Expression: c.pl.locked.order},
		"LIMIT":    {Expression: clause.Limit{Limit: &limit}}, // writes its keyword itself
	}
	if ok {
		page["WHERE"] = where
	}
	st.Clauses = map[string]clause.Clause{"DELETE": stmt.Clauses["DELETE"], "FROM": stmt.Clauses["FROM"]}
	st.Build("DELETE", "FROM")
	if c.caps.deleteLimit {
		st.Clauses = page
		st.WriteByte(' ')
		buildQuery(st, []string{"WHERE", "ORDER BY", "LIMIT"})
	} else {
		keys := make([]clause.Column, len(c.pl.schema.PrimaryFields))
		for i, f := range c.pl.schema.PrimaryFields {
			keys[i] = clause.Column{Name: f.DBName}
		}
		st.WriteString(" WHERE (")
		for i, k := range keys {
			if i > 0 {
				st.WriteByte(',')
			}
			st.WriteQuoted(k)
		}
		st.WriteString(") IN (")
		page["SELECT"] = clause.Clause{Name: "SELECT", Expression: clause.Select{Columns: keys}}
		page["FROM"] = clause.Clause{Name: "FROM", Expression: clause.From{}}
		st.Clauses = page
		buildQuery(st, []string{"SELECT", "FROM", "WHERE", "ORDER BY", "LIMIT"})
		st.WriteByte(')')
	}
	return st.SQL.String() + c.returningColumns(), st.Vars
}

// lockedColumns are the parts of the one statement that depend on the plan
// only, built once with it.
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

// keyValuesOf lists the primary-key values of rows.
func keyValuesOf(rows []scannedRow) [][]any {
	keys := make([][]any, len(rows))
	for i, r := range rows {
		keys[i] = r.keyValues
	}
	return keys
}

// sortByKey puts rows (and after, parallel to it, if not nil) in
// primary-key order, the order of the entries of every other write:
// RETURNING follows the join's order.
func sortByKey(rows, after []scannedRow) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareKeys(rows[a].keyValues, rows[b].keyValues) })
	for _, list := range [][]scannedRow{rows, after} {
		if len(list) != len(idx) {
			continue
		}
		sorted := make([]scannedRow, len(idx))
		for i, j := range idx {
			sorted[i] = list[j]
		}
		copy(list, sorted)
	}
}

// restricted is the write narrowed to the keys readOld read, where a row
// that starts to match after the read (a phantom) could enter it: the
// statement rebuilt from its clauses with the key condition first (a "--"
// comment ending the caller's raw condition would swallow what follows it),
// then the statement's conditions, parenthesized only when one is an OR. An
// UPDATE carries hint (the database's keyWriteHint, or none), so that it
// reaches the rows through the primary key, which its locked read holds.
func (c *capturePool) restricted(query string, args []any, hint string) (string, []any) {
	if !c.caps.phantoms && !c.restrict {
		return query, args
	}
	var keep clause.Expression = clause.Expr{SQL: "1 = 0"}
	if len(c.old) > 0 {
		keep = keyCondition(c.stmt, c.pl, keyValuesOf(c.old))
	}
	st := c.newStatement()
	st.Clauses = maps.Clone(c.stmt.Clauses)
	st.Clauses["WHERE"] = clause.Clause{Name: "WHERE", Expression: keyFirst(c.stmt, keep)}
	// An UPDATE clause with an AfterExpression has a hint of its own
	// (gorm.io/hints puts index hints there): it is kept as it is.
	if up, ok := st.Clauses["UPDATE"]; ok && hint != "" && c.kind != writeHardDelete && up.AfterExpression == nil {
		up.Expression = hinted{Expression: up.Expression, hint: hint}
		st.Clauses["UPDATE"] = up
	}
	st.Build(c.built...)
	return st.SQL.String(), st.Vars
}

// keyFirst is the statement's WHERE with a key condition first (a "--"
// comment ending the caller's raw condition would swallow what follows
// it), then the statement's conditions, parenthesized only when one is an
// OR.
func keyFirst(stmt *gorm.Statement, keep clause.Expression) clause.Where {
	exprs := []clause.Expression{keep}
	conds := whereExprs(stmt)
	if slices.ContainsFunc(conds, func(e clause.Expression) bool { _, or := e.(clause.OrConditions); return or }) {
		exprs = append(exprs, clause.And(conds...)) // (a OR b): keep binds to all of it
	} else {
		exprs = append(exprs, conds...) // no parenthesis for a comment to swallow
	}
	return clause.Where{Exprs: exprs}
}

// returningColumns is "\nRETURNING col, ..." of the plan's columns: on a
// line of its own, so that a "--" comment ending the statement's SQL (in a
// raw Where condition) cannot swallow it. The columns are qualified by the
// table where the database allows it: an UPDATE ... FROM may join tables
// with columns of the same names.
func (c *capturePool) returningColumns() string {
	var b strings.Builder
	b.WriteString("\nRETURNING ")
	st := c.newStatement()
	for i, col := range c.pl.selectColumns {
		if i > 0 {
			st.WriteByte(',')
		}
		if !c.caps.qualifiedReturning {
			col.Table = ""
		}
		st.WriteQuoted(col)
	}
	b.WriteString(st.SQL.String())
	return b.String()
}
