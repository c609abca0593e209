package auditlog

import (
	"context"
	"fmt"
	"maps"
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
// times as RFC 3339 strings); masked fields are masked, redacted ones
// Redacted (or null). When the history
// starts with the object's create entry (or a snapshot), every column tracked
// now is present, null where no entry set it; for an object whose history
// starts later, only the columns changed since are known.
//
// It returns an error wrapping ErrNoState when the object had no recorded
// state at t (before its create entry, or after a hard delete), or a
// *CorruptEntriesError when the changes or snapshot of an entry needed for
// the replay cannot be decoded (a corrupt Data does not matter: it is not
// read).
// It runs one query, served by the per-object index.
func (p *Plugin) StateAt(ctx context.Context, db *gorm.DB, obj any, t time.Time) (map[string]any, error) {
	return p.stateAt(ctx, db, Query{Objects: obj}, t)
}

// StateAtKey is StateAt for an object named by its table and its
// LogEntry.ObjectPK text, for readers without the Go type (the web view).
// Without the model, the state holds only the columns its entries recorded
// (a create entry records every tracked column); StateAt adds the model's
// other tracked columns as null. Same cost and errors as StateAt.
func (p *Plugin) StateAtKey(ctx context.Context, db *gorm.DB, table, objectPK string, t time.Time) (map[string]any, error) {
	return p.stateAt(ctx, db, Query{Table: table, ObjectPKs: []string{objectPK}}, t)
}

func (p *Plugin) stateAt(ctx context.Context, db *gorm.DB, target Query, t time.Time) (map[string]any, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	f, err := p.compile(tx, target)
	if err != nil {
		return nil, fmt.Errorf("auditlog: state at: %w", err)
	}
	q := f.apply(tx.Table(f.table())).Where(clause.Lte{Column: clause.Column{Name: "created_at"}, Value: t.UTC()})
	entries, err := readReplay(q)
	if err != nil {
		return nil, fmt.Errorf("auditlog: state at: %w", err)
	}
	var links map[string]string
	if f.schema != nil {
		if pl := p.planOf(f.schema, p.capabilities(tx)); pl != nil {
			links = pl.links
		}
	} else {
		links = p.tableLinks(tx, target.Table)
	}
	state, exists, complete := replay(entries, links)
	if !exists {
		return nil, fmt.Errorf("%w (%s)", ErrNoState, t.UTC().Format(time.RFC3339Nano))
	}
	if f.schema != nil {
		if pl := p.planOf(f.schema, p.capabilities(tx)); pl != nil && complete {
			pl.fillNulls(state)
		}
	}
	return state, nil
}

// readReplay reads the entries a query selects, oldest first, for a replay:
// without their Data, ActorID, RemoteAddr and CID, which a replay does not
// need, so a corrupt Data does not fail it. A row whose Changes or Snapshot
// is corrupt fails the read: a replay without it would be wrong.
func readReplay(q *gorm.DB) ([]LogEntry, error) {
	var rows []storedEntry
	q = q.Select("id", "table_name", "object_pk", "object_repr", "action", "changes", "snapshot", "created_at")
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
// column it does not hold was null. The changes of an association (a column
// of links) remove their old keys from its set and add their new ones
// (applyLinks).
func replay(entries []LogEntry, links map[string]string) (state map[string]any, exists, complete bool) {
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
			if _, link := links[col]; link {
				state[col] = applyLinks(state[col], ch)
				continue
			}
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
