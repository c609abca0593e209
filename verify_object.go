package auditlog

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// VerifyObject checks the sealed entries of one object (a pointer to a
// model struct with its primary key set) without reading the whole log:
// each entry's fields against its sealed leaf hash, each batch holding one
// of them against its header's root (from the batch's stored leaf hashes),
// the header chain's links, and, with opts.Checkpoint, the tree at the
// checkpoint (from the headers' compact ranges). Problems and the error are
// as Verify's; entries of other objects are trusted by their stored leaf
// hashes, so a problem with them shows as ProblemBatchRoot.
//
// Cost: one read of the object's entries, one of every header, and one of
// the stored leaf hashes of each batch holding one of its entries; memory
// bounded by the object's entries and one batch.
func (p *Plugin) VerifyObject(ctx context.Context, db *gorm.DB, obj any, opts VerifyOptions) (VerifyReport, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	f, err := p.compile(tx, Query{Objects: obj})
	if err != nil {
		return VerifyReport{}, fmt.Errorf("auditlog: verify object: %w", err)
	}
	var ids []int64
	if err := f.apply(tx.Table(p.cfg.table)).Pluck("id", &ids).Error; err != nil {
		return VerifyReport{}, fmt.Errorf("auditlog: verify object: %w", err)
	}
	v := &verifier{p: p, tx: tx, max: opts.MaxProblems, tree: rangeFactory().NewEmptyRange(0), object: map[int64]*leafRow{}}
	if v.max <= 0 {
		v.max = 1000
	}
	if len(ids) > 0 && tx.Migrator().HasTable(p.sealTable()) {
		rows, err := p.readLeafRows(tx, sealedLeaves, "e.id IN ?", ids)
		if err != nil {
			return VerifyReport{}, fmt.Errorf("auditlog: verify object: %w", err)
		}
		for i := range rows {
			v.object[*rows[i].SealSeq] = &rows[i]
		}
	}
	if len(opts.Checkpoint) > 0 {
		if err := v.openCheckpoint(opts); err != nil {
			return v.rep, err
		}
	}
	if err := v.run(ctx); err != nil {
		return v.rep, fmt.Errorf("auditlog: verify object: %w", err)
	}
	for seq, r := range v.object { // left: in no batch
		v.problem(ProblemInsertedEntry, r.ID, seq, 0, "sealed entry in no batch")
	}
	if n := len(v.rep.Problems); n > 0 {
		return v.rep, fmt.Errorf("%w: %d problem(s), first: %s", ErrTampered, n, v.rep.Problems[0])
	}
	return v.rep, nil
}

// objectBatch checks a batch for VerifyObject: the object's entries in it
// by their fields, the rest by their stored leaf hashes, against the root.
func (v *verifier) objectBatch(h *BatchHeader) error {
	end := h.Start + h.Size
	var mine []*leafRow
	for seq, r := range v.object { // the object's few entries, not the batch's many
		if seq >= h.Start && seq < end {
			mine = append(mine, r)
		}
	}
	slices.SortFunc(mine, func(a, b *leafRow) int { return cmp.Compare(*a.SealSeq, *b.SealSeq) })
	if len(mine) > 0 {
		v.rep.Batches++
		if err := v.objectLeaves(h, mine); err != nil {
			return err
		}
	}
	r, err := treeRange(h)
	if err != nil {
		v.problem(ProblemEditedHeader, 0, -1, h.Batch, "%v", err)
		return nil
	}
	if root, _ := rangeRoot(r); !bytes.Equal(root, h.TreeRoot) {
		v.problem(ProblemEditedHeader, 0, -1, h.Batch, "compact range does not hash to the tree root")
	}
	v.tree = r
	return nil
}

// objectLeaves recomputes the batch root from its stored leaf hashes, with
// the object's entries' own recomputed.
func (v *verifier) objectLeaves(h *BatchHeader, mine []*leafRow) error {
	before := len(v.rep.Problems)
	b := batchCheck{v: v, h: h, root: rangeFactory().NewEmptyRange(0)}
	own := map[int64][]byte{}
	for _, r := range mine {
		delete(v.object, *r.SealSeq)
		leaf, err := b.leaf(r)
		if err != nil {
			return err
		}
		own[*r.SealSeq] = leaf
	}
	var leaves []struct {
		SealSeq  int64
		LeafHash []byte
	}
	err := v.tx.Table(v.p.sealTable()).Select("seal_seq, leaf_hash").
		Where("seal_seq >= ? AND seal_seq < ?", h.Start, h.Start+h.Size).Order("seal_seq").Find(&leaves).Error
	if err != nil {
		return fmt.Errorf("read leaf hashes: %w", err)
	}
	for _, l := range leaves {
		leaf := l.LeafHash
		if o, ok := own[l.SealSeq]; ok {
			leaf = o
		}
		if err := b.root.Append(leaf, nil); err != nil {
			return err
		}
	}
	root, _ := b.root.GetRootHash(nil)
	if len(v.rep.Problems) == before && (int64(len(leaves)) != h.Size || !bytes.Equal(root, h.Root)) {
		v.problem(ProblemBatchRoot, 0, -1, h.Batch, "stored leaf hashes do not hash to the batch root")
	}
	return nil
}
