package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"golang.org/x/mod/sumdb/note"
)

// runSeal seals the unsealed entries once, or every -interval until
// interrupted, and writes signed checkpoints.
func runSeal(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	keyFile := fs.String("key", "", "`file` holding the note signing key (PRIVATE+KEY+...), from auditlog keygen; without it no checkpoint is signed")
	cpFile := fs.String("checkpoint", "", "write each checkpoint to this `file`, replacing the last")
	cpDir := fs.String("checkpoint-dir", "", "keep every checkpoint in this `directory` (and the latest as latest.note)")
	origin := fs.String("origin", "", "the log's identity in its checkpoints (default auditlog/<table>)")
	batch := fs.Int("batch", 0, "most entries one batch header seals (default 10000)")
	interval := fs.Duration("interval", 0, "seal again every `duration` until interrupted (default: once)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := auditlog.SealConfig{Origin: *origin, BatchSize: *batch}
	switch {
	case *cpFile != "" && *cpDir != "":
		return usagef("-checkpoint and -checkpoint-dir exclude each other")
	case *cpFile != "":
		cfg.Checkpoints = auditlog.CheckpointFile(*cpFile)
	case *cpDir != "":
		cfg.Checkpoints = auditlog.CheckpointDir(*cpDir)
	}
	if *keyFile != "" {
		signer, err := readSigner(*keyFile)
		if err != nil {
			return err
		}
		cfg.Signer = signer
	} else if cfg.Checkpoints != nil {
		return usagef("-checkpoint and -checkpoint-dir need -key")
	}
	db, _, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	audit := auditlog.New(auditlog.WithTable(e.table), auditlog.Sealing(cfg))
	if *interval <= 0 {
		res, err := audit.Seal(ctx, db)
		printSeal(e, res)
		return err
	}
	err = audit.RunSealer(ctx, db, *interval, func(err error) { fmt.Fprintf(e.stderr, "auditlog seal: %v\n", err) })
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func printSeal(e *env, res auditlog.SealResult) {
	fmt.Fprintf(e.stdout, "sealed %d entries in %d batches; tree size %d, root %s\n", res.Entries, res.Batches,
		res.TreeSize, base64.StdEncoding.EncodeToString(res.TreeRoot))
}

// readSigner reads a note signing key from a file.
func readSigner(path string) (note.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return s, nil
}

// runVerify verifies the sealed log, against a checkpoint when given.
func runVerify(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	cpFile := fs.String("checkpoint", "", "trusted checkpoint `file` (a signed note, as seal wrote it); needs -key")
	keyArg := fs.String("key", "", "the checkpoint's public key: a `file` holding it, or the key itself (name+hash+key)")
	maxProblems := fs.Int("max", 0, "most problems to list (default 1000)")
	origin := fs.String("origin", "", "the log's identity the checkpoint must name (default auditlog/<table>, as for seal)")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := auditlog.VerifyOptions{MaxProblems: *maxProblems, Origin: *origin}
	if (*cpFile == "") != (*keyArg == "") {
		return usagef("-checkpoint and -key go together")
	}
	if *cpFile != "" {
		cp, err := os.ReadFile(*cpFile)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		vkey := *keyArg
		if b, err := os.ReadFile(vkey); err == nil {
			vkey = strings.TrimSpace(string(b))
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return usagef("bad -key: %v", err)
		}
		opts.Checkpoint, opts.Verifier = cp, v
	}
	db, audit, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	start := time.Now()
	rep, err := audit.Verify(ctx, db, opts)
	for _, p := range rep.Problems {
		fmt.Fprintln(e.stdout, p)
	}
	fmt.Fprintf(e.stdout, "checked %d batches, %d entries (%d erased), %d purged batches; tree size %d, root %s; %d problems (%v)\n",
		rep.Batches, rep.Entries, rep.Erased, rep.PurgedBatches, rep.TreeSize,
		base64.StdEncoding.EncodeToString(rep.TreeRoot), len(rep.Problems), time.Since(start).Round(time.Millisecond))
	if rep.Checkpoint != nil && err == nil {
		fmt.Fprintf(e.stdout, "checkpoint of %d entries signed %s verifies\n", rep.Checkpoint.Size, rep.Checkpoint.Time.Format(time.RFC3339))
	}
	return err
}

// runKeygen writes a new Ed25519 note key pair.
func runKeygen(_ context.Context, e *env, args []string) error {
	fs := e.flagSet()
	name := fs.String("name", "auditlog", "the key's `name`, shown in signatures")
	out := fs.String("out", "", "write the private key to `file` (mode 0600) and the public key to file.pub (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("missing -out")
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, *name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(*out+".pub", []byte(vkey+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "public key: %s\n", vkey)
	return nil
}
