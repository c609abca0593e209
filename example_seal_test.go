package auditlog_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gorm-auditlog/auditlog"
	"golang.org/x/mod/sumdb/note"
)

// Sealing: Seal seals the committed entries into a batch and signs a
// checkpoint of the sealed log into a directory (in production, one the
// database's administrators cannot write); Verify checks the log against
// that checkpoint, and finds an entry edited behind the plugin's back.
func ExamplePlugin_Seal() {
	db, cleanup := openExampleDB()
	defer cleanup()
	skey, vkey, _ := note.GenerateKey(rand.Reader, "example-auditor")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	dir, _ := os.MkdirTemp("", "checkpoints")
	defer os.RemoveAll(dir)

	audit := auditlog.New(auditlog.Sealing(auditlog.SealConfig{
		Origin:      "example.com/audit",
		Signer:      signer,
		Checkpoints: auditlog.CheckpointDir(dir),
	}))
	_ = db.Use(audit)
	_ = audit.AutoMigrate(db) // the log table and its seal chain's header table
	_ = db.AutoMigrate(&User{})
	_ = audit.Register(&User{}, auditlog.Mask("Password"))
	ctx := auditlog.WithActor(context.Background(), "admin")
	for _, name := range []string{"ann", "bob", "cy"} {
		db.WithContext(ctx).Create(&User{Name: name, Password: "secret"})
	}

	res, err := audit.Seal(ctx, db)
	fmt.Println("sealed:", res.Entries, "entries,", res.Batches, "batch, tree size", res.TreeSize, err)

	checkpoint, _ := os.ReadFile(filepath.Join(dir, "latest.note"))
	opts := auditlog.VerifyOptions{Checkpoint: checkpoint, Verifier: verifier}
	rep, err := audit.Verify(ctx, db, opts)
	fmt.Println("verified:", rep.Entries, "entries, problems:", len(rep.Problems), err)

	db.Exec("UPDATE audit_log_entries SET actor_id = 'nobody' WHERE id = 2") // behind the plugin's back
	rep, err = audit.Verify(ctx, db, opts)
	fmt.Println("tampered:", errors.Is(err, auditlog.ErrTampered))
	for _, p := range rep.Problems {
		fmt.Println(p.Kind, p.EntryID)
	}
	// Output:
	// sealed: 3 entries, 1 batch, tree size 3 <nil>
	// verified: 3 entries, problems: 0 <nil>
	// tampered: true
	// edited_entry 2
}

// An inclusion proof shows one entry is in the log a checkpoint signs,
// without the rest of the log.
func ExamplePlugin_Prove() {
	db, cleanup := openExampleDB()
	defer cleanup()
	skey, vkey, _ := note.GenerateKey(rand.Reader, "example-auditor")
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	audit := auditlog.New(auditlog.Sealing(auditlog.SealConfig{Signer: signer}))
	_ = db.Use(audit)
	_ = audit.AutoMigrate(db)
	_ = db.AutoMigrate(&User{})
	_ = audit.Register(&User{})
	for _, name := range []string{"ann", "bob", "cy", "dee", "eve"} {
		db.Create(&User{Name: name})
	}
	ctx := context.Background()
	res, _ := audit.Seal(ctx, db)

	cp, err := auditlog.OpenCheckpoint(res.Checkpoint, verifier)
	fmt.Println("checkpoint of", cp.Size, "entries:", err)
	proof, err := audit.Prove(ctx, db, 4, cp.Size)
	fmt.Println("proof of entry 4:", len(proof.Hashes), "hashes", err)
	fmt.Println("checks:", auditlog.CheckProof(proof, cp))
	// Output:
	// checkpoint of 5 entries: <nil>
	// proof of entry 4: 3 hashes <nil>
	// checks: <nil>
}
