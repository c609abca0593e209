package auditlog

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

var soak = flag.Duration("auditlog.soak", 0,
	"how long TestLoad runs its loadWorkload on each database (default 10s, 2s with -short)")

// LoadItem is the model of the load test: soft delete, a counter that every
// update changes, and a nullable field.
type LoadItem struct {
	ID        int64
	Name      string `gorm:"size:64"`
	Counter   int64
	Note      *string        `gorm:"size:64"`
	DeletedAt gorm.DeletedAt `gorm:"index"`
}

const (
	loadWorkers = 16
	loadRows    = 50 // rows the workload keeps alive, about
)

// TestLoad runs 16 goroutines for a bounded time on a shared set of about 50
// rows, doing creates, single updates (Update, Updates with a map,
// UpdateColumn with gorm.Expr, Save), Where batch updates (with a value and
// with gorm.Expr increments), soft deletes (by object and by Where) and hard
// deletes, retrying on deadlocks, serialization failures and busy locks.
// Every operation's committed changes are counted on the caller's side, per
// row; every update changes a tracked value (a fresh token or an
// increment), so each committed change has exactly one entry.
//
// Afterwards, for every row: the number of entries equals the changes
// counted; replaying its entries in order reproduces its final state in the
// table (a hard-deleted row's last entry is its delete, with every value
// going to null; a soft-deleted row has deleted_at set); and every entry's
// old values equal the values the earlier entries left.
//
// It runs 10s per database (2s with -short); -auditlog.soak=5m runs longer.
func TestLoad(t *testing.T) {
	d := *soak
	if d == 0 {
		d = 10 * time.Second
		if testing.Short() {
			d = 2 * time.Second
		}
	}
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&LoadItem{}})
		w := newLoadWorkload(db)
		for range loadRows {
			if err := w.retry(w.create); err != nil {
				t.Fatal(err)
			}
		}
		stop := time.Now().Add(d)
		for _, err := range w.drive(func() bool { return time.Now().Before(stop) }) {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		w.mu.Lock()
		t.Logf("%d operations in %v, %d committed changes, %d retries: %v", w.total(), d, w.changeCount(), w.retries, w.ops)
		w.mu.Unlock()
		checkLoadHistories(t, db, w.changes, 0)
	})
}

// drive runs loadWorkers goroutines that pick and run operations (retried
// as loadWorkload.retry does) for as long as more reports true, and returns
// the errors that stopped workers.
func (w *loadWorkload) drive(more func() bool) []error {
	var wg sync.WaitGroup
	errs := make(chan error, loadWorkers)
	for i := range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for more() {
				if err := w.retry(w.pick(r)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// loadWorkload is the shared state of TestLoad's workers.
type loadWorkload struct {
	db *gorm.DB
	// floor: rows with a key up to it are not the workload's (BenchmarkLoad's
	// filler rows); range updates stay above it.
	floor int64

	mu      sync.Mutex
	seq     int
	active  []int64       // rows not deleted
	soft    []int64       // soft-deleted rows
	changes map[int64]int // committed changes by row
	ops     map[string]int
	retries int
}

func newLoadWorkload(db *gorm.DB) *loadWorkload {
	return &loadWorkload{db: db, changes: map[int64]int{}, ops: map[string]int{}}
}

// loadOperation runs one write and returns its kind and the rows it
// changed, once per change. It is retried as a whole when it fails with a
// transient error: nothing of a failed attempt has committed.
type loadOperation func(r *rand.Rand) (kind string, changed []int64, err error)

// retry runs op until it commits or fails with an error that is not
// transient, then counts its changes.
func (w *loadWorkload) retry(op loadOperation) error {
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for attempt := 1; ; attempt++ {
		kind, changed, err := op(r)
		if err == nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.ops[kind]++
			for _, id := range changed {
				w.changes[id]++
			}
			return nil
		}
		if !transientError(err) || attempt == 100 {
			return fmt.Errorf("%s (attempt %d): %w", kind, attempt, err)
		}
		w.mu.Lock()
		w.retries++
		w.mu.Unlock()
		time.Sleep(time.Duration(r.IntN(5)) * time.Millisecond)
	}
}

// transientError reports whether err is a deadlock, a serialization failure, a
// lock wait timeout or a busy SQLite database, after which the whole
// transaction was rolled back and may be retried. GORM joins later errors to
// the first as text, so the text is checked too.
func transientError(err error) bool {
	var pg interface{ SQLState() string }
	if errors.As(err, &pg) && (pg.SQLState() == "40001" || pg.SQLState() == "40P01") {
		return true
	}
	var my *mysqldrv.MySQLError
	if errors.As(err, &my) && (my.Number == 1213 || my.Number == 1205) {
		return true
	}
	s := err.Error()
	for _, sign := range []string{"(SQLSTATE 40001)", "(SQLSTATE 40P01)", "Error 1213 ", "Error 1205 ", "database is locked", "SQLITE_BUSY"} {
		if strings.Contains(s, sign) {
			return true
		}
	}
	return false
}

// token returns a fresh value for the name column: every update that sets it
// changes the row.
func (w *loadWorkload) token() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return "t" + strconv.Itoa(w.seq)
}

// sample returns up to n distinct rows of the set (active or soft-deleted).
func (w *loadWorkload) sample(r *rand.Rand, soft bool, n int) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.active
	if soft {
		set = w.soft
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]int64, 0, n)
	for range n {
		if id := set[r.IntN(len(set))]; !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (w *loadWorkload) sizes() (active, soft int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.active), len(w.soft)
}

// moved records committed deletes: rows leave the active set, and soft-deleted
// ones join the soft set.
func (w *loadWorkload) moved(ids []int64, soft bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		w.active = slices.DeleteFunc(w.active, func(x int64) bool { return x == id })
		w.soft = slices.DeleteFunc(w.soft, func(x int64) bool { return x == id })
		if soft {
			w.soft = append(w.soft, id)
		}
	}
}

func (w *loadWorkload) total() int {
	n := 0
	for _, c := range w.ops {
		n += c
	}
	return n
}

func (w *loadWorkload) changeCount() int {
	n := 0
	for _, c := range w.changes {
		n += c
	}
	return n
}

// pick chooses the next operation, keeping about loadRows rows alive.
func (w *loadWorkload) pick(r *rand.Rand) loadOperation {
	active, soft := w.sizes()
	switch x := r.IntN(100); {
	case x < 8 && active < loadRows:
		return w.create
	case x < 20:
		return w.update
	case x < 32:
		return w.updatesMap
	case x < 40:
		return w.updateColumnExpr
	case x < 50:
		return w.save
	case x < 62:
		return w.whereUpdate
	case x < 74:
		return w.whereExprUpdate
	case x < 80 && active > loadRows-10:
		return w.softDelete
	case x < 84 && active > loadRows-10:
		return w.softDeleteWhere
	case x < 92 && soft > 0:
		return w.hardDeleteSoft
	case x < 100 && active > loadRows-10:
		return w.hardDelete
	}
	return w.update
}

// loadChanged is the rows a write of row id changed: id when it affected
// one row, none when it affected none.
func loadChanged(id int64, n int64) []int64 {
	if n == 1 {
		return []int64{id}
	}
	return nil
}

func (w *loadWorkload) create(r *rand.Rand) (string, []int64, error) {
	item := LoadItem{Name: w.token(), Counter: r.Int64N(1000)}
	if r.IntN(2) == 0 {
		note := "n" + item.Name
		item.Note = &note
	}
	if err := w.db.Create(&item).Error; err != nil {
		return "create", nil, err
	}
	w.mu.Lock()
	w.active = append(w.active, item.ID)
	w.mu.Unlock()
	return "create", []int64{item.ID}, nil
}

func (w *loadWorkload) update(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, false, 1)
	if id == nil {
		return "update", nil, nil
	}
	res := w.db.Model(&LoadItem{ID: id[0]}).Update("name", w.token())
	return "update", loadChanged(id[0], res.RowsAffected), res.Error
}

func (w *loadWorkload) updatesMap(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, false, 1)
	if id == nil {
		return "updates map", nil, nil
	}
	var note any // null, or a fresh text
	if r.IntN(2) == 0 {
		note = w.token()
	}
	res := w.db.Model(&LoadItem{ID: id[0]}).Updates(map[string]any{"counter": gorm.Expr("counter + ?", 1), "note": note})
	return "updates map", loadChanged(id[0], res.RowsAffected), res.Error
}

func (w *loadWorkload) updateColumnExpr(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, false, 1)
	if id == nil {
		return "update column", nil, nil
	}
	res := w.db.Model(&LoadItem{ID: id[0]}).UpdateColumn("counter", gorm.Expr("counter + ?", 1+r.IntN(3)))
	return "update column", loadChanged(id[0], res.RowsAffected), res.Error
}

// save reads a row with a lock and saves it back changed.
func (w *loadWorkload) save(r *rand.Rand) (string, []int64, error) {
	id := w.sample(r, false, 1)
	if id == nil {
		return "save", nil, nil
	}
	var changed []int64
	err := w.db.Transaction(func(tx *gorm.DB) error {
		var it LoadItem
		err := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).First(&it, id[0]).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		it.Name, it.Counter = w.token(), it.Counter+1
		res := tx.Save(&it)
		changed = loadChanged(it.ID, res.RowsAffected)
		return res.Error
	})
	return "save", changed, err
}

// whereUpdate sets a fresh token on a few rows by Where, and finds the rows
// it changed by that token, in the same transaction.
func (w *loadWorkload) whereUpdate(r *rand.Rand) (string, []int64, error) {
	ids := w.sample(r, false, 2+r.IntN(5))
	if ids == nil {
		return "where update", nil, nil
	}
	tok := w.token()
	var changed []int64
	err := w.db.Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&LoadItem{}).Where("id IN ?", ids).Update("name", tok)
		if res.Error != nil {
			return res.Error
		}
		return w.loadTokenRows(tx, tok, res.RowsAffected, &changed)
	})
	return "where update", changed, err
}

// whereExprUpdate increments the counter of the rows of an id range with a
// given parity, with gorm.Expr, and sets a fresh token to find them.
func (w *loadWorkload) whereExprUpdate(r *rand.Rand) (string, []int64, error) {
	ids := w.sample(r, false, 1)
	if ids == nil {
		return "where expr update", nil, nil
	}
	lo := ids[0] - int64(r.IntN(8))
	if w.floor > 0 && lo <= w.floor {
		lo = w.floor + 1
	}
	tok := w.token()
	var changed []int64
	err := w.db.Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&LoadItem{}).Where("id BETWEEN ? AND ? AND counter % 2 = ?", lo, lo+8, r.IntN(2)).
			Updates(map[string]any{"counter": gorm.Expr("counter + ?", 1+r.IntN(3)), "name": tok})
		if res.Error != nil {
			return res.Error
		}
		return w.loadTokenRows(tx, tok, res.RowsAffected, &changed)
	})
	return "where expr update", changed, err
}
