package auditlog

import (
	"encoding/json"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// A parent timeline (Parent, Query.Children, WithChildren): the entries of
// a model registered with Parent carry their parent object's table and key,
// taken from the belongs-to field's foreign key as the row holds it.

// Parent names a belongs-to field of the model (a Go field name, such as
// "Order" for a Line with OrderID and Order Order): each entry of the model
// also stores the parent's table and key (LogEntry.ParentTable and
// ParentPK, in ObjectPK form), so that Find with Query.Children and History
// with WithChildren list the parent's entries and its children's in one
// timeline. The key is the foreign key's value in the row as written: after
// the change for a create or update, before it for a delete. An update that
// moves a child to another parent belongs to the new parent's timeline; the
// old parent's key is in its Changes (the foreign key column changed).
//
// The foreign key columns are always tracked (as the soft-delete column is,
// whatever Include and Exclude say), so every entry knows its parent at no
// extra read. An entry whose foreign key is NULL (a child without a parent)
// has empty parent columns. Entries of Log and LogAccess take the parent
// from the object given. Entries of the model's association changes alone
// (Associations, no field changed in the statement) read it: one SELECT of
// the owners' rows by key per join-table statement, in its transaction.
//
// Register fails with ErrInvalidOption for a field that is not a belongs-to
// association, one whose foreign key references other columns than the
// parent's primary key (`references:Code`), and a model that masks or
// redacts the foreign key (the parent key is stored in clear). Repeating
// the option replaces the field.
func Parent(field string) ModelOption {
	return modelOptionFunc(func(m *modelConfig) {
		m.parent, m.hasParent = field, true
	})
}

// validParent checks Parent's field: a belongs-to association whose foreign
// key references every column of the parent's primary key.
func validParent(s *schema.Schema, field string) error {
	rel := s.Relationships.Relations[field]
	if rel == nil || rel.Type != schema.BelongsTo || rel.FieldSchema == nil {
		return fmt.Errorf("%w: Parent(%q) names no belongs-to field", ErrInvalidOption, field)
	}
	primary := rel.FieldSchema.PrimaryFields
	if len(rel.References) != len(primary) || len(primary) == 0 {
		return fmt.Errorf("%w: Parent(%q): its foreign key must reference %s's primary key", ErrInvalidOption, field, rel.FieldSchema.Name)
	}
	for _, ref := range rel.References {
		if ref.PrimaryKey == nil || !slices.Contains(primary, ref.PrimaryKey) {
			return fmt.Errorf("%w: Parent(%q): its foreign key must reference %s's primary key", ErrInvalidOption, field, rel.FieldSchema.Name)
		}
		if fk := ref.ForeignKey; fk == nil || fk.DBName == "" || !fk.Readable {
			return fmt.Errorf("%w: Parent(%q): its foreign key is not a column the plugin can read", ErrInvalidOption, field)
		}
	}
	return nil
}

// parentForeignKeys are the foreign key fields of cfg's Parent in s, in the
// parent's primary key order; nil without Parent (or an invalid one).
func parentForeignKeys(s *schema.Schema, cfg *modelConfig) []*schema.Field {
	if cfg == nil || !cfg.hasParent {
		return nil
	}
	rel := s.Relationships.Relations[cfg.parent]
	if rel == nil || rel.FieldSchema == nil {
		return nil
	}
	var fks []*schema.Field
	for _, pk := range rel.FieldSchema.PrimaryFields {
		for _, ref := range rel.References {
			if ref.PrimaryKey == pk && ref.ForeignKey != nil {
				fks = append(fks, ref.ForeignKey)
			}
		}
	}
	return fks
}

// checkParentHidden refuses a masked or redacted foreign key of Parent.
func checkParentHidden(s *schema.Schema, fields []*trackedField, cfg *modelConfig) error {
	for _, fk := range parentForeignKeys(s, cfg) {
		for _, tf := range fields {
			if tf.field == fk && tf.masked {
				return fmt.Errorf("%w: Parent(%q): its foreign key %s is masked or redacted, but the parent key is stored in clear",
					ErrInvalidOption, cfg.parent, fk.Name)
			}
		}
	}
	return nil
}

// parentRef is a plan's Parent: the parent's table and where its key's
// columns are in the plan's tracked fields, in the parent's key order.
type parentRef struct {
	table  string
	fields []int
}

// newParentRef is the parentRef of pl under cfg, or nil without Parent.
func newParentRef(pl *plan, cfg *modelConfig) *parentRef {
	fks := parentForeignKeys(pl.schema, cfg)
	if len(fks) == 0 {
		return nil
	}
	ref := &parentRef{table: pl.schema.Relationships.Relations[cfg.parent].FieldSchema.Table}
	for _, fk := range fks {
		i, ok := pl.fieldIndex[fk.DBName]
		if !ok {
			return nil // cannot happen: the foreign key is always tracked
		}
		ref.fields = append(ref.fields, i)
	}
	return ref
}

// key is the parent's table and key text (ObjectPK form) in a row's state,
// or two empty strings when the state is unknown or a key column is NULL.
func (r *parentRef) key(state rowState) (table, pk string) {
	if r == nil || state == nil {
		return "", ""
	}
	texts := make([]string, len(r.fields))
	for i, at := range r.fields {
		if state[at] == nil {
			return "", ""
		}
		texts[i] = textOf(state[at])
	}
	if len(texts) == 1 {
		return r.table, texts[0]
	}
	b, err := json.Marshal(texts)
	if err != nil {
		return "", ""
	}
	return r.table, string(b)
}

// checkChildren validates Query.Children: it needs objects (their table
// and keys) and excludes Field, whose column belongs to the objects' model.
func checkChildren(q Query, table string, pks []string) error {
	if !q.Children {
		return nil
	}
	if table == "" || len(pks) == 0 {
		return fmt.Errorf("%w: Children needs Objects, or ObjectPKs with Model or Table", ErrInvalidQuery)
	}
	if q.Field != "" {
		return fmt.Errorf("%w: Children cannot be combined with Field (a column of the parent model)", ErrInvalidQuery)
	}
	return nil
}

// linkParents reads the parent of each owner whose association changes
// get entries of their own (a model with Parent and Associations; none
// otherwise): one read of the owners' rows by key, in the statement's
// transaction, in chunks below the placeholder limit. The rows are read
// unlocked: the join write locked none of them, and the parent is the one
// the row holds when the links change.
func (p *Plugin) linkParents(db *gorm.DB, pl *plan, t *linkTally) (map[string][2]string, error) {
	if pl.parent == nil {
		return nil, nil
	}
	keys := make([][]any, 0, len(t.owners))
	for _, owner := range t.owners {
		keys = append(keys, t.keys[owner])
	}
	out := make(map[string][2]string, len(keys))
	chunk := maxKeyParams / len(pl.schema.PrimaryFields)
	for start := 0; start < len(keys); start += chunk {
		column, values := schema.ToQueryValues(pl.schema.Table, pl.schema.PrimaryFieldDBNames, keys[start:min(start+chunk, len(keys))])
		q := rowQuery{table: pl.schema.Table, where: []clause.Expression{clause.IN{Column: column, Values: values}}, unscoped: true}
		err := scanRows(db, pl, q, func(r scannedRow) error {
			table, pk := pl.parent.key(r.state)
			out[r.key] = [2]string{table, pk}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("auditlog: read the parents of %s: %w", pl.schema.Table, err)
		}
	}
	return out, nil
}
