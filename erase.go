package auditlog

import (
	"context"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// EraseEntries erases the payload of the given entries, for the right to
// erasure of personal data: their ObjectRepr, Changes, ActorID, RemoteAddr,
// Data and Snapshot are cleared; their ID, Table, ObjectPK, Action, CID,
// CreatedAt, seal sequence and leaf hash stay, so that the sealed log still
// verifies. The erasure itself is recorded as an entry of action
// ActionErase (the context's actor, Data {"erased": [ids], "reason":
// reason}), and each erased entry points to it (LogEntry.ErasedBy); Verify
// accepts an erased entry only with such a record. The name differs from the
// model option Redact, which keeps fields out of entries as they are written.
//
// It first seals what is unsealed (Plugin.Seal: an entry must be sealed for
// its leaf hash to be kept), then erases in one transaction. It returns how
// many entries it erased; entries already erased are skipped, an ID that is
// not in the log fails with ErrEntryNotFound and an entry committed after
// the seal with ErrNotSealed, erasing nothing.
func (p *Plugin) EraseEntries(ctx context.Context, db *gorm.DB, reason string, ids ...int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := p.Seal(ctx, db); err != nil {
		return 0, fmt.Errorf("auditlog: erase: %w", err)
	}
	var n int64
	err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Transaction(func(tx *gorm.DB) error {
		var err error
		n, err = p.erase(tx, reason, ids)
		return err
	})
	return n, err
}

// EraseObject erases the payload of every entry of obj (a pointer to a model
// struct with its primary key set) but the erase entries themselves, as
// EraseEntries does, and records one erase entry for them.
func (p *Plugin) EraseObject(ctx context.Context, db *gorm.DB, obj any, reason string) (int64, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	f, err := p.compile(tx, Query{Objects: obj})
	if err != nil {
		return 0, fmt.Errorf("auditlog: erase: %w", err)
	}
	if t := f.table(); t != p.cfg.table {
		return 0, fmt.Errorf("auditlog: erase: %w: %s's entries are in log table %q; erasure covers %q only",
			ErrInvalidQuery, f.schema.Name, t, p.cfg.table)
	}
	var ids []int64
	caps := p.capabilities(tx)
	q := f.apply(tx.Table(p.cfg.table)).Where(clause.Not(caps.textIn("action", []string{string(ActionErase)}))).
		Where("erased_by IS NULL")
	if err := q.Order("id").Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("auditlog: erase: %w", err)
	}
	return p.EraseEntries(ctx, db, reason, ids...)
}

// eraseTarget is what erase reads of an entry to erase.
type eraseTarget struct {
	ID       int64
	Table    string `gorm:"column:table_name"`
	ObjectPK string
	SealSeq  *int64
	ErasedBy *int64
}

// erase records the erasure and clears the entries, in tx.
func (p *Plugin) erase(tx *gorm.DB, reason string, ids []int64) (int64, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var rows []eraseTarget
	if !tx.Migrator().HasTable(p.sealTable()) {
		return 0, fmt.Errorf("auditlog: erase entry %d: %w", ids[0], ErrNotSealed)
	}
	err := tx.Table("? e", clause.Table{Name: p.cfg.table}).
		Joins("LEFT JOIN ? s ON s.entry_id = e.id", clause.Table{Name: p.sealTable()}).
		Select("e.id, e.table_name, e.object_pk, s.seal_seq, e.erased_by").
		Where(clause.IN{Column: clause.Column{Table: "e", Name: "id"}, Values: anySlice(ids)}).Order("e.id").Find(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("auditlog: erase: %w", err)
	}
	if len(rows) != len(ids) {
		return 0, fmt.Errorf("auditlog: erase: %w: %d of %d entries found", ErrEntryNotFound, len(rows), len(ids))
	}
	var todo []int64
	for _, r := range rows {
		if r.SealSeq == nil {
			return 0, fmt.Errorf("auditlog: erase entry %d: %w", r.ID, ErrNotSealed)
		}
		if r.ErasedBy == nil {
			todo = append(todo, r.ID)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	base := p.entryBase(tx.Statement.Context)
	rec := LogEntry{Action: ActionErase, ActorID: base.actor, RemoteAddr: base.remoteAddr, CID: base.cid,
		CreatedAt: base.at, Data: JSONMap{"erased": anySlice(todo), "reason": reason}}
	if first := rows[0]; !slices.ContainsFunc(rows, func(r eraseTarget) bool {
		return r.Table != first.Table || r.ObjectPK != first.ObjectPK
	}) {
		rec.Table, rec.ObjectPK = first.Table, first.ObjectPK
	}
	if err := tx.Table(p.cfg.table).Create(&rec).Error; err != nil {
		return 0, fmt.Errorf("auditlog: erase: record: %w", err)
	}
	res := tx.Table(p.cfg.table).Where(clause.IN{Column: clause.Column{Name: "id"}, Values: anySlice(todo)}).
		Where("erased_by IS NULL").Updates(map[string]any{"object_repr": "", "changes": nil, "actor_id": "",
		"remote_addr": "", "data": nil, "snapshot": nil, "erased_by": rec.ID})
	if res.Error != nil {
		return 0, fmt.Errorf("auditlog: erase: %w", res.Error)
	}
	return res.RowsAffected, nil
}
