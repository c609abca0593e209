package auditlog

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Option configures a Plugin. Options are applied in order by New. A nil
// option is ignored, here as for ModelOption and MiddlewareOption.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	table     string
	now       func() time.Time
	mask      []string
	redact    []string
	exclude   []string
	trackAll  bool
	trackNot  []any
	batchSize int
	// maxAssociationKeys: WithMaxAssociationKeys (0: the default).
	maxAssociationKeys int

	beforeLog    []func(context.Context, *LogEntry) error
	afterLog     []func(context.Context, *LogEntry)
	allowUnknown bool
	requireActor bool

	// strategy forces a capture strategy where it applies (tests only:
	// the conformance run goes through every strategy of each database).
	strategy strategy
	// pageRows is how many rows a paged capture writes per statement
	// (capture_stream.go); 0: defaultPageRows. Tests only.
	pageRows int

	// retention is the plugin-wide retention policies (Retention).
	retention []retentionRule

	// partitionsAhead is WithMonthlyPartitions' months ahead; 0: the log
	// table is not partitioned.
	partitionsAhead int

	// seal is the Sealing option's configuration; nil: sealing is off.
	seal *SealConfig
	// sealHook runs in each seal transaction before its header is written
	// (tests only: a crash in the middle of a seal).
	sealHook func(tx *gorm.DB) error
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
// names; a model without such a field is unaffected. A primary key cannot be
// masked (ObjectPK names the object in clear): Register fails with
// ErrInvalidOption for a model whose key it names. Repeating adds names.
func WithMask(fields ...string) Option {
	return optionFunc(func(c *config) { c.mask = append(c.mask, fields...) })
}

// WithRedact redacts the named fields in every tracked model that has them,
// as Redact does for one model, for example WithRedact("PasswordHash").
// Names are Go field names or column names; a model without such a field is
// unaffected. A primary key cannot be redacted: Register fails with
// ErrInvalidOption for a model whose key it names. Repeating adds names.
func WithRedact(fields ...string) Option {
	return optionFunc(func(c *config) { c.redact = append(c.redact, fields...) })
}

// WithExclude never tracks the named fields in any model that has them, for
// example WithExclude("UpdatedAt"), except a soft-delete column (see
// Include). Repeating adds names.
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

// RequireActor makes a tracked write fail with ErrNoActor when its context
// names no actor (see WithActor and Middleware), before anything is
// written: without it such a write is recorded with an empty ActorID, which
// reads like deliberate system work. Writes with a Disable'd context are
// not recorded and not refused. Manual entries (Plugin.Log) and access
// entries are not affected.
func RequireActor() Option {
	return optionFunc(func(c *config) { c.requireActor = true })
}

// WithBatchSize sets how many entries go in one multi-row INSERT (default
// 1000, at most 2500). An entry takes 13 parameters, so the largest batch
// stays below SQLite's limit of 32766 (PostgreSQL and MySQL allow 65535).
// Zero or less means the default.
func WithBatchSize(n int) Option {
	return optionFunc(func(c *config) { c.batchSize = n })
}

// BeforeLog calls fn with each entry before it is written, in the
// transaction of the change, on the goroutine that made it. fn may change the
// entry (enrich Data, rewrite ObjectRepr) or veto it: returning ErrSkipEntry
// (or an error wrapping it) drops that entry and nothing else; any other
// error fails the change, which is rolled back, and Plugin.Log returns it.
// Clear values of masked fields that fn puts into Data or ObjectRepr are
// masked after it returns. It is django-auditlog's pre_log. Repeating adds
// hooks, called in order; a veto stops the later ones.
func BeforeLog(fn func(ctx context.Context, e *LogEntry) error) Option {
	return optionFunc(func(c *config) {
		if fn != nil {
			c.beforeLog = append(c.beforeLog, fn)
		}
	})
}

// AfterLog calls fn with each entry after its INSERT succeeded, in the
// transaction of the change: the change may still roll back afterwards, so
// fn must not announce it as committed. The entry's ID is not set (a
// multi-row INSERT does not return IDs portably). fn must not change the
// entry. It is django-auditlog's post_log. Repeating adds hooks, called in
// order.
func AfterLog(fn func(ctx context.Context, e *LogEntry)) Option {
	return optionFunc(func(c *config) {
		if fn != nil {
			c.afterLog = append(c.afterLog, fn)
		}
	})
}

// AllowUnknownActions lets Plugin.Log write actions that were not defined
// with Plugin.DefineAction. Without it Log rejects them with
// ErrUnknownAction, which catches typos in action names.
func AllowUnknownActions() Option {
	return optionFunc(func(c *config) { c.allowUnknown = true })
}

// ModelOption configures how one registered model is tracked. Register
// applies them in order and ignores a nil one.
type ModelOption interface {
	applyModel(*modelConfig)
}

type modelOptionFunc func(*modelConfig)

func (f modelOptionFunc) applyModel(m *modelConfig) { f(m) }

// Include tracks only the named fields (Go field names or column names).
// Repeating adds fields. Exclude wins over Include. The primary key is always
// read, and the soft-delete column (gorm.DeletedAt) always tracked, so that a
// soft delete is recorded with it in the changes.
func Include(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.include = append(m.include, fields...) })
}

// Exclude never tracks the named fields, except the soft-delete column (see
// Include). Repeating adds fields.
func Exclude(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.exclude = append(m.exclude, fields...) })
}

// Mask stores the named fields masked with MaskString in Changes and
// Snapshot; their clear values are never written to the log. Changes are
// still detected on the clear values. Masking keeps the second half of a
// value ("confidential" is stored as "******ential"): it suits values whose
// tail may be shown, such as an IBAN, not secrets such as password hashes or
// tokens, which want Redact. A primary-key field cannot be masked, as
// ObjectPK names the object in clear: Register fails with ErrInvalidOption.
// Repeating adds fields.
func Mask(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.mask = append(m.mask, fields...) })
}

// Redact records that the named fields changed and stores no part of either
// value: Changes and Snapshot hold Redacted for a non-null value and null
// for null, so an entry shows that the field was changed, set or cleared,
// and nothing else. Changes are detected on the clear values. Clear values
// that hooks or WithData put into Data or ObjectRepr are removed as for Mask
// (a string holding one is replaced by Redacted). StateAt shows Redacted;
// Revert and Undo refuse to restore such a field (ErrMaskedField), as its
// value is not in the log. Redact wins over Mask for a field named in both.
// A primary-key field cannot be redacted: Register fails with
// ErrInvalidOption. Repeating adds fields.
func Redact(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.redact = append(m.redact, fields...) })
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

// Actions records only the listed actions of the model, for example
// Actions(ActionCreate, ActionDelete) for an append-mostly table; by default
// create, update and delete are recorded. Actions that are not recorded cost
// nothing: no read, no lock. Listing ActionAccess is the same as LogAccess.
// Repeating adds actions. Register fails with ErrInvalidOption for a custom
// action or an empty list.
func Actions(actions ...Action) ModelOption {
	return modelOptionFunc(func(m *modelConfig) {
		if m.actions == nil {
			m.actions = []Action{}
		}
		m.actions = append(m.actions, actions...)
	})
}

// Associations records the links of the named many2many fields (Go field
// names, such as "Tags"): every join row GORM adds or removes (Association
// Append, Replace, Delete, Clear; Create, Save and Updates of the owner with
// the association) gives the owner an ActionUpdate entry whose Changes has
// the association under its column-style name ("tags") with Old: the
// related objects' keys removed, New: the keys added, each a sorted JSON
// array of ObjectPK texts. Both sides of an association may register it;
// each records its own entries. Register fails with ErrInvalidOption for a
// field that is not a many2many association. Each join-table write costs
// one locked read of the join rows it may touch. Repeating adds fields.
func Associations(fields ...string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.associations = append(m.associations, fields...) })
}

// WithMaxAssociationKeys bounds how many related keys one association entry
// lists on each side (default 1000); beyond it keys are only counted, in
// Data["links"][column] = {"added": n, "removed": m}. Repeating replaces it.
func WithMaxAssociationKeys(n int) Option {
	return optionFunc(func(c *config) { c.maxAssociationKeys = n })
}

// RecordAccess also records an ActionAccess entry for every row of the model
// read through GORM's query chain (First, Take, Find, Preload, ...): one
// multi-row INSERT per query, on the query's connection (in its transaction,
// if any). Rows scanned into other types (Count, Pluck, Scan into maps) are
// not seen. A query that selects rows without their primary key fails with
// ErrUnidentifiedRow, as their entries could not name them; so does one whose
// entries cannot be written. It is django-auditlog's ACCESS action.
func RecordAccess() ModelOption {
	return modelOptionFunc(func(m *modelConfig) { m.access = true })
}

// maxEntryBatch keeps an entry INSERT (13 parameters a row: 32500) below SQLite's
// 32766 parameters.
const maxEntryBatch = 2500
