package auditlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// SealConfig configures sealing (the Sealing option). The zero value seals
// in batches of 10,000 entries and signs no checkpoint.
type SealConfig struct {
	// Origin is the log's identity, the first line of its checkpoints
	// (default "auditlog/" and the log table's name). Keep it unique per log.
	Origin string
	// Signer signs the checkpoints, normally an Ed25519 note signer
	// (note.NewSigner with a key from note.GenerateKey). Nil: no checkpoint.
	Signer note.Signer
	// Checkpoints receives each signed checkpoint; nil: the checkpoint is
	// only returned in SealResult. Keep checkpoints where the database's
	// administrators cannot write (CheckpointFile, CheckpointDir).
	Checkpoints CheckpointWriter
	// BatchSize is the most entries one batch header seals (default
	// 10,000, at most 100,000).
	BatchSize int
}

// Sealing turns sealing on: Plugin.Seal uses cfg, and Plugin.Purge removes
// only whole sealed batches, recording each purge in the seal chain.
// Repeating the option replaces the configuration.
func Sealing(cfg SealConfig) Option {
	return optionFunc(func(c *config) { c.seal = &cfg })
}

// sealConfig is the Sealing configuration with its defaults filled in.
func (p *Plugin) sealConfig() SealConfig {
	var cfg SealConfig
	if p.cfg.seal != nil {
		cfg = *p.cfg.seal
	}
	if cfg.Origin == "" {
		cfg.Origin = "auditlog/" + p.cfg.table
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultSealBatch
	}
	cfg.BatchSize = min(cfg.BatchSize, maxSealBatch)
	return cfg
}

// CheckpointWriter stores signed checkpoints somewhere the database's
// administrators cannot write. WriteCheckpoint is called by Plugin.Seal
// with each checkpoint, one Seal at a time per plugin unless several
// processes seal; an error fails that Seal (its batches stay sealed).
type CheckpointWriter interface {
	WriteCheckpoint(ctx context.Context, signed []byte) error
}

// CheckpointFunc adapts a function to CheckpointWriter.
type CheckpointFunc func(ctx context.Context, signed []byte) error

// WriteCheckpoint calls f.
func (f CheckpointFunc) WriteCheckpoint(ctx context.Context, signed []byte) error {
	return f(ctx, signed)
}

// CheckpointFile writes each checkpoint to path, replacing the one before
// atomically (a temporary file in the same directory, then a rename).
func CheckpointFile(path string) CheckpointWriter {
	return CheckpointFunc(func(_ context.Context, signed []byte) error {
		return writeFileAtomic(path, signed)
	})
}

// CheckpointDir keeps every checkpoint in dir, as
// checkpoint-<size>-<unix nanoseconds>.note, and the latest one also as
// dir/latest.note (replaced atomically).
func CheckpointDir(dir string) CheckpointWriter {
	return CheckpointFunc(func(_ context.Context, signed []byte) error {
		cp, err := parseCheckpointBody(signedBody(signed))
		if err != nil {
			return err
		}
		name := fmt.Sprintf("checkpoint-%d-%d.note", cp.Size, cp.Time.UnixNano())
		if err := writeFileAtomic(filepath.Join(dir, name), signed); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(dir, "latest.note"), signed)
	})
}

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// Checkpoint is the content of a signed checkpoint: the C2SP
// tlog-checkpoint body (origin, tree size, base64 root hash), with the
// extension lines "time <RFC 3339>" (when it was signed, so that a quiet
// period has checkpoints too) and, once a header exists, "head <batch>
// <base64 header hash>" (the last batch header, which pins purge records).
type Checkpoint struct {
	Origin string
	Size   int64
	Root   []byte
	Time   time.Time
	// HeadBatch and HeadHash: the last batch header (0 and nil for none).
	HeadBatch int64
	HeadHash  []byte
}

// Marshal is the checkpoint's note text (without signatures).
func (c Checkpoint) Marshal() []byte {
	b := fmt.Appendf(nil, "%s\n%d\n%s\ntime %s\n", c.Origin, c.Size,
		base64.StdEncoding.EncodeToString(c.Root), c.Time.UTC().Format(time.RFC3339Nano))
	if c.HeadBatch > 0 {
		b = fmt.Appendf(b, "head %d %s\n", c.HeadBatch, base64.StdEncoding.EncodeToString(c.HeadHash))
	}
	return b
}

// signCheckpoint signs a checkpoint of the tree after head at the plugin's clock.
func (p *Plugin) signCheckpoint(cfg SealConfig, head *BatchHeader) ([]byte, error) {
	size, root, err := headerTree(head)
	if err != nil {
		return nil, fmt.Errorf("auditlog: checkpoint: %w", err)
	}
	cp := Checkpoint{Origin: cfg.Origin, Size: size, Root: root, Time: p.cfg.now()}
	if head != nil {
		cp.HeadBatch, cp.HeadHash = head.Batch, head.HeaderHash()
	}
	signed, err := note.Sign(&note.Note{Text: string(cp.Marshal())}, cfg.Signer)
	if err != nil {
		return nil, fmt.Errorf("auditlog: sign checkpoint: %w", err)
	}
	return signed, nil
}

// OpenCheckpoint checks a signed checkpoint's signature with verifier and
// parses it. It returns an error wrapping ErrTampered when the signature
// does not verify (or is by an unknown key), ErrInvalidCheckpoint when the
// text is not a checkpoint.
func OpenCheckpoint(signed []byte, verifier note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%w: checkpoint signature: %w", ErrTampered, err)
		}
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrInvalidCheckpoint, err)
	}
	return parseCheckpointBody([]byte(n.Text))
}

// signedBody is a signed note's text, without checking signatures.
func signedBody(signed []byte) []byte {
	if i := bytes.Index(signed, []byte("\n\n")); i >= 0 {
		return signed[:i+1]
	}
	return signed
}

func parseCheckpointBody(text []byte) (Checkpoint, error) {
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: %d lines", ErrInvalidCheckpoint, len(lines))
	}
	var cp Checkpoint
	var err error
	cp.Origin = lines[0]
	if cp.Size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || cp.Size < 0 {
		return Checkpoint{}, fmt.Errorf("%w: size %q", ErrInvalidCheckpoint, lines[1])
	}
	if cp.Root, err = base64.StdEncoding.DecodeString(lines[2]); err != nil || len(cp.Root) != 32 {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q", ErrInvalidCheckpoint, lines[2])
	}
	for _, l := range lines[3:] {
		if err := cp.parseExtension(l); err != nil {
			return Checkpoint{}, err
		}
	}
	return cp, nil
}

// parseExtension reads one extension line; unknown lines are ignored.
func (c *Checkpoint) parseExtension(l string) error {
	var err error
	if t, ok := strings.CutPrefix(l, "time "); ok {
		if c.Time, err = time.Parse(time.RFC3339Nano, t); err != nil {
			return fmt.Errorf("%w: time %q", ErrInvalidCheckpoint, t)
		}
	}
	if h, ok := strings.CutPrefix(l, "head "); ok {
		n, hash, _ := strings.Cut(h, " ")
		c.HeadBatch, err = strconv.ParseInt(n, 10, 64)
		if err == nil {
			c.HeadHash, err = base64.StdEncoding.DecodeString(hash)
		}
		if err != nil || c.HeadBatch <= 0 || len(c.HeadHash) != 32 {
			return fmt.Errorf("%w: head %q", ErrInvalidCheckpoint, h)
		}
	}
	return nil
}
