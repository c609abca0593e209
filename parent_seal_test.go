package auditlog

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"gorm.io/gorm"
)

// TestParentSealed: entries with a parent are sealed with it (leaf version
// 2): a log of children and other entries verifies, including rows whose
// parent columns are NULL (written before the columns existed), and
// clearing or moving an entry's parent is reported as an edited entry.
func TestParentSealed(t *testing.T) {
	tests := []struct {
		name   string
		tamper string
		want   []Problem
	}{
		{name: "clean", tamper: "UPDATE audit_log_entries SET parent_table = NULL, parent_pk = NULL WHERE parent_pk = ''"},
		{name: "parent cleared", tamper: "UPDATE audit_log_entries SET parent_table = '', parent_pk = '' WHERE id = 4",
			want: []Problem{{Kind: ProblemEditedEntry, EntryID: 4, Seq: 3, Batch: 1}}},
		{name: "parent moved", tamper: "UPDATE audit_log_entries SET parent_pk = '2' WHERE id = 6",
			want: []Problem{{Kind: ProblemEditedEntry, EntryID: 6, Seq: 5, Batch: 1}}},
		{name: "parent added", tamper: "UPDATE audit_log_entries SET parent_table = 'bills', parent_pk = '1' WHERE id = 10",
			want: []Problem{{Kind: ProblemEditedEntry, EntryID: 10, Seq: 9, Batch: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *gorm.DB) {
				ctx := context.Background()
				p := billHistory(t, db)
				signer, ver := testKeys(t)
				p.cfg.seal = &SealConfig{Signer: signer, BatchSize: 100}
				res := mustSeal(t, p, db)
				if res.Entries != 10 {
					t.Fatalf("sealed %d entries, want 10", res.Entries)
				}
				execSQL(t, db, tt.tamper)
				rep, err := p.Verify(ctx, db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver})
				if tt.want == nil {
					if err != nil {
						t.Fatalf("Verify: %v (%v)", err, rep.Problems)
					}
					return
				}
				if !errors.Is(err, ErrTampered) {
					t.Errorf("Verify error = %v; want ErrTampered", err)
				}
				if diff := cmp.Diff(tt.want, rep.Problems, cmpopts.IgnoreFields(Problem{}, "Detail")); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
			})
		})
	}
}
