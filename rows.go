package auditlog

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// scannedRow is one row read by scanRows.
type scannedRow struct {
	key       string
	keyValues []any
	state     rowState
	model     reflect.Value // the row as a model struct, only when the model is a fmt.Stringer
}

// rowQuery is a SELECT of a plan's columns built by scanRows.
type rowQuery struct {
	conn      gorm.ConnPool       // where it runs; nil: the statement's connection
	table     string              // the table or its alias; "": the model's table
	tableExpr *clause.Expr        // the statement's table expression (an alias), if any
	from      *clause.From        // an UPDATE's FROM tables, joined to the table
	where     []clause.Expression // ANDed; none selects every row
	order     *clause.Clause      // the write's ORDER BY; nil: by primary key
	limit     *clause.Clause      // the write's LIMIT, if any
	lock      bool                // FOR UPDATE (of the table only, when there are FROM tables)
	unscoped  bool                // without the model's query scopes (soft delete)
}

// scanRows runs q on its connection (the statement's transaction) and reads
// the primary key and tracked columns of each row. The SELECT is built with
// GORM's clause builder and the model's query clauses (soft delete applies
// unless unscoped) but without a session or the query callbacks, so no
// AfterFind hooks run. Every column is scanned into a pointer to its field's
// type, so SQL NULL stays null even for a non-pointer field; serializer
// fields are scanned raw and decoded as stored.
func scanRows(db *gorm.DB, pl *plan, q rowQuery, fn func(scannedRow) error) error {
	begin := time.Now()
	ctx := db.Statement.Context
	if q.table == "" {
		q.table = pl.schema.Table
	}
	if q.conn == nil {
		q.conn = db.Statement.ConnPool
	}
	st := &gorm.Statement{DB: db, Context: ctx, Schema: pl.schema, Table: q.table, TableExpr: q.tableExpr,
		Unscoped: q.unscoped, Clauses: map[string]clause.Clause{}, Vars: make([]any, 0, 8)}
	if len(q.where) > 0 {
		st.AddClause(clause.Where{Exprs: []clause.Expression{clause.And(q.where...)}})
	}
	if !q.unscoped {
		for _, c := range pl.schema.QueryClauses {
			st.AddClause(c)
		}
	}
	st.AddClause(clause.Select{Columns: pl.selectColumns})
	from := clause.From{}
	lock := clause.Locking{Strength: clause.LockingStrengthUpdate}
	if q.from != nil && (len(q.from.Tables) > 0 || len(q.from.Joins) > 0) {
		from.Tables = append([]clause.Table{{Name: clause.CurrentTable}}, q.from.Tables...)
		from.Joins = q.from.Joins
		lock.Table = clause.Table{Name: q.table} // not the rows of the other tables
	}
	st.AddClause(from)
	if q.order != nil {
		st.Clauses["ORDER BY"] = *q.order
	} else {
		st.AddClause(pkOrder(pl))
	}
	if q.limit != nil {
		st.Clauses["LIMIT"] = *q.limit
	}
	if q.lock {
		st.AddClause(lock)
	}
	buildQuery(st, db.Callback().Query().Clauses)
	sql := st.SQL.String()
	rows, err := q.conn.QueryContext(ctx, sql, st.Vars...)
	if db.Logger != nil {
		db.Logger.Trace(ctx, begin, func() (string, int64) { return db.Dialector.Explain(sql, st.Vars...), -1 }, err)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	return scanResult(ctx, pl, rows, fn)
}

// buildQuery builds st's SELECT with the dialect's query clauses, in their
// order, and ends the line after the WHERE, which may hold the caller's raw
// SQL: a "--" comment there cannot swallow the ORDER BY, LIMIT or lock.
func buildQuery(st *gorm.Statement, names []string) {
	i := slices.Index(names, "WHERE") + 1
	st.Build(names[:i]...)
	st.WriteByte('\n')
	st.Build(names[i:]...)
}

// scanResult reads rows of the plan's columns (in pl.columns order).
func scanResult(ctx context.Context, pl *plan, rows *sql.Rows, fn func(scannedRow) error) error {
	sc := newRowScanner(pl, 1)
	for rows.Next() {
		if err := rows.Scan(sc.dests...); err != nil {
			return err
		}
		r, err := sc.row(ctx, 0)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// rowScanner holds scan destinations for copies of the plan's columns side
// by side in one result row (two for an UPDATE returning old and new values).
// database/sql points each **T at a new T per row (or nil for NULL), so the
// destinations are reused across rows.
type rowScanner struct {
	pl    *plan
	dests []any
}

func newRowScanner(pl *plan, copies int) *rowScanner {
	dests := make([]any, 0, copies*len(pl.columns))
	for range copies {
		for _, f := range pl.columnFields {
			dests = append(dests, newScanDest(f))
		}
	}
	return &rowScanner{pl: pl, dests: dests}
}

// row converts the copy of the plan's columns that starts at part×columns in
// the destinations last scanned.
func (sc *rowScanner) row(ctx context.Context, part int) (scannedRow, error) {
	return sc.rowLike(ctx, part, -1, nil)
}

// rowLike is row, taking the key and the normalized values of like (the row
// of copy likePart, from the same scan) where both copies scanned the same
// value: an UPDATE returning old and new values normalizes an unchanged
// column once.
func (sc *rowScanner) rowLike(ctx context.Context, part, likePart int, like *scannedRow) (scannedRow, error) {
	pl := sc.pl
	n := len(pl.columns)
	dests := sc.dests[part*n:][:n]
	var likeDests []any
	if like != nil {
		likeDests = sc.dests[likePart*n:][:n]
	}
	r := scannedRow{state: make(rowState, len(pl.fields))}
	sameKey := like != nil
	for _, col := range pl.keyColumns {
		sameKey = sameKey && sameScan(dests[col], likeDests[col])
	}
	if sameKey {
		r.key, r.keyValues = like.key, like.keyValues
	} else {
		r.keyValues = make([]any, len(pl.keyColumns))
		for i, col := range pl.keyColumns {
			r.keyValues[i] = scannedValue(dests[col])
		}
		var err error
		if r.key, err = keyText(pl.schema, r.keyValues); err != nil {
			return r, err
		}
	}
	for i, tf := range pl.fields {
		col := pl.fieldColumns[i]
		if like != nil && sameScan(dests[col], likeDests[col]) {
			r.state[i] = like.state[i]
			continue
		}
		v, err := normalize(scannedValue(dests[col]), tf.kind)
		if err != nil {
			return r, fmt.Errorf("auditlog: %s.%s: %w", pl.schema.Name, tf.field.Name, err)
		}
		r.state[i] = v
	}
	if pl.stringer {
		r.model = reflect.New(pl.schema.ModelType).Elem()
		for i, f := range pl.columnFields {
			if v := scannedValue(dests[i]); v != nil && f.Serializer == nil {
				_ = f.Set(ctx, r.model, v) // best effort: only used for ObjectRepr
			}
		}
	}
	return r, nil
}

// newScanDest is a **T for a field of type T (nil after scanning NULL), or a
// *any for serializer fields, whose stored form is what the log records.
func newScanDest(f *schema.Field) any {
	if f.Serializer != nil || f.FieldType == nil {
		return new(any)
	}
	return reflect.New(reflect.PointerTo(f.FieldType)).Interface()
}

// scannedValue dereferences a destination of newScanDest; nil for NULL.
func scannedValue(dest any) any {
	if p, ok := dest.(*any); ok {
		return *p
	}
	v := reflect.ValueOf(dest).Elem() // *T
	if v.IsNil() {
		return nil
	}
	return v.Elem().Interface()
}

// prepareColumns fills the plan's column list: the primary key, the tracked
// fields and, for a fmt.Stringer model, every other column.
func (pl *plan) prepareColumns() {
	index := map[string]int{}
	add := func(f *schema.Field) int {
		if i, ok := index[f.DBName]; ok {
			return i
		}
		index[f.DBName] = len(pl.columns)
		pl.columns = append(pl.columns, f.DBName)
		pl.columnFields = append(pl.columnFields, f)
		return index[f.DBName]
	}
	for _, f := range pl.schema.PrimaryFields {
		pl.keyColumns = append(pl.keyColumns, add(f))
	}
	defer func() {
		pl.selectColumns = make([]clause.Column, len(pl.columns))
		for i, c := range pl.columns {
			pl.selectColumns[i] = clause.Column{Table: clause.CurrentTable, Name: c}
		}
		pl.locked = newLockedColumns(pl)
	}()
	for _, tf := range pl.fields {
		pl.fieldColumns = append(pl.fieldColumns, add(tf.field))
	}
	_, stringer := reflect.New(pl.schema.ModelType).Interface().(fmt.Stringer)
	_, valueStringer := reflect.New(pl.schema.ModelType).Elem().Interface().(fmt.Stringer)
	pl.stringer = stringer || valueStringer
	if pl.stringer {
		for _, f := range pl.schema.Fields {
			if f.DBName != "" && f.Readable {
				add(f)
			}
		}
	}
}

// keyCondition is "pk IN (...)" (or "(a, b) IN ((...), ...)") for keys.
func keyCondition(stmt *gorm.Statement, pl *plan, keys [][]any) clause.Expression {
	column, values := schema.ToQueryValues(stmt.Table, pl.schema.PrimaryFieldDBNames, keys)
	return clause.IN{Column: column, Values: values}
}
