package auditlog

import (
	"time"
)

// Option configures a Plugin. Options are applied in order by New.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	table     string
	now       func() time.Time
	mask      []string
	exclude   []string
	trackAll  bool
	trackNot  []any
	batchSize int
}

// WithTable stores entries in the named table instead of DefaultTable.
// Create it with Plugin.AutoMigrate. Repeating the option replaces the name.
func WithTable(name string) Option {
	return optionFunc(func(c *config) { c.table = name })
}

// WithClock sets the clock that stamps LogEntry.CreatedAt (default time.Now).
// Tests use it for reproducible output. Repeating the option replaces it.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// WithMask masks the named fields in every tracked model that has them, for
// example WithMask("Password", "Token"). Names are Go field names or column
// names; a model without such a field is unaffected. Repeating adds names.
func WithMask(fields ...string) Option {
	return optionFunc(func(c *config) { c.mask = append(c.mask, fields...) })
}

// WithExclude never tracks the named fields in any model that has them, for
// example WithExclude("UpdatedAt"). Repeating adds names.
func WithExclude(fields ...string) Option {
	return optionFunc(func(c *config) { c.exclude = append(c.exclude, fields...) })
}

// TrackAll tracks every model written through the db, except the log table and
// the models listed in except (pointers to structs, such as &Session{}), with
// the plugin-wide options. Register still refines a model's options. It is
// django-auditlog's AUDITLOG_INCLUDE_ALL_MODELS. Repeating adds exceptions.
func TrackAll(except ...any) Option {
	return optionFunc(func(c *config) {
		c.trackAll = true
		c.trackNot = append(c.trackNot, except...)
	})
}

// WithBatchSize sets how many entries go in one multi-row INSERT (default
// 1000, at most 2500). An entry takes 12 parameters, so the largest batch
// stays below SQLite's limit of 32766 (PostgreSQL and MySQL allow 65535).
// Zero or less means the default.
func WithBatchSize(n int) Option {
	return optionFunc(func(c *config) { c.batchSize = n })
}

// ModelOption configures how one registered model is tracked.
type ModelOption interface {
	applyModel(*modelConfig)
}

type modelOptionFunc func(*modelConfig)

func (f modelOptionFunc) applyModel(m *modelConfig) { f(m) }

// Include tracks only the named fields (Go field names or column names).
// Repeating adds fields. Exclude wins over Include.
func Include(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.include = append(m.include, fields...) })
}

// Exclude never tracks the named fields. Repeating adds fields.
func Exclude(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.exclude = append(m.exclude, fields...) })
}

// Mask stores the named fields masked with MaskString in Changes and
// Snapshot; their clear values are never written to the log. Changes are
// still detected on the clear values. Repeating adds fields.
func Mask(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.mask = append(m.mask, fields...) })
}

// Label gives a field a display label (django-auditlog's mapping_fields).
// Repeating for the same field replaces its label.
func Label(field, label string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) {
		if m.labels == nil {
			m.labels = map[string]string{}
		}
		m.labels[field] = label
	})
}

// Serialize also stores a snapshot of every tracked field after the change in
// LogEntry.Snapshot (masked fields masked). It roughly doubles the size of an
// entry.
func Serialize() ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.serialize = true })
}

// maxEntryBatch keeps an entry INSERT (12 parameters a row) below SQLite's
// 32766 parameters.
const maxEntryBatch = 2500
