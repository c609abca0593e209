package auditlog

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// restoreLinks reverses the association changes of the entry that Undo or
// Revert is given: the keys it removed are appended again, the keys it added
// deleted, through GORM's Association API, so that the reversal is recorded
// as any other link change (with undo_of or revert_of in Data, from tx's
// context). Keys only counted (WithMaxAssociationKeys) are not in the entry
// and are not restored. A related object deleted since cannot be linked
// again: the join row's foreign key (if any) fails the reversal.
func (t *restoreTarget) restoreLinks(tx *gorm.DB, obj any) error {
	pl := t.pl
	if len(pl.links) == 0 {
		return nil
	}
	entries, err := readReplay(t.entries.Where(clause.Eq{Column: clause.Column{Name: "id"}, Value: t.entryID}))
	if err != nil || len(entries) == 0 {
		return err
	}
	e := entries[0]
	// A copy of obj with its key alone: Append saves the owner with the
	// association's in-memory objects, which must be only those given.
	owner := reflect.New(pl.schema.ModelType)
	src := reflect.Indirect(reflect.ValueOf(obj))
	for _, f := range pl.schema.PrimaryFields {
		v, _ := f.ValueOf(tx.Statement.Context, src)
		if err := f.Set(tx.Statement.Context, owner.Elem(), v); err != nil {
			return err
		}
	}
	for _, col := range slices.Sorted(maps.Keys(e.Changes)) {
		field, link := pl.links[col]
		if !link {
			continue
		}
		rel := pl.schema.Relationships.Relations[field]
		if rel == nil {
			continue
		}
		ch := e.Changes[col]
		readd, err := relatedObjects(tx, rel.FieldSchema, ch.Old)
		if err != nil {
			return err
		}
		remove, err := relatedObjects(tx, rel.FieldSchema, ch.New)
		if err != nil {
			return err
		}
		if readd.Len() > 0 {
			if err := tx.Model(owner.Interface()).Association(field).Append(readd.Interface()); err != nil {
				return err
			}
		}
		if remove.Len() > 0 {
			if err := tx.Model(owner.Interface()).Association(field).Delete(remove.Interface()); err != nil {
				return err
			}
		}
	}
	return nil
}

// relatedObjects builds a slice of pointers to s's model with only the
// primary keys set, from a stored list of ObjectPK texts.
func relatedObjects(tx *gorm.DB, s *schema.Schema, list any) (reflect.Value, error) {
	out := reflect.MakeSlice(reflect.SliceOf(reflect.PointerTo(s.ModelType)), 0, 0)
	keys, _ := list.([]any)
	for _, k := range keys {
		text := fmt.Sprint(k)
		parts := []string{text}
		if len(s.PrimaryFields) > 1 {
			if err := json.Unmarshal([]byte(text), &parts); err != nil {
				return out, fmt.Errorf("auditlog: %s key %s: %w", s.Name, text, err)
			}
		}
		if len(parts) != len(s.PrimaryFields) {
			return out, fmt.Errorf("auditlog: %s key %s has %d parts, want %d", s.Name, text, len(parts), len(s.PrimaryFields))
		}
		v := reflect.New(s.ModelType)
		for i, f := range s.PrimaryFields {
			if err := f.Set(tx.Statement.Context, v.Elem(), parts[i]); err != nil {
				return out, fmt.Errorf("auditlog: %s key %s: %w", s.Name, text, err)
			}
		}
		out = reflect.Append(out, v)
	}
	return out, nil
}
