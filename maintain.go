package auditlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RetentionRun is one row of the run table (the log table's name +
// "_retention_runs"): one application of one retention policy by
// Plugin.Maintain, kept as proof that the policy ran.
type RetentionRun struct {
	ID int64 `gorm:"column:id;primaryKey;autoIncrement"`
	// Policy is the policy's String form.
	Policy string `gorm:"column:policy;size:191;not null"`
	// Before is the cut-off: the policy's entries created before it were
	// removed.
	Before time.Time `gorm:"column:before_time;not null"`
	// Removed counts the entries removed.
	Removed int64 `gorm:"column:removed;not null"`
	// Status is "running" while the run goes, then "ok" or "failed: <error>"
	// (a run left "running" was interrupted: a crash or a killed process).
	Status string `gorm:"column:status;size:1024;not null"`
	// Partition names the monthly partition dropped whole by this run
	// (WithMonthlyPartitions), "" for a run of batched deletes.
	Partition  string     `gorm:"column:partition_name;size:191;not null;default:''"`
	StartedAt  time.Time  `gorm:"column:started_at;not null"`
	FinishedAt *time.Time `gorm:"column:finished_at"`
}

// RetentionRunTable is the run table of the plugin's log table.
func (p *Plugin) RetentionRunTable() string { return p.cfg.table + "_retention_runs" }

// ErrSealedRetention is returned by Maintain on a plugin with sealing on:
// a sealed log is purged by whole batches (Purge), not per policy.
var ErrSealedRetention = errors.New("auditlog: retention policies do not apply to a sealed log")

// Maintain applies the retention policies (Retention): for each effective
// policy, most specific first, it records a run in the run table (created
// when missing), removes the expired entries the policy governs in batched
// deletes (1000 entries a statement, oldest first, through the (created
// at, id) index, as Purge) and records the outcome. It returns the runs,
// also on an error, which stops at the failed policy (that run is recorded
// "failed: ..."). Without policies it removes nothing (and makes no run
// table). Each policy applies in every log table in use (Plugin.LogTables),
// one after the other; the run records the entries removed from all of them.
//
// With WithMonthlyPartitions it first makes the partitions of the current
// and the next months of every log table (see there), then drops each past
// month whose entries have all expired, each under its governing policy:
// one transaction a month that counts them per policy, drops the partition
// and records a run per policy with entries there (Partition set; an empty
// month gets one run with Policy "empty"). Only then come the batched
// deletes, for months that also hold entries to keep.
//
// Cost: per policy one indexed range scan of its expired entries and one
// DELETE per 1000 of them; no lock is held beyond a batch. A partition drop
// scans the month under an exclusive lock of that partition and then locks
// the whole log table exclusively until it commits (writers wait
// milliseconds). Safe to run beside writers; two Maintain at once would
// remove the same entries once between them, and both record runs. The
// plugin's clock (WithClock) gives the time.
func (p *Plugin) Maintain(ctx context.Context, db *gorm.DB) ([]RetentionRun, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	if p.cfg.partitionsAhead > 0 {
		for _, table := range p.LogTables() {
			if err := p.checkPartitioning(tx, table); err != nil {
				return nil, err
			}
			if err := p.ensurePartitions(ctx, tx, table); err != nil {
				return nil, err
			}
		}
	}
	policies, err := p.RetentionPolicies(db)
	if err != nil || len(policies) == 0 {
		return nil, err
	}
	if p.cfg.seal != nil {
		return nil, ErrSealedRetention
	}
	if err := tx.Table(p.RetentionRunTable()).AutoMigrate(&RetentionRun{}); err != nil {
		return nil, fmt.Errorf("auditlog: retention run table: %w", err)
	}
	now := p.cfg.now().UTC()
	var runs []RetentionRun
	for _, table := range p.LogTables() {
		if p.cfg.partitionsAhead == 0 {
			break
		}
		dropped, err := p.dropExpiredPartitions(tx, table, policies, now)
		if runs = append(runs, dropped...); err != nil {
			return runs, err
		}
	}
	for _, policy := range policies {
		run, err := p.applyRetention(ctx, tx, policy, policies, now)
		runs = append(runs, run)
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

func (p *Plugin) applyRetention(ctx context.Context, tx *gorm.DB, policy RetentionPolicy, all []RetentionPolicy, now time.Time) (RetentionRun, error) {
	run := RetentionRun{Policy: policy.String(), Before: now.Add(-policy.Keep), Status: "running", StartedAt: p.cfg.now().UTC()}
	runs := tx.Table(p.RetentionRunTable())
	if err := runs.Create(&run).Error; err != nil {
		return run, fmt.Errorf("auditlog: retention run: %w", err)
	}
	conds := p.retentionConditions(tx, policy, all, now)
	var removed int64
	var err error
	for _, table := range p.LogTables() {
		var n int64
		n, err = p.purgeBatches(ctx, tx, table, conds, 1000, nil)
		if removed += n; err != nil {
			break
		}
	}
	finished := p.cfg.now().UTC()
	run.Removed, run.FinishedAt, run.Status = removed, &finished, "ok"
	if err != nil {
		run.Status = "failed: " + err.Error()
		if len(run.Status) > 1024 {
			run.Status = run.Status[:1024]
		}
	}
	// The outcome is recorded even when ctx is done.
	upd := tx.Session(&gorm.Session{Context: context.WithoutCancel(ctx)}).Table(p.RetentionRunTable())
	if uerr := upd.Where("id = ?", run.ID).Updates(map[string]any{
		"removed": run.Removed, "status": run.Status, "finished_at": finished}).Error; uerr != nil && err == nil {
		err = fmt.Errorf("auditlog: retention run: %w", uerr)
	}
	if err != nil {
		return run, fmt.Errorf("auditlog: retention %s: %w", policy, err)
	}
	return run, nil
}
