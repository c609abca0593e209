package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The log table partitioned by month on created_at (PostgreSQL): its
// creation, the partitions kept ahead of time, and the months dropped when
// every entry in them has expired. partition_move.go moves an existing
// plain log table under a partitioned one.

// defaultPartitionsAhead is how many months beyond the current one have
// their partitions made in advance when WithMonthlyPartitions is given no
// positive number.
const defaultPartitionsAhead = 3

// ErrNotPartitioned is returned by Plugin.AutoMigrate with
// WithMonthlyPartitions when the log table already exists as a plain table:
// Plugin.PartitionLogTable moves it under a partitioned one.
var ErrNotPartitioned = errors.New("auditlog: the log table is not partitioned")

// WithMonthlyPartitions makes Plugin.AutoMigrate create the log table
// range-partitioned by month on created_at (PostgreSQL only; on another
// database AutoMigrate fails with an error wrapping errors.ErrUnsupported):
// primary key (id, created_at), the same columns and indexes as the plain
// table, one partition a calendar month in UTC named <table>_pYYYYMM, and a
// default partition <table>_pdefault that takes an entry whose month has no
// partition, so that a write never fails for want of one.
//
// AutoMigrate and Plugin.Maintain make the partitions of the current month
// and of the next ahead months (ahead <= 0: 3), moving into a new
// partition the entries the default partition holds for its month; Maintain
// also drops every past month whose entries have all expired under the
// retention policies (Retention), recording the drop in the run table, and
// removes the other expired entries in batched deletes. Run Maintain at
// least once every ahead months (daily is usual) so that entries never land
// in the default partition.
//
// Every reading API works unchanged; a query bounded in time (Find with
// Since or Until, the pages after the first, Purge, Maintain) reads only the
// partitions of its range. An unbounded one (History) reads each month's
// index, newest first, and stops at its limit.
func WithMonthlyPartitions(ahead int) Option {
	return optionFunc(func(c *config) {
		if ahead <= 0 {
			ahead = defaultPartitionsAhead
		}
		c.partitionsAhead = ahead
	})
}

// logPartition is one partition of the log table: its name as PostgreSQL
// prints a regclass (quoted where needed, with its schema where the search
// path does not find it) and its range [from, to); a nil bound is MINVALUE
// or MAXVALUE.
type logPartition struct {
	name      string
	from, to  *time.Time
	isDefault bool
}

// covers reports whether the partition holds the instant t.
func (lp logPartition) covers(t time.Time) bool {
	return !lp.isDefault && (lp.from == nil || !t.Before(*lp.from)) && (lp.to == nil || t.Before(*lp.to))
}

// checkPartitioning says why the log table cannot be partitioned on db:
// another database than PostgreSQL, or a name too long for its partitions'
// names (PostgreSQL cuts identifiers at 63 bytes).
func (p *Plugin) checkPartitioning(db *gorm.DB, table string) error {
	if caps := p.capabilities(db); !caps.rangePartitions {
		return fmt.Errorf("auditlog: WithMonthlyPartitions on %s: %w (PostgreSQL only)", caps.dialect, errors.ErrUnsupported)
	}
	_, name := splitSchema(table)
	if len(name)+len("_pdefault") > 63 {
		return fmt.Errorf("%w: WithMonthlyPartitions: the log table's name %q is too long for its partitions' names (at most 54 bytes)", ErrInvalidOption, name)
	}
	return nil
}

// createPartitionedLog creates the log table as a partitioned table with
// its key columns only, unless it exists; GORM's AutoMigrate then adds the
// other columns and the indexes (to the partitioned table, which gives them
// to every partition). An existing plain table is ErrNotPartitioned.
func (p *Plugin) createPartitionedLog(db *gorm.DB, table string) error {
	if err := p.checkPartitioning(db, table); err != nil {
		return err
	}
	kind, err := relationKind(db, table)
	if err != nil {
		return err
	}
	switch kind {
	case "p":
		return nil
	case "":
		err := db.Exec("CREATE TABLE ? (id bigserial NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)",
			clause.Table{Name: table}).Error
		if err != nil {
			return fmt.Errorf("auditlog: create partitioned log table: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("%w: %q exists as a plain table; move it with Plugin.PartitionLogTable", ErrNotPartitioned, table)
	}
}

// relationKind is pg_class.relkind of the named table ("r" plain, "p"
// partitioned), "" when there is none.
func relationKind(db *gorm.DB, table string) (string, error) {
	var kind []string
	err := db.Raw("SELECT relkind::text FROM pg_catalog.pg_class WHERE oid = to_regclass(?)", quotedName(db, table)).
		Scan(&kind).Error
	if err != nil {
		return "", fmt.Errorf("auditlog: look up table %s: %w", table, err)
	}
	if len(kind) == 0 {
		return "", nil
	}
	return kind[0], nil
}

// ensurePartitions makes the default partition and the partitions of the
// months from now's to ahead months later that no partition covers, in one
// transaction under an advisory lock (two Maintain at once make each
// partition once). A month's entries found in the default partition move
// into the new partition in the same transaction.
//
// Cost: catalog reads, and per new month a CREATE TABLE and an ATTACH
// PARTITION, which scans the default partition (empty unless Maintain fell
// behind) under an ACCESS EXCLUSIVE lock of the default partition only;
// writes to the other partitions go on.
func (p *Plugin) ensurePartitions(ctx context.Context, db *gorm.DB, table string) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return p.ensurePartitionsTx(tx, table) })
}

// ensurePartitionsTx is ensurePartitions in the caller's transaction.
func (p *Plugin) ensurePartitionsTx(tx *gorm.DB, table string) error {
	now := p.cfg.now().UTC()
	if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "auditlog partitions "+table).Error; err != nil {
		return fmt.Errorf("auditlog: partitions: lock: %w", err)
	}
	parts, err := p.listPartitions(tx, table)
	if err != nil {
		return err
	}
	if !hasDefault(parts) {
		err := tx.Exec("CREATE TABLE ? PARTITION OF ? DEFAULT",
			clause.Table{Name: partitionName(table, "pdefault")}, clause.Table{Name: table}).Error
		if err != nil {
			return fmt.Errorf("auditlog: create default partition: %w", err)
		}
	}
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for range p.cfg.partitionsAhead + 1 {
		if !anyCovers(parts, month) {
			if err := p.createMonthPartition(tx, table, month); err != nil {
				return err
			}
		}
		month = month.AddDate(0, 1, 0)
	}
	return nil
}

// createMonthPartition attaches a new partition for month, holding the
// entries of that month the default partition had.
func (p *Plugin) createMonthPartition(tx *gorm.DB, table string, month time.Time) error {
	next := month.AddDate(0, 1, 0)
	part := clause.Table{Name: partitionName(table, month.Format("p200601"))}
	parent := clause.Table{Name: table}
	steps := []struct {
		sql  string
		vars []any
	}{
		{"CREATE TABLE ? (LIKE ? INCLUDING DEFAULTS)", []any{part, parent}},
		{"WITH moved AS (DELETE FROM ? WHERE created_at >= ? AND created_at < ? RETURNING *) INSERT INTO ? SELECT * FROM moved",
			[]any{clause.Table{Name: partitionName(table, "pdefault")}, month, next, part}},
		// DDL takes no parameters: the bounds are literals.
		{"ALTER TABLE ? ATTACH PARTITION ? FOR VALUES FROM (?) TO (?)", []any{parent, part, boundLiteral(month), boundLiteral(next)}},
	}
	for _, s := range steps {
		if err := tx.Exec(s.sql, s.vars...).Error; err != nil {
			return fmt.Errorf("auditlog: create partition %s: %w", part.Name, err)
		}
	}
	return nil
}

// listPartitions reads the log table's partitions and their bounds. It
// sets the transaction's time zone to UTC, in which the bounds are printed.
func (p *Plugin) listPartitions(tx *gorm.DB, table string) ([]logPartition, error) {
	if err := tx.Exec("SET LOCAL TimeZone = 'UTC'").Error; err != nil {
		return nil, fmt.Errorf("auditlog: partitions: %w", err)
	}
	var rows []struct {
		Name  string
		Bound string
	}
	err := tx.Raw(`SELECT c.oid::regclass::text AS name, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bound
		FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass(?) ORDER BY c.relname`, quotedName(tx, table)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("auditlog: list partitions: %w", err)
	}
	parts := make([]logPartition, 0, len(rows))
	for _, r := range rows {
		lp, err := parsePartitionBound(r.Bound)
		if err != nil {
			return nil, fmt.Errorf("auditlog: partition %s: %w", r.Name, err)
		}
		lp.name = r.Name
		parts = append(parts, lp)
	}
	return parts, nil
}

// parsePartitionBound reads PostgreSQL's text of a range partition's bound
// on a timestamptz printed in UTC: "DEFAULT", or "FOR VALUES FROM (X) TO
// (Y)" where X and Y are MINVALUE, MAXVALUE or a quoted timestamp such as
// '2026-11-01 00:00:00+00'.
func parsePartitionBound(s string) (logPartition, error) {
	if s == "DEFAULT" {
		return logPartition{isDefault: true}, nil
	}
	rest, ok := strings.CutPrefix(s, "FOR VALUES FROM (")
	fromText, toText, ok2 := strings.Cut(rest, ") TO (")
	toText, ok3 := strings.CutSuffix(toText, ")")
	if !ok || !ok2 || !ok3 {
		return logPartition{}, fmt.Errorf("unexpected partition bound %q", s)
	}
	var lp logPartition
	var err error
	if lp.from, err = parseBoundValue(fromText); err == nil {
		lp.to, err = parseBoundValue(toText)
	}
	return lp, err
}

// boundLiteral is t as a timestamptz literal of a partition bound.
func boundLiteral(t time.Time) clause.Expr {
	return clause.Expr{SQL: t.UTC().Format("'2006-01-02 15:04:05.999999Z07:00'")}
}

func parseBoundValue(s string) (*time.Time, error) {
	if s == "MINVALUE" || s == "MAXVALUE" {
		return nil, nil
	}
	t, err := time.Parse("'2006-01-02 15:04:05.999999-07'", s)
	if err != nil {
		return nil, fmt.Errorf("unexpected partition bound value %s", s)
	}
	return &t, nil
}

func hasDefault(parts []logPartition) bool {
	for _, lp := range parts {
		if lp.isDefault {
			return true
		}
	}
	return false
}

func anyCovers(parts []logPartition, t time.Time) bool {
	for _, lp := range parts {
		if lp.covers(t) {
			return true
		}
	}
	return false
}

// partitionName is the log table's name with "_"+suffix, in the log table's
// schema when its name has one.
func partitionName(table, suffix string) string {
	return table + "_" + suffix
}

// splitSchema splits "schema.table" (schema "" when there is none).
func splitSchema(table string) (schema, name string) {
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		return table[:i], table[i+1:]
	}
	return "", table
}

// quotedName is the table's name quoted for to_regclass, as GORM quotes it
// in statements (so that case and a schema are kept).
func quotedName(db *gorm.DB, table string) string {
	var b strings.Builder
	db.Dialector.QuoteTo(&b, table)
	return b.String()
}

// dropExpiredPartitions drops each partition of a past month whose entries
// have all expired under their governing policies (see Maintain), and
// returns the runs recorded for the drops.
func (p *Plugin) dropExpiredPartitions(db *gorm.DB, table string, policies []RetentionPolicy, now time.Time) ([]RetentionRun, error) {
	var parts []logPartition
	err := db.Transaction(func(tx *gorm.DB) (err error) {
		parts, err = p.listPartitions(tx, table)
		return err
	})
	if err != nil {
		return nil, err
	}
	minKeep := policies[0].Keep
	for _, pol := range policies {
		minKeep = min(minKeep, pol.Keep)
	}
	// No entry created after now - minKeep has expired under any policy.
	horizon := now.Add(-minKeep)
	var runs []RetentionRun
	for _, lp := range parts {
		if lp.isDefault || lp.to == nil || lp.to.After(horizon) {
			continue
		}
		dropped, err := p.dropIfExpired(db, lp, policies, now)
		runs = append(runs, dropped...)
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// dropIfExpired drops the partition if every entry in it has expired, and
// records the drop, in one transaction: both happen or neither.
func (p *Plugin) dropIfExpired(db *gorm.DB, lp logPartition, policies []RetentionPolicy, now time.Time) ([]RetentionRun, error) {
	part := clause.Expr{SQL: lp.name} // a regclass's text, quoted by PostgreSQL
	var runs []RetentionRun
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("LOCK TABLE ? IN ACCESS EXCLUSIVE MODE", part).Error; err != nil {
			return err
		}
		counts, err := p.countExpired(tx, part, policies, now)
		if err != nil || counts[len(policies)] > 0 {
			return err // some entries are kept: the batched deletes do the rest
		}
		if err := tx.Exec("DROP TABLE ?", part).Error; err != nil {
			return err
		}
		finished := p.cfg.now().UTC()
		for i, pol := range policies {
			if counts[i] > 0 {
				runs = append(runs, RetentionRun{Policy: pol.String(), Before: now.Add(-pol.Keep), Removed: counts[i]})
			}
		}
		if len(runs) == 0 {
			runs = append(runs, RetentionRun{Policy: "empty", Before: *lp.to})
		}
		for i := range runs {
			runs[i].Status, runs[i].Partition, runs[i].StartedAt, runs[i].FinishedAt = "ok", lp.name, now, &finished
		}
		return tx.Table(p.RetentionRunTable()).Create(&runs).Error
	})
	if err != nil {
		return nil, fmt.Errorf("auditlog: retention: drop partition %s: %w", lp.name, err)
	}
	return runs, nil
}

// countExpired counts the partition's entries each policy has expired, and
// last those no policy has.
func (p *Plugin) countExpired(tx *gorm.DB, part clause.Expression, policies []RetentionPolicy, now time.Time) ([]int64, error) {
	counts := make([]clause.Expression, 0, len(policies)+1)
	expired := make([]clause.Expression, 0, len(policies))
	for _, pol := range policies {
		c := clause.And(p.retentionConditions(tx, pol, policies, now)...)
		counts = append(counts, clause.Expr{SQL: "count(*) FILTER (WHERE ?)", Vars: []any{c}})
		expired = append(expired, c)
	}
	counts = append(counts, clause.Expr{SQL: "count(*) FILTER (WHERE NOT (?))", Vars: []any{clause.Or(expired...)}})
	n := make([]int64, len(counts))
	dest := make([]any, len(counts))
	for i := range n {
		dest[i] = &n[i]
	}
	if err := tx.Raw("SELECT ? FROM ?", clause.CommaExpression{Exprs: counts}, part).Row().Scan(dest...); err != nil {
		return nil, fmt.Errorf("count entries: %w", err)
	}
	return n, nil
}
