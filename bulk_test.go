package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"gorm.io/gorm"
)

// chunkHooks records the order in which BeforeLog and AfterLog see entries,
// and fails BeforeLog at entry failAt (1-based; 0: never).
type chunkHooks struct {
	calls  []byte // 'b' for a BeforeLog call, 'a' for an AfterLog call
	failAt int
	seen   int
}

func (h *chunkHooks) options(batch int) []Option {
	return []Option{WithBatchSize(batch), withPageRows(batch + 1),
		BeforeLog(func(ctx context.Context, e *LogEntry) error {
			h.calls = append(h.calls, 'b')
			h.seen++
			if h.seen == h.failAt {
				return errors.New("log unwritable")
			}
			return nil
		}),
		AfterLog(func(ctx context.Context, e *LogEntry) { h.calls = append(h.calls, 'a') })}
}

// withPageRows sets how many rows a paged capture writes per statement.
func withPageRows(n int) Option {
	return optionFunc(func(c *config) { c.pageRows = n })
}

// seedBulkItems creates n BenchItems of group grp without auditing them.
func seedBulkItems(t testing.TB, db *gorm.DB, n, grp int) {
	t.Helper()
	items := make([]BenchItem, n)
	for i := range items {
		items[i] = BenchItem{Name: "item" + strconv.Itoa(i), Qty: i, Grp: grp}
	}
	if err := db.WithContext(Disable(context.Background())).CreateInBatches(&items, 500).Error; err != nil {
		t.Fatal(err)
	}
}

// TestBulkWritesInChunks: a Where update and delete of 10 rows with a batch
// size of 3 (PostgreSQL: in pages of 4 rows) are recorded in chunks of 3 entries (BeforeLog, INSERT and
// AfterLog of one chunk before the next is built), one exact entry a row;
// a failure in the second chunk, or a rollback after the write, leaves
// neither rows changed nor entries.
func TestBulkWritesInChunks(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		h := &chunkHooks{}
		setupWith(t, db, h.options(3), []any{&BenchItem{}})
		seedBulkItems(t, db, 10, 1)
		qtys := func() []int {
			var q []int
			if err := db.Model(&BenchItem{}).Order("id").Pluck("qty", &q).Error; err != nil {
				t.Fatal(err)
			}
			return q
		}
		before := qtys()

		h.failAt = 5
		err := db.Model(&BenchItem{}).Where("grp = ?", 1).Update("qty", gorm.Expr("qty + 1")).Error
		if err == nil {
			t.Fatal("update with a failing second chunk succeeded")
		}
		if got := fmt.Sprint(qtys()); got != fmt.Sprint(before) {
			t.Errorf("after a failed chunk: qty %s, want %v", got, before)
		}
		if n := len(allEntries(t, db)); n != 0 {
			t.Errorf("after a failed chunk: %d entries, want 0", n)
		}

		h.failAt, h.calls = 0, nil
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&BenchItem{}).Where("grp = ?", 1).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
				return err
			}
			return errors.New("roll back")
		})
		if err == nil || len(allEntries(t, db)) != 0 || fmt.Sprint(qtys()) != fmt.Sprint(before) {
			t.Errorf("rolled back update: err %v, entries %d, qty %v", err, len(allEntries(t, db)), qtys())
		}
		if want := "bbbaaabbbaaabbbaaaba"; string(h.calls) != want {
			t.Errorf("hook order %q, want %q (chunks of 3)", h.calls, want)
		}

		if err := db.Model(&BenchItem{}).Where("grp = ?", 1).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Where("grp = ?", 1).Delete(&BenchItem{}).Error; err != nil {
			t.Fatal(err)
		}
		checkBulkEntries(t, allEntries(t, db), before)
	})
}

// checkBulkEntries checks one update entry (qty old → old+1) and then one
// delete entry per row, rows keyed 1..len(qtys) with the given old qtys.
func checkBulkEntries(t *testing.T, entries []LogEntry, qtys []int) {
	t.Helper()
	n := len(qtys)
	if len(entries) != 2*n {
		t.Fatalf("%d entries, want %d", len(entries), 2*n)
	}
	updates, deletes := map[string]string{}, map[string]string{}
	for _, e := range entries[:n] {
		if e.Action != ActionUpdate || len(e.Changes) != 1 {
			t.Fatalf("entry %v, want an update of qty", e)
		}
		updates[e.ObjectPK] = fmt.Sprint(e.Changes["qty"].Old, "→", e.Changes["qty"].New)
	}
	for _, e := range entries[n:] {
		if e.Action != ActionDelete {
			t.Fatalf("entry %v, want a delete", e)
		}
		deletes[e.ObjectPK] = fmt.Sprint(e.Changes["qty"].Old, "→", e.Changes["qty"].New)
	}
	for i, q := range qtys {
		pk := strconv.Itoa(i + 1)
		if want := fmt.Sprint(q, "→", q+1); updates[pk] != want {
			t.Fatalf("update of %s: %s, want %s", pk, updates[pk], want)
		}
		if want := fmt.Sprint(q+1, "→<nil>"); deletes[pk] != want {
			t.Fatalf("delete of %s: %s, want %s", pk, deletes[pk], want)
		}
	}
}

// TestCaptureConformancePaged is TestCaptureConformance with pages of 2
// rows: every strategy records the same entries when a write is captured
// page by page (capture_stream.go).
func TestCaptureConformancePaged(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			probe := openTestDB(t, name, nil)
			for _, st := range strategiesOn(newCapabilities(probe)) {
				t.Run(st.String(), func(t *testing.T) {
					for _, tt := range writePathCases() {
						t.Run(tt.name, func(t *testing.T) {
							db := openTestDB(t, name, nil)
							setupWith(t, db, []Option{forceStrategy(st), withPageRows(2)}, []any{&Item{}}, Mask("Secret"))
							checkWritePath(t, db, tt)
						})
					}
				})
			}
		})
	}
}
