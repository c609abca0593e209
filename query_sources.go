package auditlog

import (
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Where a query's entries are read: one log table, or several sources (the
// log tables of LogTable, a parent's and its children's entries) read as
// one stream in (created at, id, source) order.

// source is one part of a query's stream: a log table and a condition of
// its own (nil: none) on top of the query's.
type source struct {
	table string
	cond  clause.Expression
}

// sources decides where q's entries are: the log table of its model or
// table; with Children, the objects' own entries there and their
// children's in every log table; with Tables, the log tables of those; with
// none of them, every log table in use (Plugin.LogTables).
func (p *Plugin) sources(tx *gorm.DB, caps capabilities, q Query, s *schema.Schema, table string, pks []string) []source {
	own := p.cfg.table
	switch {
	case s != nil:
		own = p.logTableOf(s)
	case table != "":
		own = p.logTableOfTable(tx, table)
	}
	if q.Children {
		mine := clause.And(caps.textIn("table_name", []string{table}), caps.textIn("object_pk", pks))
		kids := clause.And(caps.textIn("parent_table", []string{table}), caps.textIn("parent_pk", pks),
			clause.Expr{SQL: "NOT (?)", Vars: []any{mine}})
		out := []source{{table: own, cond: mine}}
		for _, t := range p.LogTables() {
			out = append(out, source{table: t, cond: kids})
		}
		return out
	}
	if table != "" {
		return []source{{table: own}}
	}
	all := p.LogTables()
	if len(q.Tables) > 0 {
		var some []string
		for _, t := range q.Tables {
			if lt := p.logTableOfTable(tx, t); !slices.Contains(some, lt) {
				some = append(some, lt)
			}
		}
		// In the order of LogTables, which orders ties.
		all = slices.DeleteFunc(all, func(t string) bool { return !slices.Contains(some, t) })
	}
	out := make([]source, len(all))
	for i, t := range all {
		out[i] = source{table: t}
	}
	return out
}

// tables lists the sources' log tables.
func (f *filters) tables() []string {
	out := make([]string, len(f.sources))
	for i, s := range f.sources {
		out[i] = s.table
	}
	return out
}

// table is the log table of a query with one source (an object's, for
// the readers that replay one object's entries).
func (f *filters) table() string { return f.sources[0].table }

// storedColumns are the columns storedEntry reads, named in each part of a
// union: tables migrated at different times may hold them in another order.
var storedColumns = append([]string{"id"}, entryColumns...)

// sourcedEntry is a stored row and the index of the source it came from.
type sourcedEntry struct {
	Stored storedEntry `gorm:"embedded"`
	Source int         `gorm:"column:log_source"`
}

// find reads the filtered entries after the cursor after (nil: from the
// start), oldest first or newest first, at most limit (0: all).
func (f *filters) find(tx *gorm.DB, after *cursor, oldest bool, limit int) ([]sourcedEntry, error) {
	var rows []sourcedEntry
	err := f.rows(tx, after, oldest, limit).Find(&rows).Error
	return rows, err
}

// rows is find's query. With one source it is one query of the source's
// table. With several it is a UNION ALL of one ordered, limited query per
// source, each served by its own index range, ordered by (created at, id,
// source) and limited again: the database merges at most sources×limit
// rows. The source orders only entries of different log tables (one
// table's entries differ in id).
func (f *filters) rows(tx *gorm.DB, after *cursor, oldest bool, limit int) *gorm.DB {
	part := func(i int) *gorm.DB {
		src := f.sources[i]
		q := f.apply(tx.Table(src.table))
		if src.cond != nil {
			q = q.Where(src.cond)
		}
		if after != nil {
			q = q.Where(keysetAfterSource(after, i, oldest))
		}
		q = q.Order(entryOrder(oldest))
		if limit > 0 {
			q = q.Limit(limit)
		}
		return q
	}
	if len(f.sources) == 1 {
		return part(0)
	}
	dir := " DESC"
	if oldest {
		dir = ""
	}
	columns := strings.Join(storedColumns, ", ")
	var sql strings.Builder
	vars := make([]any, len(f.sources))
	sql.WriteString("SELECT * FROM (")
	for i := range f.sources {
		if i > 0 {
			sql.WriteString(" UNION ALL ")
		}
		n := strconv.Itoa(i)
		sql.WriteString("SELECT " + columns + ", " + n + " AS log_source FROM (?) AS source_" + n)
		vars[i] = part(i).Select(storedColumns)
	}
	sql.WriteString(") AS entries ORDER BY created_at" + dir + ", id" + dir)
	if tables := f.tables(); slices.ContainsFunc(tables, func(t string) bool { return t != tables[0] }) {
		// Entries of two log tables may share (created at, id).
		sql.WriteString(", log_source" + dir)
	}
	if limit > 0 {
		sql.WriteString(" LIMIT " + strconv.Itoa(limit))
	}
	return tx.Raw(sql.String(), vars...)
}

// keysetAfterSource selects the rows of source i after the cursor c in
// (created at, id, source) order: the rows of c's (created at, id) itself
// come after it in a source that comes after c's.
func keysetAfterSource(c *cursor, i int, oldest bool) clause.Expression {
	if oldest && i > c.source || !oldest && i < c.source {
		return keysetBound(c.at, c.id, oldest, true)
	}
	return keysetAfter(c.at, c.id, oldest)
}

// decodeSourced is decodeEntries of rows read by find.
func decodeSourced(rows []sourcedEntry) ([]LogEntry, []int64) {
	stored := make([]storedEntry, len(rows))
	for i := range rows {
		stored[i] = rows[i].Stored
	}
	return decodeEntries(stored)
}
