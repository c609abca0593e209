package auditlog

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// loadTokenRows reads the ids of the rows holding tok, which the transaction
// just wrote and still locks, and checks that they are as many as it changed.
// Only the workload's rows (above w.floor) are searched: name has no index,
// and BenchmarkLoad's filler rows would make this the costliest statement.
func (w *loadWorkload) loadTokenRows(tx *gorm.DB, tok string, affected int64, ids *[]int64) error {
	if err := tx.Model(&LoadItem{}).Where("id > ? AND name = ?", w.floor, tok).Order("id").Pluck("id", ids).Error; err != nil {
		return err
	}
	if int64(len(*ids)) != affected {
		return fmt.Errorf("%d rows hold token %s, the update changed %d", len(*ids), tok, affected)
	}
	return nil
}

func (w *loadWorkload) softDelete(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, false, 1)
	if id == nil {
		return "soft delete", nil, nil
	}
	res := w.db.Delete(&LoadItem{ID: id[0]})
	if res.Error == nil && res.RowsAffected == 1 {
		w.moved(id, true)
	}
	return "soft delete", loadChanged(id[0], res.RowsAffected), res.Error
}

// softDeleteWhere locks a few rows, then soft-deletes them by Where: the
// locked rows that were not deleted yet are exactly the ones it deletes.
func (w *loadWorkload) softDeleteWhere(r *rand.Rand) (string, []int64, error) {
	ids := w.sample(r, false, 2+r.IntN(3))
	if ids == nil {
		return "soft delete where", nil, nil
	}
	var changed []int64
	err := w.db.Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&LoadItem{}).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Where("id IN ?", ids).Order("id").Pluck("id", &changed).Error
		if err != nil {
			return err
		}
		res := tx.Where("id IN ?", ids).Delete(&LoadItem{})
		if res.Error == nil && res.RowsAffected != int64(len(changed)) {
			return fmt.Errorf("soft delete of %v deleted %d rows, %d were locked", ids, res.RowsAffected, len(changed))
		}
		return res.Error
	})
	if err == nil {
		w.moved(changed, true)
	}
	return "soft delete where", changed, err
}

func (w *loadWorkload) hardDelete(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, false, 1)
	if id == nil {
		return "hard delete", nil, nil
	}
	res := w.db.Unscoped().Delete(&LoadItem{ID: id[0]})
	if res.Error == nil && res.RowsAffected == 1 {
		w.moved(id, false)
	}
	return "hard delete", loadChanged(id[0], res.RowsAffected), res.Error
}

func (w *loadWorkload) hardDeleteSoft(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, true, 1)
	if id == nil {
		return "hard delete of a soft-deleted row", nil, nil
	}
	res := w.db.Unscoped().Delete(&LoadItem{ID: id[0]})
	if res.Error == nil && res.RowsAffected == 1 {
		w.moved(id, false)
	}
	return "hard delete of a soft-deleted row", loadChanged(id[0], res.RowsAffected), res.Error
}

// checkLoadHistories replays every row's entries and compares them with the
// changes counted and with the table, for the rows with a key above floor.
func checkLoadHistories(t testing.TB, db *gorm.DB, counted map[int64]int, floor int64) {
	t.Helper()
	var rows []LoadItem
	if err := db.Session(&gorm.Session{NewDB: true}).Unscoped().Where("id > ?", floor).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	final := map[string]map[string]any{}
	for _, row := range rows {
		final[strconv.FormatInt(row.ID, 10)] = loadItemState(row)
	}
	histories := map[string][]LogEntry{}
	for _, e := range allEntries(t, db) {
		if e.Table != "load_items" {
			t.Fatalf("entry %d of table %q", e.ID, e.Table)
		}
		histories[e.ObjectPK] = append(histories[e.ObjectPK], e)
	}
	keys := map[string]bool{}
	for id := range counted {
		keys[strconv.FormatInt(id, 10)] = true
	}
	for k := range histories {
		keys[k] = true
	}
	for k := range final {
		keys[k] = true
	}
	failures := 0
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		id, _ := strconv.ParseInt(key, 10, 64)
		history := histories[key]
		var problems []string
		if n := counted[id]; len(history) != n {
			problems = append(problems, fmt.Sprintf("%d entries, %d committed changes", len(history), n))
		}
		state, err := replayLoad(history)
		if err != nil {
			problems = append(problems, err.Error())
		} else if diff := cmp.Diff(final[key], state); diff != "" {
			problems = append(problems, "replayed state differs from the table (-table +replayed):\n"+diff)
		}
		if len(problems) == 0 {
			continue
		}
		if failures++; failures > 5 {
			continue // the first few are enough to see what happened
		}
		var b strings.Builder
		for _, e := range history {
			fmt.Fprintf(&b, "  entry %d: %s %v\n", e.ID, e.Action, e.Changes)
		}
		t.Errorf("row %s: %s\nhistory:\n%s", key, strings.Join(problems, "; "), b.String())
	}
	if failures > 0 {
		t.Errorf("%d of %d rows have a history that does not match", failures, len(keys))
	}
}

// loadItemState is a row's tracked values in the log's form, without nulls.
func loadItemState(row LoadItem) map[string]any {
	s := map[string]any{
		"id":      loadNum(row.ID),
		"name":    row.Name,
		"counter": loadNum(row.Counter),
	}
	if row.Note != nil {
		s["note"] = *row.Note
	}
	if row.DeletedAt.Valid {
		s["deleted_at"] = formatTime(row.DeletedAt.Time)
	}
	return s
}

func loadNum(n int64) any { return num(strconv.FormatInt(n, 10)) }

// replayLoad applies a row's entries in order and returns the state they
// leave (nil: the row does not exist), checking each entry against the state
// before it: a create starts from nothing, an update's and a delete's old values are
// the current ones, a hard delete takes every value to null, a soft delete
// sets deleted_at.
func replayLoad(history []LogEntry) (map[string]any, error) {
	var state map[string]any
	for _, e := range history {
		at := fmt.Sprintf("entry %d (%s)", e.ID, e.Action)
		if len(e.Changes) == 0 {
			return nil, fmt.Errorf("%s: no changes", at)
		}
		switch e.Action {
		case ActionCreate:
			if state != nil {
				return nil, fmt.Errorf("%s: the row exists", at)
			}
			state = map[string]any{}
		case ActionUpdate, ActionDelete:
			if state == nil {
				return nil, fmt.Errorf("%s: the row does not exist", at)
			}
		default:
			return nil, fmt.Errorf("%s: unexpected action", at)
		}
		hard := e.Action == ActionDelete
		for col, ch := range e.Changes {
			if !reflect.DeepEqual(state[col], ch.Old) {
				return nil, fmt.Errorf("%s: %s: old value %#v, the row held %#v", at, col, ch.Old, state[col])
			}
			if ch.New == nil {
				delete(state, col)
			} else {
				state[col] = ch.New
				hard = false
			}
		}
		if e.Action == ActionDelete {
			switch {
			case hard && len(state) != 0:
				return nil, fmt.Errorf("%s: a hard delete left %v", at, state)
			case hard:
				state = nil
			case len(e.Changes) != 1 || e.Changes["deleted_at"].New == nil:
				return nil, fmt.Errorf("%s: a soft delete changes only deleted_at", at)
			}
		}
	}
	return state, nil
}
