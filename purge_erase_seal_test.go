package auditlog

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestPurgeSealedKeepsVerifying: with sealing on, Purge removes whole old
// batches only, records them in the chain, and the log still verifies,
// also against a checkpoint signed before the purge.
func TestPurgeSealedKeepsVerifying(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, ver := sealSetup(t, db, 4, 10) // entries at testNow
		before := mustSeal(t, p, db)
		late := testNow.Add(time.Hour)
		p.cfg.now = func() time.Time { return late }
		writeItems(t, db, 3) // entries 11-13: batch 4
		mustSeal(t, p, db)
		writeItems(t, db, 1) // unsealed, old enough, never purged
		n, err := p.Purge(ctx, db, late.Add(time.Minute), PurgeOptions{Reason: "test retention"})
		if err != nil {
			t.Fatal(err)
		}
		if n != 13 {
			t.Fatalf("purged %d; want the 13 sealed entries", n)
		}
		var left int64
		db.Table(DefaultTable).Count(&left)
		if left != 1 {
			t.Fatalf("%d entries left; want the unsealed one", left)
		}
		if _, err := p.Purge(ctx, db, testNow, PurgeOptions{Tables: []string{"items"}}); err == nil {
			t.Error("Purge with a filter and sealing on succeeded")
		}
		res := mustSeal(t, p, db)
		for _, cp := range [][]byte{before.Checkpoint, res.Checkpoint} {
			rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: cp, Verifier: ver})
			if err != nil {
				t.Fatalf("verify: %v %v", err, rep.Problems)
			}
			if rep.PurgedBatches != 4 || rep.Entries != 1 {
				t.Errorf("report: %d purged batches, %d entries; want 4, 1", rep.PurgedBatches, rep.Entries)
			}
		}
		// The purged entries' leaf hashes stay in the seal table: the entry
		// sealed after them still has an inclusion proof.
		cp, err := OpenCheckpoint(res.Checkpoint, ver)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := p.Prove(ctx, db, 14, cp.Size)
		if err != nil {
			t.Fatalf("prove after the purge: %v", err)
		}
		if pr.Index != 13 || CheckProof(pr, cp) != nil {
			t.Errorf("proof %+v does not check against %+v", pr, cp)
		}
	})
}

// TestPurgeSealedStopsAtNewerBatch: a batch with one entry newer than the
// cut-off stays whole.
func TestPurgeSealedStopsAtNewerBatch(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, _ := sealSetup(t, db, 4, 6)
		p.cfg.now = func() time.Time { return testNow.Add(time.Hour) }
		writeItems(t, db, 1) // entry 7 in batch 2 (entries 5-7), newer
		mustSeal(t, p, db)
		n, err := p.Purge(context.Background(), db, testNow.Add(time.Minute), PurgeOptions{})
		if err != nil || n != 4 {
			t.Fatalf("purge = %d, %v; want batch 1's 4 entries", n, err)
		}
		if rep, err := p.Verify(context.Background(), db, VerifyOptions{}); err != nil {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}

// TestEraseKeepsVerifying: erased entries lose their payload, keep their
// leaf hash, the erasure is an entry, and the log verifies; an erasure
// without its record is an edit.
func TestEraseKeepsVerifying(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := WithActor(context.Background(), "dpo")
		p, ver := sealSetup(t, db, 4, 6)
		if err := db.Model(&Item{ID: 2}).Update("name", "renamed").Error; err != nil {
			t.Fatal(err)
		}
		n, err := p.EraseObject(ctx, db, &Item{ID: 2}, "GDPR art. 17 request 42")
		if err != nil || n != 2 {
			t.Fatalf("erase = %d, %v; want item 2's 2 entries", n, err)
		}
		entries := allEntries(t, db)
		rec := entries[len(entries)-1]
		if rec.Action != ActionErase || rec.ActorID != "dpo" || rec.ObjectPK != "2" {
			t.Fatalf("erase record = %+v", rec)
		}
		for _, e := range entries[:len(entries)-1] {
			if e.ObjectPK == "2" && (e.Changes != nil || e.ErasedBy == nil || *e.ErasedBy != rec.ID) {
				t.Errorf("entry %d not erased: %+v", e.ID, e)
			}
		}
		res := mustSeal(t, p, db)
		if rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil || rep.Erased != 2 {
			t.Fatalf("verify: %v %v (erased %d)", err, rep.Problems, rep.Erased)
		}
		// Tampering disguised as an erasure: no record names entry 3.
		execSQL(t, db, "UPDATE audit_log_entries SET changes = NULL, erased_by = ? WHERE id = 3", rec.ID)
		rep, err := p.Verify(ctx, db, VerifyOptions{})
		if err == nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemEditedEntry || rep.Problems[0].EntryID != 3 {
			t.Fatalf("verify = %v %v; want entry 3 edited", err, rep.Problems)
		}
	})
}
