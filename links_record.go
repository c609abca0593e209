package auditlog

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// linkKey is one related object's key: its values as scanned (for order) and
// its ObjectPK text.
type linkKey struct {
	values []any
	text   string
}

// linkDelta is what one statement changed in one owner's links of one
// association: the keys added and removed, at most max of each listed, all
// of them counted.
type linkDelta struct {
	added, removed           []linkKey
	addedCount, removedCount int
}

func (d *linkDelta) note(k linkKey, added bool, max int) {
	list, count := &d.removed, &d.removedCount
	if added {
		list, count = &d.added, &d.addedCount
	}
	*count++
	if len(*list) < max {
		*list = append(*list, k)
	}
}

// keys is a side of the change: the listed keys' texts, sorted by value
// (compareKeys), as a JSON array (never null).
func keys(list []linkKey) []any {
	slices.SortFunc(list, func(a, b linkKey) int { return compareKeys(a.values, b.values) })
	out := make([]any, len(list))
	for i, k := range list {
		out[i] = k.text
	}
	return out
}

// linksAfter, after the join table's INSERT or DELETE, records on each owner
// that registers the association an update entry with the keys added or
// removed, in the statement's transaction. Nothing is recorded when the
// write failed or changed no row.
func (p *Plugin) linksAfter(db *gorm.DB) {
	v, ok := db.Statement.Settings.Load(linksKey)
	if !ok {
		return
	}
	r := v.(*linkRead)
	if r.stmt != db.Statement {
		return
	}
	db.Statement.Settings.Delete(linksKey)
	if db.Error != nil || db.Statement.RowsAffected == 0 {
		return
	}
	if r.insert != nil {
		for _, row := range r.inserted() {
			if err := r.tally(row, true); err != nil {
				db.AddError(err)
				return
			}
		}
	}
	for i, tr := range r.trackers {
		p.recordLinks(db, tr, r.tallies[i])
	}
}

// linkTally is one tracker's changed links by owner, owners in the order
// first seen.
type linkTally struct {
	deltas map[string]*linkDelta
	owners []string
	keys   map[string][]any // each owner's key values, as the join rows hold them
}

// tally notes a join row added or removed for every tracker.
func (r *linkRead) tally(row []any, added bool) error {
	for i, tr := range r.trackers {
		owner, err := keyText(tr.plan.schema, pick(row, tr.own))
		if err != nil {
			return err
		}
		values := pick(row, tr.other)
		text, err := keyText(tr.rel.FieldSchema, values)
		if err != nil {
			return err
		}
		t := r.tallies[i]
		d := t.deltas[owner]
		if d == nil {
			d = &linkDelta{}
			t.deltas[owner] = d
			t.owners = append(t.owners, owner)
			t.keys[owner] = pick(row, tr.own)
		}
		d.note(linkKey{values, text}, added, r.max)
	}
	return nil
}

// inserted is the rows of the INSERT that did not exist before it, once each.
func (r *linkRead) inserted() [][]any {
	seen := make(map[string]bool, len(r.existing)+len(r.insert))
	for _, row := range r.existing {
		seen[linkText(row)] = true
	}
	var out [][]any
	for _, row := range r.insert {
		if t := linkText(row); !seen[t] {
			seen[t] = true
			out = append(out, row)
		}
	}
	return out
}

// recordLinks writes one entry per owner of tr's association in t, or
// leaves them for the entries of the owners' write that runs the statement.
func (p *Plugin) recordLinks(db *gorm.DB, tr *linkTracker, t *linkTally) {
	owners, deltas := t.owners, t.deltas
	if len(owners) == 0 {
		return
	}
	parents, err := p.linkParents(db, tr.plan, t)
	if err != nil {
		db.AddError(err)
		return
	}
	if o := pendingOwnerOp(db, tr.plan); o != nil {
		for _, owner := range owners {
			o.addLinks(owner, deltas[owner].changes(tr.column))
		}
		if len(parents) > 0 && o.linkParents == nil {
			o.linkParents = make(map[string][2]string, len(parents))
		}
		maps.Copy(o.linkParents, parents) // several associations: several statements
		return
	}
	b := p.newBatch(db.Statement.Context, tr.plan)
	for _, owner := range owners {
		b.add(ActionUpdate, owner, reflect.Value{}, deltas[owner].changes(tr.column), nil, nil)
		if parent, ok := parents[owner]; ok {
			e := &b.entries[len(b.entries)-1]
			e.ParentTable, e.ParentPK = parent[0], parent[1]
		}
	}
	p.write(db, b)
}

// linkCountPrefix marks, in Changes, the counts of a side whose keys were not
// all listed (WithMaxAssociationKeys); takeCounts moves them to Data.
const linkCountPrefix = "\x00count:"

// changes is the delta as Changes: the association's keys removed and
// added, and, when a side lists fewer keys than it counted, both counts.
func (d *linkDelta) changes(column string) Changes {
	c := Changes{column: {Old: keys(d.removed), New: keys(d.added)}}
	if d.addedCount > len(d.added) || d.removedCount > len(d.removed) {
		c[linkCountPrefix+column] = Change{Old: d.removedCount, New: d.addedCount}
	}
	return c
}

// ownerOpKey is the context key under which an owner's write exposes its op
// to the join-table statements GORM runs inside it (they share its context,
// not its Settings).
type ownerOpKey struct{}

// expose puts the op in its statement's context when its model registers
// Associations, so that join-table writes inside the statement find it.
func (o *op) expose() {
	if len(o.plan.links) == 0 {
		return
	}
	o.ctx = o.stmt.Context
	o.stmt.Context = context.WithValue(o.ctx, ownerOpKey{}, o)
}

// hide gives the statement its context back.
func (o *op) hide() {
	if o.ctx != nil {
		o.stmt.Context, o.ctx = o.ctx, nil
	}
}

// pendingOwnerOp is the write of owners of pl's model that the join-table
// statement runs inside (Create, Save or Updates of the owner with its
// association), when its entries are still to be written: the links then
// join its entries, one per object.
func pendingOwnerOp(db *gorm.DB, pl *plan) *op {
	o, _ := db.Statement.Context.Value(ownerOpKey{}).(*op)
	if o == nil {
		return nil
	}
	if o.recorded || o.plan.schema.ModelType != pl.schema.ModelType || o.plan.schema.Table != pl.schema.Table {
		return nil
	}
	return o
}

// addLinks leaves association changes of the row key for the op's entry.
func (o *op) addLinks(key string, c Changes) {
	if o.links == nil {
		o.links = map[string]Changes{}
	}
	if o.links[key] == nil {
		o.linkKeys = append(o.linkKeys, key)
	}
	o.links[key] = mergeLinks(o.links[key], c)
}

// takeLinks returns and forgets the association changes left for key.
func (o *op) takeLinks(key string) Changes {
	c := o.links[key]
	delete(o.links, key)
	return c
}

// mergeLinks adds association changes to a row's changes.
func mergeLinks(diff, links Changes) Changes {
	if len(links) == 0 {
		return diff
	}
	if diff == nil {
		diff = Changes{}
	}
	for k, v := range links {
		diff[k] = v
	}
	return diff
}

func pick(row []any, at []int) []any {
	out := make([]any, len(at))
	for i, j := range at {
		out[i] = row[j]
	}
	return out
}

// moveLinkCounts moves the counts changes put beside an association whose
// keys were not all listed into Data["links"][column] = {"added": n,
// "removed": m}.
func moveLinkCounts(e *LogEntry) {
	for k, c := range e.Changes {
		column, ok := strings.CutPrefix(k, linkCountPrefix)
		if !ok {
			continue
		}
		delete(e.Changes, k)
		if e.Data == nil {
			e.Data = JSONMap{}
		}
		counts, _ := e.Data["links"].(map[string]any)
		if counts == nil {
			counts = map[string]any{}
			e.Data["links"] = counts
		}
		counts[column] = map[string]any{"added": c.New, "removed": c.Old}
	}
}

// linkColumns maps the column of each association cfg registers to its field
// name. Called with p.mu held (planOf): it reads p.naming directly.
func (p *Plugin) linkColumns(s *schema.Schema, cfg *modelConfig) map[string]string {
	if len(cfg.associations) == 0 {
		return nil
	}
	var namer schema.Namer = schema.NamingStrategy{}
	if p.naming != nil {
		namer = p.naming
	}
	out := make(map[string]string, len(cfg.associations))
	for _, name := range cfg.associations {
		out[namer.ColumnName("", name)] = name
	}
	return out
}

// tableLinks is linkColumns of the model registered for table, found by
// parsing the registered models through tx's schema cache (StateAtKey, which
// has no model).
func (p *Plugin) tableLinks(tx *gorm.DB, table string) map[string]string {
	if table == "" {
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
	for _, t := range types {
		st := &gorm.Statement{DB: tx}
		if err := st.Parse(reflect.New(t).Interface()); err == nil && st.Schema.Table == table {
			if pl := p.planOf(st.Schema, p.capabilities(tx)); pl != nil {
				return pl.links
			}
		}
	}
	return nil
}

// applyLinks applies an association's change to a replayed set of keys: the
// old keys removed, the new ones added; the result sorted (compareKeyTexts).
func applyLinks(set any, ch Change) []any {
	keys := map[string]bool{}
	if list, ok := set.([]any); ok {
		for _, k := range list {
			keys[fmt.Sprint(k)] = true
		}
	}
	if list, ok := ch.Old.([]any); ok {
		for _, k := range list {
			delete(keys, fmt.Sprint(k))
		}
	}
	if list, ok := ch.New.([]any); ok {
		for _, k := range list {
			keys[fmt.Sprint(k)] = true
		}
	}
	sorted := slices.SortedFunc(maps.Keys(keys), compareKeyTexts)
	out := make([]any, len(sorted))
	for i, k := range sorted {
		out[i] = k
	}
	return out
}
