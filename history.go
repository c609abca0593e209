package auditlog

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"
)

// History returns the entries of obj (a pointer to a model struct with its
// primary key set), newest first; entries with the same CreatedAt come higher
// ID first. obj need not be registered. It runs one query, served by the log
// table's (table, object pk, created at, id) index, in db's transaction if db
// is one; Find reads long histories page by page.
//
// Rows whose stored JSON is corrupt are skipped: History then returns the
// other entries together with a *CorruptEntriesError listing the skipped IDs.
func (p *Plugin) History(ctx context.Context, db *gorm.DB, obj any, opts ...HistoryOption) ([]LogEntry, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(obj); err != nil {
		return nil, fmt.Errorf("auditlog: history of %T: %w: %w", obj, ErrInvalidModel, err)
	}
	if rv := reflect.Indirect(reflect.ValueOf(obj)); rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("auditlog: history of %T: %w", obj, ErrInvalidModel)
	}
	var hc historyConfig
	for _, o := range opts {
		if o != nil {
			o.applyHistory(&hc)
		}
	}
	f, err := p.compile(tx, Query{Objects: obj, Children: hc.children})
	if err != nil {
		return nil, fmt.Errorf("auditlog: history: %w", err)
	}
	rows, err := f.find(tx, nil, false, 0)
	if err != nil {
		return nil, fmt.Errorf("auditlog: history of %s: %w", stmt.Schema.Name, err)
	}
	entries, corrupt := decodeSourced(rows)
	if len(corrupt) > 0 {
		return entries, &CorruptEntriesError{IDs: corrupt}
	}
	return entries, nil
}

// HistoryOption configures one History call. A nil option is ignored.
type HistoryOption interface {
	applyHistory(*historyConfig)
}

type historyConfig struct {
	children bool
}

type historyOptionFunc func(*historyConfig)

func (f historyOptionFunc) applyHistory(c *historyConfig) { f(c) }

// WithChildren makes History also return the entries of the object's
// children: entries of models registered with Parent whose parent is the
// object, merged with its own (Query.Children for History).
func WithChildren() HistoryOption {
	return historyOptionFunc(func(c *historyConfig) { c.children = true })
}
