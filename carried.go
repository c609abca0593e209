package auditlog

import (
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
