package auditlog

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Plugin records an audit trail of the models registered with it. Create one
// with New, install it with db.Use, then Register models. A Plugin is safe for
// concurrent use by any number of goroutines and *gorm.DB sessions.
type Plugin struct {
	cfg config

	mu      sync.RWMutex
	naming  schema.Namer
	caps    capabilities // of the database Initialize was given
	models  map[reflect.Type]*modelConfig
	plans   map[*schema.Schema]*plan
	actions map[Action]actionDef
	display map[string]map[string]displayField // by table, for DisplayChanges

	parsed sync.Map // schema cache for Register's validation
	stamps sync.Map // *schema.Schema -> *stampFields (nil: none)
}

var _ gorm.Plugin = (*Plugin)(nil)

// New returns a plugin with the given options. Nothing is tracked until a
// model is registered (or TrackAll is given).
func New(opts ...Option) *Plugin {
	p := &Plugin{
		cfg: config{
			table:     DefaultTable,
			now:       time.Now,
			batchSize: 1000,
		},
		models:  map[reflect.Type]*modelConfig{},
		plans:   map[*schema.Schema]*plan{},
		actions: defaultActionDefs(),
		display: map[string]map[string]displayField{},
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&p.cfg)
		}
	}
	if p.cfg.batchSize <= 0 {
		p.cfg.batchSize = 1000
	}
	p.cfg.batchSize = min(p.cfg.batchSize, maxEntryBatch)
	if p.cfg.now == nil {
		p.cfg.now = time.Now
	}
	if p.cfg.table == "" {
		p.cfg.table = DefaultTable
	}
	return p
}

// Name is the plugin's name for gorm.DB.Use: "auditlog".
func (p *Plugin) Name() string { return "auditlog" }

// Callback names, all under the "auditlog:" prefix.
const (
	cbBegin  = "auditlog:begin"
	cbBefore = "auditlog:before"
	cbAfter  = "auditlog:after"
	cbEnd    = "auditlog:end"
	cbStamp  = "auditlog:stamp"
	cbUnwrap = "auditlog:unwrap"
	cbAccess = "auditlog:access"
	cbLinksB = "auditlog:links_before"
	cbLinksA = "auditlog:links_after"
)

// Initialize registers the plugin's callbacks on db's create, update, delete
// and query chains, and learns what db's database can do (capabilities.go);
// db.Use calls it. On each write chain:
//
//   - auditlog:begin, before the model hooks, opens a transaction when the
//     model is tracked and the statement is not in one (SkipDefaultTransaction);
//   - auditlog:before, just before the write: on update and delete it puts
//     the capture in place of the statement's connection, which captures the
//     write when GORM executes it, after every clause is in
//     (capture_exec.go); on create it reads the rows an upsert may overwrite;
//   - auditlog:after, just after the write and before the after-hooks, turns
//     the captured rows into entries and inserts them in the same
//     transaction (capture.go);
//   - auditlog:end, after gorm:commit_or_rollback_transaction, commits or rolls
//     back the transaction that auditlog:begin opened;
//   - auditlog:unwrap, on update right after gorm:update, puts the
//     statement's connection back before the associations are saved (on
//     delete auditlog:after does it);
//   - auditlog:stamp, on create before the INSERT, fills ActorStamps (on
//     update auditlog:before does);
//   - auditlog:access, on the query chain after gorm:query, records reads of
//     models registered with RecordAccess.
func (p *Plugin) Initialize(db *gorm.DB) error {
	p.mu.Lock()
	p.naming = db.NamingStrategy
	p.caps = newCapabilities(db)
	clear(p.plans)
	clear(p.display)
	p.parsed.Clear() // parsed with the default naming if Register came first
	p.stamps.Clear()
	p.mu.Unlock()

	cb := db.Callback()
	create, update, del := cb.Create(), cb.Update(), cb.Delete()
	err := errors.Join(
		create.Before("gorm:before_create").Register(cbBegin, p.begin),
		create.Before("gorm:create").Register(cbStamp, p.stampCreate),
		create.Before("gorm:create").After(cbStamp).Register(cbBefore, p.beforeCreate),
		create.After("gorm:create").Before("gorm:after_create").Register(cbAfter, p.afterCreate),
		create.After("gorm:commit_or_rollback_transaction").Register(cbEnd, p.end),
		create.Before("gorm:create").After(cbBefore).Register(cbLinksB, p.linksBeforeCreate),
		create.After("gorm:create").Before("gorm:after_create").Register(cbLinksA, p.linksAfter),

		update.Before("gorm:setup_reflect_value").Register(cbBegin, p.begin),
		update.Before("gorm:update").Register(cbBefore, p.beforeUpdate),
		update.After("gorm:update").Before("gorm:save_after_associations").Register(cbUnwrap, p.unwrap),
		update.After("gorm:update").Before("gorm:after_update").Register(cbAfter, p.afterWrite),
		update.After("gorm:commit_or_rollback_transaction").Register(cbEnd, p.end),

		del.Before("gorm:before_delete").Register(cbBegin, p.begin),
		del.Before("gorm:delete").Register(cbBefore, p.beforeDelete),
		del.After("gorm:delete").Before("gorm:after_delete").Register(cbAfter, p.afterWrite),
		del.After("gorm:commit_or_rollback_transaction").Register(cbEnd, p.end),
		del.Before("gorm:delete").After(cbBefore).Register(cbLinksB, p.linksBeforeDelete),
		del.After("gorm:delete").Before("gorm:after_delete").Register(cbLinksA, p.linksAfter),

		cb.Query().After("gorm:query").Before("gorm:after_query").Register(cbAccess, p.afterQuery),
	)
	if err != nil {
		return fmt.Errorf("auditlog: register callbacks: %w", err)
	}
	return nil
}

// AutoMigrate creates or updates the log table (the one named by WithTable)
// and its indexes, and the seal chain's tables: the header table (the log
// table's name with "_batches" appended, see BatchHeader), the seal table
// ("_seals": each sealed entry's sequence number and leaf hash) and the
// sealer's state ("_seal_state"). A log sealed by an earlier version, which
// kept the seal data in the log's seal_seq and leaf_hash columns, has it
// moved to the seal table and those columns and their index dropped (one
// pass over the log, once). For the log table alone, with the default name,
// db.AutoMigrate(&auditlog.LogEntry{}) is the same; Seal creates the seal
// chain's tables when they are missing, and moves old seal data too. It
// also creates the log table of every registered model with LogTable
// (register them first): the tables of Plugin.LogTables, each with
// LogEntry's indexes.
//
// With WithMonthlyPartitions it creates each log table partitioned by month
// (PostgreSQL), or checks that the existing one is (ErrNotPartitioned
// otherwise), and makes the partitions of the current and the next months.
func (p *Plugin) AutoMigrate(db *gorm.DB) error {
	for _, table := range p.LogTables() {
		if p.cfg.partitionsAhead > 0 {
			if err := p.createPartitionedLog(db, table); err != nil {
				return err
			}
		}
		if err := db.Table(table).AutoMigrate(&LogEntry{}); err != nil {
			return err
		}
		if p.cfg.partitionsAhead > 0 {
			if err := p.ensurePartitions(db.Statement.Context, db, table); err != nil {
				return err
			}
		}
	}
	tx := db.Session(&gorm.Session{NewDB: true})
	for name, model := range map[string]any{p.headerTable(): &BatchHeader{}, p.sealTable(): &sealRow{},
		p.sealStateTable(): &sealState{}} {
		if err := tx.Table(name).AutoMigrate(model); err != nil {
			return err
		}
	}
	return p.migrateSealTables(tx)
}

func (p *Plugin) namer() schema.Namer {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.naming != nil {
		return p.naming
	}
	return schema.NamingStrategy{}
}

// begin opens a transaction for a tracked write that is not in one, so that
// the change and its entries commit together. When GORM's default
// transaction is on, gorm:begin_transaction has already opened one and
// db.Begin reports gorm.ErrInvalidTransaction, which is not an error here.
//
// It also refuses, before anything is written, a write that could not be
// audited as configured: one of a model without a primary key under
// TrackAll (ErrNoPrimaryKey), and one without an actor under RequireActor
// (ErrNoActor).
func (p *Plugin) begin(db *gorm.DB) {
	if db.Error != nil || db.DryRun || Disabled(db.Statement.Context) {
		return
	}
	if p.planFor(db) == nil && !p.tracksLinks(db) {
		if s := db.Statement.Schema; s != nil && len(s.PrimaryFields) == 0 && s.Table != p.cfg.table &&
			p.trackedByDefault(s.ModelType) {
			db.AddError(fmt.Errorf("auditlog: %s is tracked by TrackAll but has no primary key, so its rows "+
				"could not be named in the log; add one or list it in TrackAll's exceptions: %w", s.Name, ErrNoPrimaryKey))
		}
		return
	}
	if p.cfg.requireActor && ActorFrom(db.Statement.Context) == "" {
		db.AddError(fmt.Errorf("auditlog: write to %s without an actor in the context (RequireActor): %w",
			db.Statement.Table, ErrNoActor))
		return
	}
	tx := db.Begin()
	switch {
	case tx.Error == nil:
		db.Statement.ConnPool = tx.Statement.ConnPool
		db.Statement.Settings.Store(txKey, db.Statement)
	case errors.Is(tx.Error, gorm.ErrInvalidTransaction):
	default:
		db.AddError(fmt.Errorf("auditlog: begin transaction: %w", tx.Error))
	}
}

// end commits or rolls back the transaction that begin opened.
func (p *Plugin) end(db *gorm.DB) {
	if v, ok := db.Statement.Settings.Load(txKey); !ok || v != db.Statement {
		return
	}
	db.Statement.Settings.Delete(txKey)
	if db.Error != nil {
		db.Rollback()
	} else {
		db.Commit()
	}
	db.Statement.ConnPool = db.ConnPool
}
