package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// StateAt reconstructs obj's fields as they were at time t (the state after
// every entry created at or before t) from its entries, by replaying their
// changes oldest first; an entry with a Snapshot (Serialize) sets the whole
// state at once. It works for deleted objects too, at times before the
// deletion. obj is a pointer to a model struct with its primary key set;
// it need not still exist, nor be registered now.
//
// The result maps column names to values as Changes holds them (JSON types,
// times as RFC 3339 strings); masked fields are masked. When the history
// starts with the object's create entry (or a snapshot), every column tracked
// now is present, null where no entry set it; for an object whose history
// starts later, only the columns changed since are known.
//
// It returns an error wrapping ErrNoState when the object had no recorded
// state at t (before its create entry, or after a hard delete), or a
// *CorruptEntriesError when entries needed for the replay cannot be decoded.
// It runs one query, served by the per-object index.
func (p *Plugin) StateAt(ctx context.Context, db *gorm.DB, obj any, t time.Time) (map[string]any, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	f, err := p.compile(tx, Query{Objects: obj})
	if err != nil {
		return nil, fmt.Errorf("auditlog: state at: %w", err)
	}
	q := f.apply(tx.Table(p.cfg.table)).Where(clause.Lte{Column: clause.Column{Name: "created_at"}, Value: t.UTC()})
	entries, err := readAll(q)
	if err != nil {
		return nil, fmt.Errorf("auditlog: state at: %w", err)
	}
	state, exists, complete := replay(entries)
	if !exists {
		return nil, fmt.Errorf("%w (%s)", ErrNoState, t.UTC().Format(time.RFC3339Nano))
	}
	if pl := p.planOf(f.schema, p.capabilities(tx)); pl != nil && complete {
		pl.fillNulls(state)
	}
	return state, nil
}

// readAll reads the entries a query selects, oldest first. A corrupt row
// fails the read: a replay without it would be wrong.
func readAll(q *gorm.DB) ([]LogEntry, error) {
	var rows []storedEntry
	if err := q.Order(entryOrder(true)).Find(&rows).Error; err != nil {
		return nil, err
	}
	entries, corrupt := decodeEntries(rows)
	if len(corrupt) > 0 {
		return nil, &CorruptEntriesError{IDs: corrupt}
	}
	return entries, nil
}

// replay applies entries, oldest first, to an empty state. It reports
// whether the object exists after the last one, and whether the state is
// complete: it starts from a create entry or a snapshot, so that a tracked
// column it does not hold was null.
func replay(entries []LogEntry) (state map[string]any, exists, complete bool) {
	state = map[string]any{}
	for _, e := range entries {
		if hardDelete(e) {
			clear(state)
			exists, complete = false, false
			continue
		}
		switch {
		case e.Snapshot != nil:
			state = maps.Clone(map[string]any(e.Snapshot))
			complete = true
		case e.Action == ActionCreate:
			clear(state)
			complete = true
		}
		for col, ch := range e.Changes {
			state[col] = ch.New
		}
		exists = true // created, changed, soft-deleted or acted on: the row is there
	}
	return state, exists, complete
}

// fillNulls adds the tracked columns a complete state does not hold, as null.
func (pl *plan) fillNulls(state map[string]any) {
	for _, tf := range pl.fields {
		if _, ok := state[tf.field.DBName]; !ok {
			state[tf.field.DBName] = nil
		}
	}
}

// hardDelete reports whether e removed its row: a delete entry whose every
// change goes to null (a soft delete sets its column instead).
func hardDelete(e LogEntry) bool {
	if e.Action != ActionDelete {
		return false
	}
	for _, ch := range e.Changes {
		if ch.New != nil {
			return false
		}
	}
	return true
}

// Revert restores the tracked fields of obj (a pointer to a registered model
// struct with its primary key set) to their state before the entry entryID:
// the state after every earlier entry of the object. It runs as one normal
// audited update (db.Model(obj).Unscoped().Updates), so it writes its own
// update entry, restores a soft-deleted row's deletion column, and changes
// nothing when the fields already hold those values. obj's fields are updated
// in memory as by Updates.
//
// It returns an error wrapping ErrEntryNotFound when the entry is not in the
// object's history, ErrNoState when there is nothing to return to (entryID
// created the object) or the row no longer exists, ErrMaskedField when a
// masked field would have to change (its clear value is not in the log), or
// ErrNotRegistered when obj's model is not tracked, or ErrInvalidModel when
// obj is not a model.
func (p *Plugin) Revert(ctx context.Context, db *gorm.DB, obj any, entryID int64) error {
	tx := db.WithContext(ctx)
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(obj); err != nil {
		return fmt.Errorf("auditlog: revert %T: %w: %w", obj, ErrInvalidModel, err)
	}
	pl := p.planOf(stmt.Schema, p.capabilities(tx))
	if pl == nil {
		return fmt.Errorf("auditlog: revert %s: %w", stmt.Schema.Name, ErrNotRegistered)
	}
	read := tx.Session(&gorm.Session{NewDB: true})
	f, err := p.compile(read, Query{Objects: obj})
	if err != nil {
		return fmt.Errorf("auditlog: revert: %w", err)
	}
	entries, err := readAll(f.apply(read.Table(p.cfg.table)))
	if err != nil {
		return fmt.Errorf("auditlog: revert %s: %w", stmt.Schema.Name, err)
	}
	at := slices.IndexFunc(entries, func(e LogEntry) bool { return e.ID == entryID })
	if at < 0 {
		return fmt.Errorf("%w: entry %d, %s", ErrEntryNotFound, entryID, stmt.Schema.Name)
	}
	target, exists, complete := replay(entries[:at])
	if complete {
		pl.fillNulls(target)
	}
	if !exists {
		return fmt.Errorf("%w: entry %d of %s %s comes first; there is nothing before it", ErrNoState,
			entryID, stmt.Schema.Name, entries[at].ObjectPK)
	}

	// The row as it is now, read the way the plugin reads old rows.
	key := entries[at].ObjectPK
	var current rowState
	keys := identityKeys(ctx, pl.schema, reflect.ValueOf(obj))
	err = scanRows(read, pl, rowQuery{where: []clause.Expression{keyCondition(read.Statement, pl, keys)}, unscoped: true},
		func(r scannedRow) error { current = r.state; return nil })
	if err != nil {
		return fmt.Errorf("auditlog: revert %s %s: %w", stmt.Schema.Name, key, err)
	}
	if current == nil {
		return fmt.Errorf("%w: %s %s no longer exists", ErrNoState, stmt.Schema.Name, key)
	}

	updates, err := pl.revertUpdates(target, current, entryID)
	if err != nil {
		return err
	}
	if len(updates) == 0 {
		return nil
	}
	if err := tx.Model(obj).Unscoped().Updates(updates).Error; err != nil {
		return fmt.Errorf("auditlog: revert %s %s: %w", stmt.Schema.Name, key, err)
	}
	return nil
}

// revertUpdates are the assignments that bring a row's current tracked
// state back to target: the fields that differ, but the key and fields GORM
// does not update. A masked field that differs fails with ErrMaskedField.
func (pl *plan) revertUpdates(target map[string]any, current rowState, entryID int64) (map[string]any, error) {
	updates := map[string]any{}
	for i, tf := range pl.fields {
		want, known := target[tf.field.DBName]
		if !known {
			continue
		}
		now := current[i]
		if tf.masked {
			now = maskValue(now)
		}
		if equalValues(now, want) {
			continue
		}
		if tf.masked {
			return nil, fmt.Errorf("%w: %s.%s changed since entry %d", ErrMaskedField, pl.schema.Name, tf.field.Name, entryID)
		}
		if tf.field.PrimaryKey || !tf.field.Updatable {
			continue
		}
		updates[tf.field.DBName] = goValue(tf, want)
	}
	return updates, nil
}

// goValue turns a stored value back into a value of the field's Go type
// where JSON can carry it (times, numbers, byte slices, JSON documents,
// nullable types with UnmarshalJSON); otherwise the stored value is passed
// as is for the driver to convert.
func goValue(tf *trackedField, v any) any {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	ptr := reflect.New(tf.field.FieldType)
	if err := json.Unmarshal(raw, ptr.Interface()); err != nil {
		return v
	}
	return ptr.Elem().Interface()
}
