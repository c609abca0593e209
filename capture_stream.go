package auditlog

import (
	"context"
	"database/sql"

	"gorm.io/gorm/clause"
)

// defaultPageRows is how many rows a paged capture locks, writes and
// records per statement: at about 2 KB of heap a row while its entry is
// built, about 20 MB. A page is one statement that finds its rows through
// the WHERE and the key order, so fewer, larger pages cost less where the
// WHERE is not served by the primary key's index.
const defaultPageRows = 10000

// pages reports whether the write is captured page by page, entries
// written between pages, rather than all rows at once: its entries may be
// written before every row is known (recorder.streams), the SET assigns no
// key column, so that a row written by one page keeps the key the next
// pages start after and is never matched again, and the model records no
// many-to-many links (Associations), whose join-table writes run after the
// statement and join its rows' entries (one entry per object).
func (c *capturePool) pages() bool {
	return c.rec != nil && c.rec.streams() && len(c.keySet) == 0 && len(c.pl.links) == 0
}

// pagedReturning runs a write whose one statement returns its rows
// (oneStatement; deleteReturning, see deletePageSQL) a page at a time:
// each statement locks (or, for a DELETE, deletes) the next pageRows
// matching rows after the last key of the previous page, in key order,
// writes them and returns them; their entries are built and written
// (recorder) before the next page runs, on the same connection and in the
// same transaction. A write of fewer rows than a page is one statement, as
// without paging. The write is the same as one statement's where no other
// transaction commits matching rows meanwhile; under READ COMMITTED a page
// sees rows committed before it started, as a plain UPDATE re-run would. A
// failing page or entry INSERT returns its error: the caller's transaction
// rolls back every page.
func (c *capturePool) pagedReturning(ctx context.Context) (sql.Result, error) {
	var total int64
	var after []any
	for {
		c.sql, c.vars = c.pageSQL(after, c.pageRows)
		n, err := c.scanReturned(ctx)
		if err != nil {
			return nil, err
		}
		total += int64(n)
		if n == 0 {
			break
		}
		// The last row returned, not the last in Go's order of keys: a page
		// is returned in the database's key order (see oneStatementSQL).
		after = c.last
		if err := c.emit(); err != nil {
			return nil, err
		}
		if n < c.pageRows {
			break
		}
	}
	return returnedRows(total), nil
}

// pageSQL is the SQL of one page of pagedReturning.
func (c *capturePool) pageSQL(after []any, limit int) (string, []any) {
	if c.strategy == deleteReturning {
		return c.deletePageSQL(after, limit)
	}
	return c.oneStatementSQL(after, limit)
}

// emit hands the rows of a returning page to the recorder and lets go
// of them.
func (c *capturePool) emit() error {
	for i, old := range c.old {
		ch := rowChange{key: old.key, old: old.state, model: old.model}
		if c.kind != writeHardDelete {
			ch.new, ch.model = c.rows[i].state, c.rows[i].model
		}
		c.old[i] = scannedRow{}
		if err := c.rec.add(ch); err != nil {
			return err
		}
	}
	c.old, c.rows = c.old[:0], nil
	c.paged = true
	return nil
}

// pagedRead runs a read strategy's write a page at a time: the locked read
// of the next pageRows rows after the last key of the previous page (key
// order), the write restricted to their keys, their new values (as the
// strategy gets them), their entries built and written (recorder), then
// the next page, all on the statement's connection in its transaction. A
// write whose first page is not full runs as without paging (on SQLite
// unrestricted, as GORM built it). RowsAffected is the pages' sum.
func (c *capturePool) pagedRead(ctx context.Context, query string, args []any) (sql.Result, error) {
	var total int64
	c.limit = c.pageRows
	for {
		c.old, c.rows = nil, nil
		if err := c.readOld(ctx); err != nil {
			return nil, err
		}
		if len(c.old) == 0 && c.after != nil {
			break
		}
		full := len(c.old) == c.pageRows
		c.restrict = full || c.after != nil
		n, err := c.writePage(ctx, query, args)
		if err != nil {
			return nil, err
		}
		total += n
		if err := c.emitPage(); err != nil {
			return nil, err
		}
		if !full {
			break
		}
	}
	c.old, c.rows, c.paged = nil, nil, true
	return returnedRows(total), nil
}

// writePage runs the write of one page and returns the rows it affected.
func (c *capturePool) writePage(ctx context.Context, query string, args []any) (int64, error) {
	c.sql, c.vars = c.restricted(query, args, c.caps.keyWriteHint)
	if c.strategy == readReturning {
		c.sql += c.returningColumns()
		n, err := c.scanReturned(ctx)
		return int64(n), err
	}
	res, err := c.execWrite(ctx, query, args)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// emitPage hands the changes of a read strategy's page to the recorder and
// lets go of its rows.
func (c *capturePool) emitPage() error {
	if len(c.old) > 0 {
		c.after = c.old[len(c.old)-1].keyValues
	}
	changes, err := c.changes(c.stmt.DB)
	if err != nil {
		return err
	}
	c.old, c.rows = nil, nil
	for i := range changes {
		if err := c.rec.add(changes[i]); err != nil {
			return err
		}
		changes[i] = rowChange{}
	}
	return nil
}

// keyAfter is the condition that a row's primary key comes after after in
// key order: k1 > ?, or for a composite key k1 > ? OR (k1 = ? AND k2 > ?)
// OR ... .
func keyAfter(pl *plan, after []any) clause.Expression {
	fields := pl.schema.PrimaryFields
	col := func(i int) clause.Column { return clause.Column{Table: clause.CurrentTable, Name: fields[i].DBName} }
	var or []clause.Expression
	for i := range fields {
		and := make([]clause.Expression, 0, i+1)
		for j := 0; j < i; j++ {
			and = append(and, clause.Eq{Column: col(j), Value: after[j]})
		}
		and = append(and, clause.Gt{Column: col(i), Value: after[i]})
		or = append(or, clause.And(and...))
	}
	if len(or) == 1 {
		return or[0]
	}
	return clause.Or(or...)
}
