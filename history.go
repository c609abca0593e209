package auditlog

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrNoObjectKey is returned by History for an object whose primary key is
// not set: it has no history to look up.
var ErrNoObjectKey = errors.New("auditlog: object has no primary key value")

// History returns the entries of obj (a pointer to a model struct with its
// primary key set), newest first; entries with the same CreatedAt come higher
// ID first. obj need not be registered. It runs one query, served by the log
// table's (table, object pk, created at) index, in db's transaction if db is
// one. Reading a row whose stored JSON is corrupt fails with an error.
func (p *Plugin) History(ctx context.Context, db *gorm.DB, obj any) ([]LogEntry, error) {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(obj); err != nil {
		return nil, fmt.Errorf("auditlog: history of %T: %w", obj, err)
	}
	s := stmt.Schema
	if len(s.PrimaryFields) == 0 {
		return nil, fmt.Errorf("auditlog: history of %s: %w", s.Name, ErrNoPrimaryKey)
	}
	rv := reflect.Indirect(reflect.ValueOf(obj))
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("auditlog: history of %T: %w", obj, ErrInvalidModel)
	}
	values := make([]any, len(s.PrimaryFields))
	for i, f := range s.PrimaryFields {
		v, zero := f.ValueOf(ctx, rv)
		if zero {
			return nil, fmt.Errorf("auditlog: history of %s: %w", s.Name, ErrNoObjectKey)
		}
		values[i] = v
	}
	key, err := keyText(s, values)
	if err != nil {
		return nil, err
	}
	var entries []LogEntry
	err = db.Session(&gorm.Session{NewDB: true, Context: ctx}).Table(p.cfg.table).
		Where(clause.Eq{Column: clause.Column{Name: "table_name"}, Value: s.Table}).
		Where(clause.Eq{Column: clause.Column{Name: "object_pk"}, Value: key}).
		Order(clause.OrderBy{Columns: []clause.OrderByColumn{
			{Column: clause.Column{Name: "created_at"}, Desc: true},
			{Column: clause.Column{Name: "id"}, Desc: true},
		}}).
		Find(&entries).Error
	if err != nil {
		return nil, fmt.Errorf("auditlog: history of %s %s: %w", s.Name, key, err)
	}
	return entries, nil
}
