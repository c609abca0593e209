package auditlog

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// DefaultTable is the name of the log table unless WithTable says otherwise.
const DefaultTable = "audit_log_entries"

// Action is what happened to an object. The four built-in actions are below;
// any other string is a custom action.
type Action string

// The built-in actions.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
	ActionAccess Action = "access"
	// ActionErase records an erasure of entries' payload (Plugin.EraseEntries).
	ActionErase Action = "erase"
)

// LogEntry is one row of the audit log: one action on one object.
//
// Migrate its table with db.AutoMigrate(&auditlog.LogEntry{}) (or
// Plugin.AutoMigrate when WithTable names another table). Its indexes serve
// the queries of Plugin.Find in (created at, id) order: per object (table,
// object pk, created at, id), per model (table, created at, id), per actor,
// per correlation id, by time (created at, id) for exports and Purge, and
// per parent (parent table, parent pk, created at, id) for children.
//
// Its JSON form (json.Marshal(entry), see MarshalJSON) is the one used by
// the auditlog command's export and history -format json: snake_case keys
// id, table, object_pk, object_repr, action, changes, actor_id, remote_addr,
// cid, data, snapshot, created_at, always all present, followed by
// parent_table and parent_pk when the entry has a parent (Parent).
type LogEntry struct {
	ID int64 `gorm:"column:id;primaryKey;autoIncrement;index:,composite:object,priority:4;index:,composite:model,priority:3;index:,composite:actor,priority:3;index:,composite:cid,priority:3;index:,composite:created,priority:2;index:,composite:parent,priority:4" json:"id"`
	// Table is the table of the tracked model.
	Table string `gorm:"column:table_name;size:191;not null;index:,composite:object,priority:1;index:,composite:model,priority:1" json:"table"`
	// ObjectPK is the primary key as text. A single key is its plain text form
	// ("42", "6f9619ff-8b86-d011-b42d-00c04fc964ff"); a composite key is a JSON
	// array of the key columns' text forms in the schema's order (`["acme","42"]`).
	ObjectPK string `gorm:"column:object_pk;size:191;not null;index:,composite:object,priority:2" json:"object_pk"`
	// ObjectRepr is a short human label of the object: its String() when the
	// model is a fmt.Stringer whose output contains no masked value, otherwise
	// "Model(pk)".
	ObjectRepr string `gorm:"column:object_repr" json:"object_repr"`
	Action     Action `gorm:"column:action;size:64;not null" json:"action"`
	// Changes maps column names to their old and new values.
	Changes    Changes `gorm:"column:changes" json:"changes"`
	ActorID    string  `gorm:"column:actor_id;size:191;index:,composite:actor,priority:1" json:"actor_id"`
	RemoteAddr string  `gorm:"column:remote_addr;size:64" json:"remote_addr"`
	CID        string  `gorm:"column:cid;size:191;index:,composite:cid,priority:1" json:"cid"`
	// Data is additional data attached by custom actions and hooks.
	Data JSONMap `gorm:"column:data" json:"data"`
	// Snapshot is the full tracked state after the change (before it, for a
	// hard delete) when the model is registered with Serialize.
	Snapshot JSONMap `gorm:"column:snapshot" json:"snapshot"`
	// CreatedAt is when the change was made (the plugin's clock, in UTC).
	CreatedAt time.Time `gorm:"column:created_at;not null;index:,composite:object,priority:3;index:,composite:model,priority:2;index:,composite:actor,priority:2;index:,composite:cid,priority:2;index:,composite:created,priority:1;index:,composite:parent,priority:3" json:"created_at"`
	// ParentTable and ParentPK name the parent object of an entry of a model
	// registered with Parent: the table of the belongs-to field's model and
	// its key in ObjectPK form, taken from the foreign key the row holds
	// (after the change; before it, for a delete). Both are empty for other
	// entries, and left out of the JSON form then. Find with Query.Children
	// and History with WithChildren read them through the index (parent
	// table, parent pk, created at, id).
	ParentTable string `gorm:"column:parent_table;size:191;index:,composite:parent,priority:1" json:"parent_table,omitempty"`
	ParentPK    string `gorm:"column:parent_pk;size:191;index:,composite:parent,priority:2" json:"parent_pk,omitempty"`

	// The column below is written by Plugin.EraseEntries only, never by
	// the write path, and is left out of the JSON form. The seal data (each
	// entry's seal sequence number and leaf hash) is in the seal table.

	// ErasedBy is the ID of the "erase" entry that recorded the erasure of
	// this entry's payload (Plugin.EraseEntries); nil when not erased.
	ErasedBy *int64 `gorm:"column:erased_by" json:"-"`
}

// sealColumns are the log table's columns set by Erase, never by the
// write path: the entries' INSERT leaves them NULL.
var sealColumns = []string{"erased_by"}

// entryColumns are the log table's columns the write path writes:
// LogEntry's columns but the key and sealColumns, in its field order; columnValues gives an entry's
// values in the same order. TestLogSchemaHasOneSource checks both, and the
// columns storedEntry reads, against LogEntry's schema.
var entryColumns = []string{"table_name", "object_pk", "object_repr", "action", "changes",
	"actor_id", "remote_addr", "cid", "data", "snapshot", "created_at", "parent_table", "parent_pk"}

func (e *LogEntry) columnValues() []any {
	return []any{e.Table, e.ObjectPK, e.ObjectRepr, string(e.Action), e.Changes,
		e.ActorID, e.RemoteAddr, e.CID, e.Data, e.Snapshot, e.CreatedAt, e.ParentTable, e.ParentPK}
}

// TableName is the default log table, DefaultTable.
func (LogEntry) TableName() string { return DefaultTable }

// Change is one field's old and new value. Values keep their JSON type: nil,
// bool, string, json.Number for numbers, map[string]any and []any for JSON
// columns. Times are RFC 3339 UTC strings, byte slices base64 strings, masked
// values strings. It is stored as the JSON array [old, new].
type Change struct {
	Old, New any
}

// MarshalJSON encodes the change as [old, new].
func (c Change) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{c.Old, c.New})
}

// UnmarshalJSON decodes [old, new], keeping numbers as json.Number: a
// number that is a whole value with the scale it was stored with
// ("12500.50"), numbers inside JSON values canonical.
func (c *Change) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return fmt.Errorf("auditlog: change: %w", err)
	}
	if len(pair) != 2 {
		return fmt.Errorf("auditlog: change: want [old, new], got %d elements", len(pair))
	}
	var err error
	if c.Old, err = parseStoredValue(pair[0]); err != nil {
		return fmt.Errorf("auditlog: change: %w", err)
	}
	if c.New, err = parseStoredValue(pair[1]); err != nil {
		return fmt.Errorf("auditlog: change: %w", err)
	}
	return nil
}

// Changes maps a column name to its change. It is stored as a JSON object
// {"price": [old, new]} in a jsonb (PostgreSQL), JSON (MySQL, MariaDB) or
// text (SQLite) column.
type Changes map[string]Change

// Value encodes the changes as JSON; an empty map is stored as NULL.
func (c Changes) Value() (driver.Value, error) {
	if len(c) == 0 {
		return nil, nil
	}
	b, err := appendChanges(make([]byte, 0, 32*len(c)), c)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Scan decodes JSON text. NULL gives a nil map.
func (c *Changes) Scan(src any) error {
	raw, err := jsonBytes(src)
	if err != nil || raw == nil {
		*c = nil
		return err
	}
	var m map[string]Change
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("auditlog: changes: %w", err)
	}
	*c = m
	return nil
}

// GormDataType tells GORM the column holds JSON.
func (Changes) GormDataType() string { return "json" }

// GormDBDataType chooses jsonb on PostgreSQL, JSON on MySQL and text elsewhere.
func (Changes) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	return newCapabilities(db).jsonColumnType()
}

// JSONMap is a JSON object column: LogEntry's Data and Snapshot. Numbers
// decode as json.Number so that they round-trip exactly.
type JSONMap map[string]any

// Value encodes the map as JSON; an empty map is stored as NULL.
func (m JSONMap) Value() (driver.Value, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(map[string]any(m))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// Scan decodes JSON text. NULL gives a nil map.
func (m *JSONMap) Scan(src any) error {
	raw, err := jsonBytes(src)
	if err != nil || raw == nil {
		*m = nil
		return err
	}
	return m.UnmarshalJSON(raw)
}

// GormDataType tells GORM the column holds JSON.
func (JSONMap) GormDataType() string { return "json" }

// GormDBDataType chooses jsonb on PostgreSQL, JSON on MySQL and text elsewhere.
func (JSONMap) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	return newCapabilities(db).jsonColumnType()
}

func jsonBytes(src any) ([]byte, error) {
	switch v := src.(type) {
	case nil:
		return nil, nil
	case []byte:
		if len(bytes.TrimSpace(v)) == 0 || bytes.Equal(v, []byte("null")) {
			return nil, nil
		}
		return v, nil
	case string: // as []byte: drivers differ in which they return
		return jsonBytes([]byte(v))
	}
	return nil, errors.New("auditlog: unsupported JSON column value " + fmt.Sprintf("%T", src))
}
