package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Batch header kinds.
const (
	// HeaderSeal is a batch of sealed entries.
	HeaderSeal = "seal"
	// HeaderPurge records that Purge removed the entries of earlier batches:
	// its Note names them and the reason. It seals no entry.
	HeaderPurge = "purge"
)

// BatchHeader is one link of the seal chain, a row of the log table's
// header table (the log table's name with "_batches" appended). Plugin.Seal
// appends one per batch of entries it seals, Plugin.Purge one per purge;
// rows are never updated or deleted. Each header holds the hash of the one
// before it (Prev), so that editing or deleting a header breaks the chain
// after it, and the chain's last state is signed in the checkpoints.
type BatchHeader struct {
	// Batch numbers the headers 1, 2, 3, ... without gaps.
	Batch int64 `gorm:"column:batch;primaryKey;autoIncrement:false"`
	// Kind is HeaderSeal or HeaderPurge.
	Kind string `gorm:"column:kind;size:16;not null"`
	// Start and Size: the batch seals the entries of seal sequence
	// Start..Start+Size-1 (seal_seq in the seal table). A purge header has Size 0.
	Start int64 `gorm:"column:start_seq;not null"`
	Size  int64 `gorm:"column:size;not null"`
	// FirstID and LastID are the smallest and largest entry ID in the batch.
	FirstID int64 `gorm:"column:first_id;not null"`
	LastID  int64 `gorm:"column:last_id;not null"`
	// Root is the RFC 6962 Merkle root of the batch's leaf hashes in seal
	// order (nil for a purge header).
	Root []byte `gorm:"column:root;size:32"`
	// TreeSize and TreeRoot: the RFC 6962 tree of every leaf sealed so far
	// (TreeSize = Start+Size), whose root the checkpoints sign.
	TreeSize int64  `gorm:"column:tree_size;not null"`
	TreeRoot []byte `gorm:"column:tree_root;size:32;not null"`
	// Compact is the compact range of that tree (its right border's
	// perfect-subtree hashes, 32 bytes each, left to right): the next batch
	// extends the tree from it without reading older leaves.
	Compact []byte `gorm:"column:compact;size:2048"`
	// Prev is the hash (HeaderHash) of the header before; empty for batch 1.
	Prev []byte `gorm:"column:prev;size:32"`
	// Note is a purge header's record: which batches, how many entries, why.
	Note string `gorm:"column:note;size:1024"`
	// SealedAt is when the header was written, in Unix milliseconds (the
	// plugin's clock).
	SealedAt int64 `gorm:"column:sealed_at;not null"`
}

// headerVersion is the first byte of the header encoding.
const headerVersion = 1

// HeaderHash is the SHA-256 hash that the next header's Prev holds: of the
// version byte 0x01, Batch, Kind, Start, Size, FirstID, LastID, Root,
// TreeSize, TreeRoot, Compact, Prev, Note and SealedAt, integers as 8 bytes
// big-endian, text and byte strings as a 4-byte big-endian length and their
// bytes (docs/LEAF-ENCODING.md).
func (h *BatchHeader) HeaderHash() []byte {
	b := make([]byte, 0, 256+len(h.Compact)+len(h.Note))
	b = append(b, headerVersion)
	u64 := func(v int64) { b = binary.BigEndian.AppendUint64(b, uint64(v)) }
	str := func(s []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	u64(h.Batch)
	str([]byte(h.Kind))
	u64(h.Start)
	u64(h.Size)
	u64(h.FirstID)
	u64(h.LastID)
	str(h.Root)
	u64(h.TreeSize)
	str(h.TreeRoot)
	str(h.Compact)
	str(h.Prev)
	str([]byte(h.Note))
	u64(h.SealedAt)
	sum := sha256.Sum256(b)
	return sum[:]
}

// rangeFactory builds RFC 6962 compact ranges.
func rangeFactory() *compact.RangeFactory {
	return &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
}

// treeRange is the compact range of the tree after h (an empty range
// before the first header).
func treeRange(h *BatchHeader) (*compact.Range, error) {
	f := rangeFactory()
	if h == nil {
		return f.NewEmptyRange(0), nil
	}
	if len(h.Compact)%sha256.Size != 0 {
		return nil, fmt.Errorf("header %d: compact range of %d bytes", h.Batch, len(h.Compact))
	}
	hashes := make([][]byte, 0, len(h.Compact)/sha256.Size)
	for b := h.Compact; len(b) > 0; b = b[sha256.Size:] {
		hashes = append(hashes, b[:sha256.Size])
	}
	r, err := f.NewRange(0, uint64(h.TreeSize), hashes)
	if err != nil {
		return nil, fmt.Errorf("header %d: %w", h.Batch, err)
	}
	return r, nil
}

// rangeRoot is the root of a compact range starting at 0: the empty tree's
// root (SHA-256 of nothing) when it is empty.
func rangeRoot(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

// compactBytes concatenates a compact range's hashes.
func compactBytes(r *compact.Range) []byte {
	return bytes.Join(r.Hashes(), nil)
}
