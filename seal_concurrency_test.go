package auditlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
)

// checkSealedOnce checks that every entry is sealed exactly once: the seal
// sequence numbers are 0..n-1, one entry each.
func checkSealedOnce(t *testing.T, db *gorm.DB, want int) {
	t.Helper()
	var seqs []int64
	if err := db.Table(DefaultTable+"_seals").Order("seal_seq").Pluck("seal_seq", &seqs).Error; err != nil {
		t.Fatal(err)
	}
	var unsealed int64
	sealed := db.Session(&gorm.Session{NewDB: true}).Table(DefaultTable + "_seals").Select("entry_id")
	if err := db.Table(DefaultTable).Where("id NOT IN (?)", sealed).Count(&unsealed).Error; err != nil {
		t.Fatal(err)
	}
	if len(seqs) != want || unsealed != 0 {
		t.Fatalf("%d sealed, %d unsealed; want %d sealed", len(seqs), unsealed, want)
	}
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("seal sequence %d at position %d: lost or sealed twice", s, i)
		}
	}
}

// TestSealConcurrentWithWriters: 16 writers, two sealers and a verifier at
// once; Verify finds nothing wrong meanwhile, and in the end every entry is
// sealed once and the log verifies.
func TestSealConcurrentWithWriters(t *testing.T) {
	const writers, perWriter = 16, 25
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, ver := sealSetup(t, db, 7, 0)
		ctx := context.Background()
		var wg, sealers sync.WaitGroup
		errs := make(chan error, writers+3)
		done := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					if err := db.Create(&Item{Name: fmt.Sprintf("w%d-%d", w, i)}).Error; err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		sealers.Add(1)
		go func() { // Verify beside the writers and sealers finds nothing wrong
			defer sealers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if rep, err := p.Verify(ctx, db, VerifyOptions{}); err != nil {
					errs <- fmt.Errorf("verify during the seals: %w %v", err, rep.Problems)
					return
				}
			}
		}()
		for range 2 {
			sealers.Add(1)
			go func() {
				defer sealers.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					if _, err := p.Seal(ctx, db); err != nil {
						errs <- fmt.Errorf("seal: %w", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(done)
		sealers.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		res := mustSeal(t, p, db)
		checkSealedOnce(t, db, writers*perWriter)
		if rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

// TestSealSkipsUncommitted: an entry whose transaction commits after a
// later-ID entry was sealed is sealed by the next Seal, after it.
func TestSealSkipsUncommitted(t *testing.T) {
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
		writeItems(t, db, 2)
		if res := mustSeal(t, p, db); res.Entries != 2 {
			t.Fatalf("first seal sealed %d; want the 2 committed", res.Entries)
		}
		if err := tx.Commit().Error; err != nil {
			t.Fatal(err)
		}
		res := mustSeal(t, p, db)
		if res.Entries != 1 || res.TreeSize != 3 {
			t.Fatalf("second seal = %+v; want the late entry", res)
		}
		checkSealedOnce(t, db, 3)
		if rep, err := p.Verify(context.Background(), db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

// TestSealCrash: a seal whose connection is killed before its header is
// written leaves nothing behind; the next seal and Verify accept the state.
func TestSealCrash(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, ver := sealSetup(t, db, 4, 6)
		mustSeal(t, p, db)
		writeItems(t, db, 5)
		errCrash := errors.New("crash")
		p.cfg.sealHook = func(tx *gorm.DB) error {
			switch tx.Dialector.Name() {
			case "postgres":
				tx.Exec("SELECT pg_terminate_backend(pg_backend_pid())")
			case "mysql":
				tx.Exec("KILL CONNECTION_ID()")
			}
			return errCrash
		}
		if _, err := p.Seal(context.Background(), db); err == nil {
			t.Fatal("seal with a killed connection succeeded")
		}
		p.cfg.sealHook = nil
		if rep, err := p.Verify(context.Background(), db, VerifyOptions{}); err != nil {
			t.Fatalf("verify after the crash: %v %v", err, rep.Problems)
		}
		res := mustSeal(t, p, db)
		checkSealedOnce(t, db, 11)
		if rep, err := p.Verify(context.Background(), db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

// TestRunSealer: the background sealer seals at once and at each tick, and
// stops with its context.
func TestRunSealer(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, _ := sealSetup(t, db, 100, 3)
		var checkpoints atomic.Int64
		p.cfg.seal.Checkpoints = CheckpointFunc(func(context.Context, []byte) error {
			checkpoints.Add(1)
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error)
		go func() { stopped <- p.RunSealer(ctx, db, 10*time.Millisecond, func(err error) { t.Error(err) }) }()
		for checkpoints.Load() < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-stopped; !errors.Is(err, context.Canceled) {
			t.Errorf("RunSealer returned %v; want context.Canceled", err)
		}
		checkSealedOnce(t, db, 3)
		if err := p.RunSealer(context.Background(), db, 0, nil); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("RunSealer with no interval: %v", err)
		}
	})
}
