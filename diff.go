package auditlog

import (
	"context"
	"fmt"
	"reflect"
)

// readState extracts the tracked fields of the struct row.
func (pl *plan) readState(ctx context.Context, row reflect.Value) (rowState, error) {
	state := make(rowState, len(pl.fields))
	for i, tf := range pl.fields {
		v, _ := tf.field.ValueOf(ctx, row)
		n, err := normalize(v, tf.kind)
		if err != nil {
			return nil, fmt.Errorf("auditlog: %s.%s: %w", pl.schema.Name, tf.field.Name, err)
		}
		state[i] = n
	}
	return state, nil
}

// diff returns the changes between two states of one row, keyed by column.
// A nil old state is a creation (every non-null field with old null); a nil new
// state a deletion (every non-null field with new null). Masked fields are
// compared in clear and stored masked or redacted. The result is nil when nothing changed.
func (pl *plan) diff(old, new rowState) Changes {
	var changes Changes
	for i, tf := range pl.fields {
		var o, n any
		if old != nil {
			o = old[i]
		}
		if new != nil {
			n = new[i]
		}
		if equalValues(o, n) {
			continue
		}
		if changes == nil {
			changes = make(Changes, len(pl.fields))
		}
		o, n = tf.hide(o), tf.hide(n)
		changes[tf.field.DBName] = Change{Old: o, New: n}
	}
	return changes
}

// snapshot is the stored form of a whole state, masked or redacted where
// configured.
func (pl *plan) snapshot(state rowState) JSONMap {
	if state == nil {
		return nil
	}
	m := make(JSONMap, len(state))
	for i, tf := range pl.fields {
		m[tf.field.DBName] = tf.hide(state[i])
	}
	return m
}
