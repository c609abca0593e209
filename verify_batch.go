package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"gorm.io/gorm/clause"
)

// header checks one batch header: its number and link to the one before,
// its place in the tree, its entries (unless purged), and the trusted
// checkpoint where the header reaches it.
func (v *verifier) header(h *BatchHeader) error {
	continuous := v.link(h)
	switch {
	case h.Kind == HeaderPurge:
		if h.TreeSize != int64(v.tree.End()) {
			v.problem(ProblemEditedHeader, 0, -1, h.Batch, "purge header moves the tree from %d to %d", v.tree.End(), h.TreeSize)
		}
	case h.Kind != HeaderSeal:
		v.problem(ProblemEditedHeader, 0, -1, h.Batch, "unknown kind %q", h.Kind)
	case v.purged[h.Batch]:
		v.rep.PurgedBatches++
		v.resync(h)
	case v.object != nil:
		if err := v.objectBatch(h); err != nil {
			return err
		}
	default:
		v.rep.Batches++
		if err := v.batch(h, continuous); err != nil {
			return err
		}
	}
	v.checkpointAt(h)
	v.prev = h
	return nil
}

// link checks h's number and Prev hash against the header before and its
// start against the tree, and reports whether h continues the tree checked
// so far.
func (v *verifier) link(h *BatchHeader) bool {
	want, prevHash := int64(1), []byte(nil)
	if v.prev != nil {
		want, prevHash = v.prev.Batch+1, v.prev.HeaderHash()
	}
	if h.Batch != want {
		v.problem(ProblemDeletedHeader, 0, -1, want, "headers %d to %d missing", want, h.Batch-1)
		return false
	}
	if !bytes.Equal(h.Prev, prevHash) {
		v.problem(ProblemEditedHeader, 0, -1, max(want-1, 1), "header %d's hash does not match header %d's prev", want-1, h.Batch)
		return false
	}
	if h.Kind == HeaderSeal && h.Start != int64(v.tree.End()) {
		v.problem(ProblemEditedHeader, 0, -1, h.Batch, "starts at %d, the tree ends at %d", h.Start, v.tree.End())
		return false
	}
	return true
}

// resync continues the tree from h's own compact range, after a batch that
// could not be recomputed (purged, or with problems).
func (v *verifier) resync(h *BatchHeader) {
	r, err := treeRange(h)
	if err != nil {
		v.problem(ProblemEditedHeader, 0, -1, h.Batch, "%v", err)
		return
	}
	v.tree = r
}

// verifyPage is how many sequence numbers one read of a batch covers.
const verifyPage = 5000

// batch checks the entries of a seal header: each one's leaf hash, the
// sequence without gaps or duplicates, the order, the batch root, and the
// tree after it.
func (v *verifier) batch(h *BatchHeader, continuous bool) error {
	before := len(v.rep.Problems)
	b := batchCheck{v: v, h: h, next: h.Start, root: rangeFactory().NewEmptyRange(0)}
	end := h.Start + h.Size
	for !v.full() {
		r, err := v.stream.next(end)
		if err != nil {
			return err
		}
		if r == nil {
			break
		}
		if *r.SealSeq < h.Start {
			continue // in the range of a missing header, reported as such
		}
		if err := b.row(r); err != nil {
			return err
		}
	}
	for ; b.next < end; b.next++ {
		v.problem(ProblemDeletedEntry, 0, b.next, h.Batch, "no entry at this sequence number")
	}
	attributed := len(v.rep.Problems) > before
	root, _ := b.root.GetRootHash(nil)
	if !attributed && !bytes.Equal(root, h.Root) {
		v.problem(ProblemBatchRoot, 0, -1, h.Batch, "leaves of entries %d to %d do not hash to the batch root", h.FirstID, h.LastID)
		attributed = true
	}
	if !continuous || attributed {
		v.resync(h)
		return nil
	}
	tree, _ := rangeRoot(v.tree)
	if !bytes.Equal(tree, h.TreeRoot) || int64(v.tree.End()) != h.TreeSize || !bytes.Equal(compactBytes(v.tree), h.Compact) {
		v.problem(ProblemEditedHeader, 0, -1, h.Batch, "tree after the batch does not match the header's")
		v.resync(h)
	}
	return nil
}

// batchCheck is the state of one batch's check.
type batchCheck struct {
	v      *verifier
	h      *BatchHeader
	next   int64 // the next sequence number expected
	prevID int64
	root   *compact.Range
	buf    []byte
}

// row checks one entry of the batch, in seal order, and appends its leaf
// to the batch root and the tree.
func (b *batchCheck) row(r *leafRow) error {
	v, h, seq := b.v, b.h, *r.SealSeq
	if seq < b.next {
		v.problem(ProblemInsertedEntry, r.ID, seq, h.Batch, "a second entry at this sequence number")
		return nil
	}
	for ; b.next < seq; b.next++ {
		v.problem(ProblemDeletedEntry, 0, b.next, h.Batch, "no entry at this sequence number")
	}
	b.next++
	outside := r.ID < h.FirstID || r.ID > h.LastID
	switch {
	case outside && b.forged(r):
		// A seal row pointed at another entry: the entry was never sealed.
		v.problem(ProblemInsertedEntry, r.ID, seq, h.Batch, "entry outside the batch's IDs %d to %d has another leaf hash than the one sealed here", h.FirstID, h.LastID)
		v.rep.Entries++
		return b.append(r.computed)
	case outside:
		v.problem(ProblemResequencedEntry, r.ID, seq, h.Batch, "entry is outside the batch's IDs %d to %d", h.FirstID, h.LastID)
	case r.ID <= b.prevID:
		v.problem(ProblemReorderedEntry, r.ID, seq, h.Batch, "entry comes after entry %d in the batch", b.prevID)
	}
	b.prevID = max(b.prevID, r.ID)
	leaf, err := b.leaf(r)
	if err != nil {
		return err
	}
	return b.append(leaf)
}

// forged reports whether r, not erased, does not hash to the leaf hash
// stored at its place (computing r.computed).
func (b *batchCheck) forged(r *leafRow) bool {
	if r.ErasedBy != nil {
		return false
	}
	if r.computed == nil {
		var sum [32]byte
		sum, b.buf = leafHash(b.buf, r)
		r.computed = sum[:]
	}
	return !bytes.Equal(r.computed, r.LeafHash)
}

// append appends leaf to the batch root and the tree.
func (b *batchCheck) append(leaf []byte) error {
	v := b.v
	if err := b.root.Append(leaf, nil); err != nil {
		return err
	}
	return v.tree.Append(leaf, nil)
}

// leaf is the entry's leaf hash: recomputed, or the stored one for an
// erased entry whose erasure is recorded.
func (b *batchCheck) leaf(r *leafRow) ([]byte, error) {
	v, h, seq := b.v, b.h, *r.SealSeq
	if len(r.LeafHash) == 0 {
		v.problem(ProblemInsertedEntry, r.ID, seq, h.Batch, "entry has no leaf hash")
	}
	if r.ErasedBy != nil {
		ok, err := v.erase.recorded(v, r.ID, *r.ErasedBy)
		if err != nil {
			return nil, err
		}
		if !ok {
			v.problem(ProblemEditedEntry, r.ID, seq, h.Batch, "erased, but erase entry %d does not record it", *r.ErasedBy)
		}
		v.rep.Erased++
		v.rep.Entries++
		return r.LeafHash, nil
	}
	sum := r.computed
	if sum == nil {
		var h [32]byte
		h, b.buf = leafHash(b.buf, r)
		sum = h[:]
	}
	v.rep.Entries++
	if len(r.LeafHash) > 0 && !bytes.Equal(sum, r.LeafHash) {
		v.problem(ProblemEditedEntry, r.ID, seq, h.Batch, "fields do not hash to the sealed leaf hash")
	}
	return sum, nil
}

// checkpointAt compares the trusted checkpoint with the tree when h is the
// header that reaches the checkpoint's size or is the one it names.
func (v *verifier) checkpointAt(h *BatchHeader) {
	cp := v.cp
	if cp == nil {
		return
	}
	if cp.HeadBatch == h.Batch && !bytes.Equal(cp.HeadHash, h.HeaderHash()) {
		v.problem(ProblemCheckpointMismatch, 0, -1, h.Batch, "header differs from the checkpoint's head")
	}
	reached := v.prev == nil || v.prev.TreeSize < cp.Size
	if !reached || h.TreeSize < cp.Size || cp.Size == 0 {
		return
	}
	if h.TreeSize > cp.Size {
		v.problem(ProblemCheckpointMismatch, 0, cp.Size, h.Batch, "no batch ends at the checkpoint's size %d", cp.Size)
		return
	}
	if root, _ := rangeRoot(v.tree); !bytes.Equal(root, cp.Root) {
		v.problem(ProblemCheckpointMismatch, 0, -1, h.Batch, "tree of size %d has another root than the checkpoint's", cp.Size)
	}
}

// tail reports entries that claim a sealed place past the last batch (end;
// -1: no batch).
func (v *verifier) tail(end int64) error {
	if !v.tx.Migrator().HasTable(v.p.sealTable()) {
		return nil
	}
	rows, err := v.p.readLeafRows(v.tx, sealedLeaves, "s.seal_seq >= ?", max(end, 0))
	if err != nil {
		return err
	}
	if len(rows) > 0 && v.tx.Migrator().HasTable(v.p.headerTable()) {
		// Read after the rows: a seal that committed them committed its
		// header too, and what it sealed is left for the next Verify.
		last, err := v.p.lastHeader(v.tx)
		if err != nil {
			return err
		}
		if last != nil {
			end = max(end, last.TreeSize)
		}
	}
	for i := range rows {
		if *rows[i].SealSeq >= end {
			v.problem(ProblemInsertedEntry, rows[i].ID, *rows[i].SealSeq, 0, "past the last batch (sequence ends at %d)", max(end, 0))
		}
	}
	return v.belowWatermark()
}

// belowWatermark reports the entries with IDs up to the sealer's watermark
// that have no seal row: every such entry was sealed (its seal row was
// deleted) or was added later with an old ID, by raw SQL; or its
// transaction committed after the watermark passed it (see the README's
// guarantee), and it would never be sealed. The watermark is read first: the
// seal rows below it were committed before it moved. Cost: an anti-join of
// the log's and the seal table's ID indexes up to the watermark.
func (v *verifier) belowWatermark() error {
	if !v.tx.Migrator().HasTable(v.p.sealStateTable()) {
		return nil
	}
	st, err := v.p.readSealState(v.tx)
	if err != nil || st.LowID <= 0 {
		return err
	}
	var ids []int64
	err = v.tx.Raw("SELECT e.id FROM ? e WHERE e.id <= ? AND NOT EXISTS (SELECT 1 FROM ? s WHERE s.entry_id = e.id "+
		"AND s.entry_id <= ?) ORDER BY e.id LIMIT ?", clause.Table{Name: v.p.cfg.table}, st.LowID,
		clause.Table{Name: v.p.sealTable()}, st.LowID, v.max).Scan(&ids).Error
	if err != nil {
		return fmt.Errorf("read unsealed entries below the watermark: %w", err)
	}
	for _, id := range ids {
		v.problem(ProblemResequencedEntry, id, -1, 0, "unsealed, below the sealer's watermark %d: its seal row deleted, "+
			"or added later with an old ID", st.LowID)
	}
	return nil
}

// purgeRecord is a purge header's Note.
type purgeRecord struct {
	Batch   int64  `json:"batch"`
	Entries int64  `json:"entries"`
	Before  string `json:"before"`
	Reason  string `json:"reason"`
}

// eraseCache remembers the erase entry checked last, so that the entries
// one erasure covers cost one read.
type eraseCache struct {
	id     int64
	erased []int64
}

// eraseData is the Data of an "erase" entry.
type eraseData struct {
	Erased []int64 `json:"erased"`
	Reason string  `json:"reason"`
}

// recorded reports whether the erase entry eraseID records the erasure of
// entry id.
func (c *eraseCache) recorded(v *verifier, id, eraseID int64) (bool, error) {
	if c.id != eraseID {
		rows, err := v.p.readLeafRows(v.tx, entryLeaves, "e.id = ?", eraseID)
		if err != nil {
			return false, fmt.Errorf("read erase entry %d: %w", eraseID, err)
		}
		c.id, c.erased = eraseID, nil
		var d eraseData
		if len(rows) == 1 && rows[0].Action == string(ActionErase) && json.Unmarshal(rows[0].Data, &d) == nil {
			c.erased = d.Erased
		}
	}
	return slices.Contains(c.erased, id), nil
}
