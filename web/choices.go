package web

import (
	"context"
	"slices"

	"github.com/gorm-auditlog/auditlog"
)

// choiceWindow is how many of the latest visible entries the filter choices
// are read from.
const choiceWindow = 100

// choices are the values the filter form offers, only ones the viewer may
// see: the tables of Tables and Access, the actors, and the built-in
// actions, and those found in the latest choiceWindow visible entries. An
// actor not among them can still be typed in.
type choices struct {
	Models  []string
	Actors  []string
	Actions []actionChoice
}

type actionChoice struct{ Name, Label string }

// choices costs one query of at most choiceWindow rows, served by the
// (created at, id) index, restricted to acc like every other query.
func (s *server) choices(ctx context.Context, acc Access) (choices, error) {
	var entries []auditlog.LogEntry
	q := auditlog.Query{Limit: choiceWindow}
	if acc.restrict(&q) {
		pg, err := s.p.Find(ctx, s.db, q)
		if err != nil {
			return choices{}, err
		}
		entries = pg.Entries
	}
	models := slices.Clone(s.cfg.tables)
	if !acc.AllTables {
		models = append(models, acc.Tables...)
	}
	var actors []string
	actions := []auditlog.Action{auditlog.ActionCreate, auditlog.ActionUpdate, auditlog.ActionDelete, auditlog.ActionAccess}
	if !acc.AllActions {
		actions = append(actions, acc.Actions...)
	}
	for _, e := range entries {
		models = append(models, e.Table)
		actions = append(actions, e.Action)
		if e.ActorID != "" {
			actors = append(actors, e.ActorID)
		}
	}
	var ch choices
	ch.Models = slices.DeleteFunc(sortedSet(models), func(t string) bool { return !acc.mayTable(t) })
	ch.Actors = sortedSet(actors)
	for _, a := range sortedSet(actions) {
		if acc.mayAction(a) {
			ch.Actions = append(ch.Actions, actionChoice{Name: string(a), Label: s.p.ActionLabel(a)})
		}
	}
	return ch, nil
}

func sortedSet[T ~string](vals []T) []T {
	slices.Sort(vals)
	return slices.Compact(vals)
}
