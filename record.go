package auditlog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// ErrUnidentifiedRow fails a create or update whose rows the plugin cannot
// identify afterwards, such as db.Table("items").Create(map) without the key
// on a database that does not return it, or an update that changes a primary
// key with gorm.Expr outside PostgreSQL: its entry could not name the row.
var ErrUnidentifiedRow = errors.New("auditlog: written row has no known primary key value")

// ErrTooManyRows is returned (and fails the change) when one Where update or
// delete of a tracked model matches more rows than the plugin can restrict
// the statement to in one IN list (maxKeyParams key values). Split such a
// change into batches. PostgreSQL has no such limit: an update or delete
// there is one statement that locks the rows it changes (see returningPool).
var ErrTooManyRows = errors.New("auditlog: too many rows in one statement")

// maxKeyParams bounds the primary-key values of the IN list that restricts a
// write to the rows read before it: below SQLite's 32766 parameters, leaving
// room for the statement's own.
const maxKeyParams = 30000

// op is the state of one tracked write between auditlog:before and
// auditlog:after, kept in Statement.Settings under opKey.
type op struct {
	stmt      *gorm.Statement // the statement this op belongs to; clones copy Settings
	plan      *plan
	old       map[string]rowState      // old state by key text
	oldRows   map[string]reflect.Value // old rows by key text, for ObjectRepr
	keys      []string                 // key texts in the order read
	keyValues [][]any                  // primary-key values, parallel to keys
	where     *clause.Clause           // the statement's WHERE before it was restricted
	hadWhere  bool
	addedSet  bool           // auditlog:before built the SET clause and must remove it
	assign    []assignment   // the UPDATE's tracked values, when carried is true
	carried   bool           // new states are old states with assign applied
	returning *returningPool // the UPDATE returns its new rows (see returning.go)
}

// trackedPlan returns the plan of a write that is tracked: the model is
// registered and records action, the context does not disable tracking, and
// the statement will run (no error, no DryRun, no SQL built by hand).
func (p *Plugin) trackedPlan(db *gorm.DB, action Action) *plan {
	if db.Error != nil || db.DryRun || db.Statement.SQL.Len() > 0 || Disabled(db.Statement.Context) {
		return nil
	}
	pl := p.planFor(db)
	if pl == nil || !pl.actions.has(action) {
		return nil
	}
	return pl
}

// loadOp takes the op that auditlog:before stored for this statement. A
// statement cloned from another (db.Session inside a hook) carries a copy of
// its Settings, so the op's statement is checked too.
func loadOp(db *gorm.DB) *op {
	v, ok := db.Statement.Settings.Load(opKey)
	if !ok {
		return nil
	}
	o := v.(*op)
	if o.stmt != db.Statement {
		return nil
	}
	db.Statement.Settings.Delete(opKey)
	return o
}

// beforeCreate reads the rows an upsert may overwrite (Save's fallback,
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
	o := &op{stmt: stmt, plan: pl}
	if upsert {
		keys := identityKeys(stmt.Context, pl.schema, stmt.ReflectValue)
		if len(keys) > 0 {
			if err := o.readOld(db, []clause.Expression{keyCondition(stmt, pl, keys)}, true, nil); err != nil {
				db.AddError(err)
				return
			}
		}
		if o.old == nil {
			o.old = map[string]rowState{}
		}
	}
	stmt.Settings.Store(opKey, o)
}

// afterCreate writes a create entry per inserted row. For a plain INSERT of
// structs the values are those GORM sent (with the keys and defaults the
// database returned); for upserts and map inserts the rows are read back.
func (p *Plugin) afterCreate(db *gorm.DB) {
	o := loadOp(db)
	if o == nil || db.Error != nil {
		return
	}
	stmt := db.Statement
	pl := o.plan
	ctx := stmt.Context
	b := p.newBatch(ctx, pl)
	rv := reflect.Indirect(stmt.ReflectValue)
	isMap := rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Map
	if o.old == nil && !isMap {
		// A plain INSERT of structs: the values are those GORM sent, with the
		// keys and defaults the database returned, unless a time value has
		// more precision than the column is known to keep.
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
			if !pl.storedTimes(state) {
				exact = false
			}
			if pl.actions.has(ActionCreate) {
				b.add(ActionCreate, key, row, pl.diff(nil, state), state, nil)
			}
			return nil
		})
		if err != nil {
			db.AddError(err)
			return
		}
		if exact {
			p.write(db, b)
			return
		}
		b = p.newBatch(ctx, pl)
	}

	// Upserts and maps: read what the database holds now.
	var keys [][]any
	if isMap {
		keys = mapKeys(pl.schema, rv)
		if n := mapCount(rv); len(keys) < n {
			db.AddError(fmt.Errorf("%w: %d of %d %s rows created from maps have no primary key value after the INSERT; set the key, or create through Model(&%s{})",
				ErrUnidentifiedRow, n-len(keys), n, pl.schema.Table, pl.schema.Name))
			return
		}
	} else if o.old == nil {
		keys = identityKeys(ctx, pl.schema, rv)
		o.old = map[string]rowState{}
	} else {
		keys = identityKeys(ctx, pl.schema, rv)
	}
	if len(keys) == 0 {
		return
	}
	err := p.readRows(db, pl, keys, func(r scannedRow) error {
		old, existed := o.old[r.key]
		switch {
		case !existed:
			if pl.actions.has(ActionCreate) {
				b.add(ActionCreate, r.key, r.model, pl.diff(nil, r.state), r.state, nil)
			}
		case pl.actions.has(ActionUpdate):
			if changes := pl.diff(old, r.state); changes != nil {
				b.add(ActionUpdate, r.key, r.model, changes, r.state, old)
			}
		}
		return nil
	})
	if err != nil {
		db.AddError(err)
		return
	}
	p.write(db, b)
}

// beforeUpdate builds the SET clause the way gorm:update would (which also
// adds the model's primary-key condition), reads the matched rows with a lock
// and restricts the UPDATE to exactly those rows.
//
// It also fills ActorStamps.UpdatedBy, for tracked models and others.
func (p *Plugin) beforeUpdate(db *gorm.DB) {
	stmt := db.Statement
	pl := p.trackedPlan(db, ActionUpdate)
	var stamps *stampFields
	var actor string
	if db.Error == nil && !stmt.SkipHooks && stmt.SQL.Len() == 0 {
		if stamps = p.stampsFor(stmt.Schema); stamps != nil {
			if actor = ActorFrom(stmt.Context); actor == "" {
				stamps = nil
			}
		}
	}
	if pl == nil && stamps == nil {
		return
	}
	o := &op{stmt: stmt, plan: pl}
	if _, ok := stmt.Clauses["SET"]; !ok {
		if stamps != nil {
			stampSave(stmt.Context, stmt, stamps, actor)
		}
		// ConvertToAssignments is what gorm:update calls; it also adds the
		// model's primary-key condition. gorm:update uses the SET clause it
		// finds instead of building its own, so the side effects (assigned
		// values and auto-update times copied into the model) happen once.
		set := callbacks.ConvertToAssignments(stmt)
		if len(set) == 0 {
			return // gorm:update will do nothing either
		}
		stmt.AddClause(set)
		o.addedSet = true
	}
	if stamps != nil {
		stampUpdate(stmt.Context, stmt, stamps, actor)
	}
	stmt.Settings.Store(opKey, o)
	if pl == nil {
		return // stamped only: afterUpdate removes the SET clause
	}
	conds := whereExprs(stmt)
	if len(conds) == 0 && !stmt.AllowGlobalUpdate {
		return // gorm:update fails with gorm.ErrMissingWhereClause
	}
	if r := oneStatementUpdate(db, pl, false); r != nil {
		// One statement locks, updates and returns the rows (returning.go).
		o.returning = r
		stmt.ConnPool = r
		return
	}
	if set, ok := stmt.Clauses["SET"].Expression.(clause.Set); ok {
		o.assign, o.carried = pl.carriedAssignments(set)
	}
	// Without a model GORM applies no soft-delete scope, and neither may the read.
	if err := o.readOld(db, conds, stmt.Unscoped || stmt.Schema == nil, stmt.BuildClauses); err != nil {
		db.AddError(err)
		return
	}
	o.restrict(db)
	if !o.carried && len(o.keys) > 0 && db.Error == nil && canReturn(db) {
		o.returning = newReturningPool(db, pl)
		stmt.ConnPool = o.returning
	}
}

// afterUpdate compares the rows as read before with what they hold now.
func (p *Plugin) afterUpdate(db *gorm.DB) {
	o := loadOp(db)
	if o == nil {
		return
	}
	stmt := db.Statement
	o.unwrap(stmt)
	if o.addedSet {
		delete(stmt.Clauses, "SET")
	}
	o.unrestrict(stmt)
	if o.plan == nil || db.Error != nil {
		return
	}
	if r := o.returning; r != nil && r.mode == returnOldNew {
		p.writeReturned(db, r, ActionUpdate)
		return
	}
	if len(o.keys) == 0 {
		return
	}
	pl := o.plan
	b := p.newBatch(stmt.Context, pl)
	if o.carried {
		for _, key := range o.keys {
			old := o.old[key]
			state := pl.apply(old, o.assign)
			if changes := pl.diff(old, state); changes != nil {
				b.add(ActionUpdate, key, reflect.Value{}, changes, state, old)
			}
		}
		p.write(db, b)
		return
	}
	// The new rows, returned by the UPDATE or read back by key, must be the
	// rows read before it, all of them: only a change of the primary key by
	// an expression, whose new key is unknown, can lose one.
	found := 0
	add := func(row scannedRow) error {
		old, ok := o.old[row.key]
		if !ok {
			return o.keyChanged(row.key)
		}
		found++
		if changes := pl.diff(old, row.state); changes != nil {
			b.add(ActionUpdate, row.key, row.model, changes, row.state, old)
		}
		return nil
	}
	var err error
	if r := o.returning; r != nil && r.used {
		for _, row := range r.rows {
			if err = add(row); err != nil {
				break
			}
		}
	} else {
		err = p.readRows(db, pl, o.keyValues, add)
	}
	if err == nil && found < len(o.keys) {
		err = o.keyChanged("")
	}
	if err != nil {
		db.AddError(err)
		return
	}
	p.write(db, b)
}

// writeReturned writes the entries of a write that returned its rows
// (returning.go), or fails the statement if it did not run through the pool.
func (p *Plugin) writeReturned(db *gorm.DB, r *returningPool, action Action) {
	b := p.newBatch(db.Statement.Context, r.pl)
	if err := r.addEntries(b, action); err != nil {
		db.AddError(err)
		return
	}
	p.write(db, b)
}

// keyChanged is the error of an update whose new rows do not match the rows
// read before it by key: the UPDATE changed a primary key to a value the
// plugin cannot know, and the change is refused rather than recorded
// without its old values or not at all.
func (o *op) keyChanged(newKey string) error {
	what := "a row read before the UPDATE is missing after it"
	if newKey != "" {
		what = fmt.Sprintf("the UPDATE returned row %s, which it did not read before", newKey)
	}
	return fmt.Errorf("%w: %s (a primary key changed by an expression is recorded on PostgreSQL only)", ErrUnidentifiedRow, what)
}

// beforeDelete reads the rows the DELETE (or soft-delete UPDATE) will touch,
// with a lock, and restricts the statement to them.
func (p *Plugin) beforeDelete(db *gorm.DB) {
	pl := p.trackedPlan(db, ActionDelete)
	if pl == nil {
		return
	}
	stmt := db.Statement
	o := &op{stmt: stmt, plan: pl}
	stmt.Settings.Store(opKey, o)
	conds := whereExprs(stmt)
	// gorm:delete adds the keys of the value passed to Delete, and of the
	// model when it is another value.
	if keys := identityKeys(stmt.Context, pl.schema, stmt.ReflectValue); len(keys) > 0 {
		conds = append(conds, keyCondition(stmt, pl, keys))
	}
	if stmt.ReflectValue.CanAddr() && stmt.Dest != stmt.Model && stmt.Model != nil {
		if keys := identityKeys(stmt.Context, pl.schema, reflect.ValueOf(stmt.Model)); len(keys) > 0 {
			conds = append(conds, keyCondition(stmt, pl, keys))
		}
	}
	if len(conds) == 0 && !stmt.AllowGlobalUpdate {
		return // gorm:delete fails with gorm.ErrMissingWhereClause
	}
	var r *returningPool
	if softDelete(stmt, pl) {
		if gormSoftDelete(pl) {
			r = oneStatementUpdate(db, pl, true)
		}
	} else {
		r = oneStatementDelete(db, pl)
	}
	if r != nil {
		// One statement locks, deletes and returns the rows (returning.go).
		o.returning = r
		stmt.ConnPool = r
		return
	}
	writeClauses := stmt.BuildClauses
	if softDelete(stmt, pl) {
		writeClauses = db.Callback().Update().Clauses // a soft delete is built as an UPDATE
	}
	// Without a model GORM applies no soft-delete scope, and neither may the read.
	if err := o.readOld(db, conds, stmt.Unscoped || stmt.Schema == nil, writeClauses); err != nil {
		db.AddError(err)
		return
	}
	o.restrict(db)
}

// afterDelete writes a delete entry per row: for a hard delete every tracked
// non-null field goes to null; for a soft delete the row is read back and
// the changed fields (the soft-delete column) are recorded.
func (p *Plugin) afterDelete(db *gorm.DB) {
	o := loadOp(db)
	if o == nil {
		return
	}
	stmt := db.Statement
	o.unwrap(stmt)
	o.unrestrict(stmt)
	if db.Error != nil {
		return
	}
	if r := o.returning; r != nil {
		p.writeReturned(db, r, ActionDelete)
		return
	}
	if len(o.keys) == 0 {
		return
	}
	pl := o.plan
	b := p.newBatch(stmt.Context, pl)
	b.entries = make([]LogEntry, 0, len(o.keys))
	if softDelete(stmt, pl) {
		err := p.readRows(db, pl, o.keyValues, func(r scannedRow) error {
			old := o.old[r.key]
			if changes := pl.diff(old, r.state); changes != nil {
				b.add(ActionDelete, r.key, r.model, changes, r.state, old)
			}
			return nil
		})
		if err != nil {
			db.AddError(err)
			return
		}
	} else {
		for _, key := range o.keys {
			old := o.old[key]
			b.add(ActionDelete, key, o.oldRows[key], pl.diff(old, nil), old, nil)
		}
	}
	p.write(db, b)
}

// gormSoftDelete reports whether the model's soft delete is GORM's own
// (gorm.DeletedAt), whose statement the one-statement form is checked with.
func gormSoftDelete(pl *plan) bool {
	for _, c := range pl.schema.DeleteClauses {
		if _, ok := c.(gorm.SoftDeleteDeleteClause); !ok {
			return false
		}
	}
	return len(pl.schema.DeleteClauses) > 0
}

// softDelete reports whether a delete statement is a soft delete: GORM runs
// the model's delete clauses (gorm.DeletedAt) unless Unscoped, and only when
// it knows the model.
func softDelete(stmt *gorm.Statement, pl *plan) bool {
	return pl.softDelete && !stmt.Unscoped && stmt.Schema != nil
}

// readOld selects the rows matching conds (plus the statement's ORDER BY and
// LIMIT, which MySQL allows on UPDATE and DELETE) with FOR UPDATE where the
// dialect has row locks, and keeps their tracked state by key.
//
// writeClauses are the clauses the write is built with: GORM ignores an
// ORDER BY or LIMIT that its dialect does not build into an UPDATE or DELETE
// (only MySQL does), and so must the read.
func (o *op) readOld(db *gorm.DB, conds []clause.Expression, unscoped bool, writeClauses []string) error {
	stmt := db.Statement
	q := rowQuery{where: conds, lock: true, unscoped: unscoped}
	if c, ok := stmt.Clauses["ORDER BY"]; ok && slices.Contains(writeClauses, "ORDER BY") {
		q.order = &c
	}
	if c, ok := stmt.Clauses["LIMIT"]; ok && slices.Contains(writeClauses, "LIMIT") {
		q.limit = &c
	}
	o.old = map[string]rowState{}
	o.oldRows = map[string]reflect.Value{}
	err := scanRows(db, o.plan, q, func(r scannedRow) error {
		if _, dup := o.old[r.key]; !dup {
			o.keys = append(o.keys, r.key)
			o.keyValues = append(o.keyValues, r.keyValues)
		}
		o.old[r.key] = r.state
		o.oldRows[r.key] = r.model
		return nil
	})
	if err != nil {
		return fmt.Errorf("auditlog: read old %s rows: %w", o.plan.schema.Table, err)
	}
	return nil
}

// restrict narrows the statement's WHERE to the keys read by readOld, so that
// a row that starts to match after the read (a phantom) is not changed
// without an entry.
func (o *op) restrict(db *gorm.DB) {
	stmt := db.Statement
	if len(o.keyValues)*len(o.plan.schema.PrimaryFields) > maxKeyParams {
		db.AddError(fmt.Errorf("%w: %d %s rows match; change at most %d at a time",
			ErrTooManyRows, len(o.keyValues), o.plan.schema.Table, maxKeyParams/len(o.plan.schema.PrimaryFields)))
		return
	}
	c, had := stmt.Clauses["WHERE"]
	o.where, o.hadWhere = &c, had
	var keep clause.Expression
	if len(o.keyValues) == 0 {
		keep = clause.Expr{SQL: "1 = 0"}
	} else {
		keep = keyCondition(stmt, o.plan, o.keyValues)
	}
	// The restriction comes first: a "--" comment ending the caller's raw
	// condition would swallow whatever follows it on the line.
	exprs := []clause.Expression{keep}
	if conds := whereExprs(stmt); len(conds) > 0 {
		exprs = []clause.Expression{keep, clause.And(conds...)}
	}
	stmt.Clauses["WHERE"] = clause.Clause{Name: "WHERE", Expression: clause.Where{Exprs: exprs}}
}

// unrestrict puts the statement's WHERE back as it was before restrict, plus
// whatever GORM added after it, so that a reused statement is not narrowed.
func (o *op) unrestrict(stmt *gorm.Statement) {
	if o.where == nil {
		return
	}
	if o.hadWhere {
		stmt.Clauses["WHERE"] = *o.where
	} else {
		delete(stmt.Clauses, "WHERE")
	}
	o.where = nil
}

// readRows reads the rows with the given keys (unscoped, no lock: they are
// locked already or were just written) in chunks, and calls fn for each.
func (p *Plugin) readRows(db *gorm.DB, pl *plan, keys [][]any, fn func(scannedRow) error) error {
	chunk := maxKeyParams / len(pl.schema.PrimaryFields)
	for start := 0; start < len(keys); start += chunk {
		end := min(start+chunk, len(keys))
		q := rowQuery{where: []clause.Expression{keyCondition(db.Statement, pl, keys[start:end])}, unscoped: true}
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

// mapCount is the number of maps in a map or slice of maps given to Create.
func mapCount(rv reflect.Value) int {
	rv = reflect.Indirect(rv)
	if rv.Kind() == reflect.Map {
		return 1
	}
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
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
