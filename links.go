package auditlog

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Many-to-many links (Associations). GORM writes a many2many association's
// join rows with statements of their own on the join table, whoever starts
// them (Association Append/Replace/Delete/Clear, Create/Save/Updates of the
// owner): an INSERT ... ON CONFLICT DO NOTHING of join rows on the create
// chain, a DELETE with the association's conditions on the delete chain.
// The plugin watches those statements: before the write it reads, locked,
// the join rows the write may touch (those of the INSERT that exist already,
// those the DELETE matches); after it, it records on each owner that
// registers the association an update entry with the keys added or removed.

// defaultMaxAssociationKeys is WithMaxAssociationKeys's default.
const defaultMaxAssociationKeys = 1000

// linkTracker is one registered association whose join table a statement
// writes: the owner's plan and the relationship as parsed by the
// statement's own schema cache.
type linkTracker struct {
	plan   *plan
	rel    *schema.Relationship
	column string // the association's name in Changes ("tags")
	own    []int  // join columns (linkRead.columns) of the owner's key, in its primary-key order
	other  []int  // join columns of the related object's key
}

// linkRead is the join rows one statement may touch, read before it runs.
type linkRead struct {
	stmt     *gorm.Statement
	trackers []*linkTracker
	columns  []string // join columns read
	existing [][]any  // create: the rows of the INSERT that existed before it
	insert   [][]any  // create: the rows the INSERT sends
	// tallies: per tracker, the links changed by owner; a DELETE's are
	// counted as they are read, so a Clear of many links keeps at most
	// max keys per owner and side in memory.
	tallies []*linkTally
	max     int
}

var linksKey = settingsKey{"links"} // *linkRead between auditlog:links_before and auditlog:links_after

// linkTrackers returns the registered associations whose join table is the
// statement's table, or nil, in the order of the owners' tables. It parses each model registered with
// Associations through db's schema cache (cached after the first call): its
// cost is one map walk per create and delete when some model registers
// associations, nothing otherwise.
func (p *Plugin) linkTrackers(db *gorm.DB) []*linkTracker {
	table := db.Statement.Table
	if table == "" || table == p.cfg.table {
		return nil
	}
	p.mu.RLock()
	var types []reflect.Type
	for t, cfg := range p.models {
		if len(cfg.associations) > 0 {
			types = append(types, t)
		}
	}
	p.mu.RUnlock()
	var out []*linkTracker
	for _, t := range types {
		st := &gorm.Statement{DB: db}
		if err := st.Parse(reflect.New(t).Interface()); err != nil {
			continue
		}
		p.mu.RLock()
		cfg := p.models[t]
		p.mu.RUnlock()
		if cfg == nil {
			continue
		}
		for _, name := range cfg.associations {
			rel := st.Schema.Relationships.Relations[name]
			if rel == nil || rel.JoinTable == nil || rel.JoinTable.Table != table {
				continue
			}
			pl := p.planOf(st.Schema, p.capabilities(db))
			if pl == nil || !pl.actions.has(ActionUpdate) {
				continue
			}
			out = append(out, &linkTracker{plan: pl, rel: rel, column: p.namer().ColumnName("", rel.Name)})
		}
	}
	slices.SortStableFunc(out, func(a, b *linkTracker) int {
		return strings.Compare(a.plan.schema.Table+"\x00"+a.column, b.plan.schema.Table+"\x00"+b.column)
	})
	return out
}

// tracksLinks reports whether the statement writes a tracked join table.
func (p *Plugin) tracksLinks(db *gorm.DB) bool {
	return db.Statement.Schema != nil && len(p.linkTrackers(db)) > 0
}

// newLinkRead lays out the join columns the trackers need, or nil when a
// relationship has a shape the plugin does not record (a polymorphic value).
func newLinkRead(stmt *gorm.Statement, trackers []*linkTracker, max int) *linkRead {
	r := &linkRead{stmt: stmt, trackers: trackers, max: max}
	index := func(col string) int {
		if i := slices.Index(r.columns, col); i >= 0 {
			return i
		}
		r.columns = append(r.columns, col)
		return len(r.columns) - 1
	}
	for _, tr := range trackers {
		r.tallies = append(r.tallies, &linkTally{deltas: map[string]*linkDelta{}, keys: map[string][]any{}})
		owner := tr.plan.schema.PrimaryFields
		tr.own = make([]int, len(owner))
		for _, ref := range tr.rel.References {
			if ref.PrimaryValue != "" {
				continue // a fixed value (polymorphic): the same in every row
			}
			if !ref.OwnPrimaryKey {
				tr.other = append(tr.other, index(ref.ForeignKey.DBName))
				continue
			}
			pos := slices.IndexFunc(owner, func(f *schema.Field) bool { return f.DBName == ref.PrimaryKey.DBName })
			if pos < 0 {
				return nil
			}
			tr.own[pos] = index(ref.ForeignKey.DBName)
		}
	}
	return r
}

// linksBeforeCreate, on the create chain before the INSERT, reads which of
// the join rows it sends exist already, locked, in its transaction.
func (p *Plugin) linksBeforeCreate(db *gorm.DB) { p.linksBefore(db, true) }

// linksBeforeDelete, on the delete chain before the DELETE, reads the join
// rows it matches, locked, in its transaction.
func (p *Plugin) linksBeforeDelete(db *gorm.DB) { p.linksBefore(db, false) }

func (p *Plugin) linksBefore(db *gorm.DB, create bool) {
	stmt := db.Statement
	if db.Error != nil || db.DryRun || stmt.SQL.Len() > 0 || Disabled(stmt.Context) || stmt.Schema == nil {
		return
	}
	trackers := p.linkTrackers(db)
	if len(trackers) == 0 {
		return
	}
	max := p.cfg.maxAssociationKeys
	if max <= 0 {
		max = defaultMaxAssociationKeys
	}
	r := newLinkRead(stmt, trackers, max)
	if r == nil {
		return
	}
	var err error
	if create {
		err = r.readCreate(db, p.capabilities(db))
	} else {
		err = r.readDelete(db, p.capabilities(db))
	}
	if err != nil {
		db.AddError(fmt.Errorf("auditlog: read links of %s: %w", stmt.Table, err))
		return
	}
	stmt.Settings.Store(linksKey, r)
}

// joinValues returns the join columns of the statement's rows.
func (r *linkRead) joinValues(db *gorm.DB) [][]any {
	fields := make([]*schema.Field, len(r.columns))
	for i, c := range r.columns {
		fields[i] = db.Statement.Schema.LookUpField(c)
	}
	var out [][]any
	add := func(v reflect.Value) {
		v = reflect.Indirect(v)
		if v.Kind() != reflect.Struct {
			return
		}
		row := make([]any, len(fields))
		for i, f := range fields {
			if f != nil {
				row[i], _ = f.ValueOf(db.Statement.Context, v)
			}
		}
		out = append(out, row)
	}
	rv := db.Statement.ReflectValue
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		for i := range rv.Len() {
			add(rv.Index(i))
		}
	} else {
		add(rv)
	}
	return out
}

// readCreate reads which of the rows the INSERT sends exist already.
func (r *linkRead) readCreate(db *gorm.DB, caps capabilities) error {
	r.insert = r.joinValues(db)
	if len(r.insert) == 0 {
		return nil
	}
	column, values := schema.ToQueryValues(r.stmt.Table, r.columns, r.insert)
	return r.read(db, caps, []clause.Expression{clause.IN{Column: column, Values: values}}, func(row []any) error {
		r.existing = append(r.existing, row)
		return nil
	})
}

// readDelete reads the join rows the DELETE's conditions match.
func (r *linkRead) readDelete(db *gorm.DB, caps capabilities) error {
	c, ok := r.stmt.Clauses["WHERE"]
	if !ok {
		return nil // GORM refuses a DELETE without conditions
	}
	w, ok := c.Expression.(clause.Where)
	if !ok || len(w.Exprs) == 0 {
		return nil
	}
	return r.read(db, caps, w.Exprs, func(row []any) error { return r.tally(row, false) })
}

// read scans the join rows matching conds, with FOR UPDATE where the
// database locks rows, on the statement's connection, one row at a time.
func (r *linkRead) read(db *gorm.DB, caps capabilities, conds []clause.Expression, fn func([]any) error) error {
	q := db.Session(&gorm.Session{NewDB: true}).Table(r.stmt.Table).Select(r.columns).Where(clause.Where{Exprs: conds})
	if caps.rowLocks {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	types := make([]reflect.Type, len(r.columns))
	for i, c := range r.columns {
		types[i] = reflect.TypeOf(new(any)).Elem()
		if f := r.stmt.Schema.LookUpField(c); f != nil {
			types[i] = f.FieldType
		}
	}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// linkText is a join row's identity: its columns' canonical texts.
func linkText(row []any) string {
	parts := make([]string, len(row))
	for i, v := range row {
		n, err := normalize(v, kindPlain)
		if err != nil {
			n = fmt.Sprint(v)
		}
		parts[i] = textOf(n)
	}
	return strings.Join(parts, "\x00")
}
