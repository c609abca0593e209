package auditlog

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// leafSource is what readLeafRows reads.
type leafSource int

const (
	// sealedLeaves: the seal table joined to the log, in seal order: the
	// sealed entries still in the log (cond on s.seal_seq or e.id; for a
	// range of seal sequence numbers, readSealedPage plans better).
	sealedLeaves leafSource = iota
	// entryLeaves: the log joined to the seal table where it has a row, in
	// ID order: entries by ID, sealed or not (cond on e.id).
	entryLeaves
)

// readLeafRows reads the entries of src matching cond, scanning straight
// into leafRow without GORM's reflection: the sealer and Verify read every
// entry once. The log is aliased e, the seal table s.
func (p *Plugin) readLeafRows(tx *gorm.DB, src leafSource, cond string, args ...any) ([]leafRow, error) {
	log, seals := clause.Table{Name: p.cfg.table}, clause.Table{Name: p.sealTable()}
	if src == sealedLeaves {
		q := "SELECT " + leafSelect + " FROM ? s JOIN ? e ON e.id = s.entry_id WHERE " + cond + " ORDER BY s.seal_seq"
		return queryLeafRows(tx, false, q, append([]any{seals, log}, args...)...)
	}
	q := "SELECT " + leafSelect + " FROM ? e LEFT JOIN ? s ON s.entry_id = e.id WHERE " + cond + " ORDER BY e.id"
	return queryLeafRows(tx, false, q, append([]any{log, seals}, args...)...)
}

// readUnsealed reads up to limit entries with IDs above cursor that have
// no seal row, in ID order: an anti-join that walks the log's primary key
// and the seal table's entry_id index from cursor on (both bounded, so that
// a merge join does not start at the first entry ever sealed).
func (p *Plugin) readUnsealed(tx *gorm.DB, cursor int64, limit int) ([]leafRow, error) {
	q := "SELECT " + unsealedSelect + " FROM ? e WHERE e.id > ? AND NOT EXISTS " +
		"(SELECT 1 FROM ? s WHERE s.entry_id = e.id AND s.entry_id > ?) ORDER BY e.id LIMIT ?"
	return queryLeafRows(tx, false, q, clause.Table{Name: p.cfg.table}, cursor, clause.Table{Name: p.sealTable()}, cursor, limit)
}

// readSealedPage reads the sealed entries of seal sequence lo..hi-1 still
// in the log, in seal order: the seal rows, then their entries by ID
// (idCond), in two statements (a join is planned as a merge join over the
// whole log).
func (p *Plugin) readSealedPage(tx *gorm.DB, lo, hi int64) ([]leafRow, error) {
	seals, err := p.readSealRows(tx, lo, hi)
	if err != nil || len(seals) == 0 {
		return nil, err
	}
	ids := make([]int64, len(seals))
	for i := range seals {
		ids[i] = seals[i].EntryID
	}
	cond, args := idCond(ids)
	q := "SELECT " + unsealedSelect + " FROM ? e WHERE " + cond
	rows, err := queryLeafRows(tx, true, q, append([]any{clause.Table{Name: p.cfg.table}}, args...)...)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]int, len(rows))
	for i := range rows {
		byID[rows[i].ID] = i
	}
	out := make([]leafRow, 0, len(rows))
	for i := range seals {
		if j, ok := byID[seals[i].EntryID]; ok {
			r := rows[j]
			r.SealSeq, r.LeafHash = &seals[i].SealSeq, seals[i].LeafHash
			out = append(out, r)
		}
	}
	return out, nil
}

// readSealRows reads the seal rows of seal sequence lo..hi-1 in order.
func (p *Plugin) readSealRows(tx *gorm.DB, lo, hi int64) ([]sealRow, error) {
	rows, err := tx.Raw("SELECT seal_seq, entry_id, leaf_hash FROM ? WHERE seal_seq >= ? AND seal_seq < ? ORDER BY seal_seq",
		clause.Table{Name: p.sealTable()}, lo, hi).Rows()
	if err != nil {
		return nil, fmt.Errorf("read seal rows: %w", err)
	}
	defer rows.Close()
	var out []sealRow
	for rows.Next() {
		var r sealRow
		if err := rows.Scan(&r.SealSeq, &r.EntryID, &r.LeafHash); err != nil {
			return nil, fmt.Errorf("read seal rows: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read seal rows: %w", err)
	}
	return out, nil
}

// idRun is the least number of IDs close together that idCond reads as a
// range; idRunGap the largest gap within one.
const (
	idRun    = 64
	idRunGap = 64
)

// idCond is a condition on e.id matching ids (and maybe more IDs, which the
// caller drops): ranges for runs of IDs close together, the sealed log's
// usual shape, which read as index range scans; the rest in an IN list.
// More than 16 ranges: all in the IN list.
func idCond(ids []int64) (string, []any) {
	ids = slices.Sorted(slices.Values(ids))
	var conds []string
	var args []any
	var single []int64
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j]-ids[j-1] <= idRunGap {
			j++
		}
		if j-i >= idRun {
			conds, args = append(conds, "(e.id >= ? AND e.id <= ?)"), append(args, ids[i], ids[j-1])
		} else {
			single = append(single, ids[i:j]...)
		}
		i = j
	}
	if len(conds) > 16 {
		return "e.id IN ?", []any{ids}
	}
	if len(single) > 0 {
		conds, args = append(conds, "e.id IN ?"), append(args, single)
	}
	return strings.Join(conds, " OR "), args
}

// queryLeafRows runs q and scans its rows of leafSelect's columns; with
// hash, it computes the leaf hash of each entry not erased (leafRow.computed)
// as it is scanned, while the database sends the next rows.
func queryLeafRows(tx *gorm.DB, hash bool, q string, args ...any) ([]leafRow, error) {
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	defer rows.Close()
	var out []leafRow
	var buf []byte
	for rows.Next() {
		var r leafRow
		if err := r.scan(rows); err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		if hash && r.ErasedBy == nil {
			var sum [32]byte
			sum, buf = leafHash(buf, &r)
			r.computed = sum[:]
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	return out, nil
}

// scan reads one row of leafSelect's columns.
func (r *leafRow) scan(rows *sql.Rows) error {
	var repr, actor, addr, cid, parentTable, parentPK sql.NullString
	var seq, erased sql.NullInt64
	var at time.Time
	err := rows.Scan(&r.ID, &r.Table, &r.ObjectPK, &repr, &r.Action, &r.Changes, &actor, &addr, &cid,
		&r.Data, &r.Snapshot, &at, &parentTable, &parentPK, &seq, &r.LeafHash, &erased)
	if err != nil {
		return err
	}
	r.ObjectRepr, r.ActorID, r.RemoteAddr, r.CID = repr.String, actor.String, addr.String, cid.String
	r.ParentTable, r.ParentPK = parentTable.String, parentPK.String
	r.CreatedAt = at
	if seq.Valid {
		r.SealSeq = &seq.Int64
	}
	if erased.Valid {
		r.ErasedBy = &erased.Int64
	}
	return nil
}

// leafStream reads the sealed entries of seal sequence 0..end-1 in seal
// order, a page at a time. Outside a transaction it reads up to
// streamAhead pages ahead, each on a goroutine and a connection of the
// pool of its own, hashing their leaves as they are scanned, so that the
// database's work on one page, the hashing of another and the checking
// overlap; pages are handed over in order. In a transaction, whose one
// connection takes one query at a time, it reads when asked. close stops
// the goroutines and waits for them.
type leafStream struct {
	p      *Plugin
	tx     *gorm.DB
	end    int64
	lo     int64              // next page to read, synchronous mode
	pages  chan chan leafPage // in page order, each filled by its reader
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cur    []leafRow
}

// streamAhead is how many pages leafStream reads at once.
const streamAhead = 2

type leafPage struct {
	rows []leafRow
	err  error
}

func (p *Plugin) newLeafStream(ctx context.Context, tx *gorm.DB, end int64) *leafStream {
	s := &leafStream{p: p, tx: tx, end: end}
	if _, inTx := tx.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return s
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.pages = make(chan chan leafPage, streamAhead-1)
	tx = tx.WithContext(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.pages)
		for lo := int64(0); lo < end; lo += verifyPage {
			pg := make(chan leafPage, 1)
			select {
			case s.pages <- pg:
			case <-ctx.Done():
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				rows, err := p.readSealedPage(tx, lo, min(lo+verifyPage, end)) // hashed as read
				pg <- leafPage{rows, err}
			}()
		}
	}()
	return s
}

// next returns the next entry in seal order if its seal sequence number is
// below end, else nil (the entry stays for the next call).
func (s *leafStream) next(end int64) (*leafRow, error) {
	for len(s.cur) == 0 {
		pg, ok := s.page()
		if !ok {
			return nil, nil
		}
		if pg.err != nil {
			return nil, pg.err
		}
		s.cur = pg.rows
	}
	if r := &s.cur[0]; *r.SealSeq < end {
		s.cur = s.cur[1:]
		return r, nil
	}
	return nil, nil
}

func (s *leafStream) page() (leafPage, bool) {
	if s.pages != nil {
		pg, ok := <-s.pages
		if !ok {
			return leafPage{}, false
		}
		return <-pg, true
	}
	if s.lo >= s.end {
		return leafPage{}, false
	}
	lo := s.lo
	s.lo += verifyPage
	rows, err := s.p.readSealedPage(s.tx, lo, min(lo+verifyPage, s.end))
	return leafPage{rows, err}, true
}

func (s *leafStream) close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	for range s.pages { //nolint:revive // drain so the dispatcher ends
	}
	s.wg.Wait()
}
