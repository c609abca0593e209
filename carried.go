package auditlog

import (
	"database/sql/driver"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// assignment is a tracked field's new value as carried by an UPDATE's SET
// clause. When every tracked column of the SET is carried exactly (see
// carriedValue), the new state of each row is its old state with the
// assignments applied, and the rows need not be read back. A trigger or a
// generated column that changes other columns is not seen this way.
type assignment struct {
	field int // index in plan.fields
	value any // canonical
}

// carriedAssignments turns the SET clause into canonical values of tracked
// fields, or reports false if any of them must be read back.
func (pl *plan) carriedAssignments(set clause.Set) ([]assignment, bool) {
	if pl.stringer {
		return nil, false // ObjectRepr needs the row as it is now
	}
	out := make([]assignment, 0, len(set))
	for _, a := range set {
		i, tracked := pl.fieldIndex[a.Column.Name]
		if !tracked {
			continue
		}
		v, ok := pl.fields[i].carriedValue(a.Value)
		if !ok {
			return nil, false
		}
		out = append(out, assignment{field: i, value: v})
	}
	return out, true
}

// apply returns old with the assignments applied.
func (pl *plan) apply(old rowState, set []assignment) rowState {
	state := make(rowState, len(old))
	copy(state, old)
	for _, a := range set {
		state[a.field] = a.value
	}
	return state
}

// carriedValue is the canonical value the column will hold after v is
// written to it, when that is known without reading it back: v is a plain
// value (not an expression or subquery) of the field's own Go kind, the
// column has GORM's default type for that kind, and a time keeps all its
// digits (or is truncated the known way, see capabilities.storedTimeDigits).
func (tf *trackedField) carriedValue(v any) (any, bool) {
	f := tf.field
	if f.Serializer != nil {
		return nil, false
	}
	if _, typed := f.TagSettings["TYPE"]; typed {
		return nil, false // the database may convert: numeric(p,s), uuid, citext, ...
	}
	switch v.(type) {
	case clause.Expression, *gorm.DB:
		return nil, false
	}
	if v != nil {
		rv := reflect.ValueOf(v)
		for rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				v, rv = nil, reflect.Value{}
				break
			}
			rv = rv.Elem()
		}
		if rv.IsValid() && !sameKind(rv.Type(), f.IndirectFieldType) {
			return nil, false
		}
	}
	n, err := normalize(v, tf.kind)
	if err != nil {
		return nil, false
	}
	if s, ok := n.(string); ok && tf.timeDigits != notTime {
		return tf.storedTime(s)
	}
	return n, true
}

// sameKind reports whether a value of type v written to a field of type f
// reads back as the same value: the same type, or both integers, or both
// strings or both booleans (named or not). Floats must be the same size.
func sameKind(v, f reflect.Type) bool {
	if v == f {
		return true
	}
	valuer := reflect.TypeOf((*driver.Valuer)(nil)).Elem()
	if v.Implements(valuer) || f.Implements(valuer) || reflect.PointerTo(f).Implements(valuer) {
		return false
	}
	switch kindClass(v.Kind()) {
	case 0:
		return false
	case kindClass(f.Kind()):
		return v.Kind() != reflect.Float32 && v.Kind() != reflect.Float64 || v.Kind() == f.Kind()
	}
	return false
}

func kindClass(k reflect.Kind) int {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 1
	case reflect.String:
		return 2
	case reflect.Bool:
		return 3
	case reflect.Float32, reflect.Float64:
		return 4
	}
	return 0
}
