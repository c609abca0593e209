package auditlog

import (
	"encoding/json"
	"fmt"
)

// The JSON form of LogEntry: the one documented form that exports, the web
// API and relays share, pinned by testdata/TestLogEntryJSON.

// MarshalJSON encodes the entry as one JSON object with the snake_case keys
// id, table, object_pk, object_repr, action, changes, actor_id, remote_addr,
// cid, data, snapshot and created_at, in that order, all always present.
// changes is {"column": [old, new], ...} (null when there are none), data and
// snapshot are JSON objects or null, and created_at is RFC 3339 in UTC with
// as many fractional-second digits as the time has (up to nanoseconds,
// time.RFC3339Nano). Values keep their stored JSON types: numbers as written,
// strings escaped as JSON. It fails only for a value encoding/json cannot
// encode (a Data value such as a channel or NaN set by a hook and not stored).
func (e LogEntry) MarshalJSON() ([]byte, error) {
	type plain LogEntry // LogEntry's fields and tags without its methods
	p := plain(e)
	p.CreatedAt = e.CreatedAt.UTC()
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("auditlog: entry %d: %w", e.ID, err)
	}
	return b, nil
}

// UnmarshalJSON decodes a JSON object, keeping numbers exact (json.Number
// in canonical decimal form), as Scan does. null gives a nil map; any other
// value that is not an object is an error.
func (m *JSONMap) UnmarshalJSON(b []byte) error {
	v, err := parseJSON(b)
	if err != nil {
		return fmt.Errorf("auditlog: json object: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok && v != nil {
		return fmt.Errorf("auditlog: json object: got %T", v)
	}
	*m = obj
	return nil
}
