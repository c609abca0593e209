package auditlog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"gorm.io/gorm"
)

// ProblemKind is the kind of one problem Verify found.
type ProblemKind string

// The problems Verify reports.
const (
	// ProblemEditedEntry: an entry's fields no longer hash to the leaf
	// hash it was sealed with, or it was erased without an erase entry
	// recording it.
	ProblemEditedEntry ProblemKind = "edited_entry"
	// ProblemDeletedEntry: a seal sequence number of a batch has no entry
	// (Problem.Seq names it; the entry, gone, has no ID to report).
	ProblemDeletedEntry ProblemKind = "deleted_entry"
	// ProblemInsertedEntry: an entry claims a place in the sealed log that
	// no batch gave it: a second entry at one seal sequence number, past the
	// last batch, or without a leaf hash.
	ProblemInsertedEntry ProblemKind = "inserted_entry"
	// ProblemReorderedEntry: entries of one batch are out of their sealed
	// order (the sealer numbers a batch's entries in ID order).
	ProblemReorderedEntry ProblemKind = "reordered_entry"
	// ProblemResequencedEntry: a sealed entry was moved to another batch,
	// or marked unsealed again.
	ProblemResequencedEntry ProblemKind = "resequenced_entry"
	// ProblemBatchRoot: a batch's leaves do not hash to its header's root,
	// though each entry matches its stored leaf hash: entries and their
	// leaf hashes were rewritten together.
	ProblemBatchRoot ProblemKind = "batch_root_mismatch"
	// ProblemEditedHeader: a batch header was changed: its successor's
	// Prev hash, its range or its tree no longer match.
	ProblemEditedHeader ProblemKind = "edited_header"
	// ProblemDeletedHeader: batch numbers have a gap.
	ProblemDeletedHeader ProblemKind = "deleted_header"
	// ProblemTruncated: the trusted checkpoint covers more entries or
	// headers than the database holds: the tail was cut off.
	ProblemTruncated ProblemKind = "truncated_tail"
	// ProblemCheckpointMismatch: the database's tree at the checkpoint's
	// size has another root, or its header another hash: the sealed log
	// was rewritten.
	ProblemCheckpointMismatch ProblemKind = "checkpoint_mismatch"
	// ProblemBadSignature: the checkpoint's signature does not verify.
	ProblemBadSignature ProblemKind = "bad_signature"
	// ProblemWrongOrigin: the checkpoint verifies but names another log
	// (its origin line is not VerifyOptions.Origin): a checkpoint of another
	// log signed with the same key. It is not used.
	ProblemWrongOrigin ProblemKind = "wrong_origin"
)

// Problem is one thing Verify found wrong.
type Problem struct {
	Kind ProblemKind
	// EntryID is the entry concerned, 0 when the problem is not about one
	// entry present in the table.
	EntryID int64
	// Seq is the seal sequence number concerned, -1 when none.
	Seq int64
	// Batch is the batch header concerned, 0 when none.
	Batch  int64
	Detail string
}

// String is the problem on one line: its kind, then the entry, sequence
// number and batch concerned where known, then the detail.
func (p Problem) String() string {
	s := string(p.Kind)
	if p.EntryID != 0 {
		s += fmt.Sprintf(" entry %d", p.EntryID)
	}
	if p.Seq >= 0 {
		s += fmt.Sprintf(" seq %d", p.Seq)
	}
	if p.Batch != 0 {
		s += fmt.Sprintf(" batch %d", p.Batch)
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// VerifyOptions says what Plugin.Verify checks against. The zero value
// checks the database's seal chain on its own, which proves it consistent
// but not that its tail is all there: give a checkpoint kept outside the
// database for that.
type VerifyOptions struct {
	// Checkpoint is a signed checkpoint (as Seal wrote it) trusted to be
	// authentic; Verifier checks its signature and must be set with it.
	Checkpoint []byte
	Verifier   note.Verifier
	// Origin is the log identity the checkpoint must name (its first
	// line); default the plugin's SealConfig.Origin ("auditlog/" and the
	// log table's name unless set).
	Origin string
	// MaxProblems bounds the problems listed in the report (default 1000);
	// Verify stops reading once it is reached.
	MaxProblems int
}

// VerifyReport is what Plugin.Verify checked and found.
type VerifyReport struct {
	// Batches and Entries: the seal batches and entries checked; Erased the
	// erased entries among them (checked by their stored leaf hash);
	// PurgedBatches the batches whose entries Purge removed.
	Batches, Entries, Erased, PurgedBatches int64
	// TreeSize and TreeRoot: the sealed log as recomputed.
	TreeSize int64
	TreeRoot []byte
	// Checkpoint is the trusted checkpoint, when one was given and opened.
	Checkpoint *Checkpoint
	// Problems lists what is wrong, in the order found; empty when the log
	// verifies.
	Problems []Problem
}

// Verify recomputes every sealed entry's leaf hash, every batch's Merkle
// root and tree, and every header's link to the one before, and, with
// VerifyOptions.Checkpoint, checks the tree against that checkpoint. It
// returns the report and, when anything is wrong, an error wrapping
// ErrTampered; each problem names its kind and the entry (or seal sequence
// number, or batch) concerned. Other errors (the database failing) are
// returned as they are.
//
// What it covers: the sealed entries, up to the trusted checkpoint's size
// for deletions at the tail. Entries not sealed yet are not covered.
//
// Cost: one pass over the sealed entries in seal order, in pages (the next
// page read on a second connection while the current one is hashed), plus
// one read of the purge headers; memory is bounded by the largest batch
// (SealConfig.BatchSize) and two pages, not by the log's size. It takes no
// lock and runs beside writers and sealers: it checks the batches sealed
// when it starts. A Purge running at the same time can make the batches it
// removes look deleted: run Verify after it.
func (p *Plugin) Verify(ctx context.Context, db *gorm.DB, opts VerifyOptions) (VerifyReport, error) {
	v := &verifier{p: p, tx: db.Session(&gorm.Session{NewDB: true, Context: ctx}), max: opts.MaxProblems,
		tree: rangeFactory().NewEmptyRange(0)}
	if v.max <= 0 {
		v.max = 1000
	}
	if len(opts.Checkpoint) > 0 {
		if err := v.openCheckpoint(opts); err != nil {
			return v.rep, err
		}
	}
	if err := v.run(ctx); err != nil {
		return v.rep, fmt.Errorf("auditlog: verify: %w", err)
	}
	if n := len(v.rep.Problems); n > 0 {
		return v.rep, fmt.Errorf("%w: %d problem(s), first: %s", ErrTampered, n, v.rep.Problems[0])
	}
	return v.rep, nil
}

// verifier is the state of one Verify.
type verifier struct {
	p      *Plugin
	tx     *gorm.DB
	max    int
	rep    VerifyReport
	cp     *Checkpoint
	purged map[int64]bool
	prev   *BatchHeader
	tree   *compact.Range
	erase  eraseCache
	// object, for VerifyObject: the object's sealed entries by seal
	// sequence number, not yet found in a batch; nil for Verify.
	object map[int64]*leafRow
	// stream reads the sealed entries in seal order (Verify only).
	stream *leafStream
}

func (v *verifier) full() bool { return len(v.rep.Problems) >= v.max }

func (v *verifier) problem(kind ProblemKind, id, seq, batch int64, format string, args ...any) {
	if v.full() {
		return
	}
	v.rep.Problems = append(v.rep.Problems, Problem{Kind: kind, EntryID: id, Seq: seq, Batch: batch,
		Detail: fmt.Sprintf(format, args...)})
}

func (v *verifier) openCheckpoint(opts VerifyOptions) error {
	if opts.Verifier == nil {
		return fmt.Errorf("%w: VerifyOptions.Checkpoint needs a Verifier", ErrInvalidCheckpoint)
	}
	cp, err := OpenCheckpoint(opts.Checkpoint, opts.Verifier)
	switch {
	case errors.Is(err, ErrTampered):
		v.problem(ProblemBadSignature, 0, -1, 0, "%v", err)
		return nil
	case err != nil:
		return err
	}
	if want := cmp.Or(opts.Origin, v.p.sealConfig().Origin); cp.Origin != want {
		v.problem(ProblemWrongOrigin, 0, -1, 0, "checkpoint is of log %q, not %q", cp.Origin, want)
		return nil
	}
	v.cp, v.rep.Checkpoint = &cp, &cp
	return nil
}

// run walks the headers in batch order, then the entries past the last one.
func (v *verifier) run(ctx context.Context) error {
	if !v.tx.Migrator().HasTable(v.p.headerTable()) {
		v.finish()
		if v.object != nil {
			return nil
		}
		return v.tail(-1)
	}
	if err := v.loadPurged(); err != nil {
		return err
	}
	// The headers as they are now: batches sealed while Verify runs are
	// left for the next Verify.
	last, err := v.p.lastHeader(v.tx)
	if err != nil {
		return err
	}
	lastBatch, end := int64(0), int64(0)
	if last != nil {
		lastBatch, end = last.Batch, last.TreeSize
	}
	if v.object == nil {
		v.stream = v.p.newLeafStream(ctx, v.tx, end)
		defer v.stream.close()
	}
	const page = 1000
	for after := int64(0); !v.full(); {
		if err := ctx.Err(); err != nil {
			return err
		}
		var hs []BatchHeader
		err := v.tx.Table(v.p.headerTable()).Where("batch > ? AND batch <= ?", after, lastBatch).
			Order("batch").Limit(page).Find(&hs).Error
		if err != nil {
			return fmt.Errorf("read headers: %w", err)
		}
		for i := range hs {
			if err := v.header(&hs[i]); err != nil {
				return err
			}
		}
		if len(hs) < page {
			break
		}
		after = hs[len(hs)-1].Batch
	}
	v.finish()
	if v.object != nil {
		return nil
	}
	end = -1
	if v.prev != nil {
		end = v.prev.TreeSize
	}
	return v.tail(end)
}

// loadPurged reads which batches Purge removed, from the purge headers.
func (v *verifier) loadPurged() error {
	var notes []string
	err := v.tx.Table(v.p.headerTable()).Where("kind = ?", HeaderPurge).Pluck("note", &notes).Error
	if err != nil {
		return fmt.Errorf("read purge headers: %w", err)
	}
	v.purged = map[int64]bool{}
	for _, n := range notes {
		var rec purgeRecord
		if json.Unmarshal([]byte(n), &rec) == nil {
			v.purged[rec.Batch] = true
		}
	}
	return nil
}

// finish compares the recomputed tree with the trusted checkpoint, after
// the last header: a checkpoint larger than the tree, or naming a header
// past the last, means the tail was cut off.
func (v *verifier) finish() {
	v.rep.TreeSize = int64(v.tree.End())
	v.rep.TreeRoot, _ = rangeRoot(v.tree)
	if v.cp == nil {
		return
	}
	last := int64(0)
	if v.prev != nil {
		last = v.prev.Batch
	}
	switch {
	case v.cp.Size > v.rep.TreeSize:
		v.problem(ProblemTruncated, 0, v.rep.TreeSize, 0,
			"checkpoint covers %d entries, the database %d", v.cp.Size, v.rep.TreeSize)
	case v.cp.HeadBatch > last:
		v.problem(ProblemTruncated, 0, -1, last+1, "checkpoint names header %d, the database ends at %d", v.cp.HeadBatch, last)
	case v.cp.Size == 0 && !bytes.Equal(v.cp.Root, rfc6962.DefaultHasher.EmptyRoot()):
		v.problem(ProblemCheckpointMismatch, 0, -1, 0, "checkpoint of the empty log has another root")
	}
}
