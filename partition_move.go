package auditlog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PartitionLogTable moves an existing plain log table under a table
// partitioned by month (WithMonthlyPartitions, PostgreSQL) while the
// application keeps writing: no entry is copied, so none is lost or
// duplicated, and writers wait only for a few catalog changes. The plain
// table becomes the partition <table>_plegacy, holding every entry
// created before the first day of the next month (of the month after, when
// the next starts within a day); the months from then on get partitions of
// their own, and Maintain drops the legacy partition when all its entries
// have expired. A table that is already partitioned is left as it is.
// Every log table in use (Plugin.LogTables: LogTable's too) is moved; a
// missing one is ErrNoLogTable (after the others are moved), which
// AutoMigrate then creates partitioned.
//
// The steps, each safe to re-run after a failure (running the whole call
// again resumes):
//
//  1. a CHECK constraint created_at < that day, added NOT VALID and then
//     validated (a scan of the table that does not block writes);
//  2. a unique index (id, created_at) built CONCURRENTLY, which then
//     replaces the primary key (id) (a brief exclusive lock);
//  3. one transaction that waits at most 5 s for an exclusive lock of the
//     table (ErrLockTimeout-like errors from PostgreSQL: re-run later),
//     renames it and its indexes, creates the partitioned table with the
//     same columns, attaches the old table as a partition (its constraint
//     spares the scan, its indexes become the partition's), gives the id
//     sequence to the new table, and makes the default partition and the
//     next months' partitions.
//
// Writers that queued behind the lock then write into the partitioned
// table under the same name. Between step 1 and step 3 an entry stamped at
// or after that day (a clock far ahead) fails its write. db must not be in a
// transaction (step 2 cannot run in one).
func (p *Plugin) PartitionLogTable(ctx context.Context, db *gorm.DB) error {
	if p.cfg.partitionsAhead == 0 {
		return fmt.Errorf("%w: PartitionLogTable needs WithMonthlyPartitions", ErrInvalidOption)
	}
	db = db.Session(&gorm.Session{NewDB: true, Context: ctx})
	var missing []string
	for _, table := range p.LogTables() {
		if err := p.checkPartitioning(db, table); err != nil {
			return err
		}
		kind, err := relationKind(db, table)
		switch {
		case err != nil:
			return err
		case kind == "":
			missing = append(missing, table)
		case kind != "p":
			if err := p.partitionPlainTable(db, table); err != nil {
				return fmt.Errorf("auditlog: partition the log table %s: %w", table, err)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrNoLogTable, strings.Join(missing, ", "))
	}
	return nil
}

// partitionPlainTable runs PartitionLogTable's three steps on one table.
func (p *Plugin) partitionPlainTable(db *gorm.DB, table string) error {
	now := p.cfg.now().UTC()
	until := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	if until.Sub(now) < 24*time.Hour {
		until = until.AddDate(0, 1, 0)
	}
	if err := p.boundLegacy(db, table, until); err != nil {
		return fmt.Errorf("bound the old entries: %w", err)
	}
	if err := p.rekeyLegacy(db, table); err != nil {
		return fmt.Errorf("primary key (id, created_at): %w", err)
	}
	if err := db.Transaction(func(tx *gorm.DB) error { return p.switchToPartitioned(tx, table, until) }); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	return nil
}

// legacyName is the name of the old plain table once it is a partition.
func legacyName(table string) string { return partitionName(table, "plegacy") }

// boundLegacy adds the validated constraint created_at < until to the plain
// table, replacing one a previous run added.
func (p *Plugin) boundLegacy(db *gorm.DB, table string, until time.Time) error {
	plain := clause.Table{Name: table}
	check := clause.Column{Name: splitName(legacyName(table)) + "_bound"}
	if err := db.Exec("ALTER TABLE ? DROP CONSTRAINT IF EXISTS ?", plain, check).Error; err != nil {
		return err
	}
	if err := db.Exec("ALTER TABLE ? ADD CONSTRAINT ? CHECK (created_at < ?) NOT VALID", plain, check, boundLiteral(until)).Error; err != nil {
		return err
	}
	return db.Exec("ALTER TABLE ? VALIDATE CONSTRAINT ?", plain, check).Error
}

// rekeyLegacy makes (id, created_at) the plain table's primary key, as a
// partition's must include the partition key, building its index without
// blocking writes.
func (p *Plugin) rekeyLegacy(db *gorm.DB, table string) error {
	var pk []struct{ Name, Columns string }
	err := db.Raw(`SELECT c.conname AS name, pg_catalog.pg_get_constraintdef(c.oid) AS columns
		FROM pg_catalog.pg_constraint c WHERE c.conrelid = to_regclass(?) AND c.contype = 'p'`,
		quotedName(db, table)).Scan(&pk).Error
	if err != nil {
		return err
	}
	if len(pk) == 1 && pk[0].Columns == "PRIMARY KEY (id, created_at)" {
		return nil
	}
	index := clause.Table{Name: legacyName(table) + "_pkey"}
	if err := db.Exec("DROP INDEX CONCURRENTLY IF EXISTS ?", index).Error; err != nil { // an invalid leftover
		return err
	}
	if err := db.Exec("CREATE UNIQUE INDEX CONCURRENTLY ? ON ? (id, created_at)", index, clause.Table{Name: table}).Error; err != nil {
		return err
	}
	plain, key := clause.Table{Name: table}, clause.Column{Name: splitName(index.Name)}
	if len(pk) == 1 {
		return db.Exec("ALTER TABLE ? DROP CONSTRAINT ?, ADD CONSTRAINT ? PRIMARY KEY USING INDEX ?",
			plain, clause.Column{Name: pk[0].Name}, key, key).Error
	}
	return db.Exec("ALTER TABLE ? ADD CONSTRAINT ? PRIMARY KEY USING INDEX ?", plain, key, key).Error
}

// switchToPartitioned puts the partitioned table in the plain table's
// place, in the caller's transaction.
func (p *Plugin) switchToPartitioned(tx *gorm.DB, table string, until time.Time) error {
	parent, legacy := clause.Table{Name: table}, clause.Table{Name: legacyName(table)}
	if err := tx.Exec("SET LOCAL lock_timeout = '5s'").Error; err != nil {
		return err
	}
	if err := tx.Exec("LOCK TABLE ? IN ACCESS EXCLUSIVE MODE", parent).Error; err != nil {
		return err
	}
	var seq string
	if err := tx.Raw("SELECT coalesce(pg_get_serial_sequence(?, 'id'), '')", quotedName(tx, table)).Scan(&seq).Error; err != nil {
		return err
	}
	if err := p.renameLegacyIndexes(tx, table); err != nil {
		return err
	}
	steps := []struct {
		sql  string
		vars []any
	}{
		{"ALTER TABLE ? RENAME TO ?", []any{parent, clause.Column{Name: splitName(legacy.Name)}}},
		{"CREATE TABLE ? (LIKE ? INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)", []any{parent, legacy}},
		{"ALTER TABLE ? ADD PRIMARY KEY (id, created_at)", []any{parent}},
	}
	for _, s := range steps {
		if err := tx.Exec(s.sql, s.vars...).Error; err != nil {
			return err
		}
	}
	if err := tx.Table(table).AutoMigrate(&LogEntry{}); err != nil {
		return err
	}
	attach := []struct {
		sql  string
		vars []any
	}{
		{"ALTER TABLE ? ATTACH PARTITION ? FOR VALUES FROM (MINVALUE) TO (?)", []any{parent, legacy, boundLiteral(until)}},
		{"ALTER TABLE ? DROP CONSTRAINT ?", []any{legacy, clause.Column{Name: splitName(legacy.Name) + "_bound"}}},
	}
	if seq != "" {
		attach = append(attach, struct {
			sql  string
			vars []any
		}{"ALTER SEQUENCE ? OWNED BY ?.id", []any{clause.Expr{SQL: seq}, parent}})
	}
	for _, s := range attach {
		if err := tx.Exec(s.sql, s.vars...).Error; err != nil {
			return err
		}
	}
	return p.ensurePartitionsTx(tx, table)
}

// renameLegacyIndexes renames the plain table's indexes that carry its
// name (GORM's idx_<table>_<name>) to carry the legacy partition's, freeing
// their names for the partitioned table's indexes.
func (p *Plugin) renameLegacyIndexes(tx *gorm.DB, table string) error {
	var names []string
	err := tx.Raw(`SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = to_regclass(?) AND NOT i.indisprimary ORDER BY 1`, quotedName(tx, table)).Scan(&names).Error
	if err != nil {
		return err
	}
	schema, short := splitSchema(table)
	legacy := splitName(legacyName(table))
	for _, name := range names {
		if !strings.Contains(name, short) {
			continue
		}
		renamed := strings.Replace(name, short, legacy, 1)
		if len(renamed) > 63 {
			return fmt.Errorf("index %s: the renamed %s is longer than PostgreSQL's 63 bytes: rename the index first", name, renamed)
		}
		index := name
		if schema != "" {
			index = schema + "." + name
		}
		if err := tx.Exec("ALTER INDEX ? RENAME TO ?", clause.Table{Name: index}, clause.Column{Name: renamed}).Error; err != nil {
			return err
		}
	}
	return nil
}

// splitName is a table's name without its schema.
func splitName(table string) string {
	_, name := splitSchema(table)
	return name
}
