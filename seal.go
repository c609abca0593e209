package auditlog

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"gorm.io/gorm"
)

// SealResult reports what one Plugin.Seal did.
type SealResult struct {
	// Batches is the number of batch headers written, Entries the number
	// of entries sealed.
	Batches int
	Entries int64
	// TreeSize and TreeRoot are the sealed log after the seal: the number
	// of entries ever sealed and the RFC 6962 root of their leaves.
	TreeSize int64
	TreeRoot []byte
	// Checkpoint is the signed checkpoint of TreeSize and TreeRoot, nil
	// when the plugin has no SealConfig.Signer.
	Checkpoint []byte
}

// defaultSealBatch is SealConfig.BatchSize's default.
const defaultSealBatch = 10000

// maxSealBatch bounds SealConfig.BatchSize (memory: ~1 KiB per entry while
// its batch is sealed).
const maxSealBatch = 100000

// Seal seals the committed entries that are not sealed yet: it gives them
// seal sequence numbers in ID order, stores each one's sequence number and
// leaf hash in the seal table (one multi-row INSERT per batch; the log's
// rows are not updated), and writes one BatchHeader per
// SealConfig.BatchSize entries, each batch in its own transaction. Then,
// when the plugin has a SealConfig.Signer, it signs a checkpoint of the
// whole sealed log and hands it to SealConfig.Checkpoints, also when nothing
// was sealed (a checkpoint of a quiet period).
//
// Entries whose transactions commit later, even with smaller IDs, are left
// for the next seal: the seal sequence, not the ID, orders the sealed log.
// Seal looks for unsealed entries above a watermark below which every ID is
// sealed or can no longer commit (see sealState and the README's
// guarantee), by an anti-join with the seal table. Seal never touches the
// write path: writers take no lock of its making.
//
// Cost: per entry, one read of its row and one seal row written; the next
// batch is read (and hashed) on a second connection while the current one
// is written. Memory: two batches (~1 KiB an entry).
//
// Concurrency: one sealer at a time per log table, by a transaction-scoped
// advisory lock on PostgreSQL, GET_LOCK on MySQL and MariaDB (on a
// connection of its own) and the write transaction on SQLite; a second Seal
// waits for the first, batch by batch. Entries read ahead are rechecked
// under the lock, and the seal table's unique entry_id refuses a second
// seal: an entry is never sealed twice. db must not be a transaction.
// On SQLite, open the database with _txlock=immediate (as for concurrent
// writers): otherwise a second sealer fails with "database is locked".
//
// Failure: a batch is all or nothing; a crash or killed connection in the
// middle of one rolls it back, and the next Seal seals those entries. The
// error of a failed batch is returned with the result of the batches done.
// An entry with JSON that is not valid JSON cannot be sealed and fails Seal.
// The header, seal and seal state tables are created when missing, and seal
// data of an earlier layout moved (see Plugin.AutoMigrate). Sealing covers
// the plugin's log table only: Seal fails with ErrInvalidOption, sealing
// nothing, while a model registered with LogTable logs elsewhere.
func (p *Plugin) Seal(ctx context.Context, db *gorm.DB) (SealResult, error) {
	var res SealResult
	if tables := p.LogTables(); len(tables) > 1 {
		return res, fmt.Errorf("auditlog: seal: %w: entries of models registered with LogTable go to %v, "+
			"and sealing covers the log table %q only", ErrInvalidOption, tables[1:], tables[0])
	}
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	if err := p.migrateSealTables(tx); err != nil {
		return res, err
	}
	cfg := p.sealConfig()
	if err := p.sealAll(ctx, tx, cfg.BatchSize, &res); err != nil {
		return res, fmt.Errorf("auditlog: seal: %w", err)
	}
	head, err := p.lastHeader(tx)
	if err != nil {
		return res, fmt.Errorf("auditlog: seal: %w", err)
	}
	if res.TreeSize, res.TreeRoot, err = headerTree(head); err != nil {
		return res, fmt.Errorf("auditlog: seal: %w", err)
	}
	if cfg.Signer == nil {
		return res, nil
	}
	cp, err := p.signCheckpoint(cfg, head)
	if err != nil {
		return res, err
	}
	if cfg.Checkpoints != nil {
		if err := cfg.Checkpoints.WriteCheckpoint(ctx, cp); err != nil {
			return res, fmt.Errorf("auditlog: seal: write checkpoint: %w", err)
		}
	}
	res.Checkpoint = cp
	return res, nil
}

// sealAll seals the unsealed entries above the watermark in batches of
// size, in ID order, then moves the watermark (see sealState). Whether the
// watermark's candidate is settled is asked before the first batch reads:
// a transaction that then could hold an ID up to the candidate has ended,
// so its entries are visible to every batch, and once all are sealed the
// watermark may move up to the candidate.
func (p *Plugin) sealAll(ctx context.Context, tx *gorm.DB, size int, res *SealResult) error {
	st, err := p.readSealState(tx)
	if err != nil {
		return err
	}
	settled := false
	if st.CandID != nil {
		if settled, err = p.capabilities(tx).sealSettled(tx, st.Token); err != nil {
			return fmt.Errorf("seal state: %w", err)
		}
	}
	reader := p.newUnsealedReader(ctx, tx, st.LowID, size)
	defer reader.close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := reader.next()
		if err != nil {
			return fmt.Errorf("unsealed: %w", err)
		}
		if len(rows) > 0 {
			if err := p.sealBatch(ctx, tx, rows, res); err != nil {
				return err
			}
		}
		if len(rows) < size {
			break
		}
	}
	return p.withSealLock(ctx, tx, func(tx *gorm.DB) error { return p.moveWatermark(tx, st, settled) })
}

// moveWatermark moves the watermark of state st, read before the seal,
// up to its candidate when that was settled, and takes a new candidate
// (the largest ID visible now) when there is none.
func (p *Plugin) moveWatermark(tx *gorm.DB, st sealState, settled bool) error {
	next := st
	if settled {
		next.LowID, next.CandID, next.Token = max(st.LowID, *st.CandID), nil, ""
	}
	if next.CandID == nil {
		var top *int64
		if err := tx.Table(p.cfg.table).Select("MAX(id)").Scan(&top).Error; err != nil {
			return fmt.Errorf("seal state: %w", err)
		}
		if top != nil && *top > next.LowID {
			tok, err := p.capabilities(tx).sealMark(tx)
			if err != nil {
				return fmt.Errorf("seal state: %w", err)
			}
			next.CandID, next.Token = top, tok
		}
	}
	if next.LowID == st.LowID && next.Token == st.Token && (next.CandID == nil) == (st.CandID == nil) {
		return nil
	}
	return p.writeSealState(tx, st, next)
}

// headerTree is the tree size and root after h (the empty tree for nil).
func headerTree(h *BatchHeader) (int64, []byte, error) {
	r, err := treeRange(h)
	if err != nil {
		return 0, nil, err
	}
	root, err := rangeRoot(r)
	return int64(r.End()), root, err
}

// sealBatch seals rows, unsealed entries in ID order read before, in one
// locked transaction, but those sealed meanwhile by another sealer.
func (p *Plugin) sealBatch(ctx context.Context, db *gorm.DB, rows []leafRow, res *SealResult) error {
	return p.withSealLock(ctx, db, func(tx *gorm.DB) error {
		rows, err := p.stillUnsealed(tx, rows)
		if err != nil || len(rows) == 0 {
			return err
		}
		last, err := p.lastHeader(tx)
		if err != nil {
			return err
		}
		h, err := p.newSealHeader(last, rows)
		if err != nil {
			return err
		}
		if err := p.insertSeals(tx, rows); err != nil {
			return err
		}
		if p.cfg.sealHook != nil {
			if err := p.cfg.sealHook(tx); err != nil {
				return err
			}
		}
		if err := tx.Table(p.headerTable()).Create(h).Error; err != nil {
			return fmt.Errorf("write header %d: %w", h.Batch, err)
		}
		res.Batches++
		res.Entries += int64(len(rows))
		return nil
	})
}

// newSealHeader computes the leaf hashes of rows (stored into them) and the
// header that seals them after last.
func (p *Plugin) newSealHeader(last *BatchHeader, rows []leafRow) (*BatchHeader, error) {
	tree, err := treeRange(last)
	if err != nil {
		return nil, err
	}
	batch := rangeFactory().NewEmptyRange(0)
	h := &BatchHeader{Batch: 1, Kind: HeaderSeal, Start: int64(tree.End()), Size: int64(len(rows)),
		FirstID: rows[0].ID, LastID: rows[len(rows)-1].ID, SealedAt: p.cfg.now().UnixMilli()}
	if last != nil {
		h.Batch, h.Prev = last.Batch+1, last.HeaderHash()
	}
	var buf []byte
	for i := range rows {
		if rows[i].computed == nil {
			var sum [32]byte
			sum, buf = leafHash(buf, &rows[i])
			rows[i].computed = sum[:]
		}
		seq := h.Start + int64(i)
		rows[i].SealSeq, rows[i].LeafHash = &seq, rows[i].computed
		if err := batch.Append(rows[i].LeafHash, nil); err != nil {
			return nil, err
		}
		if err := tree.Append(rows[i].LeafHash, nil); err != nil {
			return nil, err
		}
	}
	if h.Root, err = batch.GetRootHash(nil); err != nil {
		return nil, err
	}
	if h.TreeRoot, err = tree.GetRootHash(nil); err != nil {
		return nil, err
	}
	h.TreeSize, h.Compact = int64(tree.End()), compactBytes(tree)
	return h, nil
}

// insertSeals inserts the seal rows of rows. The seal table's unique
// entry_id fails it (and so the batch) for an entry sealed meanwhile.
func (p *Plugin) insertSeals(tx *gorm.DB, rows []leafRow) error {
	caps := p.capabilities(tx)
	for start := 0; start < len(rows); start += caps.sealInsertRows() {
		chunk := rows[start:min(start+caps.sealInsertRows(), len(rows))]
		st := &gorm.Statement{DB: tx, Context: tx.Statement.Context, Vars: make([]any, 0, 3*len(chunk))}
		caps.writeSealInsert(st, p.sealTable(), chunk)
		if _, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, st.SQL.String(), st.Vars...); err != nil {
			return fmt.Errorf("insert seal rows: %w", err)
		}
	}
	return nil
}

// withSealLock runs fn in a transaction during which no other sealer of
// this log table runs (see Seal).
func (p *Plugin) withSealLock(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	switch p.capabilities(db).sealLock() {
	case sealLockAdvisory:
		return db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", p.sealLockKey()).Error; err != nil {
				return fmt.Errorf("seal lock: %w", err)
			}
			return fn(tx)
		})
	case sealLockNamed:
		return p.withNamedLock(ctx, db, fn)
	}
	return db.Transaction(fn)
}

// sealLockTimeout bounds the wait for another sealer's GET_LOCK.
const sealLockTimeout = 10 * time.Minute

// withNamedLock takes GET_LOCK on a connection of its own, runs fn in a
// transaction on that connection, and releases the lock after the commit,
// so that the next sealer's snapshot includes this one's work.
func (p *Plugin) withNamedLock(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	sqlDB, err := db.DB()
	if err != nil {
		return fmt.Errorf("seal lock: %w", err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("seal lock: %w", err)
	}
	defer conn.Close()
	name := p.sealLockName()
	var got *int64
	row := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, int(sealLockTimeout/time.Second))
	if err := row.Scan(&got); err != nil {
		return fmt.Errorf("seal lock: %w", err)
	}
	if got == nil || *got != 1 {
		return fmt.Errorf("seal lock: GET_LOCK(%q) timed out", name)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", name) //nolint:errcheck // closing the connection releases it too
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	tx.Statement.ConnPool = conn
	return tx.Transaction(fn)
}

// sealLockKey is the PostgreSQL advisory lock key of this log table.
func (p *Plugin) sealLockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("auditlog:seal:" + p.cfg.table))
	return int64(h.Sum64())
}

// sealLockName is the MySQL lock name of this log table (at most 64 bytes).
func (p *Plugin) sealLockName() string {
	name := "auditlog:seal:" + p.cfg.table
	if len(name) > 64 {
		name = fmt.Sprintf("auditlog:seal:%x", p.sealLockKey())
	}
	return name
}

// headerTable is the name of the batch header table.
func (p *Plugin) headerTable() string { return p.cfg.table + "_batches" }

// lastHeader is the header with the highest batch number, nil for none.
func (p *Plugin) lastHeader(tx *gorm.DB) (*BatchHeader, error) {
	var hs []BatchHeader
	if err := tx.Table(p.headerTable()).Order("batch DESC").Limit(1).Find(&hs).Error; err != nil {
		return nil, fmt.Errorf("read last header: %w", err)
	}
	if len(hs) == 0 {
		return nil, nil
	}
	return &hs[0], nil
}

// RunSealer seals every interval until ctx is done, starting at once: the
// background sealer. It blocks; run it on a goroutine of your own and
// cancel ctx to stop it (it returns ctx's error then). A failed Seal is
// passed to onError (nil: ignored) and retried at the next tick; each
// successful one, also of a quiet period, emits its checkpoint as Seal does.
func (p *Plugin) RunSealer(ctx context.Context, db *gorm.DB, interval time.Duration, onError func(error)) error {
	if interval <= 0 {
		return fmt.Errorf("%w: sealer interval %v", ErrInvalidOption, interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := p.Seal(ctx, db); err != nil && onError != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
