package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// DefaultPageSize is the number of entries Find returns when Query.Limit is
// zero; MaxPageSize is the most it returns.
const (
	DefaultPageSize = 100
	MaxPageSize     = 10000
)

// Query selects log entries for Plugin.Find. Every filter that is set must
// match; the zero Query selects every entry, newest first.
type Query struct {
	// Model selects the entries of one model's table: a pointer to a model
	// struct such as &Invoice{}, registered or not.
	Model any
	// Table selects the entries of a table by name, for callers without the
	// Go type (the command-line tool). It must agree with Model if both are set.
	Table string
	// Tables selects the entries of any of these tables (the web view's
	// several models, or the tables a viewer may see). With Table or Model
	// too, an entry must match both.
	Tables []string
	// Objects selects the entries of these objects: pointers to structs of
	// one model with their primary keys set, or a pointer to a slice of them.
	// Model may be left out.
	Objects any
	// IDs selects entries by their LogEntry.ID (the primary key).
	IDs []int64
	// ObjectPKs selects objects of Model or Table by their LogEntry.ObjectPK text.
	ObjectPKs []string
	// Actors, Actions: entries by any of these actors, of any of these actions.
	Actors  []string
	Actions []Action
	// CID selects the entries of one correlation id.
	CID string
	// Since and Until bound CreatedAt: Since <= CreatedAt < Until. A zero
	// time leaves that side open.
	Since, Until time.Time
	// ReprContains selects entries whose ObjectRepr contains this text,
	// ignoring case (ASCII letters on SQLite; the collation's rules on
	// MySQL). It is a LIKE '%...%' over the rows the other filters find:
	// no index serves it, so pair it with a filter that narrows the rows.
	ReprContains string
	// Field selects entries whose Changes include this field (a Go field name
	// or column of Model, or a column of Table).
	Field string
	// Oldest orders entries oldest first; by default they come newest first.
	// Ties in CreatedAt are ordered by ID the same way.
	Oldest bool
	// Limit is the page size: DefaultPageSize when zero, at most MaxPageSize.
	Limit int
	// Cursor continues after the last page: Page.Next of the same query.
	Cursor string
	// Children also selects the entries of the children of the objects
	// (Objects, or ObjectPKs with Model or Table): entries of models
	// registered with Parent whose parent is one of them, in the same
	// (CreatedAt, ID) order and pages as the objects' own entries. It needs
	// objects and cannot be combined with Field. A page costs one query
	// of two index range scans, (table, object pk, created at, id) and
	// (parent table, parent pk, created at, id), each of at most Limit+1
	// rows, merged by the database.
	Children bool
}

// Page is one page of entries found by Plugin.Find.
type Page struct {
	Entries []LogEntry
	// Next is the cursor of the following page; "" when this is the last.
	Next string
	// Prev is the cursor of the preceding page (the entries before the
	// first of this one, in the query's order), given as Query.Cursor to
	// the same query; "" on the first page. A page reached by Prev has a
	// Prev only when entries come before it, and always a Next.
	Prev string
	// Corrupt lists the IDs of rows on this page whose stored JSON could not
	// be decoded. They are left out of Entries; the rest is intact.
	Corrupt []int64
}

// CorruptEntriesError reports log rows whose stored JSON (changes, data or
// snapshot) could not be decoded. The policy, the same for every reader
// (decodeEntries): a read that lists entries skips a corrupt row and reports
// its ID — Find in Page.Corrupt, History in a *CorruptEntriesError returned
// with the other entries; a read that replays entries, StateAt, Revert and
// Undo, fails with a *CorruptEntriesError when a row's changes or snapshot
// are corrupt, since a state computed without the row would be wrong (they
// do not read data).
type CorruptEntriesError struct {
	IDs []int64
}

func (e *CorruptEntriesError) Error() string {
	ids := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		ids[i] = fmt.Sprint(id)
	}
	return "auditlog: corrupt log entries skipped: IDs " + strings.Join(ids, ", ")
}

// Find returns one page of the entries selected by q, in (CreatedAt, ID)
// order, newest first unless q.Oldest. Continue with q.Cursor = page.Next:
// the keyset cursor is the position of the last entry returned, so pages
// neither repeat nor skip entries when others are inserted meanwhile.
//
// Each filter combination is served by an index of the log table: per
// object (table, object pk, created at, id), per model (table, created at,
// id), per actor (actor, created at, id), per correlation id (cid, created
// at, id), and by time (created at, id). Actions and Field filter the rows
// those indexes find. A page costs one query of at most Limit+1 rows.
//
// Entries of a model registered with LogTable are read from its log table
// when q names the model (Model, Objects, Table, Tables); a query that names
// none reads every log table (Plugin.LogTables) in the same query, a UNION
// ALL of one limited index scan per table, merged in (CreatedAt, ID, table)
// order: at most Limit+1 rows per table.
//
// It returns an error wrapping ErrInvalidQuery, ErrInvalidCursor,
// ErrInvalidModel, ErrNoObjectKey or ErrUnknownField for a bad query, or the
// database's error. Rows with corrupt JSON are skipped and listed in
// Page.Corrupt, never a failure.
func (p *Plugin) Find(ctx context.Context, db *gorm.DB, q Query) (Page, error) {
	tx := db.Session(&gorm.Session{NewDB: true, Context: ctx})
	f, err := p.compile(tx, q)
	if err != nil {
		return Page{}, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return Page{}, err
	}
	var c cursor
	var after *cursor
	if q.Cursor != "" {
		if c, err = f.decodeCursor(q.Cursor); err != nil {
			return Page{}, err
		}
		// A backward cursor reads the rows before it: those after it in
		// the reverse order, reversed again below.
		after = &c
	}
	rows, err := f.find(tx, after, q.Oldest != c.backward, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("auditlog: find entries: %w", err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if c.backward {
		slices.Reverse(rows)
	}
	var page Page
	if n := len(rows); n > 0 {
		if more || c.backward {
			last := rows[n-1]
			page.Next = f.encodeCursor(cursor{at: last.Stored.CreatedAt, id: last.Stored.ID, source: last.Source})
		}
		if more && c.backward || q.Cursor != "" && !c.backward {
			first := rows[0]
			page.Prev = f.encodeCursor(cursor{at: first.Stored.CreatedAt, id: first.Stored.ID, source: first.Source, backward: true})
		}
	}
	page.Entries, page.Corrupt = decodeSourced(rows)
	return page, nil
}

// pageLimit is the page size of Query.Limit.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPageSize, nil
	case limit < 0:
		return 0, fmt.Errorf("%w: negative limit %d", ErrInvalidQuery, limit)
	}
	return min(limit, MaxPageSize), nil
}

func entryOrder(oldest bool) clause.OrderBy {
	return clause.OrderBy{Columns: []clause.OrderByColumn{
		{Column: clause.Column{Name: "created_at"}, Desc: !oldest},
		{Column: clause.Column{Name: "id"}, Desc: !oldest},
	}}
}

// filters is a validated query: its WHERE conditions and a fingerprint that
// ties cursors to it.
type filters struct {
	conds       []clause.Expression
	fingerprint uint64
	schema      *schema.Schema // the model, when the query names one
	// sources are where the entries are read (see rows): one log table,
	// or several read as one stream, each with its own condition.
	sources []source
}

func (f *filters) apply(tx *gorm.DB) *gorm.DB {
	for _, c := range f.conds {
		tx = tx.Where(c)
	}
	return tx
}

// compile validates q and turns it into conditions.
func (p *Plugin) compile(tx *gorm.DB, q Query) (*filters, error) {
	f := &filters{}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, fmt.Errorf("%w: time range from %s to %s is empty or reversed", ErrInvalidQuery,
			q.Since.Format(time.RFC3339Nano), q.Until.Format(time.RFC3339Nano))
	}
	s, table, pks, err := queryTarget(tx, q)
	if err != nil {
		return nil, err
	}
	column, err := fieldColumn(tx, s, table, q.Field)
	if err != nil {
		return nil, err
	}
	for _, a := range q.Actions {
		if err := validActionName(a); err != nil {
			return nil, err
		}
	}
	if err := checkChildren(q, table, pks); err != nil {
		return nil, err
	}
	caps := p.capabilities(tx)
	f.addConditions(caps, q, table, pks, column)
	f.schema = s
	f.sources = p.sources(tx, caps, q, s, table, pks)

	// The fingerprint covers everything that decides which rows come in
	// which order, so that a cursor cannot be replayed on another query.
	h := fnv.New64a()
	enc := json.NewEncoder(h)
	parts := []any{p.cfg.table, table, q.Tables, q.ReprContains, q.IDs, pks, q.Actors, q.Actions, q.CID,
		q.Since.UTC().Format(time.RFC3339Nano), q.Until.UTC().Format(time.RFC3339Nano), column, q.Oldest}
	if q.Children { // appended only when set: cursors of other queries stay valid
		parts = append(parts, "children")
	}
	if tables := f.tables(); len(tables) > 1 || tables[0] != p.cfg.table {
		parts = append(parts, tables)
	}
	_ = enc.Encode(parts)
	f.fingerprint = h.Sum64()
	return f, nil
}

// queryTarget resolves the model, table and object keys a query names.
func queryTarget(tx *gorm.DB, q Query) (*schema.Schema, string, []string, error) {
	var s *schema.Schema
	if q.Model != nil {
		stmt := &gorm.Statement{DB: tx}
		if err := stmt.Parse(q.Model); err != nil {
			return nil, "", nil, fmt.Errorf("auditlog: query model %T: %w: %w", q.Model, ErrInvalidModel, err)
		}
		s = stmt.Schema
	}
	table := q.Table
	if s != nil {
		if table != "" && table != s.Table {
			return nil, "", nil, fmt.Errorf("%w: Model %s has table %q, not %q", ErrInvalidQuery, s.Name, s.Table, table)
		}
		table = s.Table
	}
	pks := slices.Clone(q.ObjectPKs)
	if q.Objects != nil {
		os, keys, err := objectKeys(tx, q.Objects)
		if err != nil {
			return nil, "", nil, err
		}
		if s != nil && os.ModelType != s.ModelType || table != "" && os.Table != table {
			return nil, "", nil, fmt.Errorf("%w: Objects of %s do not belong to table %q", ErrInvalidQuery, os.Name, table)
		}
		s, table = os, os.Table
		pks = append(pks, keys...)
	}
	if len(q.ObjectPKs) > 0 && table == "" {
		return nil, "", nil, fmt.Errorf("%w: ObjectPKs need Model or Table", ErrInvalidQuery)
	}
	return s, table, pks, nil
}

// fieldColumn is the column Query.Field names, checked against the model or
// table; "" when there is no Field.
func fieldColumn(tx *gorm.DB, s *schema.Schema, table, field string) (string, error) {
	if field == "" {
		return "", nil
	}
	switch {
	case s != nil:
		fld := s.LookUpField(field)
		if fld == nil || fld.DBName == "" {
			return "", fmt.Errorf("%w %q in Query.Field of %s", ErrUnknownField, field, s.Name)
		}
		return fld.DBName, nil
	case table != "":
		// The migrator's HasColumn matches without case on MySQL and with
		// LIKE on SQLite; the name must be the column's, exactly.
		columns, err := tx.Migrator().ColumnTypes(table)
		if err != nil {
			return "", fmt.Errorf("%w %q in Query.Field: columns of table %q: %w", ErrUnknownField, field, table, err)
		}
		for _, c := range columns {
			if c.Name() == field {
				return field, nil
			}
		}
		return "", fmt.Errorf("%w %q in Query.Field: table %q has no such column", ErrUnknownField, field, table)
	}
	return "", fmt.Errorf("%w: Field needs Model or Table", ErrInvalidQuery)
}

// addConditions adds the WHERE conditions of the query's filters. Every
// text comparison is exact (capabilities.textIn) and every time bound is
// rounded to what the database compares (capabilities.timeBound).
func (f *filters) addConditions(caps capabilities, q Query, table string, pks []string, column string) {
	if q.Children {
		table, pks = "", nil // the sources select them
	}
	if table != "" {
		f.conds = append(f.conds, caps.textIn("table_name", []string{table}))
	}
	if len(q.Tables) > 0 {
		f.conds = append(f.conds, caps.textIn("table_name", q.Tables))
	}
	if len(q.IDs) > 0 {
		f.conds = append(f.conds, clause.IN{Column: clause.Column{Name: "id"}, Values: anySlice(q.IDs)})
	}
	if len(pks) > 0 {
		f.conds = append(f.conds, caps.textIn("object_pk", pks))
	}
	if len(q.Actors) > 0 {
		f.conds = append(f.conds, caps.textIn("actor_id", q.Actors))
	}
	if len(q.Actions) > 0 {
		f.conds = append(f.conds, caps.textIn("action", actionNames(q.Actions)))
	}
	if q.CID != "" {
		f.conds = append(f.conds, caps.textIn("cid", []string{q.CID}))
	}
	if !q.Since.IsZero() {
		f.conds = append(f.conds, clause.Gte{Column: clause.Column{Name: "created_at"}, Value: caps.timeBound(q.Since)})
	}
	if !q.Until.IsZero() {
		f.conds = append(f.conds, clause.Lt{Column: clause.Column{Name: "created_at"}, Value: caps.timeBound(q.Until)})
	}
	if column != "" {
		f.conds = append(f.conds, caps.changedField(column))
	}
	if q.ReprContains != "" {
		f.conds = append(f.conds, caps.contains("object_repr", q.ReprContains))
	}
}

func actionNames(actions []Action) []string {
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = string(a)
	}
	return names
}

// jsonPath is the JSON path of an object key: $."key", with quotes and
// backslashes escaped.
func jsonPath(key string) string {
	b, _ := json.Marshal(key)
	return "$." + string(b)
}

func anySlice[T any](values []T) []any {
	out := make([]any, len(values))
	for i, v := range values {
		out[i] = v
	}
	return out
}

// objectKeys returns the schema and key texts of Query.Objects.
func objectKeys(tx *gorm.DB, objects any) (*schema.Schema, []string, error) {
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(objects); err != nil {
		return nil, nil, fmt.Errorf("auditlog: query objects %T: %w: %w", objects, ErrInvalidModel, err)
	}
	s := stmt.Schema
	if len(s.PrimaryFields) == 0 {
		return nil, nil, fmt.Errorf("auditlog: query objects of %s: %w", s.Name, ErrNoPrimaryKey)
	}
	var keys []string
	err := eachStruct(reflect.ValueOf(objects), func(row reflect.Value) error {
		key, err := objectKey(tx.Statement.Context, s, row)
		if err != nil {
			return fmt.Errorf("auditlog: query objects of %s: %w", s.Name, err)
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("%w: Objects holds no object", ErrInvalidQuery)
	}
	return s, keys, nil
}

// storedEntry is a log row with its JSON columns undecoded, so that one
// corrupt row does not fail a whole read.
type storedEntry struct {
	ID         int64     `gorm:"column:id"`
	Table      string    `gorm:"column:table_name"`
	ObjectPK   string    `gorm:"column:object_pk"`
	ObjectRepr string    `gorm:"column:object_repr"`
	Action     string    `gorm:"column:action"`
	Changes    []byte    `gorm:"column:changes"`
	ActorID    string    `gorm:"column:actor_id"`
	RemoteAddr string    `gorm:"column:remote_addr"`
	CID        string    `gorm:"column:cid"`
	Data       []byte    `gorm:"column:data"`
	Snapshot   []byte    `gorm:"column:snapshot"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	// ParentTable and ParentPK are NULL in rows written before the columns
	// existed; they read as "".
	ParentTable string `gorm:"column:parent_table"`
	ParentPK    string `gorm:"column:parent_pk"`
}

// decode turns a stored row into a LogEntry.
func (s *storedEntry) decode() (LogEntry, error) {
	e := LogEntry{ID: s.ID, Table: s.Table, ObjectPK: s.ObjectPK, ObjectRepr: s.ObjectRepr, Action: Action(s.Action),
		ActorID: s.ActorID, RemoteAddr: s.RemoteAddr, CID: s.CID, CreatedAt: s.CreatedAt.UTC(),
		ParentTable: s.ParentTable, ParentPK: s.ParentPK}
	if err := e.Changes.Scan(nilIfEmpty(s.Changes)); err != nil {
		return e, err
	}
	if err := e.Data.Scan(nilIfEmpty(s.Data)); err != nil {
		return e, err
	}
	if err := e.Snapshot.Scan(nilIfEmpty(s.Snapshot)); err != nil {
		return e, err
	}
	return e, nil
}

func nilIfEmpty(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// decodeEntries decodes stored rows, leaving out (and listing) the rows
// whose JSON is corrupt.
func decodeEntries(rows []storedEntry) ([]LogEntry, []int64) {
	entries := make([]LogEntry, 0, len(rows))
	var corrupt []int64
	for i := range rows {
		e, err := rows[i].decode()
		if err != nil {
			corrupt = append(corrupt, rows[i].ID)
			continue
		}
		entries = append(entries, e)
	}
	return entries, corrupt
}
