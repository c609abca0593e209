package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// purgeSealed is Purge with sealing on: it removes whole sealed batches,
// oldest first, as long as every entry of the batch is older than before,
// and appends to the seal chain one purge header per batch saying what went
// and why. Each batch goes in its own transaction under the seal lock.
// Unsealed entries are never purged. The batch's seal rows (sequence
// number, entry ID, leaf hash) stay, so that Prove still works for the
// entries sealed after it.
func (p *Plugin) purgeSealed(ctx context.Context, db *gorm.DB, before time.Time, opts PurgeOptions) (int64, error) {
	if len(opts.Models) > 0 || len(opts.Tables) > 0 || len(opts.Actions) > 0 {
		return 0, fmt.Errorf("%w: with sealing, Purge removes whole batches: it takes no model, table or action", ErrInvalidQuery)
	}
	reason := opts.Reason
	if reason == "" {
		reason = "retention"
	}
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	if err := p.migrateSealTables(tx); err != nil {
		return 0, err
	}
	var deleted int64
	for {
		if err := ctx.Err(); err != nil {
			return deleted, fmt.Errorf("auditlog: purge: %w", err)
		}
		var n int64
		var done bool
		err := p.withSealLock(ctx, tx, func(tx *gorm.DB) error {
			var err error
			n, done, err = p.purgeBatch(tx, before, reason)
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("auditlog: purge: %w", err)
		}
		deleted += n
		if done {
			return deleted, nil
		}
		if opts.Progress != nil {
			opts.Progress(deleted)
		}
	}
}

// purgeBatch purges the oldest batch not purged yet, if all its entries
// were created before the cut-off; done reports that there is none.
func (p *Plugin) purgeBatch(tx *gorm.DB, before time.Time, reason string) (n int64, done bool, err error) {
	var purged []string
	if err := tx.Table(p.headerTable()).Where("kind = ?", HeaderPurge).Order("batch DESC").Limit(1).
		Pluck("note", &purged).Error; err != nil {
		return 0, false, err
	}
	after := int64(0)
	if len(purged) == 1 {
		var rec purgeRecord
		if err := json.Unmarshal([]byte(purged[0]), &rec); err != nil {
			return 0, false, fmt.Errorf("purge header: %w", err)
		}
		after = rec.Batch
	}
	var hs []BatchHeader
	if err := tx.Table(p.headerTable()).Where("kind = ? AND batch > ?", HeaderSeal, after).Order("batch").Limit(1).
		Find(&hs).Error; err != nil {
		return 0, false, err
	}
	if len(hs) == 0 {
		return 0, true, nil
	}
	h := &hs[0]
	var newer int64
	sealed := tx.Session(&gorm.Session{NewDB: true}).Table(p.sealTable()).Select("entry_id").
		Where("seal_seq >= ? AND seal_seq < ?", h.Start, h.Start+h.Size)
	inBatch := tx.Table(p.cfg.table).Where("id >= ? AND id <= ? AND id IN (?)", h.FirstID, h.LastID, sealed)
	if err := inBatch.Session(&gorm.Session{}).Where("created_at >= ?", p.capabilities(tx).timeBound(before)).
		Count(&newer).Error; err != nil {
		return 0, false, err
	}
	if newer > 0 {
		return 0, true, nil
	}
	res := inBatch.Session(&gorm.Session{}).Delete(&LogEntry{})
	if res.Error != nil {
		return 0, false, res.Error
	}
	last, err := p.lastHeader(tx)
	if err != nil {
		return 0, false, err
	}
	note, _ := json.Marshal(purgeRecord{Batch: h.Batch, Entries: res.RowsAffected,
		Before: before.UTC().Format(time.RFC3339Nano), Reason: reason})
	ph := &BatchHeader{Batch: last.Batch + 1, Kind: HeaderPurge, Start: h.Start, FirstID: h.FirstID, LastID: h.LastID,
		Root: h.Root, TreeSize: last.TreeSize, TreeRoot: last.TreeRoot, Compact: last.Compact, Prev: last.HeaderHash(),
		Note: string(note), SealedAt: p.cfg.now().UnixMilli()}
	if err := tx.Table(p.headerTable()).Create(ph).Error; err != nil {
		return 0, false, fmt.Errorf("write purge header: %w", err)
	}
	return res.RowsAffected, false, nil
}
