package auditlog

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Helpers that walk a statement's values and build key conditions, shared
// by the write path and the reading side.

// readRows reads the rows with the given keys (unscoped, no lock: they are
// locked already or were just written) in chunks, and calls fn for each.
func readRows(db *gorm.DB, pl *plan, keys [][]any, fn func(scannedRow) error) error {
	chunk := maxKeyParams / len(pl.schema.PrimaryFields)
	for start := 0; start < len(keys); start += chunk {
		end := min(start+chunk, len(keys))
		q := rowQuery{where: []clause.Expression{keyCondition(db.Statement, pl, keys[start:end])}, unscoped: true,
			table: db.Statement.Table, tableExpr: db.Statement.TableExpr}
		var fnErr error
		err := scanRows(db, pl, q, func(r scannedRow) error { fnErr = fn(r); return fnErr })
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return fmt.Errorf("auditlog: read new %s rows: %w", pl.schema.Table, err)
		}
	}
	return nil
}

func pkOrder(pl *plan) clause.OrderBy {
	cols := make([]clause.OrderByColumn, len(pl.schema.PrimaryFields))
	for i, f := range pl.schema.PrimaryFields {
		cols[i] = clause.OrderByColumn{Column: clause.Column{Table: clause.CurrentTable, Name: f.DBName}}
	}
	return clause.OrderBy{Columns: cols}
}

// whereExprs returns a copy of the statement's WHERE expressions.
func whereExprs(stmt *gorm.Statement) []clause.Expression {
	c, ok := stmt.Clauses["WHERE"]
	if !ok {
		return nil
	}
	w, ok := c.Expression.(clause.Where)
	if !ok || len(w.Exprs) == 0 {
		return nil
	}
	return append([]clause.Expression(nil), w.Exprs...)
}

// identityKeys returns the non-zero primary keys of a struct, pointer or
// slice value, as GORM's own key conditions take them.
func identityKeys(ctx context.Context, s *schema.Schema, rv reflect.Value) [][]any {
	rv = reflect.Indirect(rv)
	if !rv.IsValid() || (rv.Kind() != reflect.Struct && rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return nil
	}
	if rv.Kind() != reflect.Struct && rv.Len() > 0 && reflect.Indirect(rv.Index(0)).Kind() != reflect.Struct {
		return nil
	}
	_, keys := schema.GetIdentityFieldValuesMap(ctx, rv, s.PrimaryFields)
	return keys
}

// mapKeys returns the primary keys present in a map or slice of maps given to
// Create (GORM writes an auto-increment key back into the map).
func mapKeys(s *schema.Schema, rv reflect.Value) [][]any {
	var keys [][]any
	add := func(m reflect.Value) {
		key := make([]any, 0, len(s.PrimaryFields))
		for _, f := range s.PrimaryFields {
			v := m.MapIndex(reflect.ValueOf(f.DBName))
			if !v.IsValid() {
				v = m.MapIndex(reflect.ValueOf(f.Name))
			}
			if !v.IsValid() && len(s.PrimaryFields) == 1 {
				v = m.MapIndex(reflect.ValueOf("@id")) // GORM's LastInsertId key without a model
			}
			if !v.IsValid() || v.IsZero() || (v.Kind() == reflect.Interface && v.IsNil()) {
				return
			}
			key = append(key, v.Interface())
		}
		keys = append(keys, key)
	}
	rv = reflect.Indirect(rv)
	switch rv.Kind() {
	case reflect.Map:
		add(rv)
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if m := reflect.Indirect(rv.Index(i)); m.Kind() == reflect.Map {
				add(m)
			}
		}
	}
	return keys
}

// mapCount is the number of maps in a map or slice of maps given to Create;
// 0 for anything else.
func mapCount(rv reflect.Value) int {
	rv = reflect.Indirect(rv)
	switch {
	case rv.Kind() == reflect.Map:
		return 1
	case (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) && rv.Type().Elem().Kind() == reflect.Map:
		return rv.Len()
	}
	return 0
}

// eachStruct calls fn with every struct in rv: a struct, or the elements of a
// slice or array of structs or pointers to structs.
func eachStruct(rv reflect.Value, fn func(reflect.Value) error) error {
	rv = reflect.Indirect(rv)
	switch rv.Kind() {
	case reflect.Struct:
		return fn(rv)
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			elem := reflect.Indirect(rv.Index(i))
			if elem.Kind() != reflect.Struct {
				continue
			}
			if err := fn(elem); err != nil {
				return err
			}
		}
	}
	return nil
}

// hinted is an UPDATE clause's table followed by an index hint
// (capabilities.keyWriteHint).
type hinted struct {
	clause.Expression
	hint string
}

func (h hinted) Build(b clause.Builder) {
	h.Expression.Build(b)
	b.WriteByte(' ')
	b.WriteString(h.hint)
}
