package auditlog

import (
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// readLeafRows reads the entries matching the condition in seal order (ties,
// and unsealed entries, by ID), scanning straight into leafRow without
// GORM's reflection: the sealer and Verify read every entry once.
// limit > 0 reads at most that many.
func (p *Plugin) readLeafRows(tx *gorm.DB, limit int, cond string, args ...any) ([]leafRow, error) {
	q := tx.Table(p.cfg.table).Select(leafColumns).Where(cond, args...).Order("seal_seq, id")
	if limit > 0 {
		q = q.Limit(limit)
	}
	rows, err := q.Rows()
	if err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	defer rows.Close()
	var out []leafRow
	for rows.Next() {
		var r leafRow
		if err := r.scan(rows); err != nil {
			return nil, fmt.Errorf("read entries: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	return out, nil
}

// scan reads one row of leafColumns.
func (r *leafRow) scan(rows *sql.Rows) error {
	var repr, actor, addr, cid sql.NullString
	var seq, erased sql.NullInt64
	var at time.Time
	err := rows.Scan(&r.ID, &r.Table, &r.ObjectPK, &repr, &r.Action, &r.Changes, &actor, &addr, &cid,
		&r.Data, &r.Snapshot, &at, &seq, &r.LeafHash, &erased)
	if err != nil {
		return err
	}
	r.ObjectRepr, r.ActorID, r.RemoteAddr, r.CID = repr.String, actor.String, addr.String, cid.String
	r.CreatedAt = at
	if seq.Valid {
		r.SealSeq = &seq.Int64
	}
	if erased.Valid {
		r.ErasedBy = &erased.Int64
	}
	return nil
}
