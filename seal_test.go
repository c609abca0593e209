package auditlog

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"gorm.io/gorm"
)

// testKeys is a fresh Ed25519 note signer and its verifier.
func testKeys(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "auditlog-test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// sealSetup installs a sealing plugin (batches of batch entries) with a
// signer, and writes n entries: items created one by one.
func sealSetup(t *testing.T, db *gorm.DB, batch, n int) (*Plugin, note.Verifier) {
	t.Helper()
	s, v := testKeys(t)
	p := setup(t, db, []any{&Item{}})
	p.cfg.seal = &SealConfig{Signer: s, BatchSize: batch}
	writeItems(t, db, n)
	return p, v
}

func writeItems(t testing.TB, db *gorm.DB, n int) {
	t.Helper()
	for i := range n {
		if err := db.Create(&Item{Name: fmt.Sprintf("item %d", i), Price: float64(i) + 0.5, Qty: i}).Error; err != nil {
			t.Fatalf("create: %v", err)
		}
	}
}

func mustSeal(t testing.TB, p *Plugin, db *gorm.DB) SealResult {
	t.Helper()
	res, err := p.Seal(context.Background(), db)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return res
}

func TestSealAndVerifyClean(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, ver := sealSetup(t, db, 4, 10)
		res := mustSeal(t, p, db)
		if res.Batches != 3 || res.Entries != 10 || res.TreeSize != 10 || res.Checkpoint == nil {
			t.Fatalf("seal = %+v; want 3 batches, 10 entries", res)
		}
		again := mustSeal(t, p, db) // a quiet period: a checkpoint, no batch
		if again.Batches != 0 || again.TreeSize != 10 || string(again.TreeRoot) != string(res.TreeRoot) {
			t.Fatalf("second seal = %+v", again)
		}
		writeItems(t, db, 3) // unsealed: not covered, no problem
		rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver})
		if err != nil {
			t.Fatalf("verify: %v (%v)", err, rep.Problems)
		}
		if rep.Batches != 3 || rep.Entries != 10 || rep.TreeSize != 10 {
			t.Errorf("report = %+v", rep)
		}
		res = mustSeal(t, p, db)
		if _, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify after second seal: %v", err)
		}
	})
}

func TestVerifyBadSignature(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, _ := sealSetup(t, db, 4, 2)
		res := mustSeal(t, p, db)
		_, other := testKeys(t)
		rep, err := p.Verify(context.Background(), db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: other})
		if !errors.Is(err, ErrTampered) || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemBadSignature {
			t.Fatalf("verify = %v, %v; want one bad signature", err, rep.Problems)
		}
	})
}

// TestVerifyWrongOrigin: a checkpoint signed with the right key for another
// log (another origin) is reported and not used, whether the expected origin
// comes from VerifyOptions.Origin or from the plugin's SealConfig.Origin.
func TestVerifyWrongOrigin(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, ver := sealSetup(t, db, 4, 2)
		res := mustSeal(t, p, db)
		if _, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver,
			Origin: "auditlog/audit_log_entries"}); err != nil {
			t.Fatalf("verify with the right origin: %v", err)
		}
		want := []Problem{{Kind: ProblemWrongOrigin, Seq: -1,
			Detail: `checkpoint is of log "auditlog/audit_log_entries", not "acme.example/other"`}}
		rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver, Origin: "acme.example/other"})
		if !errors.Is(err, ErrTampered) || !reflect.DeepEqual(rep.Problems, want) || rep.Checkpoint != nil {
			t.Fatalf("verify = %v, %v, checkpoint %v; want %v", err, rep.Problems, rep.Checkpoint, want)
		}
		p.cfg.seal.Origin = "acme.example/other"
		rep, err = p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver})
		if !errors.Is(err, ErrTampered) || !reflect.DeepEqual(rep.Problems, want) {
			t.Fatalf("verify = %v, %v; want %v", err, rep.Problems, want)
		}
	})
}
