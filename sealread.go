package auditlog

import (
	"context"
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// unsealedReader reads the unsealed entries above a cursor, a batch at a
// time in ID order, each batch's leaf hashes computed as it is read. Outside
// a transaction it reads one batch ahead on a goroutine of its own (another
// connection of the pool), without the seal lock, so that reading and
// hashing the next batch overlap the writing of the current one; the
// sealer rechecks under the lock that each entry is still unsealed
// (stillUnsealed). In a transaction it reads when asked.
type unsealedReader struct {
	p       *Plugin
	tx      *gorm.DB
	size    int
	cursor  int64 // synchronous mode
	batches chan leafPage
	cancel  context.CancelFunc
	done    chan struct{}
}

func (p *Plugin) newUnsealedReader(ctx context.Context, tx *gorm.DB, cursor int64, size int) *unsealedReader {
	r := &unsealedReader{p: p, tx: tx, size: size, cursor: cursor}
	if _, inTx := tx.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return r
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.batches, r.done = make(chan leafPage, 1), make(chan struct{})
	go func() {
		defer close(r.done)
		defer close(r.batches)
		tx := tx.WithContext(ctx)
		for {
			rows, err := p.readUnsealed(tx, cursor, size)
			select {
			case r.batches <- leafPage{rows, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(rows) < size {
				return
			}
			cursor = rows[len(rows)-1].ID
		}
	}()
	return r
}

// next returns the next batch; fewer than size rows (none at the end) means
// it is the last.
func (r *unsealedReader) next() ([]leafRow, error) {
	if r.batches != nil {
		b, ok := <-r.batches
		if !ok {
			return nil, nil
		}
		return b.rows, b.err
	}
	rows, err := r.p.readUnsealed(r.tx, r.cursor, r.size)
	if len(rows) > 0 {
		r.cursor = rows[len(rows)-1].ID
	}
	return rows, err
}

// close stops the goroutine and waits for it.
func (r *unsealedReader) close() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	for range r.batches { //nolint:revive // drain so the goroutine ends
	}
	<-r.done
}

// stillUnsealed drops from rows (in ID order) the entries sealed since they
// were read, by another sealer: one read of the seal table's entry_id
// index over the batch's ID range, under the seal lock.
func (p *Plugin) stillUnsealed(tx *gorm.DB, rows []leafRow) ([]leafRow, error) {
	var sealed []int64
	err := tx.Table(p.sealTable()).Where("entry_id >= ? AND entry_id <= ?", rows[0].ID, rows[len(rows)-1].ID).
		Order("entry_id").Pluck("entry_id", &sealed).Error
	if err != nil {
		return nil, fmt.Errorf("recheck unsealed: %w", err)
	}
	if len(sealed) == 0 {
		return rows, nil
	}
	return slices.DeleteFunc(rows, func(r leafRow) bool {
		_, found := slices.BinarySearch(sealed, r.ID)
		return found
	}), nil
}
