package auditlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// capturePool stands in for a tracked update's or delete's connection
// between auditlog:before and the end of gorm:update or gorm:delete. When
// that callback executes the statement's own SQL — built after every
// callback and plugin added its clauses — the pool chooses a strategy for
// it (chooseStrategy), runs the write that way and keeps the rows it saw
// before and after. Every other call (nested statements of hooks or
// associations, which copy the connection) passes through unchanged.
//
// Every strategy that reads the statement's clauses first checks that they
// build exactly the SQL GORM is executing, and refuses the write otherwise:
// another callback may have written SQL of its own.
type capturePool struct {
	gorm.ConnPool
	stmt  *gorm.Statement
	pl    *plan
	kind  writeKind
	caps  capabilities
	force strategy // a strategy forced for tests; 0: chooseStrategy's
	// rec builds and writes the entries; a paged capture feeds it page by
	// page (capture_stream.go), auditlog:after the rest.
	rec      *recorder
	pageRows int
	plain    bool  // shape.plain: no clause but those a page carries
	after    []any // a paged read: the key the page starts after
	limit    int   // a paged read: its page size; 0: no limit
	restrict bool  // a paged write: restricted to the keys read on every database
	paged    bool  // every row went to rec page by page
	last     []any // the key of the last row a statement returned, in its order

	strategy strategy
	built    []string        // the clause names the statement's SQL is built from
	set      clause.Set      // the SET clause GORM executed (gorm:update removes it after)
	assign   []assignment    // readCarry: the SET's tracked values
	keySet   []keyAssignment // the SET's values of key columns
	used     bool
	restored bool
	sql      string // what ran, for GORM's log
	vars     []any
	old      []scannedRow // rows before the write (the deleted rows of a delete)
	rows     []scannedRow // rows after it: parallel to old for oneStatement, as returned for readReturning
}

// Names of the locked-rows CTE and its columns (see oneStatementSQL): the
// columns are aliased so that the UPDATE's SET, which may name the table's
// columns unqualified, never finds them twice.
const (
	lockedTable  = "auditlog_locked"
	lockedColumn = "auditlog_"
	writtenTable = "auditlog_written" // a page's write (oneStatementSQL)
)

// ExecContext runs the statement's own SQL the way its strategy captures
// it; anything else goes to the wrapped connection.
func (c *capturePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if c.used || query != c.stmt.SQL.String() {
		return c.ConnPool.ExecContext(ctx, query, args...)
	}
	c.used = true
	if err := c.choose(query); err != nil {
		return nil, err
	}
	switch c.strategy {
	case oneStatement:
		if c.pages() {
			return c.pagedReturning(ctx)
		}
		c.sql, c.vars = c.oneStatementSQL(nil, 0)
		return c.queryRows(ctx)
	case deleteReturning:
		if c.pages() && c.plain {
			return c.pagedReturning(ctx)
		}
		c.sql, c.vars = query+c.returningColumns(), args
		return c.queryRows(ctx)
	}
	if c.pages() && c.plain {
		return c.pagedRead(ctx, query, args)
	}
	if err := c.readOld(ctx); err != nil {
		return nil, err
	}
	c.sql, c.vars = c.restricted(query, args, c.caps.keyWriteHint)
	if c.strategy == readReturning {
		c.sql += c.returningColumns()
		return c.queryRows(ctx)
	}
	return c.execWrite(ctx, query, args)
}

// execWrite runs c.sql, the restricted write of a read strategy, and runs
// it again unhinted on a table without a PRIMARY KEY in the database.
func (c *capturePool) execWrite(ctx context.Context, query string, args []any) (sql.Result, error) {
	res, err := c.ConnPool.ExecContext(ctx, c.sql, c.vars...)
	if err != nil && c.caps.keyWriteHint != "" && c.caps.missingPrimaryIndex(err) {
		// A table whose key is GORM's only (no PRIMARY KEY in the
		// database): the failed statement changed nothing; run it unhinted.
		c.sql, c.vars = c.restricted(query, args, "")
		return c.ConnPool.ExecContext(ctx, c.sql, c.vars...)
	}
	return res, err
}

// QueryContext runs a statement with a RETURNING of the caller's, whose rows
// gorm:update or gorm:delete scans: the old rows are read first, and the new
// ones are read back in auditlog:after.
func (c *capturePool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if c.used || query != c.stmt.SQL.String() {
		return c.ConnPool.QueryContext(ctx, query, args...)
	}
	c.used = true
	if err := c.choose(query); err != nil {
		return nil, err
	}
	if err := c.readOld(ctx); err != nil {
		return nil, err
	}
	c.sql, c.vars = c.restricted(query, args, "") // with a RETURNING: not MySQL's
	return c.ConnPool.QueryContext(ctx, c.sql, c.vars...)
}

// choose settles what the statement does and picks its strategy, then
// checks that the statement's clauses build query.
func (c *capturePool) choose(query string) error {
	stmt := c.stmt
	if c.kind != writeUpdate {
		// A soft delete (gorm.DeletedAt, gorm.io/plugin/soft_delete) is an
		// UPDATE built with the update chain's clauses.
		c.kind = writeHardDelete
		if _, ok := stmt.Clauses["UPDATE"]; ok {
			c.kind = writeSoftDelete
		}
	}
	switch {
	case c.kind != writeHardDelete:
		c.built = stmt.DB.Callback().Update().Clauses
	case len(stmt.BuildClauses) > 0:
		c.built = stmt.BuildClauses
	default:
		c.built = stmt.DB.Callback().Delete().Clauses
	}
	// GORM queries rather than executes only a statement with a RETURNING.
	_, own := stmt.Clauses["RETURNING"]
	s := shape{plain: c.unexpectedClause() == "", ownReturning: own}
	c.plain = s.plain
	if c.kind != writeHardDelete {
		c.set = setClause(stmt)
		c.keySet = c.keyAssignments()
		c.assign, s.carried = c.pl.carriedAssignments(c.set)
	}
	c.strategy = chooseStrategy(c.caps, c.kind, s, c.force)
	return c.checkBuilt(query)
}

// unexpectedClause returns the name of a clause of the statement that the
// one statement does not carry over, or "" if there is none.
func (c *capturePool) unexpectedClause() string {
	for _, name := range c.built {
		cl, ok := c.stmt.Clauses[name]
		if !ok {
			continue
		}
		switch name {
		case "WHERE":
			continue
		case "UPDATE", "SET":
			if c.kind != writeHardDelete {
				continue
			}
		case "DELETE":
			if c.kind == writeHardDelete {
				continue
			}
		case "FROM":
			// gorm:delete adds FROM the statement's table; an UPDATE has none.
			if from, ok := cl.Expression.(clause.From); ok && c.kind == writeHardDelete && len(from.Tables) == 0 && len(from.Joins) == 0 {
				continue
			}
		}
		return name
	}
	return ""
}

// checkBuilt checks that the statement's clauses build exactly query.
func (c *capturePool) checkBuilt(query string) error {
	st := c.newStatement()
	st.Clauses = c.stmt.Clauses
	st.Build(c.built...)
	if st.SQL.String() != query {
		return fmt.Errorf("auditlog: cannot record the %s of %s: its SQL is not the one its clauses build", c.verb(), c.pl.schema.Table)
	}
	return nil
}

// readOld reads the rows the statement's final WHERE (soft-delete and
// optimistic-lock conditions included) matches, with its FROM tables and,
// where the dialect builds them into the write, its ORDER BY and LIMIT,
// locked where the database has row locks.
func (c *capturePool) readOld(ctx context.Context) error {
	stmt := c.stmt
	q := rowQuery{conn: c.ConnPool, table: stmt.Table, tableExpr: stmt.TableExpr, where: whereExprs(stmt),
		lock: c.caps.rowLocks, unscoped: true}
	for _, name := range c.built {
		cl, ok := stmt.Clauses[name]
		switch {
		case !ok:
		case name == "ORDER BY":
			q.order = &cl
		case name == "LIMIT":
			q.limit = &cl
		case name == "FROM" && c.kind != writeHardDelete:
			if from, ok := cl.Expression.(clause.From); ok {
				q.from = &from
			}
		}
	}
	if c.limit > 0 {
		if c.after != nil {
			q.where = append([]clause.Expression{keyAfter(c.pl, c.after)}, q.where...)
		}
		q.limit = &clause.Clause{Expression: clause.Limit{Limit: &c.limit}}
	}
	seen := map[string]bool{}
	err := scanRows(stmt.DB, c.pl, q, func(r scannedRow) error {
		if !seen[r.key] { // a join may match a row more than once
			seen[r.key] = true
			c.old = append(c.old, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auditlog: read old %s rows: %w", c.pl.schema.Table, err)
	}
	if c.caps.phantoms && len(c.old)*len(c.pl.schema.PrimaryFields) > c.caps.maxParams {
		return fmt.Errorf("%w: %d %s rows match; change at most %d at a time",
			ErrTooManyRows, len(c.old), c.pl.schema.Table, c.caps.maxParams/len(c.pl.schema.PrimaryFields))
	}
	return nil
}

// queryRows runs c.sql, which returns rows of the plan's columns (old and
// new side by side for oneStatement's UPDATE), and keeps them.
func (c *capturePool) queryRows(ctx context.Context) (sql.Result, error) {
	n, err := c.scanReturned(ctx)
	if err != nil {
		return nil, err
	}
	return returnedRows(n), nil
}

// scanReturned runs c.sql and appends the rows it returns to c.old and
// c.rows (see queryRows); it returns how many rows it returned.
func (c *capturePool) scanReturned(ctx context.Context) (int, error) {
	rows, err := c.ConnPool.QueryContext(ctx, c.sql, c.vars...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	pair := c.strategy == oneStatement && c.kind != writeHardDelete
	copies := 1
	if pair {
		copies = 2
	}
	sc := newRowScanner(c.pl, copies)
	n := 0
	for rows.Next() {
		if err := rows.Scan(sc.dests...); err != nil {
			return 0, err
		}
		n++
		first, err := sc.row(ctx, 0)
		if err != nil {
			return 0, err
		}
		c.last = first.keyValues
		switch {
		case pair:
			row, err := sc.rowLike(ctx, 1, 0, &first)
			if err != nil {
				return 0, err
			}
			c.old, c.rows = append(c.old, first), append(c.rows, row)
		case c.strategy == readReturning:
			c.rows = append(c.rows, first)
		default: // deleted rows
			c.old = append(c.old, first)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if c.strategy != readReturning {
		sortByKey(c.old, c.rows)
	}
	return n, nil
}

// finish returns the rows the write changed, once GORM has run it: for
// readReread it reads the new rows back by key. The pool lets go of its
// rows: from then on the returned changes hold the only references, which
// record drops row by row.
func (c *capturePool) finish(db *gorm.DB) ([]rowChange, error) {
	defer func() { c.old, c.rows = nil, nil }()
	if !c.used {
		if c.stmt.SQL.Len() == 0 {
			return nil, nil // gorm:update had nothing to set
		}
		return nil, fmt.Errorf("auditlog: cannot record the %s of %s: it did not run through auditlog:before's connection", c.verb(), c.pl.schema.Table)
	}
	if c.paged {
		return nil, nil // recorded page by page
	}
	return c.changes(db)
}

// changes pairs c.old with the rows after the write (see finish).
func (c *capturePool) changes(db *gorm.DB) ([]rowChange, error) {
	changes := make([]rowChange, len(c.old))
	for i, old := range c.old {
		changes[i] = rowChange{key: old.key, old: old.state, model: old.model}
	}
	switch {
	case c.kind == writeHardDelete:
		return changes, nil
	case c.strategy == oneStatement:
		for i, row := range c.rows {
			changes[i].new, changes[i].model = row.state, row.model
		}
		return changes, nil
	case c.strategy == readCarry:
		for i := range changes {
			changes[i].new = c.pl.apply(changes[i].old, c.assign)
		}
		return changes, nil
	}
	rows := c.rows
	if c.strategy == readReread {
		var err error
		if rows, err = c.reread(db); err != nil {
			return nil, err
		}
	}
	return changes, c.pair(changes, rows)
}

// reread reads the written rows back by their keys after the write.
func (c *capturePool) reread(db *gorm.DB) ([]scannedRow, error) {
	keys := make([][]any, 0, len(c.old))
	for _, old := range c.old {
		_, values, err := c.newKey(old)
		if err != nil {
			return nil, err
		}
		keys = append(keys, values)
	}
	var rows []scannedRow
	err := readRows(db, c.pl, keys, func(r scannedRow) error { rows = append(rows, r); return nil })
	return rows, err
}

// pair sets the new state of each change from the row the write left with
// its key after the write: every row read before it, and no other.
func (c *capturePool) pair(changes []rowChange, rows []scannedRow) error {
	index := make(map[string]int, len(c.old))
	for i, old := range c.old {
		if key, _, err := c.newKey(old); err == nil {
			index[key] = i
		}
	}
	for _, row := range rows {
		i, ok := index[row.key]
		if !ok {
			return keyChanged(row.key)
		}
		changes[i].new, changes[i].model = row.state, row.model
	}
	for _, ch := range changes {
		if ch.new == nil {
			return keyChanged("")
		}
	}
	return nil
}

// newKey is the primary key old has after the write, as text and values:
// its key, with the values the SET clause gives key columns (keySet). It
// fails with keyChanged when an expression sets a key column: the new key is
// unknown.
func (c *capturePool) newKey(old scannedRow) (string, []any, error) {
	if len(c.keySet) == 0 {
		return old.key, old.keyValues, nil
	}
	values := slices.Clone(old.keyValues)
	for _, a := range c.keySet {
		if a.index < 0 {
			return "", nil, keyChanged("")
		}
		values[a.index] = a.value
	}
	key, err := keyText(c.pl.schema, values)
	return key, values, err
}

// keyAssignment is the SET clause's value of a primary-key column.
type keyAssignment struct {
	index int // in the schema's primary fields; -1: an expression, whose value is unknown
	value any // as assigned
}

// keyAssignments are the SET clause's assignments to primary-key columns,
// found once per statement.
func (c *capturePool) keyAssignments() []keyAssignment {
	var out []keyAssignment
	for _, a := range c.set {
		i := slices.IndexFunc(c.pl.schema.PrimaryFields, func(f *schema.Field) bool { return f.DBName == a.Column.Name })
		if i < 0 {
			continue
		}
		switch a.Value.(type) {
		case clause.Expression, *gorm.DB:
			i = -1
		}
		out = append(out, keyAssignment{index: i, value: a.Value})
	}
	return out
}

// unwrap puts the statement's connection back and the SQL that ran in the
// statement, for GORM's log. It may run twice (auditlog:unwrap, then
// auditlog:after).
func (c *capturePool) unwrap() {
	stmt := c.stmt
	if stmt.ConnPool == c {
		stmt.ConnPool = c.ConnPool
	}
	if c.used && !c.restored && c.sql != "" {
		c.restored = true
		stmt.SQL.Reset()
		stmt.SQL.WriteString(c.sql)
		stmt.Vars = c.vars
	}
}

// verb names the write in errors: UPDATE, or DELETE for soft and hard deletes.
func (c *capturePool) verb() string {
	if c.kind == writeUpdate {
		return "UPDATE"
	}
	return "DELETE"
}

// newStatement is an empty statement on the same table as the pool's, for
// building SQL with its own variables.
func (c *capturePool) newStatement() *gorm.Statement {
	stmt := c.stmt
	st := &gorm.Statement{DB: stmt.DB, Context: stmt.Context, Schema: stmt.Schema, Table: stmt.Table,
		TableExpr: stmt.TableExpr, Clauses: map[string]clause.Clause{}, Vars: make([]any, 0, len(stmt.Vars))}
	st.SQL.Grow(2 * stmt.SQL.Len())
	return st
}

// returnedRows is the sql.Result of a write run with RETURNING.
type returnedRows int64

func (n returnedRows) LastInsertId() (int64, error) {
	return 0, errors.New("auditlog: no LastInsertId for an UPDATE or DELETE")
}

func (n returnedRows) RowsAffected() (int64, error) { return int64(n), nil }
