package auditlog

import (
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// sealRow is one row of the seal table (the log table's name with "_seals"
// appended): the entry with ID EntryID is the leaf SealSeq of the sealed
// log, with leaf hash LeafHash. The sealer inserts these rows, one
// multi-row INSERT per batch, and never updates the log's rows: an UPDATE of
// a log row would write a new version into every index of the log. The
// primary key makes a sequence number unique, the unique index on EntryID
// an entry sealed once. Purge keeps the rows of purged entries (48 bytes an
// entry, no payload), so that proofs for later entries can still be made.
type sealRow struct {
	SealSeq  int64  `gorm:"column:seal_seq;primaryKey;autoIncrement:false"`
	EntryID  int64  `gorm:"column:entry_id;not null;uniqueIndex"`
	LeafHash []byte `gorm:"column:leaf_hash;size:32;not null"`
}

// sealState is the one row (ID 1) of the seal state table (the log table's
// name with "_seal_state" appended): the sealer's watermark. Every entry
// with an ID up to LowID is sealed, or never will commit, so that the
// sealer looks for unsealed entries only above it (an anti-join with the
// seal table over the log's primary key), without an index on the log's
// seal state. CandID, when set, is the largest ID visible when Token was
// taken; once Token is settled (see capabilities.sealSettled: every
// transaction that could hold a smaller ID has ended) and the entries up
// to CandID are sealed, LowID moves up to it. The state is an optimisation
// of the sealer's reads, not part of what Verify trusts.
type sealState struct {
	ID     int64  `gorm:"column:id;primaryKey;autoIncrement:false"`
	LowID  int64  `gorm:"column:low_id;not null"`
	CandID *int64 `gorm:"column:cand_id"`
	Token  string `gorm:"column:token"` // on PostgreSQL a list of virtual transaction IDs: unbounded
}

// sealTable is the name of the seal table.
func (p *Plugin) sealTable() string { return p.cfg.table + "_seals" }

// sealStateTable is the name of the seal state table.
func (p *Plugin) sealStateTable() string { return p.cfg.table + "_seal_state" }

// legacySealColumns are the log columns of the first layout of issue 14,
// which kept the seal data in the log rows: moveLegacySeals moves it.
var legacySealColumns = []string{"seal_seq", "leaf_hash"}

// migrateSealTables creates the header, seal and seal state tables when
// missing and moves seal data of the log rows' legacy columns (seal_seq,
// leaf_hash) into the seal table, dropping those columns and their index.
// Idempotent; concurrent callers may both try to create a table, which the
// loser tolerates.
func (p *Plugin) migrateSealTables(tx *gorm.DB) error {
	tables := []struct {
		name  string
		model any
	}{{p.headerTable(), &BatchHeader{}}, {p.sealTable(), &sealRow{}}, {p.sealStateTable(), &sealState{}}}
	for _, t := range tables {
		if tx.Migrator().HasTable(t.name) {
			continue
		}
		err := tx.Table(t.name).AutoMigrate(t.model)
		if err != nil && !tx.Migrator().HasTable(t.name) { // not another sealer creating it too
			return fmt.Errorf("auditlog: create table %s: %w", t.name, err)
		}
	}
	if err := p.moveLegacySeals(tx); err != nil {
		return fmt.Errorf("auditlog: move seal data to %s: %w", p.sealTable(), err)
	}
	return nil
}

// moveLegacySeals copies seal_seq and leaf_hash of sealed log rows into the
// seal table (the rows not there yet) in one transaction, then drops the
// legacy index and columns (the copy is one statement: a crash before the
// columns are dropped leaves them for the next call). Cost: one pass over
// the log, once.
func (p *Plugin) moveLegacySeals(tx *gorm.DB) error {
	m := tx.Table(p.cfg.table).Migrator()
	if !m.HasColumn(p.cfg.table, "seal_seq") {
		return nil
	}
	err := tx.Exec("INSERT INTO ? (seal_seq, entry_id, leaf_hash) SELECT e.seal_seq, e.id, e.leaf_hash FROM ? e "+
		"WHERE e.seal_seq IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ? s WHERE s.entry_id = e.id)",
		clause.Table{Name: p.sealTable()}, clause.Table{Name: p.cfg.table}, clause.Table{Name: p.sealTable()}).Error
	if err != nil {
		return err
	}
	if idx := "idx_" + p.cfg.table + "_seal"; m.HasIndex(p.cfg.table, idx) {
		if err := m.DropIndex(p.cfg.table, idx); err != nil {
			return err
		}
	}
	for _, c := range legacySealColumns { // the same statement on the three (SQLite 3.35+)
		err := tx.Exec("ALTER TABLE ? DROP COLUMN ?", clause.Table{Name: p.cfg.table}, clause.Column{Name: c}).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// readSealState reads the seal state (the zero state when there is none).
func (p *Plugin) readSealState(tx *gorm.DB) (sealState, error) {
	var ss []sealState
	if err := tx.Table(p.sealStateTable()).Where("id = 1").Find(&ss).Error; err != nil {
		return sealState{}, fmt.Errorf("read seal state: %w", err)
	}
	if len(ss) == 0 {
		return sealState{ID: 1}, nil
	}
	return ss[0], nil
}

// writeSealState replaces the state old, read before, by s; a state that
// changed meanwhile (another sealer) is left as it is.
func (p *Plugin) writeSealState(tx *gorm.DB, old, s sealState) error {
	var exists int64
	if err := tx.Table(p.sealStateTable()).Where("id = 1").Count(&exists).Error; err != nil {
		return fmt.Errorf("write seal state: %w", err)
	}
	if exists == 0 {
		if err := tx.Table(p.sealStateTable()).Create(&s).Error; err != nil {
			return fmt.Errorf("write seal state: %w", err)
		}
		return nil
	}
	q := tx.Table(p.sealStateTable()).Where("id = 1 AND low_id = ? AND token = ?", old.LowID, old.Token)
	if old.CandID == nil {
		q = q.Where("cand_id IS NULL")
	} else {
		q = q.Where("cand_id = ?", *old.CandID)
	}
	err := q.Updates(map[string]any{"low_id": s.LowID, "cand_id": s.CandID, "token": s.Token}).Error
	if err != nil {
		return fmt.Errorf("write seal state: %w", err)
	}
	return nil
}
