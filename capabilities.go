package auditlog

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// capabilities is what the write path needs to know about a database: the
// one place that asks which database a statement runs on. It is computed
// from the dialector's name and the clauses GORM's dialector builds for each
// statement, once per Initialize (see Plugin.capabilities).
type capabilities struct {
	dialect string
	// rowLocks: SELECT ... FOR UPDATE locks the rows it reads (PostgreSQL,
	// MySQL, MariaDB). SQLite has one writer at a time and no row locks:
	// within one transaction a read and the write after it see the same rows.
	rowLocks bool
	// updateReturning, deleteReturning: GORM builds RETURNING for UPDATE and
	// DELETE (PostgreSQL; SQLite 3.35+; DELETE only on MariaDB 10.5+, though
	// the mysql dialector lists it for UPDATE too, which MariaDB lacks).
	updateReturning, deleteReturning bool
	// deleteLimit: GORM builds ORDER BY and LIMIT for DELETE (MySQL,
	// MariaDB), so a page of a paged hard delete is one DELETE ... ORDER BY
	// key LIMIT n; elsewhere a page is the DELETE of the keys of a
	// subquery with that ORDER BY and LIMIT (deletePageSQL).
	deleteLimit bool
	// insertReturning: GORM builds RETURNING for INSERT and scans the
	// returned columns into the structs it created.
	insertReturning bool
	// lockingCTE: a CTE with FOR UPDATE is its own plan node, so one
	// statement can lock, write and return old and new values (PostgreSQL).
	lockingCTE bool
	// phantoms: a row that starts to match after the locked read can enter
	// the write (PostgreSQL READ COMMITTED; InnoDB next-key locks do not
	// cover every plan), so the write is restricted to the keys read.
	phantoms bool
	// keyWriteHint, when set, follows the table of a write restricted to
	// the keys read (an UPDATE: MySQL and MariaDB have no index hints on a
	// single-table DELETE) so that it reaches its rows through the primary
	// key only: "FORCE INDEX (PRIMARY)" on MySQL and MariaDB. Without it,
	// InnoDB may run "pk IN (...) AND deleted_at IS NULL" through a
	// secondary index (on a small table the soft-delete index looks
	// cheaper), taking that index's next-key locks after the locked read
	// took the rows by primary key, while another writer's locked read
	// takes the same index first and then the rows: two lock orders, and
	// deadlocks under concurrent writes (issue 18). Through the primary
	// key the write only revisits the rows its locked read holds. A table
	// with no PRIMARY KEY in the database (its key is GORM's only) fails the
	// hinted write (error 1176); the capture then runs it without the hint.
	keyWriteHint string
	// qualifiedReturning: RETURNING may name the written table's columns
	// qualified by its name (not SQLite, which forbids it).
	qualifiedReturning bool
	// maxParams bounds the placeholders of one statement: the key values of
	// a restriction or read-back are sent in chunks below it.
	maxParams int
	// timePrecision is the fractional digits of a time column GORM creates
	// without an explicit precision (MySQL, MariaDB: the dialector's
	// DefaultDatetimePrecision, 3 unless configured); timeTruncates, that
	// the server cuts off finer digits (MariaDB; MySQL rounds, or truncates
	// under TIME_TRUNCATE_FRACTIONAL: unknown).
	timePrecision int
	timeTruncates bool
	// rangePartitions: tables can be range-partitioned (PostgreSQL's
	// declarative partitioning), so WithMonthlyPartitions applies.
	rangePartitions bool
}

func newCapabilities(db *gorm.DB) capabilities {
	name := db.Dialector.Name()
	cb := db.Callback()
	c := capabilities{
		dialect:         name,
		updateReturning: slices.Contains(cb.Update().Clauses, "RETURNING"),
		deleteReturning: slices.Contains(cb.Delete().Clauses, "RETURNING"),
		deleteLimit:     slices.Contains(cb.Delete().Clauses, "LIMIT"),
		insertReturning: slices.Contains(cb.Create().Clauses, "RETURNING"),
		maxParams:       maxKeyParams,
	}
	switch name {
	case "postgres":
		c.rowLocks, c.lockingCTE, c.phantoms, c.qualifiedReturning = true, true, true, true
		c.lockingCTE = c.updateReturning && c.deleteReturning
		c.rangePartitions = true
	case "sqlite":
	case "mysql":
		c.rowLocks, c.phantoms = true, true
		c.keyWriteHint = "FORCE INDEX (PRIMARY)"
		c.updateReturning = false // MariaDB has INSERT and DELETE RETURNING only
		version, _ := dialectorField(db.Dialector, "ServerVersion").(string)
		c.timeTruncates = strings.Contains(version, "MariaDB")
		c.timePrecision = 3
		if p, ok := dialectorField(db.Dialector, "DefaultDatetimePrecision").(*int); ok && p != nil {
			c.timePrecision = *p
		}
		if off, _ := dialectorField(db.Dialector, "DisableDatetimePrecision").(bool); off {
			c.timePrecision = 0
		}
	default:
		// An unknown database: lock and restrict, read everything back.
		c.rowLocks, c.phantoms = true, true
		c.updateReturning, c.deleteReturning, c.insertReturning = false, false, false
	}
	return c
}

// maxKeyParams bounds the primary-key values of one IN list: below SQLite's
// 32766 parameters, leaving room for the statement's own.
const maxKeyParams = 30000

// capabilities returns the capabilities of db's database: those computed at
// Initialize, or, for a database the plugin was not initialized on (one
// Plugin used through several *gorm.DB of different dialects), computed now.
func (p *Plugin) capabilities(db *gorm.DB) capabilities {
	p.mu.RLock()
	c := p.caps
	p.mu.RUnlock()
	if c.dialect == db.Dialector.Name() {
		return c
	}
	return newCapabilities(db)
}

// storedTimeDigits says how much of a time value GORM sends survives the
// round trip to the field's column, as checked on each database: SQLite
// (mattn) stores the text with nanoseconds; pgx sends microseconds
// (truncating) to GORM's default timestamptz column; MySQL and MariaDB keep
// the column's precision (datetime(3) by default), MariaDB truncating finer
// digits and MySQL rounding them. An explicit column type makes the stored
// form unknown (except on SQLite), as does an unknown database. truncates
// reports that digits beyond are cut off, so the stored value is known.
func (c capabilities) storedTimeDigits(f *schema.Field) (digits int, truncates bool) {
	if f.DataType != schema.Time && f.GORMDataType != schema.Time {
		return notTime, false
	}
	_, typed := f.TagSettings["TYPE"]
	switch c.dialect {
	case "sqlite":
		return 9, true
	case "postgres":
		if typed || (f.Precision != 0 && f.Precision != 6) {
			return unknownTime, false
		}
		return 6, true
	case "mysql":
		if typed {
			return unknownTime, false
		}
		if f.Precision != 0 {
			return f.Precision, c.timeTruncates
		}
		return c.timePrecision, c.timeTruncates
	}
	return unknownTime, false
}

// dialectorField is the value of an exported field of the dialector's
// struct (the mysql driver's ServerVersion and datetime settings), read
// without importing the driver; nil when there is no such field.
func dialectorField(d gorm.Dialector, name string) any {
	v := reflect.Indirect(reflect.ValueOf(d))
	if v.Kind() != reflect.Struct {
		return nil
	}
	sf, ok := v.Type().FieldByName(name)
	if !ok || !sf.IsExported() {
		return nil
	}
	f, err := v.FieldByIndexErr(sf.Index)
	if err != nil {
		return nil
	}
	return f.Interface()
}

// jsonColumnType is the type of the log table's JSON columns: jsonb on
// PostgreSQL, JSON on MySQL (an alias of LONGTEXT with a validity check on
// MariaDB), text elsewhere.
func (c capabilities) jsonColumnType() string {
	switch c.dialect {
	case "postgres":
		return "jsonb"
	case "mysql":
		return "JSON"
	}
	return "text"
}

// changedField is the condition that an entry's changes name column, in the
// JSON functions of the database. A row whose changes are not valid JSON
// (SQLite stores text as it comes; MySQL's JSON type checks it, MariaDB's
// only where its CHECK constraint exists) matches, so that the reader lists
// it as corrupt instead of the database failing the whole query.
func (c capabilities) changedField(column string) clause.Expression {
	changes := clause.Column{Name: "changes"}
	switch c.dialect {
	case "postgres":
		return clause.Expr{SQL: "jsonb_exists(?, ?)", Vars: []any{changes, column}}
	case "mysql":
		return clause.Expr{SQL: "CASE WHEN ? IS NULL THEN 0 WHEN JSON_VALID(?) THEN JSON_CONTAINS_PATH(?, 'one', ?) ELSE 1 END",
			Vars: []any{changes, changes, changes, jsonPath(column)}}
	}
	return clause.Expr{SQL: "CASE WHEN ? IS NULL THEN 0 WHEN json_valid(?) THEN json_type(?, ?) IS NOT NULL ELSE 1 END",
		Vars: []any{changes, changes, changes, jsonPath(column)}}
}

// textIn is the condition that a text column of the log holds one of
// values, compared exactly: byte for byte, case and trailing spaces
// included. PostgreSQL and SQLite compare text that way; MySQL's and
// MariaDB's default collations (utf8mb4_general_ci and its kin) ignore case
// and trailing spaces, so there the column is compared again as binary. The
// collation's comparison stays in front so that the index on the column
// still finds the rows; the binary one filters them.
func (c capabilities) textIn(column string, values []string) clause.Expression {
	col := clause.Column{Name: column}
	vals := anySlice(values)
	var cond clause.Expression = clause.IN{Column: col, Values: vals}
	if len(values) == 1 {
		cond = clause.Eq{Column: col, Value: values[0]}
	}
	if c.dialect != "mysql" {
		return cond
	}
	return clause.And(cond, clause.Expr{SQL: "CAST(? AS BINARY) IN ?", Vars: []any{col, vals}})
}

// contains is the condition that a text column of the log contains text,
// ignoring case: LOWER(column) LIKE LOWER(pattern), with the pattern's
// wildcards escaped by '!' (not a backslash, which MySQL's string literals
// would themselves unescape). LOWER folds ASCII letters only on SQLite; on
// PostgreSQL and MySQL it follows the database's locale or collation.
func (c capabilities) contains(column, text string) clause.Expression {
	escaped := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(text)
	return clause.Expr{SQL: "LOWER(?) LIKE LOWER(?) ESCAPE '!'",
		Vars: []any{clause.Column{Name: column}, "%" + escaped + "%"}}
}

// timeBound is t as a bound of a comparison with a stored time, rounded up
// to what the driver sends: pgx and MySQL's protocol carry microseconds and
// drop finer digits, so a bound of 12:00:00.0000001 would arrive as
// 12:00:00 and let "CreatedAt >= Since" take an entry of 12:00:00. A stored
// time has at most microseconds there, so rounding the bound up keeps both
// ">= bound" and "< bound" exact. SQLite compares the nanosecond text.
func (c capabilities) timeBound(t time.Time) time.Time {
	t = t.UTC()
	if c.dialect == "sqlite" {
		return t
	}
	if r := t.Truncate(time.Microsecond); r.Before(t) {
		return r.Add(time.Microsecond)
	}
	return t
}

// missingPrimaryIndex reports whether err is MySQL's 1176 "Key 'PRIMARY'
// doesn't exist": keyWriteHint named the primary key of a table that has
// none in the database (its key is GORM's only).
func (c capabilities) missingPrimaryIndex(err error) bool {
	msg := err.Error()
	return c.dialect == "mysql" && strings.Contains(msg, "1176") && strings.Contains(msg, "PRIMARY")
}

// missingTable reports whether err is the database's "no such table" error
// for table, by its message (the root package imports no driver):
// PostgreSQL's 42P01 "relation ... does not exist", MySQL's 1146 "Table
// ... doesn't exist", SQLite's "no such table".
func (c capabilities) missingTable(err error, table string) bool {
	msg := err.Error()
	if !strings.Contains(msg, table) {
		return false
	}
	switch c.dialect {
	case "postgres":
		return strings.Contains(msg, "42P01")
	case "mysql":
		return strings.Contains(msg, "1146")
	case "sqlite":
		return strings.Contains(msg, "no such table")
	}
	return false
}

// sealLock is how one sealer at a time is ensured (Plugin.Seal).
type sealLock int

const (
	// sealLockTx: the seal's transaction itself excludes other writers
	// (SQLite has one writer at a time).
	sealLockTx sealLock = iota
	// sealLockAdvisory: pg_advisory_xact_lock, held until the transaction ends.
	sealLockAdvisory
	// sealLockNamed: GET_LOCK on a connection of its own, released after
	// the transaction commits (MySQL, MariaDB).
	sealLockNamed
)

// sealLock says how this database keeps sealers apart.
func (c capabilities) sealLock() sealLock {
	switch c.dialect {
	case "postgres":
		return sealLockAdvisory
	case "mysql":
		return sealLockNamed
	}
	return sealLockTx
}

// sealInsertRows is how many seal rows one writeSealInsert statement
// inserts: all of a batch on PostgreSQL (three array parameters), else a
// thousand (three placeholders each).
func (c capabilities) sealInsertRows() int {
	if c.dialect == "postgres" {
		return maxSealBatch
	}
	return 1000
}

// writeSealInsert writes the statement that inserts the seal rows
// (seal_seq, entry_id, leaf_hash) of rows into the seal table: a multi-row
// INSERT, on PostgreSQL one over three unnested array parameters (one short
// statement to parse, whatever the batch size).
func (c capabilities) writeSealInsert(st *gorm.Statement, table string, rows []leafRow) {
	st.WriteString("INSERT INTO ")
	st.WriteQuoted(table)
	st.WriteString(" (seal_seq, entry_id, leaf_hash) ")
	if c.dialect == "postgres" {
		ids, seqs, hashes := make([]int64, len(rows)), make([]int64, len(rows)), make([][]byte, len(rows))
		for i := range rows {
			ids[i], seqs[i], hashes[i] = rows[i].ID, *rows[i].SealSeq, rows[i].LeafHash
		}
		st.WriteString("SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])")
		st.Vars = append(st.Vars, seqs, ids, hashes)
		return
	}
	st.WriteString("VALUES ")
	for i := range rows {
		if i > 0 {
			st.WriteByte(',')
		}
		st.WriteByte('(')
		st.AddVar(st, *rows[i].SealSeq)
		st.WriteByte(',')
		st.AddVar(st, rows[i].ID)
		st.WriteByte(',')
		st.AddVar(st, rows[i].LeafHash)
		st.WriteByte(')')
	}
}

// sealGapTimeout: on MySQL and MariaDB without the PROCESS privilege
// (information_schema.innodb_trx unreadable), a seal watermark candidate
// counts as settled this long after it was taken.
const sealGapTimeout = 10 * time.Minute

// sealMark is taken right after the read of the largest visible log ID,
// a candidate for the seal watermark (see sealState); sealSettled reports,
// at a later Seal, whether every transaction that could then hold a
// smaller ID has ended, so that each such ID is visible or never will be.
// The reasoning is the relay's (relay/settle.go, package doc "Late
// commits"): on PostgreSQL the snapshot's xmax, settled once a later
// snapshot's xmin reaches it; on MySQL and MariaDB the server time, settled
// once no InnoDB transaction started before it is still open (at least
// 250ms later: innodb_trx is a cache refreshed after 100ms; the mark,
// NOW(6), and trx_started are compared as the server shows them to the
// session, both in its time zone); on SQLite, whose one writer commits in
// ID order, at once.
func (c capabilities) sealMark(tx *gorm.DB) (string, error) {
	var s string
	var err error
	switch c.dialect {
	case "postgres":
		// The xmax, and the virtual transaction IDs of every other
		// transaction open now: a transaction that drew an ID before it
		// had a transaction ID (its first write is the entry's INSERT:
		// nextval runs before the row is stored) is in no snapshot, but
		// holds its virtual ID from its start.
		err = tx.Raw(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text || ':' ||
			coalesce((SELECT string_agg(virtualxid, ',') FROM pg_catalog.pg_locks
			 WHERE locktype = 'virtualxid' AND pid <> pg_backend_pid()), '')`).Scan(&s).Error
	case "mysql":
		err = tx.Raw("SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')").Scan(&s).Error
	}
	return s, err
}

// sealSettled: see sealMark.
func (c capabilities) sealSettled(tx *gorm.DB, token string) (bool, error) {
	switch c.dialect {
	case "postgres":
		return pgSealSettled(tx, token)
	case "mysql":
		var age int64
		if err := tx.Raw("SELECT TIMESTAMPDIFF(MICROSECOND, ?, NOW(6))", token).Scan(&age).Error; err != nil {
			return false, err
		}
		if age < 250_000 {
			return false, nil
		}
		var open int64
		err := tx.Raw("SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_started <= ?", token).Scan(&open).Error
		if err != nil { // no PROCESS privilege: the bounded wait
			return age >= sealGapTimeout.Microseconds(), nil
		}
		return open == 0, nil
	}
	return true, nil
}

// pgSealSettled: see sealMark. A token of an earlier build is the xmax
// alone.
func pgSealSettled(tx *gorm.DB, token string) (bool, error) {
	xmax, vxids, _ := strings.Cut(token, ":")
	var xmin string
	if err := tx.Raw("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").Scan(&xmin).Error; err != nil {
		return false, err
	}
	a, errA := strconv.ParseUint(xmin, 10, 64)
	b, errB := strconv.ParseUint(xmax, 10, 64)
	if errA != nil || errB != nil {
		return false, fmt.Errorf("seal state: xid8 %q, %q", xmin, xmax)
	}
	if a < b || vxids == "" {
		return a >= b, nil
	}
	var open int64
	err := tx.Raw(`SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'virtualxid'
		AND virtualxid = ANY(string_to_array(?, ','))`, vxids).Scan(&open).Error
	return open == 0, err
}
