package auditlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gorm.io/gorm"
)

// TestSealWatermarkHoldsForOpenTransaction: while a transaction holding a
// small ID stays open, later seals move the watermark no higher than below
// it, however many run; once it commits, the next seal seals its entry and
// then the watermark passes it.
func TestSealWatermarkHoldsForOpenTransaction(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		if db.Dialector.Name() == "sqlite" {
			t.Skip("SQLite has one writer: no transaction stays open beside another's commit")
		}
		p, ver := sealSetup(t, db, 100, 0)
		tx := db.Begin()
		t.Cleanup(func() { tx.Rollback() })
		if err := tx.Create(&Item{Name: "slow"}).Error; err != nil {
			t.Fatal(err)
		}
		var slowID int64
		if err := tx.Table(DefaultTable).Select("MAX(id)").Scan(&slowID).Error; err != nil {
			t.Fatal(err)
		}
		for round := range 3 {
			writeItems(t, db, 2)
			if res := mustSeal(t, p, db); res.Entries != 2 {
				t.Fatalf("round %d sealed %d; want the 2 committed", round, res.Entries)
			}
			time.Sleep(300 * time.Millisecond) // past MySQL's innodb_trx cache age
			st := sealStateOf(t, p, db)
			if st.LowID >= slowID {
				t.Fatalf("round %d: watermark %d passed the open transaction's entry %d", round, st.LowID, slowID)
			}
		}
		if err := tx.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if res := mustSeal(t, p, db); res.Entries != 1 {
			t.Fatalf("after the commit sealed %d; want the late entry", res.Entries)
		}
		var res SealResult
		for try := 0; ; try++ { // a candidate taken, then settled (other tests' transactions may delay it)
			time.Sleep(300 * time.Millisecond)
			res = mustSeal(t, p, db)
			if sealStateOf(t, p, db).LowID > slowID {
				break
			}
			if try == 20 {
				t.Fatalf("watermark %d still below the sealed late entry %d", sealStateOf(t, p, db).LowID, slowID)
			}
		}
		checkSealedOnce(t, db, 7)
		if rep, err := p.Verify(context.Background(), db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

// TestSealWatermarkMoves: on a quiet log the watermark reaches the last ID
// by the second seal after the first (a candidate, then settled), and a
// rolled-back ID does not hold it.
func TestSealWatermarkMoves(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, _ := sealSetup(t, db, 4, 5)
		tx := db.Begin()
		if err := tx.Create(&Item{Name: "rolled back"}).Error; err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		writeItems(t, db, 2)
		var top int64
		if err := db.Table(DefaultTable).Select("MAX(id)").Scan(&top).Error; err != nil {
			t.Fatal(err)
		}
		if res := mustSeal(t, p, db); res.Entries != 7 {
			t.Fatalf("sealed %d; want 7", res.Entries)
		}
		if st := sealStateOf(t, p, db); st.LowID != 0 || st.CandID == nil || *st.CandID != top {
			t.Fatalf("state after the first seal = %+v; want watermark 0, candidate %d", st, top)
		}
		// Transactions of other tests on the same server can hold the
		// candidate back for a while: retry.
		for try := 0; ; try++ {
			time.Sleep(300 * time.Millisecond)
			if res := mustSeal(t, p, db); res.Entries != 0 {
				t.Fatalf("second seal sealed %d; want 0", res.Entries)
			}
			st := sealStateOf(t, p, db)
			if st.LowID == top && st.CandID == nil {
				break
			}
			if try == 20 || st.LowID != 0 {
				t.Fatalf("state after the second seal = %+v; want watermark %d, no candidate", st, top)
			}
		}
		checkSealedOnce(t, db, 7)
		// Below the watermark, an entry without a seal row is reported.
		execSQL(t, db, "DELETE FROM audit_log_entries_seals WHERE entry_id = 2")
		rep, err := p.Verify(context.Background(), db, VerifyOptions{})
		want := []Problem{{Kind: ProblemDeletedEntry, Seq: 1, Batch: 1}, {Kind: ProblemResequencedEntry, EntryID: 2, Seq: -1}}
		if !errors.Is(err, ErrTampered) || !cmp.Equal(want, rep.Problems, cmpopts.IgnoreFields(Problem{}, "Detail")) {
			t.Fatalf("verify = %v, %v; want %v", err, rep.Problems, want)
		}
	})
}

func sealStateOf(t *testing.T, p *Plugin, db *gorm.DB) sealState {
	t.Helper()
	st, err := p.readSealState(db.Session(&gorm.Session{NewDB: true}))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSealWatermarkIDBeforeTransactionID: on PostgreSQL a transaction whose
// first write is the entry's INSERT (Plugin.LogAccess outside a
// transaction) draws the entry's ID before it has a transaction ID; a
// trigger holds it there for 1.5 s while other entries commit and seals
// run. The watermark must not pass the held ID: once the slow INSERT
// commits, a seal seals its entry, and every entry is sealed once.
func TestSealWatermarkIDBeforeTransactionID(t *testing.T) {
	db := openTestDB(t, "postgres", nil)
	p, _ := sealSetup(t, db, 100, 1)
	for _, sql := range []string{
		`CREATE FUNCTION slow_access() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NEW; END $$`,
		`CREATE TRIGGER slow_access BEFORE INSERT ON audit_log_entries FOR EACH ROW WHEN (NEW.action = 'access') EXECUTE FUNCTION slow_access()`,
	} {
		if err := db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.LogAccess(context.Background(), db, &Item{ID: 1}) }()
	time.Sleep(300 * time.Millisecond) // the access entry's ID is drawn; its INSERT sleeps
	for range 4 {
		writeItems(t, db, 1)
		mustSeal(t, p, db)
		time.Sleep(100 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range 3 {
		mustSeal(t, p, db)
		time.Sleep(100 * time.Millisecond)
	}
	checkSealedOnce(t, db, 6) // the first item, four more, the access entry
}
