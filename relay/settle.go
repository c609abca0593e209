package relay

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// settler decides when a gap in the IDs is settled: when every transaction
// that could hold a missing ID has ended. mark is called right after the
// read that saw the gap; settled before a later read. This file is the only
// place of the package that asks which database it runs on (see the
// package doc, "Late commits").
type settler interface {
	mark(db *gorm.DB) (any, error)
	settled(db *gorm.DB, token any) (bool, error)
}

func newSettler(db *gorm.DB, gapTimeout time.Duration) settler {
	switch db.Dialector.Name() {
	case "sqlite":
		return sqliteSettler{}
	case "postgres":
		return pgSettler{}
	default:
		return innodbSettler{timeout: gapTimeout, now: time.Now}
	}
}

// sqliteSettler: one writer at a time, transactions commit in ID order; a
// gap visible now is never filled.
type sqliteSettler struct{}

func (sqliteSettler) mark(*gorm.DB) (any, error)          { return nil, nil }
func (sqliteSettler) settled(*gorm.DB, any) (bool, error) { return true, nil }

// pgSettler: the gap is settled once the snapshot xmin has passed the xmax
// of the snapshot taken when the gap was seen, and none of the virtual
// transactions open then is still open. xid8 values are 64-bit
// epoch-extended transaction IDs: compared as integers, no wraparound. The
// virtual transactions cover a transaction that drew a log ID before it had
// a transaction ID (its first write is the entry's INSERT, whose nextval
// runs before its row is stored): it is in no snapshot, but holds its
// virtual transaction ID from its start.
type pgSettler struct{}

type pgMark struct {
	xmax  uint64
	vxids string // comma-separated
}

func (pgSettler) mark(db *gorm.DB) (any, error) {
	xmax, err := pgXid8(db, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
	if err != nil {
		return nil, err
	}
	var vxids string
	err = db.Raw(`SELECT coalesce(string_agg(virtualxid, ','), '') FROM pg_catalog.pg_locks
		WHERE locktype = 'virtualxid' AND pid <> pg_backend_pid()`).Scan(&vxids).Error
	return pgMark{xmax, vxids}, err
}

func (pgSettler) settled(db *gorm.DB, token any) (bool, error) {
	m := token.(pgMark)
	xmin, err := pgXid8(db, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
	if err != nil || xmin < m.xmax || m.vxids == "" {
		return err == nil && xmin >= m.xmax, err
	}
	var open int64
	err = db.Raw(`SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'virtualxid'
		AND virtualxid = ANY(string_to_array(?, ','))`, m.vxids).Scan(&open).Error
	return open == 0, err
}

func pgXid8(db *gorm.DB, query string) (uint64, error) {
	var s string
	if err := db.Raw(query).Scan(&s).Error; err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("xid8 %q: %w", s, err)
	}
	return v, nil
}

// innodbSettler (MySQL, MariaDB): the gap is settled once none of the
// InnoDB transactions open when it was seen is still open. InnoDB serves
// information_schema.innodb_trx from a cache it refreshes only when nobody
// read it for 100ms, so the relay reads it at most every innodbCacheAge,
// the first time innodbCacheAge after the gap was seen: a transaction that
// began before is in that list. (A monitoring tool reading innodb_trx more
// often than every 100ms would keep the cache stale: the risk is documented
// in the package doc.) When innodb_trx cannot be read, the gap settles
// after the timeout.
type innodbSettler struct {
	timeout time.Duration
	now     func() time.Time
}

// innodbCacheAge exceeds InnoDB's I_S cache refresh interval (100ms).
const innodbCacheAge = 250 * time.Millisecond

type innodbMark struct {
	at     time.Time
	last   time.Time // the last read of innodb_trx
	listed bool
	trx    []string
}

func (s innodbSettler) mark(*gorm.DB) (any, error) {
	return &innodbMark{at: s.now()}, nil
}

func (s innodbSettler) settled(db *gorm.DB, token any) (bool, error) {
	m := token.(*innodbMark)
	now := s.now()
	age := now.Sub(m.at)
	if age < innodbCacheAge || now.Sub(m.last) < innodbCacheAge {
		return false, nil
	}
	m.last = now
	open, err := innodbTrx(db)
	if err != nil { // no PROCESS privilege: the bounded wait
		return age >= s.timeout, nil
	}
	if !m.listed {
		m.trx, m.listed = open, true
		return len(open) == 0, nil
	}
	for _, id := range m.trx {
		if slices.Contains(open, id) {
			return false, nil
		}
	}
	return true, nil
}

func innodbTrx(db *gorm.DB) ([]string, error) {
	var ids []string
	err := db.Raw("SELECT CAST(trx_id AS CHAR) FROM information_schema.innodb_trx").Scan(&ids).Error
	return ids, err
}
