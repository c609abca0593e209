package auditlog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PurgeOptions narrows and paces Plugin.Purge. The zero value purges every
// entry older than the cut-off, 1000 at a time.
type PurgeOptions struct {
	// Models and Tables limit the purge to the entries of these models
	// (pointers to model structs) and tables; both empty means all.
	Models []any
	Tables []string
	// Actions limits the purge to these actions; empty means all.
	Actions []Action
	// BatchSize is how many entries one DELETE removes (default 1000, at
	// most 10000).
	BatchSize int
	// Progress, when set, is called after each batch with the number of
	// entries deleted so far.
	Progress func(deleted int64)
	// Reason is recorded in the seal chain's purge headers when sealing is
	// on (default "retention").
	Reason string
}

// Purge deletes the entries created before the cut-off (CreatedAt < before)
// that match opts, and reports how many went. It works in batches: each
// selects the IDs of the oldest BatchSize matching entries through the
// (created at, id) index and deletes them by ID, in its own statement (its
// own transaction unless db is one), so that no lock is held on the whole
// table and memory stays bounded by the batch size. It stops at the first
// error or when ctx is done, returning the count deleted so far; batches
// already deleted stay deleted.
//
// With sealing on (the Sealing option), Purge removes only whole sealed
// batches, oldest first, whose entries were all created before the cut-off,
// keeps their headers and appends a purge header per batch recording what
// went and opts.Reason, so that Verify still verifies the log; entries not
// sealed yet are never purged, and BatchSize, Models, Tables and Actions do
// not apply (filters are an error). Purge a sealed log only through a plugin
// with the Sealing option: without it Purge deletes single entries, which
// Verify then reports as deleted (the auditlog command turns sealing on by
// itself when the log's header table exists).
//
// It returns an error wrapping ErrInvalidQuery for a zero cut-off or batch
// size over the limit, ErrInvalidModel for a bad model, ErrInvalidAction for
// a malformed action.
func (p *Plugin) Purge(ctx context.Context, db *gorm.DB, before time.Time, opts PurgeOptions) (int64, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("%w: Purge needs a cut-off time", ErrInvalidQuery)
	}
	if p.cfg.seal != nil {
		return p.purgeSealed(ctx, db, before, opts)
	}
	batch := opts.BatchSize
	switch {
	case batch == 0:
		batch = 1000
	case batch < 0 || batch > 10000:
		return 0, fmt.Errorf("%w: purge batch size %d is not between 1 and 10000", ErrInvalidQuery, batch)
	}
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	conds, err := p.purgeConditions(tx, before, opts)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, table := range p.purgeTables(tx, opts) {
		var progress func(int64)
		if opts.Progress != nil {
			base := total
			progress = func(n int64) { opts.Progress(base + n) }
		}
		n, err := p.purgeBatches(ctx, tx, table, conds, batch, progress)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// purgeTables are the log tables Purge reads: those of opts' Models and
// Tables (LogTable), or every log table in use when it names none.
func (p *Plugin) purgeTables(tx *gorm.DB, opts PurgeOptions) []string {
	if len(opts.Models) == 0 && len(opts.Tables) == 0 {
		return p.LogTables()
	}
	var out []string
	add := func(t string) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, m := range opts.Models {
		stmt := &gorm.Statement{DB: tx}
		if stmt.Parse(m) == nil { // purgeConditions reported a bad model
			add(p.logTableOf(stmt.Schema))
		}
	}
	for _, t := range opts.Tables {
		add(p.logTableOfTable(tx, t))
	}
	return out
}

// purgeBatches deletes the entries of a log table matching conds, oldest
// first, batch at a time, each batch selected by ID and deleted in its own
// statement.
func (p *Plugin) purgeBatches(ctx context.Context, tx *gorm.DB, table string, conds []clause.Expression, batch int, progress func(int64)) (int64, error) {
	var deleted int64
	ids := make([]int64, 0, batch)
	for {
		if err := ctx.Err(); err != nil {
			return deleted, fmt.Errorf("auditlog: purge: %w", err)
		}
		ids = ids[:0]
		q := tx.Table(table)
		for _, c := range conds {
			q = q.Where(c)
		}
		err := q.Order(entryOrder(true)).Limit(batch).Pluck("id", &ids).Error
		if err != nil {
			return deleted, fmt.Errorf("auditlog: purge: select batch: %w", err)
		}
		if len(ids) == 0 {
			return deleted, nil
		}
		res := tx.Table(table).Where(clause.IN{Column: clause.Column{Name: "id"}, Values: anySlice(ids)}).
			Delete(&LogEntry{})
		if res.Error != nil {
			return deleted, fmt.Errorf("auditlog: purge: delete batch: %w", res.Error)
		}
		deleted += res.RowsAffected
		if progress != nil {
			progress(deleted)
		}
		if len(ids) < batch {
			return deleted, nil
		}
	}
}

// purgeConditions are the conditions of the entries Purge deletes.
func (p *Plugin) purgeConditions(tx *gorm.DB, before time.Time, opts PurgeOptions) ([]clause.Expression, error) {
	tables := slices.Clone(opts.Tables)
	for _, m := range opts.Models {
		stmt := &gorm.Statement{DB: tx}
		if err := stmt.Parse(m); err != nil {
			return nil, fmt.Errorf("auditlog: purge model %T: %w: %w", m, ErrInvalidModel, err)
		}
		tables = append(tables, stmt.Schema.Table)
	}
	for _, a := range opts.Actions {
		if err := validActionName(a); err != nil {
			return nil, err
		}
	}
	caps := p.capabilities(tx)
	conds := []clause.Expression{clause.Lt{Column: clause.Column{Name: "created_at"}, Value: caps.timeBound(before)}}
	if len(tables) > 0 {
		conds = append(conds, caps.textIn("table_name", tables))
	}
	if len(opts.Actions) > 0 {
		conds = append(conds, caps.textIn("action", actionNames(opts.Actions)))
	}
	return conds, nil
}
