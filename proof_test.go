package auditlog

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"
)

// TestProve: every sealed entry has an inclusion proof that checks against
// the checkpoint; a proof of another leaf, index or root fails.
func TestProve(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, ver := sealSetup(t, db, 4, 13)
		res := mustSeal(t, p, db)
		cp, err := OpenCheckpoint(res.Checkpoint, ver)
		if err != nil {
			t.Fatal(err)
		}
		for id := int64(1); id <= 13; id++ {
			pr, err := p.Prove(ctx, db, id, cp.Size)
			if err != nil {
				t.Fatalf("prove %d: %v", id, err)
			}
			if err := CheckProof(pr, cp); err != nil {
				t.Errorf("check proof of %d: %v", id, err)
			}
		}
		pr, err := p.Prove(ctx, db, 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		bad := pr
		bad.Index = 6
		if err := CheckProof(bad, cp); !errors.Is(err, ErrTampered) {
			t.Errorf("proof at another index: %v; want ErrTampered", err)
		}
		bad = pr
		bad.LeafHash = make([]byte, 32)
		if err := CheckProof(bad, cp); !errors.Is(err, ErrTampered) {
			t.Errorf("proof of another leaf: %v; want ErrTampered", err)
		}
		writeItems(t, db, 1)
		if _, err := p.Prove(ctx, db, 14, 0); !errors.Is(err, ErrNotSealed) {
			t.Errorf("prove an unsealed entry: %v; want ErrNotSealed", err)
		}
		execSQL(t, db, "UPDATE audit_log_entries SET cid = 'x' WHERE id = 5")
		if _, err := p.Prove(ctx, db, 5, 0); !errors.Is(err, ErrTampered) {
			t.Errorf("prove an edited entry: %v; want ErrTampered", err)
		}
	})
}

// TestVerifyObject: one object's entries verify cheaply; an edit of one of
// them is found with its ID, an edit of another object's entry is not
// attributed to it.
func TestVerifyObject(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, ver := sealSetup(t, db, 4, 10)
		if err := db.Model(&Item{ID: 3}).Update("qty", 42).Error; err != nil {
			t.Fatal(err)
		}
		res := mustSeal(t, p, db)
		opts := VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}
		rep, err := p.VerifyObject(ctx, db, &Item{ID: 3}, opts)
		if err != nil || rep.Entries != 2 || rep.Batches != 2 {
			t.Fatalf("verify object = %+v, %v; want 2 entries in 2 batches", rep, err)
		}
		execSQL(t, db, "UPDATE audit_log_entries SET actor_id = 'mallory' WHERE id = 11")
		rep, err = p.VerifyObject(ctx, db, &Item{ID: 3}, opts)
		if !errors.Is(err, ErrTampered) || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemEditedEntry || rep.Problems[0].EntryID != 11 {
			t.Fatalf("verify object after an edit = %v %v; want entry 11 edited", err, rep.Problems)
		}
		if _, err := p.VerifyObject(ctx, db, &Item{ID: 4}, opts); err != nil {
			t.Errorf("another object: %v", err)
		}
	})
}
