package auditlog

import (
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// beforeCreate counts the maps of a create from maps and reads, with a lock,
// the rows an upsert may overwrite (Save's fallback,
// Clauses(clause.OnConflict{...})): for a plain INSERT there is nothing old.
func (p *Plugin) beforeCreate(db *gorm.DB) {
	stmt := db.Statement
	_, upsert := stmt.Clauses["ON CONFLICT"]
	pl := p.trackedPlan(db, ActionCreate)
	if pl == nil && upsert {
		pl = p.trackedPlan(db, ActionUpdate) // an upsert may update rows only
	}
	if pl == nil {
		return
	}
	o := &op{stmt: stmt, plan: pl, maps: mapCount(stmt.ReflectValue)}
	if upsert {
		o.old = map[string]rowState{}
		keys := identityKeys(stmt.Context, pl.schema, stmt.ReflectValue)
		if len(keys) > 0 {
			q := rowQuery{where: []clause.Expression{keyCondition(stmt, pl, keys)}, lock: p.capabilities(db).rowLocks,
				unscoped: true, table: stmt.Table, tableExpr: stmt.TableExpr}
			err := scanRows(db, pl, q, func(r scannedRow) error { o.old[r.key] = r.state; return nil })
			if err != nil {
				db.AddError(fmt.Errorf("auditlog: read old %s rows: %w", pl.schema.Table, err))
				return
			}
		}
	}
	stmt.Settings.Store(opKey, o)
	o.expose()
}

// afterCreate records the inserted rows. For a plain INSERT of structs that
// sent or got back every tracked column (insertSent), the values are those
// GORM sent, with the keys and defaults the database returned, unless a time
// value has more digits than its column is known to keep; the rows of
// upserts, of creates from maps, of INSERTs that left a tracked column to
// the database (Select, Omit, defaults, read-only fields) and those are read
// back (insertReread).
func (p *Plugin) afterCreate(db *gorm.DB) {
	o := loadOp(db)
	if o == nil || db.Error != nil {
		return
	}
	stmt := db.Statement
	pl := o.plan
	rv := reflect.Indirect(stmt.ReflectValue)
	isMap := rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Map
	sent := shape{carried: o.old == nil && !isMap && p.insertedAll(db, pl)}
	if chooseStrategy(p.capabilities(db), writeCreate, sent, p.cfg.strategy) == insertSent {
		changes, exact, err := structChanges(db, pl, rv)
		if err != nil {
			db.AddError(err)
			return
		}
		if exact {
			p.record(db, o, ActionCreate, changes)
			return
		}
	}
	keys, err := o.createdKeys(rv)
	if err != nil {
		db.AddError(err)
		return
	}
	var changes []rowChange
	err = readRows(db, pl, keys, func(r scannedRow) error {
		ch := rowChange{key: r.key, new: r.state, model: r.model}
		if old, existed := o.old[r.key]; existed {
			ch.old = old
		}
		changes = append(changes, ch)
		return nil
	})
	if err != nil {
		db.AddError(err)
		return
	}
	p.record(db, o, ActionCreate, changes)
}

// insertedAll reports whether the INSERT GORM ran sent every tracked column
// or got it back: in its VALUES, in the RETURNING GORM scanned into the
// structs, or a primary key GORM fills from the database.
func (p *Plugin) insertedAll(db *gorm.DB, pl *plan) bool {
	stmt := db.Statement
	values, _ := stmt.Clauses["VALUES"].Expression.(clause.Values)
	var returned []clause.Column
	if c, ok := stmt.Clauses["RETURNING"]; ok && p.capabilities(db).insertReturning {
		r, _ := c.Expression.(clause.Returning)
		if len(r.Columns) == 0 {
			return true // RETURNING *
		}
		returned = r.Columns
	}
	has := func(cols []clause.Column, name string) bool {
		return slices.ContainsFunc(cols, func(c clause.Column) bool { return c.Name == name })
	}
	for _, tf := range pl.fields {
		f := tf.field
		if !f.PrimaryKey && !has(values.Columns, f.DBName) && !has(returned, f.DBName) {
			return false
		}
	}
	return true
}

// structChanges are the create changes of the structs GORM inserted, with
// the values it sent. It reports false when a time value has more precision
// than the column is known to keep, or a decimal column's type is declared
// (see storedDecimals): the rows must then be read back.
func structChanges(db *gorm.DB, pl *plan, rv reflect.Value) ([]rowChange, bool, error) {
	ctx := db.Statement.Context
	var changes []rowChange
	exact := true
	err := eachStruct(rv, func(row reflect.Value) error {
		key, err := pl.key(ctx, row)
		if err != nil {
			return err
		}
		state, err := pl.readState(ctx, row)
		if err != nil {
			return err
		}
		exact = exact && pl.storedTimes(state) && pl.storedDecimals(state)
		changes = append(changes, rowChange{key: key, new: state, model: row})
		return nil
	})
	return changes, exact, err
}

// createdKeys returns the primary keys of the rows a create inserted or
// upserted. From maps: the keys in the maps, or, where GORM appended one map
// per row the INSERT returned to the caller's slice, the keys in those.
func (o *op) createdKeys(rv reflect.Value) ([][]any, error) {
	pl := o.plan
	if rv.Kind() != reflect.Map && !(rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Map) {
		return identityKeys(o.stmt.Context, pl.schema, rv), nil
	}
	maps := rv
	if n := mapCount(rv); rv.Kind() == reflect.Slice && n > o.maps {
		maps = rv.Slice(o.maps, n) // the rows RETURNING gave back
	}
	keys := mapKeys(pl.schema, maps)
	if len(keys) < o.maps {
		return nil, fmt.Errorf("%w: %d of %d %s rows created from maps have no primary key value after the INSERT; set the key, or create through Model(&%s{})",
			ErrUnidentifiedRow, o.maps-len(keys), o.maps, pl.schema.Table, pl.schema.Name)
	}
	return keys, nil
}
