package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Keys of LogEntry.Data in the entries that Undo and Revert write: the ID of
// the entry they reversed or restored to, a JSON number (json.Number once
// read back).
const (
	DataUndoOf   = "undo_of"
	DataRevertOf = "revert_of"
)

// Undo reverses only the fields that the entry entryID changed, putting back
// their old values, on obj (a pointer to a registered model struct with its
// primary key set); other fields, including ones changed after the entry,
// are left as they are. It is the reverse of one change, where Revert
// restores a whole earlier state. Timestamps GORM sets itself (UpdatedAt,
// autoUpdateTime, ...) are neither checked nor put back: GORM stamps the
// undo as any update.
//
// It runs in one transaction (db's, if db is in one): it locks the row
// (SELECT ... FOR UPDATE on PostgreSQL and MySQL/MariaDB; SQLite has one
// writer at a time), checks that every field the entry changed still holds
// the entry's new value, compared as stored (canonical equality), then
// writes the old values as one normal audited update
// (db.Model(obj).Unscoped().Updates): its entry's Data carries DataUndoOf
// with entryID, merged with the context's data. A writer of the same row
// waits for Undo's transaction; obj's fields are updated in memory as by
// Updates. Cost: a locked read of the row and a read of one entry by the
// per-object index, then the update and its capture.
//
// It returns an error wrapping ErrConflict, naming the field, when one of
// them changed since (nothing is written), ErrMaskedField when the entry
// changed a masked or redacted field, ErrNotReversible for an entry without
// field changes to reverse (a create, a hard delete, an access or custom
// action, a change of the primary key, of a column not tracked now, or of
// automatic timestamps only),
// ErrEntryNotFound when the entry is not in obj's history, ErrNoState when
// the row no longer exists, ErrNotRegistered when obj's model is not
// tracked, ErrInvalidModel or ErrNoObjectKey for a bad obj, or the
// database's error.
func (p *Plugin) Undo(ctx context.Context, db *gorm.DB, obj any, entryID int64) error {
	return p.restore(ctx, db, obj, entryID, restoreUndo)
}

// Revert restores the tracked fields of obj (a pointer to a registered model
// struct with its primary key set) to their state before the entry entryID:
// the state after every earlier entry of the object. Later changes of other
// fields are undone too (Undo reverses one entry only). A soft-deleted row's
// deletion column is restored, and nothing is written when the fields
// already hold those values. Timestamps GORM sets itself (UpdatedAt, ...)
// are not put back: GORM stamps the revert as any update.
//
// It runs in one transaction (db's, if db is in one) with the row locked
// (SELECT ... FOR UPDATE on PostgreSQL and MySQL/MariaDB), reads the
// object's history, and writes one normal audited update
// (db.Model(obj).Unscoped().Updates) whose entry's Data carries DataRevertOf
// with entryID. A writer of the same row waits for it; obj's fields are
// updated in memory as by Updates. Cost: a locked read of the row, a read of
// the whole history by the per-object index, then the update and its
// capture.
//
// It returns an error wrapping ErrEntryNotFound when the entry is not in
// the object's history, ErrNoState when there is nothing to return to
// (entryID created the object) or the row no longer exists, ErrMaskedField
// when a masked or redacted field would have to change (the entry or a
// later one changed it, or its current value differs as far as the stored
// form tells), ErrNotRegistered when obj's model is not tracked,
// ErrInvalidModel or ErrNoObjectKey for a bad obj, a *CorruptEntriesError
// when the changes or snapshot of an entry of the history cannot be
// decoded, or the database's error.
func (p *Plugin) Revert(ctx context.Context, db *gorm.DB, obj any, entryID int64) error {
	return p.restore(ctx, db, obj, entryID, restoreRevert)
}

// restoreKind selects what restore computes: Undo's or Revert's updates.
type restoreKind uint8

const (
	restoreUndo restoreKind = iota
	restoreRevert
)

func (k restoreKind) String() string {
	if k == restoreUndo {
		return "undo"
	}
	return "revert"
}

// restoreTarget is the row restore works on, read under the lock.
type restoreTarget struct {
	pl      *plan
	key     string   // ObjectPK
	current rowState // the row's tracked values now, locked; nil: no row
	entries *gorm.DB // a query of obj's entries (the per-object index)
	entryID int64
}

// restore runs Undo or Revert: in a transaction (db's, if it is one), it
// locks obj's row, computes the updates, and writes them as an audited
// update whose entry's Data names the entry.
func (p *Plugin) restore(ctx context.Context, db *gorm.DB, obj any, entryID int64, kind restoreKind) error {
	base := db.WithContext(ctx)
	stmt := &gorm.Statement{DB: base}
	if err := stmt.Parse(obj); err != nil {
		return fmt.Errorf("auditlog: %s %T: %w: %w", kind, obj, ErrInvalidModel, err)
	}
	name := stmt.Schema.Name
	pl := p.planOf(stmt.Schema, p.capabilities(base))
	if pl == nil {
		return fmt.Errorf("auditlog: %s %s: %w", kind, name, ErrNotRegistered)
	}
	run := func(tx *gorm.DB) error {
		t, err := p.lockTarget(ctx, tx, pl, obj, entryID)
		if err != nil {
			return fmt.Errorf("auditlog: %s %s: %w", kind, name, err)
		}
		var updates map[string]any
		var dataKey string
		switch kind {
		case restoreUndo:
			updates, err = t.undoUpdates(ctx)
			dataKey = DataUndoOf
		default:
			updates, err = t.revertUpdates(ctx)
			dataKey = DataRevertOf
		}
		if err != nil {
			return err
		}
		wctx := WithData(ctx, map[string]any{dataKey: entryID})
		if len(updates) > 0 {
			if err := tx.WithContext(wctx).Model(obj).Unscoped().Updates(updates).Error; err != nil {
				return fmt.Errorf("auditlog: %s %s %s to entry %d: %w", kind, name, t.key, entryID, err)
			}
		}
		if err := t.restoreLinks(tx.WithContext(wctx), obj); err != nil {
			return fmt.Errorf("auditlog: %s %s %s to entry %d: %w", kind, name, t.key, entryID, err)
		}
		return nil
	}
	if inTransaction(base) {
		return run(base)
	}
	return base.Transaction(run)
}

// inTransaction reports whether db's statements run in a transaction.
func inTransaction(db *gorm.DB) bool {
	committer, ok := db.Statement.ConnPool.(gorm.TxCommitter)
	return ok && committer != nil
}

// lockTarget reads obj's row with a row lock where the database has them
// (capabilities.rowLocks), in tx; current stays nil when there is no such
// row. The row is read before the log, so that entries committed by a
// writer that held the lock are seen.
func (p *Plugin) lockTarget(ctx context.Context, tx *gorm.DB, pl *plan, obj any, entryID int64) (*restoreTarget, error) {
	read := tx.Session(&gorm.Session{NewDB: true})
	f, err := p.compile(read, Query{Objects: obj})
	if err != nil {
		return nil, err
	}
	t := &restoreTarget{pl: pl, entries: f.apply(read.Table(f.table())), entryID: entryID}
	keys := identityKeys(ctx, pl.schema, reflect.ValueOf(obj))
	q := rowQuery{where: []clause.Expression{keyCondition(read.Statement, pl, keys)}, unscoped: true,
		lock: p.capabilities(tx).rowLocks}
	err = scanRows(read, pl, q, func(r scannedRow) error {
		t.current = r.state
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.key, err = objectKey(ctx, pl.schema, reflect.Indirect(reflect.ValueOf(obj)))
	return t, err
}

// gone is the error for a row that no longer exists (hard-deleted).
func (t *restoreTarget) gone() error {
	return fmt.Errorf("%w: %s %s no longer exists", ErrNoState, t.pl.schema.Name, t.key)
}

// undoUpdates are the assignments that reverse the entry: the old value of
// every field it changed, once each is checked to still hold the entry's
// new value.
func (t *restoreTarget) undoUpdates(ctx context.Context) (map[string]any, error) {
	entries, err := readReplay(t.entries.Where(clause.Eq{Column: clause.Column{Name: "id"}, Value: t.entryID}))
	if err != nil {
		return nil, fmt.Errorf("auditlog: read entry %d of %s %s: %w", t.entryID, t.pl.schema.Name, t.key, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: entry %d, %s %s", ErrEntryNotFound, t.entryID, t.pl.schema.Name, t.key)
	}
	e := entries[0]
	if t.current == nil {
		return nil, t.gone()
	}
	if e.Action == ActionCreate || hardDelete(e) || len(e.Changes) == 0 {
		return nil, fmt.Errorf("%w: entry %d (%s of %s) changes no field of an existing row", ErrNotReversible, e.ID, e.Action, t.key)
	}
	pl := t.pl
	updates := make(map[string]any, len(e.Changes))
	links := 0
	for _, col := range slices.Sorted(maps.Keys(e.Changes)) {
		ch := e.Changes[col]
		if _, link := pl.links[col]; link {
			links++ // reversed by restoreLinks
			continue
		}
		i, tracked := pl.fieldIndex[col]
		if !tracked {
			return nil, fmt.Errorf("%w: entry %d changed %s, which is not a tracked column of %s", ErrNotReversible, e.ID, col, pl.schema.Name)
		}
		tf := pl.fields[i]
		switch {
		case tf.masked:
			return nil, fmt.Errorf("%w: entry %d changed %s.%s, whose old value is not in the log", ErrMaskedField, e.ID, pl.schema.Name, tf.field.Name)
		case tf.field.PrimaryKey || !tf.field.Updatable:
			return nil, fmt.Errorf("%w: entry %d changed %s.%s, which cannot be updated", ErrNotReversible, e.ID, pl.schema.Name, tf.field.Name)
		case autoTime(tf):
			// Any later update moves it: not a conflict, and GORM stamps the undo.
		case !equalValues(t.current[i], ch.New):
			return nil, fmt.Errorf("%w: %s.%s of %s is %s now, entry %d set it to %s", ErrConflict, pl.schema.Name, tf.field.Name,
				t.key, jsonText(t.current[i]), e.ID, jsonText(ch.New))
		}
		if !autoTime(tf) {
			updates[col] = assignedValue(ctx, tf, ch.Old)
		}
	}
	if len(updates) == 0 && links == 0 {
		return nil, fmt.Errorf("%w: entry %d changed only automatic timestamps of %s", ErrNotReversible, e.ID, t.key)
	}
	return updates, nil
}

// autoTime reports whether GORM sets the field's time itself on create or
// update (CreatedAt, UpdatedAt, autoCreateTime, autoUpdateTime): Undo and
// Revert leave it to GORM, which stamps their update as any other.
func autoTime(tf *trackedField) bool {
	return tf.field.AutoCreateTime > 0 || tf.field.AutoUpdateTime > 0
}

// revertUpdates are the assignments that bring the row's current tracked
// state back to the state before the entry: the fields that differ, but the
// key and fields GORM does not update. A masked or redacted field that
// differs, or that the entry or a later one changed, fails with
// ErrMaskedField.
func (t *restoreTarget) revertUpdates(ctx context.Context) (map[string]any, error) {
	entries, err := readReplay(t.entries)
	if err != nil {
		return nil, fmt.Errorf("auditlog: read the history of %s %s: %w", t.pl.schema.Name, t.key, err)
	}
	at := slices.IndexFunc(entries, func(e LogEntry) bool { return e.ID == t.entryID })
	if at < 0 {
		return nil, fmt.Errorf("%w: entry %d, %s %s", ErrEntryNotFound, t.entryID, t.pl.schema.Name, t.key)
	}
	target, exists, complete := replay(entries[:at], nil)
	pl := t.pl
	if complete {
		pl.fillNulls(target)
	}
	if !exists {
		return nil, fmt.Errorf("%w: entry %d of %s %s comes first; there is nothing before it", ErrNoState,
			t.entryID, pl.schema.Name, t.key)
	}
	if t.current == nil {
		return nil, t.gone()
	}
	updates := map[string]any{}
	for i, tf := range pl.fields {
		want, known := target[tf.field.DBName]
		if !known {
			continue
		}
		if tf.masked {
			if changedSince(entries[at:], tf.field.DBName) || !equalValues(tf.hide(t.current[i]), want) {
				return nil, fmt.Errorf("%w: %s.%s changed since entry %d", ErrMaskedField, pl.schema.Name, tf.field.Name, t.entryID)
			}
			continue
		}
		if equalValues(t.current[i], want) || tf.field.PrimaryKey || !tf.field.Updatable || autoTime(tf) {
			continue
		}
		updates[tf.field.DBName] = assignedValue(ctx, tf, want)
	}
	return updates, nil
}

// changedSince reports whether one of entries changed column.
func changedSince(entries []LogEntry, column string) bool {
	return slices.ContainsFunc(entries, func(e LogEntry) bool {
		_, ok := e.Changes[column]
		return ok
	})
}

// jsonText is a canonical value as JSON, for error messages.
func jsonText(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}

// assignedValue is the value to assign to the field in Updates for the
// stored value v. A field with a serializer (serializer:json, ...) gets the
// Go value its serializer decodes from the stored form, wrapped so that GORM
// writes it through the serializer: Updates with a map does not apply a
// serializer itself. Other fields get a value of the field's Go type where
// JSON can carry it (times, numbers, byte slices, JSON documents, nullable
// types with UnmarshalJSON), or the stored value for the driver to convert.
func assignedValue(ctx context.Context, tf *trackedField, v any) any {
	f := tf.field
	if f.Serializer == nil {
		return goValue(tf, v)
	}
	if v == nil {
		return nil
	}
	stored := serializedForm(tf, v)
	row := reflect.New(f.Schema.ModelType).Elem()
	if err := f.Serializer.Scan(ctx, f, row, stored); err != nil {
		return stored // not the serializer's form: write the stored value as is
	}
	value, _ := f.ValueOf(ctx, row)
	return value
}

// serializedForm is the database value of a serializer field whose stored
// (canonical) value is v: the JSON text of a JSON field, a number as an
// int64 or float64, other values as they are.
func serializedForm(tf *trackedField, v any) any {
	if tf.kind == kindJSON {
		if raw, err := json.Marshal(v); err == nil {
			return string(raw)
		}
	}
	if n, ok := v.(json.Number); ok {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(string(n), 64); err == nil {
			return f
		}
	}
	return v
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
