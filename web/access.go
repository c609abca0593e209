package web

import (
	"slices"

	"github.com/gorm-auditlog/auditlog"
)

// empty reports whether a allows nothing at all.
func (a Access) empty() bool {
	return !a.AllTables && len(a.Tables) == 0 || !a.AllActions && len(a.Actions) == 0
}

// mayTable reports whether a allows the entries of table.
func (a Access) mayTable(table string) bool {
	return a.AllTables || slices.Contains(a.Tables, table)
}

// mayAction reports whether a allows the entries of action.
func (a Access) mayAction(action auditlog.Action) bool {
	return a.AllActions || slices.Contains(a.Actions, action)
}

// restrict narrows q to what a allows: an explicit list of tables (actions)
// in q keeps only the allowed ones; none means every allowed one. It
// reports false when nothing is left, so that no query is needed: the
// answer is empty.
func (a Access) restrict(q *auditlog.Query) bool {
	if !a.AllTables {
		if q.Table != "" && !a.mayTable(q.Table) {
			return false
		}
		if len(q.Tables) == 0 && q.Table == "" {
			q.Tables = slices.Clone(a.Tables)
		}
		q.Tables = slices.DeleteFunc(q.Tables, func(t string) bool { return !a.mayTable(t) })
		if q.Table == "" && len(q.Tables) == 0 {
			return false
		}
	}
	if !a.AllActions {
		if len(q.Actions) == 0 {
			q.Actions = slices.Clone(a.Actions)
		}
		q.Actions = slices.DeleteFunc(q.Actions, func(x auditlog.Action) bool { return !a.mayAction(x) })
		if len(q.Actions) == 0 {
			return false
		}
	}
	return true
}
