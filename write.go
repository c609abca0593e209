package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// key returns a struct row's primary key as LogEntry.ObjectPK text.
func (pl *plan) key(ctx context.Context, row reflect.Value) (string, error) {
	values := make([]any, len(pl.schema.PrimaryFields))
	for i, f := range pl.schema.PrimaryFields {
		values[i], _ = f.ValueOf(ctx, row)
	}
	return keyText(pl.schema, values)
}

// objectKey is the LogEntry.ObjectPK text of an in-memory row of s, or
// ErrNoObjectKey when a primary-key field is zero (the row names no object).
func objectKey(ctx context.Context, s *schema.Schema, row reflect.Value) (string, error) {
	values := make([]any, len(s.PrimaryFields))
	for i, f := range s.PrimaryFields {
		v, zero := f.ValueOf(ctx, row)
		if zero {
			return "", ErrNoObjectKey
		}
		values[i] = v
	}
	return keyText(s, values)
}

// keyText is the LogEntry.ObjectPK text of primary-key values: the value's
// text for a single key, a JSON array of the texts for a composite key.
func keyText(s *schema.Schema, values []any) (string, error) {
	texts := make([]string, len(values))
	for i, v := range values {
		n, err := normalize(v, kindPlain)
		if err != nil {
			return "", fmt.Errorf("auditlog: %s.%s: %w", s.Name, s.PrimaryFields[i].Name, err)
		}
		texts[i] = textOf(n)
	}
	if len(texts) == 1 {
		return texts[0], nil
	}
	b, err := json.Marshal(texts)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// textOf is the plain text of a canonical value ("" for null).
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// maxReprRunes bounds LogEntry.ObjectRepr.
const maxReprRunes = 200

// repr is the object's label: its String() when that reveals no masked value,
// else "Model(pk)".
func (pl *plan) repr(row reflect.Value, key string, state rowState) string {
	fallback := pl.schema.Name + "(" + key + ")"
	if !row.IsValid() {
		return fallback
	}
	var s string
	switch {
	case row.CanAddr():
		if str, ok := row.Addr().Interface().(fmt.Stringer); ok {
			s = str.String()
		}
	default:
		if str, ok := row.Interface().(fmt.Stringer); ok {
			s = str.String()
		}
	}
	if s == "" {
		return fallback
	}
	for i, tf := range pl.fields {
		if !tf.masked || state == nil {
			continue
		}
		if secret := textOf(state[i]); secret != "" && strings.Contains(s, secret) {
			return fallback
		}
	}
	if r := []rune(s); len(r) > maxReprRunes {
		s = string(r[:maxReprRunes])
	}
	return s
}

// entryBase is what the entries of one operation share: the context's actor,
// correlation id, remote address and data, and one timestamp, read once per
// operation rather than per row.
type entryBase struct {
	actor, cid, remoteAddr string
	data                   map[string]any // the context's; cloned per entry
	at                     time.Time
}

func (p *Plugin) entryBase(ctx context.Context) entryBase {
	b := entryBase{at: p.cfg.now().UTC()}
	if s := scopeFrom(ctx); s != nil {
		b.actor, b.cid, b.remoteAddr, b.data = s.actorID(), s.cid, s.remoteAddr, s.data
	}
	return b
}

// entryBatch collects the entries of one operation on one model.
type entryBatch struct {
	entryBase
	pl      *plan
	entries []LogEntry
	// scrub is set when the entries may carry data (from the context or from
	// hooks) and the model masks or redacts fields: secrets then holds the
	// clear values of those fields in every row of the batch, which must
	// appear in no entry's Data, Snapshot or ObjectRepr (a hook may copy one
	// row's secret into another row's entry).
	scrub   bool
	secrets []secret
}

func (p *Plugin) newBatch(ctx context.Context, pl *plan) *entryBatch {
	b := &entryBatch{entryBase: p.entryBase(ctx), pl: pl}
	b.scrub = pl.masks && (b.data != nil || len(p.cfg.beforeLog) > 0)
	return b
}

// add appends the entry of one row: state is the row's state after the
// action (before it, for a hard delete), old its state before, if any.
func (b *entryBatch) add(action Action, key string, row reflect.Value, changes Changes, state, old rowState) {
	pl := b.pl
	e := LogEntry{
		Table:      pl.schema.Table,
		ObjectPK:   key,
		ObjectRepr: pl.repr(row, key, state),
		Action:     action,
		Changes:    changes,
		ActorID:    b.actor,
		RemoteAddr: b.remoteAddr,
		CID:        b.cid,
		CreatedAt:  b.at,
	}
	e.ParentTable, e.ParentPK = pl.parent.key(state)
	if b.data != nil {
		e.Data = maps.Clone(b.data)
	}
	moveLinkCounts(&e)
	if pl.serialize {
		e.Snapshot = pl.snapshot(state)
	}
	b.entries = append(b.entries, e)
	if b.scrub {
		for _, secret := range pl.secrets(state, old) {
			if !slices.Contains(b.secrets, secret) {
				b.secrets = append(b.secrets, secret)
			}
		}
	}
}

// write runs the BeforeLog hooks on the entries, masks the secrets they or
// the context's data may have brought in, inserts the entries in the
// statement's transaction, batchSize rows per INSERT, and runs the AfterLog
// hooks. A failure is added to db, which rolls the change back.
func (p *Plugin) write(db *gorm.DB, b *entryBatch) {
	if err := p.writeBatch(db, b); err != nil {
		db.AddError(err)
	}
}

// writeBatch is write returning its error instead of adding it to db.
func (p *Plugin) writeBatch(db *gorm.DB, b *entryBatch) error {
	if err := p.prepare(db.Statement.Context, b); err != nil {
		return err
	}
	return p.insert(db, b.pl.logTable, b.entries)
}

// prepare runs the BeforeLog hooks, then masks in every entry the clear
// values of the batch's masked fields, wherever the context's data or a
// hook put them.
func (p *Plugin) prepare(ctx context.Context, b *entryBatch) error {
	if len(p.cfg.beforeLog) > 0 {
		kept := b.entries[:0]
		for i := range b.entries {
			skip, err := p.beforeLog(ctx, &b.entries[i])
			if err != nil {
				return err
			}
			if !skip {
				kept = append(kept, b.entries[i])
			}
		}
		b.entries = kept
	}
	if b.scrub {
		for i := range b.entries {
			if err := b.pl.scrub(&b.entries[i], b.secrets); err != nil {
				return err
			}
		}
	}
	return nil
}

// beforeLog runs the BeforeLog hooks on e and reports whether one vetoed it.
func (p *Plugin) beforeLog(ctx context.Context, e *LogEntry) (skip bool, err error) {
	for _, fn := range p.cfg.beforeLog {
		if err := fn(ctx, e); err != nil {
			if errors.Is(err, ErrSkipEntry) {
				return true, nil
			}
			return false, fmt.Errorf("auditlog: BeforeLog hook for %s %s %s: %w", e.Action, e.Table, e.ObjectPK, err)
		}
	}
	return false, nil
}

// insert writes the entries into the log table batchSize rows per INSERT
// on db's connection, then runs the AfterLog hooks.
func (p *Plugin) insert(db *gorm.DB, table string, entries []LogEntry) error {
	for start := 0; start < len(entries); start += p.cfg.batchSize {
		batch := entries[start:min(start+p.cfg.batchSize, len(entries))]
		if err := p.insertEntries(db, table, batch); err != nil {
			if p.capabilities(db).missingTable(err, table) {
				return fmt.Errorf("%w: %q: create it with db.AutoMigrate(&auditlog.LogEntry{}) "+
					"(Plugin.AutoMigrate for a table named by WithTable or LogTable): %w", ErrNoLogTable, table, err)
			}
			return fmt.Errorf("auditlog: write entries: %w", err)
		}
	}
	if len(p.cfg.afterLog) > 0 {
		ctx := db.Statement.Context
		for i := range entries {
			for _, fn := range p.cfg.afterLog {
				fn(ctx, &entries[i])
			}
		}
	}
	return nil
}

// insertEntries writes one multi-row INSERT of entries on the statement's
// connection. It builds the SQL with the dialect's quoting and placeholders
// instead of going through db.Create, which costs a session, a statement
// clone and the create callback chain per batch. The statement is traced
// through db's logger like GORM's own.
func (p *Plugin) insertEntries(db *gorm.DB, table string, entries []LogEntry) error {
	begin := time.Now()
	ctx := db.Statement.Context
	st := &gorm.Statement{DB: db, Context: ctx, Vars: make([]any, 0, len(entries)*len(entryColumns))}
	st.SQL.Grow(64 + len(entries)*len(entryColumns)*4)
	st.WriteString("INSERT INTO ")
	st.WriteQuoted(table)
	st.WriteString(" (")
	for i, c := range entryColumns {
		if i > 0 {
			st.WriteByte(',')
		}
		st.WriteQuoted(c)
	}
	st.WriteString(") VALUES ")
	for i := range entries {
		e := &entries[i]
		if i > 0 {
			st.WriteByte(',')
		}
		st.WriteByte('(')
		st.AddVar(st, e.columnValues()...)
		st.WriteByte(')')
	}
	sql := st.SQL.String()
	result, err := db.Statement.ConnPool.ExecContext(ctx, sql, st.Vars...)
	var rows int64
	if err == nil {
		rows, _ = result.RowsAffected()
	}
	if db.Logger != nil {
		db.Logger.Trace(ctx, begin, func() (string, int64) {
			return db.Dialector.Explain(sql, st.Vars...), rows
		}, err)
	}
	return err
}
