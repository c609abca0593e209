package auditlog

import (
	"fmt"
	"reflect"

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

// scanRows runs q (a query on the plan's model) through GORM's row chain, so
// that scopes such as soft delete apply but no query hooks run, and reads
// the primary key and tracked columns of each row. Every column is scanned
// into a pointer to its field's type, so SQL NULL stays null even for a
// non-pointer field; serializer fields are scanned raw and decoded as
// stored.
func scanRows(q *gorm.DB, pl *plan, fn func(scannedRow) error) error {
	rows, err := q.Model(reflect.New(pl.schema.ModelType).Interface()).Select(pl.columns).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	ctx := q.Statement.Context
	dests := make([]any, len(pl.columns))
	for rows.Next() {
		for i, f := range pl.columnFields {
			dests[i] = newScanDest(f)
		}
		if err := rows.Scan(dests...); err != nil {
			return err
		}
		r := scannedRow{
			keyValues: make([]any, len(pl.keyColumns)),
			state:     make(rowState, len(pl.fields)),
		}
		for i, col := range pl.keyColumns {
			r.keyValues[i] = scannedValue(dests[col])
		}
		if r.key, err = keyText(pl.schema, r.keyValues); err != nil {
			return err
		}
		for i, tf := range pl.fields {
			v, err := normalize(scannedValue(dests[pl.fieldColumns[i]]), tf.kind)
			if err != nil {
				return fmt.Errorf("auditlog: %s.%s: %w", pl.schema.Name, tf.field.Name, err)
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
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
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
