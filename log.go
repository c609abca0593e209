package auditlog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"

	"gorm.io/gorm"
)

// Log writes an entry of action for obj, a pointer to a model struct with its
// primary key set, or a slice of them (one entry each, in one multi-row
// INSERT). obj need not be registered; when it is, its masked fields are kept
// out of ObjectRepr and Data. data goes into LogEntry.Data, merged over the
// context's (WithData); the actor, correlation id and remote address come
// from ctx, as for tracked writes. It is Wagtail's log() and InvenioRDM's
// audit log actions.
//
// The entry is written on db's connection: in db's transaction when db is one
// (inside db.Transaction), so that it commits or rolls back with the work it
// describes; otherwise on its own. Nothing is written in DryRun. The
// BeforeLog and AfterLog hooks run as for tracked writes; a veto makes Log
// write nothing and return nil. Disable does not stop Log: calling it is
// explicit.
//
// It returns an error wrapping ErrUnknownAction for an action that was not
// defined with DefineAction (unless AllowUnknownActions), ErrInvalidAction for
// a malformed name, ErrInvalidModel or ErrNoObjectKey for obj, or the hook's
// or the database's error.
func (p *Plugin) Log(ctx context.Context, db *gorm.DB, obj any, action Action, data map[string]any) error {
	if err := p.checkAction(action); err != nil {
		return err
	}
	return p.logObjects(ctx, db, obj, action, data)
}

// LogAccess writes an ActionAccess entry for obj (a pointer to a model struct
// or a slice of them), as Log does: for reads that do not go through GORM's
// query chain, or for models not registered with the RecordAccess option.
func (p *Plugin) LogAccess(ctx context.Context, db *gorm.DB, obj any) error {
	return p.logObjects(ctx, db, obj, ActionAccess, nil)
}

func (p *Plugin) logObjects(ctx context.Context, db *gorm.DB, obj any, action Action, data map[string]any) error {
	if ctx == nil {
		ctx = context.Background()
	}
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	stmt := &gorm.Statement{DB: tx}
	if obj == nil {
		return fmt.Errorf("auditlog: log %s of <nil>: %w", action, ErrInvalidModel)
	}
	if err := stmt.Parse(obj); err != nil {
		return fmt.Errorf("auditlog: log %s of %T: %w: %w", action, obj, ErrInvalidModel, err)
	}
	s := stmt.Schema
	if len(s.PrimaryFields) == 0 {
		return fmt.Errorf("auditlog: log %s of %s: %w", action, s.Name, ErrNoPrimaryKey)
	}
	pl := p.planOf(s, p.capabilities(tx))
	if pl == nil {
		pl = &plan{schema: s, logTable: p.cfg.table} // not tracked: no fields to mask
	}
	b := p.newBatch(ctx, pl)
	if len(data) > 0 {
		merged := make(map[string]any, len(b.data)+len(data))
		maps.Copy(merged, b.data)
		maps.Copy(merged, data)
		b.data = merged
		b.scrub = pl.masks
	}
	rv := reflect.Indirect(reflect.ValueOf(obj))
	if rv.Kind() != reflect.Struct && rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return fmt.Errorf("auditlog: log %s of %T: %w", action, obj, ErrInvalidModel)
	}
	err := eachStruct(rv, func(row reflect.Value) error {
		return p.addObject(ctx, b, action, row)
	})
	if err != nil {
		return fmt.Errorf("auditlog: log %s of %s: %w", action, s.Name, err)
	}
	if len(b.entries) == 0 || tx.DryRun {
		return nil
	}
	if err := p.prepare(ctx, b); err != nil {
		return err
	}
	return p.insert(tx, pl.logTable, b.entries)
}

// addObject adds the entry of action for one in-memory row, without changes.
func (p *Plugin) addObject(ctx context.Context, b *entryBatch, action Action, row reflect.Value) error {
	pl := b.pl
	if row.Type() != pl.schema.ModelType {
		return nil
	}
	key, err := objectKey(ctx, pl.schema, row)
	if err != nil {
		return err
	}
	var state rowState
	if pl.masks || pl.parent != nil { // the parent key is read from the state
		if state, err = pl.readState(ctx, row); err != nil {
			return err
		}
	}
	b.add(action, key, row, nil, state, nil)
	return nil
}

// afterQuery writes an access entry for every row of a model registered with
// LogAccess that a query scanned into the model's structs.
func (p *Plugin) afterQuery(db *gorm.DB) {
	stmt := db.Statement
	if db.Error != nil || db.DryRun || db.RowsAffected == 0 || stmt.Schema == nil || Disabled(stmt.Context) {
		return
	}
	pl := p.planFor(db)
	if pl == nil || !pl.actions.has(ActionAccess) {
		return
	}
	ctx := stmt.Context
	b := p.newBatch(ctx, pl)
	err := eachStruct(stmt.ReflectValue, func(row reflect.Value) error {
		if err := p.addObject(ctx, b, ActionAccess, row); errors.Is(err, ErrNoObjectKey) {
			return fmt.Errorf("%w: a %s row was read without its primary key, so its access cannot be logged; select the key",
				ErrUnidentifiedRow, pl.schema.Name)
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		db.AddError(fmt.Errorf("auditlog: log access: %w", err))
		return
	}
	if len(b.entries) > 0 {
		p.write(db, b)
	}
}
