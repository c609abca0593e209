package auditlog

import (
	"fmt"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Per-model log tables (LogTable): a model's entries go to a table of their
// own, with LogEntry's schema; readers find the table from the model.

// LogTable stores the model's entries in the named table instead of the
// plugin's log table (WithTable, default DefaultTable): Wagtail's
// register_model(Sprocket, SprocketLogEntry), for reports filtered or
// permissioned apart. The table has LogEntry's columns and indexes;
// Plugin.AutoMigrate creates it with the plugin's table (db.AutoMigrate of
// LogEntry creates only DefaultTable).
//
// Readers find the table from the model: History, StateAt, Undo, Revert,
// Find with Model, Objects or Table (the table of a registered model), and
// Purge with Models or Tables read it; Find with neither reads every log
// table in use, merged in (CreatedAt, ID) order (an ID is unique within
// its log table only: entries of two tables with the same CreatedAt and ID
// come in the order of Plugin.LogTables). The auditlog command reads one
// log table, named by its -table flag.
//
// Sealing covers the plugin's log table only: Register fails with
// ErrInvalidOption for LogTable on a plugin with Sealing, Seal fails while
// a model uses LogTable, and EraseObject refuses such a model (EraseEntries
// erases by ID in the plugin's log table). Maintain applies
// the retention policies to every log table in use; a relay reads one log
// table (relay.Options.Table): run one per table.
//
// The name must be 1 to 48 ASCII letters, digits and underscores, not
// starting with a digit (it also names the table's indexes), and differ
// from the model's own table; Register fails with ErrInvalidOption
// otherwise. Repeating the option replaces the name.
func LogTable(name string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) {
		m.logTable, m.hasLogTable = name, true
	})
}

// maxLogTableName bounds LogTable's name: MySQL allows 64 characters in an
// identifier, and GORM names the table's indexes idx_<table>_<name>.
const maxLogTableName = 48

// validLogTable checks LogTable's name for model s.
func validLogTable(s *schema.Schema, name string, sealing bool) error {
	if sealing {
		return fmt.Errorf("%w: LogTable(%q): sealing covers the plugin's log table only", ErrInvalidOption, name)
	}
	if name == "" || len(name) > maxLogTableName || name[0] >= '0' && name[0] <= '9' {
		return fmt.Errorf("%w: LogTable(%q): want 1 to %d letters, digits and underscores, not starting with a digit",
			ErrInvalidOption, name, maxLogTableName)
	}
	for _, c := range []byte(name) {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("%w: LogTable(%q): want 1 to %d letters, digits and underscores, not starting with a digit",
				ErrInvalidOption, name, maxLogTableName)
		}
	}
	if name == s.Table {
		return fmt.Errorf("%w: LogTable(%q) is the model's own table", ErrInvalidOption, name)
	}
	return nil
}

// LogTables lists the log tables in use: the plugin's (WithTable) first,
// then those of registered models (LogTable) by name. Find without a model
// reads them all, and ties between entries of two tables (same CreatedAt
// and ID) follow this order. It is safe for concurrent use.
func (p *Plugin) LogTables() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var extra []string
	for _, cfg := range p.models {
		if cfg.logTable != "" && cfg.logTable != p.cfg.table && !slices.Contains(extra, cfg.logTable) {
			extra = append(extra, cfg.logTable)
		}
	}
	slices.Sort(extra)
	return append([]string{p.cfg.table}, extra...)
}

// logTableOf is the log table of model s's entries.
func (p *Plugin) logTableOf(s *schema.Schema) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if cfg := p.models[s.ModelType]; cfg != nil && cfg.logTable != "" {
		return cfg.logTable
	}
	return p.cfg.table
}

// logTableOfTable is the log table of the entries of a model's table given
// by name: the LogTable of a registered model with that table, else the
// plugin's. Only registered models with a LogTable are parsed (through
// tx's schema cache).
func (p *Plugin) logTableOfTable(tx *gorm.DB, table string) string {
	p.mu.RLock()
	var types []reflect.Type
	var names []string
	for t, cfg := range p.models {
		if cfg.logTable != "" {
			types, names = append(types, t), append(names, cfg.logTable)
		}
	}
	p.mu.RUnlock()
	for i, t := range types {
		st := &gorm.Statement{DB: tx}
		if err := st.Parse(reflect.New(t).Interface()); err == nil && st.Schema.Table == table {
			return names[i]
		}
	}
	return p.cfg.table
}
