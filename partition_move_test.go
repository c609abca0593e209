package auditlog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPartitionLogTableUnderWrites moves a plain log table of 3,000
// entries under a partitioned one while 8 goroutines keep creating items:
// no write fails, every item has exactly one create entry, the old entries
// stay in the legacy partition and those written after the move's month go
// to their month's partition; ids stay unique (the sequence carries on).
func TestPartitionLogTableUnderWrites(t *testing.T) {
	db := openTestDB(t, "postgres", nil)
	var clock atomic.Pointer[time.Time]
	setClock := func(t time.Time) { clock.Store(&t) }
	setClock(day(2026, 11, 15))
	p := New(WithClock(func() time.Time { return *clock.Load() }), WithMonthlyPartitions(1))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}, &Item{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Item{}); err != nil {
		t.Fatal(err)
	}
	seed := make([]Item, 3000)
	for i := range seed {
		seed[i].Name = fmt.Sprint("seed ", i)
	}
	if err := db.CreateInBatches(seed, 500).Error; err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var written atomic.Int64
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := db.Create(&Item{Name: fmt.Sprintf("w%d-%d", w, i)}).Error; err != nil {
					errs <- err
					return
				}
				written.Add(1)
			}
		}()
	}
	// waitWrites waits until the writers have written n more items (or
	// one of them failed).
	waitWrites := func(n int64) {
		for goal := written.Load() + n; written.Load() < goal && len(errs) == 0; {
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitWrites(50)
	before := written.Load()
	err := p.PartitionLogTable(context.Background(), db)
	waitWrites(50)
	setClock(day(2026, 12, 2)) // December: its own partition
	waitWrites(50)
	stop()
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatalf("PartitionLogTable: %v", err)
	}
	for err := range errs {
		t.Errorf("a writer failed: %v", err)
	}
	if before == 0 || written.Load() == before {
		t.Fatalf("the writers did not write during the move (%d before, %d in all)", before, written.Load())
	}

	if kind, _ := relationKind(db, DefaultTable); kind != "p" {
		t.Fatalf("log table kind %q, want partitioned", kind)
	}
	want := []string{"audit_log_entries_p202612", "audit_log_entries_pdefault", "audit_log_entries_plegacy"}
	if got := partitionNames(t, db, DefaultTable); !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	var items, entries, dupes, unmatched int64
	db.Model(&Item{}).Count(&items)
	db.Table(DefaultTable).Count(&entries)
	db.Raw("SELECT count(*) FROM (SELECT object_pk FROM audit_log_entries GROUP BY object_pk HAVING count(*) <> 1) d").Scan(&dupes)
	db.Raw("SELECT count(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM audit_log_entries e WHERE e.table_name = 'items' AND e.object_pk = i.id::text AND e.action = 'create')").Scan(&unmatched)
	if items != 3000+written.Load() || entries != items || dupes != 0 || unmatched != 0 {
		t.Fatalf("%d items (%d written), %d entries, %d keys with other than one entry, %d items without", items, 3000+written.Load(), entries, dupes, unmatched)
	}
	var perPart []struct {
		Part        string
		N           int64
		First, Last int64
	}
	db.Raw(`SELECT tableoid::regclass::text AS part, count(*) AS n, min(id) AS first, max(id) AS last
		FROM audit_log_entries GROUP BY 1 ORDER BY 1`).Scan(&perPart)
	if len(perPart) != 2 || perPart[0].Part != "audit_log_entries_p202612" || perPart[1].Part != "audit_log_entries_plegacy" ||
		perPart[0].N == 0 || perPart[1].N < 3000 || perPart[0].Last <= perPart[1].Last {
		t.Fatalf("entries per partition %+v: want November's in the legacy partition, December's in p202612", perPart)
	}
	var distinctIDs int64
	db.Raw("SELECT count(DISTINCT id) FROM audit_log_entries").Scan(&distinctIDs)
	if distinctIDs != entries {
		t.Fatalf("%d distinct ids for %d entries", distinctIDs, entries)
	}
	// Run again: nothing to do.
	if err := p.PartitionLogTable(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	if err := p.AutoMigrate(db); err != nil {
		t.Fatalf("AutoMigrate after the move: %v", err)
	}
	var indexes []string
	db.Raw(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_log_entries'
		AND indexname LIKE 'idx_%' ORDER BY 1`).Scan(&indexes)
	if want := plainLogIndexes(t, db); !slices.Equal(indexes, want) {
		t.Fatalf("indexes on the partitioned table %v, want LogEntry's %v", indexes, want)
	}
}

// TestPartitionLogTableBadInput: without the option, and without a table,
// the move is refused with a clear error.
func TestPartitionLogTableBadInput(t *testing.T) {
	db := openTestDB(t, "postgres", nil)
	if err := New().PartitionLogTable(context.Background(), db); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("without WithMonthlyPartitions: %v", err)
	}
	if err := New(WithMonthlyPartitions(1)).PartitionLogTable(context.Background(), db); !errors.Is(err, ErrNoLogTable) {
		t.Fatalf("without a log table: %v", err)
	}
	sqlite := openTestDB(t, "sqlite", nil)
	if err := New(WithMonthlyPartitions(1)).PartitionLogTable(context.Background(), sqlite); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("on SQLite: %v", err)
	}
}
