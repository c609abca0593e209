package auditlog

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/mod/sumdb/note"
	"gorm.io/gorm"
)

// tamperCase is one kind of tampering by raw SQL on a sealed log of entries
// 1..10 in batches 1 (seq 0-3), 2 (seq 4-7) and 3 (seq 8-9).
type tamperCase struct {
	name   string
	tamper func(t *testing.T, db *gorm.DB)
	want   []Problem // Detail ignored
}

func execSQL(t *testing.T, db *gorm.DB, sql string, args ...any) {
	t.Helper()
	if err := db.Exec(sql, args...).Error; err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// forgeEntry inserts entry 11 and gives it seal sequence number seq: a
// new seal row, or (a sequence number already taken: the primary key
// refuses a second row) the row of the entry sealed there.
func forgeEntry(t *testing.T, db *gorm.DB, seq int64) {
	t.Helper()
	e := LogEntry{ID: 11, Table: "items", ObjectPK: "99", ObjectRepr: "Item(99)", Action: ActionCreate,
		CreatedAt: testNow}
	if err := db.Session(&gorm.Session{NewDB: true}).Create(&e).Error; err != nil {
		t.Fatalf("forge: %v", err)
	}
	var taken int64
	if err := db.Table("audit_log_entries_seals").Where("seal_seq = ?", seq).Count(&taken).Error; err != nil {
		t.Fatal(err)
	}
	if taken > 0 {
		execSQL(t, db, "UPDATE audit_log_entries_seals SET entry_id = 11 WHERE seal_seq = ?", seq)
		return
	}
	execSQL(t, db, "INSERT INTO audit_log_entries_seals (seal_seq, entry_id, leaf_hash) VALUES (?, 11, ?)", seq, make([]byte, 32))
}

// rewriteLeaf edits entry id and stores the leaf hash of its new fields.
func rewriteLeaf(t *testing.T, p *Plugin, db *gorm.DB, id int64) {
	t.Helper()
	execSQL(t, db, "UPDATE audit_log_entries SET actor_id = 'mallory' WHERE id = ?", id)
	rows, err := p.readLeafRows(db, entryLeaves, "e.id = ?", id)
	if err != nil || len(rows) != 1 {
		t.Fatalf("read %d: %v", id, err)
	}
	sum, _ := leafHash(nil, &rows[0])
	execSQL(t, db, "UPDATE audit_log_entries_seals SET leaf_hash = ? WHERE entry_id = ?", sum[:], id)
}

func tamperCases(p **Plugin) []tamperCase {
	return []tamperCase{
		{name: "edited entry",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "UPDATE audit_log_entries SET actor_id = 'mallory' WHERE id = 5")
			},
			want: []Problem{{Kind: ProblemEditedEntry, EntryID: 5, Seq: 4, Batch: 2}}},
		{name: "edited entry and its leaf hash",
			tamper: func(t *testing.T, db *gorm.DB) { rewriteLeaf(t, *p, db, 5) },
			want:   []Problem{{Kind: ProblemBatchRoot, Seq: -1, Batch: 2}}},
		{name: "deleted entry",
			tamper: func(t *testing.T, db *gorm.DB) { execSQL(t, db, "DELETE FROM audit_log_entries WHERE id = 6") },
			want:   []Problem{{Kind: ProblemDeletedEntry, Seq: 5, Batch: 2}}},
		{name: "inserted entry at a sealed place",
			tamper: func(t *testing.T, db *gorm.DB) { forgeEntry(t, db, 3) },
			want:   []Problem{{Kind: ProblemInsertedEntry, EntryID: 11, Seq: 3, Batch: 1}}},
		{name: "inserted entry past the last batch",
			tamper: func(t *testing.T, db *gorm.DB) { forgeEntry(t, db, 10) },
			want:   []Problem{{Kind: ProblemInsertedEntry, EntryID: 11, Seq: 10}}},
		{name: "reordered entries",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "UPDATE audit_log_entries_seals SET seal_seq = -1 WHERE entry_id = 2")
				execSQL(t, db, "UPDATE audit_log_entries_seals SET seal_seq = 1 WHERE entry_id = 3")
				execSQL(t, db, "UPDATE audit_log_entries_seals SET seal_seq = 2 WHERE entry_id = 2")
			},
			want: []Problem{{Kind: ProblemReorderedEntry, EntryID: 2, Seq: 2, Batch: 1}}},
		{name: "entry moved to another batch",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "DELETE FROM audit_log_entries WHERE id = 9")
				execSQL(t, db, "DELETE FROM audit_log_entries_seals WHERE entry_id = 9")
				execSQL(t, db, "UPDATE audit_log_entries_seals SET seal_seq = 8 WHERE entry_id = 2")
			},
			want: []Problem{{Kind: ProblemDeletedEntry, Seq: 1, Batch: 1},
				{Kind: ProblemResequencedEntry, EntryID: 2, Seq: 8, Batch: 3}}},
		{name: "entry marked unsealed",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "DELETE FROM audit_log_entries_seals WHERE entry_id = 7")
			},
			want: []Problem{{Kind: ProblemDeletedEntry, Seq: 6, Batch: 2}}},
		{name: "edited header",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "UPDATE audit_log_entries_batches SET sealed_at = sealed_at + 1 WHERE batch = 2")
			},
			want: []Problem{{Kind: ProblemEditedHeader, Seq: -1, Batch: 2}}},
		{name: "edited header root",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "UPDATE audit_log_entries_batches SET root = tree_root WHERE batch = 2")
			},
			want: []Problem{{Kind: ProblemBatchRoot, Seq: -1, Batch: 2}, {Kind: ProblemEditedHeader, Seq: -1, Batch: 2}}},
		{name: "deleted header",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "DELETE FROM audit_log_entries_batches WHERE batch = 2")
			},
			want: []Problem{{Kind: ProblemDeletedHeader, Seq: -1, Batch: 2}}},
		{name: "truncated tail",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "DELETE FROM audit_log_entries WHERE id > 8")
				execSQL(t, db, "DELETE FROM audit_log_entries_batches WHERE batch = 3")
			},
			want: []Problem{{Kind: ProblemTruncated, Seq: 8}}},
		{name: "last header deleted",
			tamper: func(t *testing.T, db *gorm.DB) {
				execSQL(t, db, "DELETE FROM audit_log_entries_batches WHERE batch = 3")
			},
			want: []Problem{{Kind: ProblemTruncated, Seq: 8}, {Kind: ProblemInsertedEntry, EntryID: 9, Seq: 8},
				{Kind: ProblemInsertedEntry, EntryID: 10, Seq: 9}}},
	}
}

// TestVerifyDetectsTampering: each kind of tampering by raw SQL is found,
// with its kind and entry, and nothing else is reported.
func TestVerifyDetectsTampering(t *testing.T) {
	var p *Plugin
	for _, tt := range tamperCases(&p) {
		t.Run(tt.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *gorm.DB) {
				var ver note.Verifier
				p, ver = sealSetup(t, db, 4, 10)
				res := mustSeal(t, p, db)
				tt.tamper(t, db)
				rep, err := p.Verify(context.Background(), db, VerifyOptions{Checkpoint: res.Checkpoint, Verifier: ver})
				if !errors.Is(err, ErrTampered) {
					t.Errorf("Verify error = %v; want ErrTampered", err)
				}
				if diff := cmp.Diff(tt.want, rep.Problems, cmpopts.IgnoreFields(Problem{}, "Detail")); diff != "" {
					t.Errorf("problems (-want +got):\n%s\ngot: %v", diff, rep.Problems)
				}
			})
		})
	}
}
