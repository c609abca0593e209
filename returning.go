package auditlog

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// returningPool stands in for a statement's connection between
// auditlog:before and auditlog:unwrap, the span of gorm:update, on dialects
// whose UPDATE has RETURNING (PostgreSQL, SQLite 3.35+). When gorm:update
// executes the statement's own UPDATE, it runs it with RETURNING of the plan's
// columns instead and keeps the rows: the new values of an update with
// gorm.Expr assignments then cost no second read. Every other call (nested
// statements of hooks or associations, which copy the connection) passes
// through unchanged.
type returningPool struct {
	gorm.ConnPool
	stmt      *gorm.Statement
	pl        *plan
	returning string // " RETURNING col, ..."

	used bool
	rows []scannedRow
}

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

func newReturningPool(db *gorm.DB, pl *plan) *returningPool {
	var b strings.Builder
	b.WriteString(" RETURNING ")
	for i, c := range pl.columns {
		if i > 0 {
			b.WriteByte(',')
		}
		db.Dialector.QuoteTo(&b, c)
	}
	return &returningPool{ConnPool: db.Statement.ConnPool, stmt: db.Statement, pl: pl, returning: b.String()}
}

// ExecContext runs the statement's UPDATE with RETURNING and keeps the rows;
// anything else goes to the wrapped connection.
func (r *returningPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if r.used || query != r.stmt.SQL.String() {
		return r.ConnPool.ExecContext(ctx, query, args...)
	}
	r.used = true
	rows, err := r.ConnPool.QueryContext(ctx, query+r.returning, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	err = scanResult(ctx, r.pl, rows, func(row scannedRow) error {
		r.rows = append(r.rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return returnedRows(len(r.rows)), nil
}

// returnedRows is the sql.Result of an UPDATE run with RETURNING.
type returnedRows int64

func (n returnedRows) LastInsertId() (int64, error) {
	return 0, errors.New("auditlog: no LastInsertId for an UPDATE")
}

func (n returnedRows) RowsAffected() (int64, error) { return int64(n), nil }

// unwrap puts the statement's connection back right after gorm:update, so
// that nothing after it (associations, hooks, the entries' INSERT) sees the
// wrapper, and completes the statement's SQL with the RETURNING that ran,
// for GORM's log.
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
		stmt.SQL.WriteString(r.returning)
	}
}
