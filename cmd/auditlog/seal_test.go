package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSealVerify: keygen, seal with a checkpoint, verify clean; an edited
// entry and a truncated tail make verify fail with exit status 1, naming
// the kind and the entry.
func TestSealVerify(t *testing.T) {
	dsn, _ := newDB(t)
	dir := t.TempDir()
	key, cp := filepath.Join(dir, "seal.key"), filepath.Join(dir, "checkpoint.note")
	mustRun(t, "keygen", "-out", key, "-name", "test")
	r := mustRun(t, "-dsn", dsn, "seal", "-key", key, "-checkpoint", cp, "-batch", "100")
	if !strings.HasPrefix(r.stdout, "sealed 255 entries in 3 batches; tree size 255") {
		t.Errorf("seal: %q", r.stdout)
	}
	r = mustRun(t, "-dsn", dsn, "verify", "-checkpoint", cp, "-key", key+".pub")
	if !strings.Contains(r.stdout, "255 entries") || !strings.Contains(r.stdout, "0 problems") {
		t.Errorf("verify: %q", r.stdout)
	}
	r = runCLI(t, nil, "-dsn", dsn, "verify", "-checkpoint", cp, "-key", key+".pub", "-origin", "acme.example/other")
	if r.code != 1 || !strings.HasPrefix(r.stdout, `wrong_origin: checkpoint is of log "auditlog/audit_log_entries", not "acme.example/other"`) {
		t.Errorf("verify with another origin: exit %d\nstdout %q", r.code, r.stdout)
	}
	db, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("UPDATE audit_log_entries SET actor_id = 'mallory' WHERE id = 2").Error; err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "-dsn", dsn, "verify", "-checkpoint", cp, "-key", key+".pub")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "edited_entry entry 2 seq 1 batch 1") || !strings.Contains(r.stderr, "tampered") {
		t.Errorf("verify after an edit: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	if err := db.Exec("DELETE FROM audit_log_entries_batches WHERE batch = 3").Error; err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "-dsn", dsn, "verify", "-checkpoint", cp, "-key", key+".pub")
	if r.code != 1 || !strings.Contains(r.stdout, "truncated_tail") {
		t.Errorf("verify after a truncation: exit %d\nstdout %q", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "-dsn", dsn, "purge", "-before", "2030-01-01", "-model", "items"); r.code != 1 ||
		!strings.Contains(r.stderr, "whole batches") {
		t.Errorf("purge of a model in a sealed log: exit %d, stderr %q", r.code, r.stderr)
	}
}
