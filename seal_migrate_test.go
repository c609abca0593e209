package auditlog

import (
	"context"
	"testing"

	"gorm.io/gorm"
)

// legacySealedEntry is the log row of the first layout of issue 14, which
// kept each entry's seal data in the log table.
type legacySealedEntry struct {
	ID       int64
	SealSeq  *int64 `gorm:"column:seal_seq"`
	LeafHash []byte `gorm:"column:leaf_hash;size:32"`
}

func (legacySealedEntry) TableName() string { return DefaultTable }

// TestMigrateLegacySeals: a log sealed with the seal data in its own rows
// (seal_seq, leaf_hash and their index) is moved to the seal table by
// AutoMigrate, which drops the old columns and index; the log verifies
// against its checkpoint, and the next seal seals only the new entries.
func TestMigrateLegacySeals(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, ver := sealSetup(t, db, 4, 10)
		res := mustSeal(t, p, db)
		m := db.Session(&gorm.Session{NewDB: true}).Migrator()
		for _, f := range []string{"SealSeq", "LeafHash"} {
			if err := m.AddColumn(&legacySealedEntry{}, f); err != nil {
				t.Fatal(err)
			}
		}
		execSQL(t, db, "UPDATE audit_log_entries SET seal_seq = (SELECT s.seal_seq FROM audit_log_entries_seals s "+
			"WHERE s.entry_id = audit_log_entries.id), leaf_hash = (SELECT s.leaf_hash FROM audit_log_entries_seals s "+
			"WHERE s.entry_id = audit_log_entries.id)")
		execSQL(t, db, "CREATE INDEX idx_audit_log_entries_seal ON audit_log_entries (seal_seq, id)")
		execSQL(t, db, "DROP TABLE audit_log_entries_seals")
		execSQL(t, db, "DROP TABLE audit_log_entries_seal_state")
		if err := p.AutoMigrate(db); err != nil {
			t.Fatalf("AutoMigrate: %v", err)
		}
		if m.HasColumn(DefaultTable, "seal_seq") || m.HasColumn(DefaultTable, "leaf_hash") ||
			m.HasIndex(DefaultTable, "idx_audit_log_entries_seal") {
			t.Error("the legacy seal columns or their index are still there")
		}
		checkSealedOnce(t, db, 10)
		if rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify after the migration: %v %v", err, rep.Problems)
		}
		if err := p.AutoMigrate(db); err != nil {
			t.Fatalf("second AutoMigrate: %v", err)
		}
		writeItems(t, db, 3)
		if res = mustSeal(t, p, db); res.Entries != 3 || res.TreeSize != 13 {
			t.Fatalf("seal after the migration = %+v; want the 3 new entries", res)
		}
		checkSealedOnce(t, db, 13)
		if rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver}); err != nil {
			t.Fatalf("verify: %v %v", err, rep.Problems)
		}
	})
}
