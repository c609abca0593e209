package auditlog

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"gorm.io/gorm"
)

// Proof is an RFC 6962 inclusion proof of one sealed entry in the sealed
// log of TreeSize entries: checked with CheckProof against a checkpoint of
// that size, it shows the entry (as LeafHash) is in the log the checkpoint
// signs.
type Proof struct {
	EntryID  int64
	Index    int64 // the entry's seal sequence number
	TreeSize int64
	LeafHash []byte // recomputed from the entry's fields (stored, for an erased entry)
	Hashes   [][]byte
}

// Prove builds the inclusion proof of entry id in the sealed log of
// treeSize entries (0: the whole sealed log as its last header has it; use
// a checkpoint's size to check the proof against that checkpoint).
//
// Cost: one pass over the stored leaf hashes (32 bytes an entry) of the
// tree, in pages; memory independent of the log's size. It fails with
// ErrEntryNotFound for an unknown entry, ErrNotSealed for an entry not
// sealed in that tree, and an error wrapping ErrTampered when the entry no
// longer hashes to its sealed leaf hash or a leaf is missing (deleted: a
// proof needs every leaf of the tree; Purge keeps the leaf hashes of the
// entries it removes, so proofs still work after it).
func (p *Plugin) Prove(ctx context.Context, db *gorm.DB, id, treeSize int64) (Proof, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	if !tx.Migrator().HasTable(p.sealTable()) { // nothing ever sealed
		var n int64
		if err := tx.Table(p.cfg.table).Where("id = ?", id).Count(&n).Error; err != nil {
			return Proof{}, fmt.Errorf("auditlog: prove: %w", err)
		}
		if n == 0 {
			return Proof{}, fmt.Errorf("auditlog: prove entry %d: %w", id, ErrEntryNotFound)
		}
		return Proof{}, fmt.Errorf("auditlog: prove entry %d: %w", id, ErrNotSealed)
	}
	rows, err := p.readLeafRows(tx, entryLeaves, "e.id = ?", id)
	if err != nil {
		return Proof{}, fmt.Errorf("auditlog: prove: %w", err)
	}
	if len(rows) == 0 {
		return Proof{}, fmt.Errorf("auditlog: prove entry %d: %w", id, ErrEntryNotFound)
	}
	r := &rows[0]
	if treeSize == 0 {
		last, err := p.lastHeader(tx)
		if err != nil {
			return Proof{}, fmt.Errorf("auditlog: prove: %w", err)
		}
		if last != nil {
			treeSize = last.TreeSize
		}
	}
	if r.SealSeq == nil || *r.SealSeq >= treeSize {
		return Proof{}, fmt.Errorf("auditlog: prove entry %d in a tree of %d: %w", id, treeSize, ErrNotSealed)
	}
	pr := Proof{EntryID: id, Index: *r.SealSeq, TreeSize: treeSize, LeafHash: r.LeafHash}
	if r.ErasedBy == nil {
		if sum, _ := leafHash(nil, r); string(sum[:]) != string(r.LeafHash) {
			return Proof{}, fmt.Errorf("%w: entry %d does not hash to its sealed leaf hash", ErrTampered, id)
		}
	}
	nodes, err := proof.Inclusion(uint64(pr.Index), uint64(treeSize))
	if err != nil {
		return Proof{}, fmt.Errorf("auditlog: prove: %w", err)
	}
	hashes, err := p.nodeHashes(tx, nodes.IDs)
	if err != nil {
		return Proof{}, fmt.Errorf("auditlog: prove entry %d: %w", id, err)
	}
	if pr.Hashes, err = nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren); err != nil {
		return Proof{}, fmt.Errorf("auditlog: prove: %w", err)
	}
	return pr, nil
}

// nodeHashes computes the hashes of perfect subtrees from the stored leaf
// hashes, in one ordered pass over the leaves they cover.
func (p *Plugin) nodeHashes(tx *gorm.DB, ids []compact.NodeID) ([][]byte, error) {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ba, _ := ids[a].Coverage()
		bb, _ := ids[b].Coverage()
		return cmp.Compare(ba, bb)
	})
	out := make([][]byte, len(ids))
	f := rangeFactory()
	for _, i := range order {
		begin, end := ids[i].Coverage()
		r := f.NewEmptyRange(begin)
		for lo := begin; lo < end; lo += verifyPage {
			hi := min(lo+verifyPage, end)
			var leaves []struct {
				SealSeq  int64
				LeafHash []byte
			}
			err := tx.Table(p.sealTable()).Select("seal_seq, leaf_hash").Where("seal_seq >= ? AND seal_seq < ?", lo, hi).
				Order("seal_seq").Find(&leaves).Error
			if err != nil {
				return nil, err
			}
			for _, l := range leaves {
				if uint64(l.SealSeq) != r.End() {
					return nil, fmt.Errorf("%w: leaf %d missing (deleted or purged)", ErrTampered, r.End())
				}
				if err := r.Append(l.LeafHash, nil); err != nil {
					return nil, err
				}
			}
		}
		if r.End() != end || len(r.Hashes()) != 1 {
			return nil, fmt.Errorf("%w: leaves %d to %d missing (deleted or purged)", ErrTampered, r.End(), end)
		}
		out[i] = r.Hashes()[0]
	}
	return out, nil
}

// CheckProof checks pr against a checkpoint of the same tree size, opened
// with OpenCheckpoint. It returns an error wrapping ErrTampered when the
// proof does not lead to the checkpoint's root, and one wrapping
// ErrInvalidCheckpoint when the sizes differ. The checking is
// transparency-dev/merkle's proof.VerifyInclusion; CheckProof costs
// O(log TreeSize) hashes and reads nothing.
func CheckProof(pr Proof, cp Checkpoint) error {
	if pr.TreeSize != cp.Size {
		return fmt.Errorf("%w: proof for a tree of %d, checkpoint of %d", ErrInvalidCheckpoint, pr.TreeSize, cp.Size)
	}
	if pr.Index < 0 || pr.TreeSize < 0 {
		return fmt.Errorf("%w: proof index %d of %d", ErrTampered, pr.Index, pr.TreeSize)
	}
	err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(pr.Index), uint64(pr.TreeSize), pr.LeafHash, pr.Hashes, cp.Root)
	if err != nil {
		return fmt.Errorf("%w: entry %d: %w", ErrTampered, pr.EntryID, err)
	}
	return nil
}
