package auditlog

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// settingsKey is the type of the plugin's keys in Statement.Settings.
type settingsKey struct{ name string }

var (
	opKey = settingsKey{"op"}          // *op: a tracked write between auditlog:before and auditlog:after
	txKey = settingsKey{"transaction"} // *gorm.Statement: auditlog:begin opened the transaction
)

// rowChange is one row a write changed, as the database holds it: its key
// (the key before the write), its tracked state before and after (nil: the
// row did not exist, or no longer does), and the row as a model struct for
// ObjectRepr when the model is a fmt.Stringer.
type rowChange struct {
	key      string
	old, new rowState
	model    reflect.Value
}

// op is the state of one tracked write between auditlog:before and
// auditlog:after, kept in Statement.Settings under opKey.
type op struct {
	stmt *gorm.Statement // the statement this op belongs to; clones copy Settings
	plan *plan
	// capture runs an update or delete when GORM executes it (capture_exec.go).
	capture *capturePool
	// create: the rows an upsert may overwrite, by key; the number of maps
	// given to a create from maps.
	old  map[string]rowState
	maps int
	// links: association changes of the statement's own rows, by key, that
	// its join-table writes (run inside it, links.go) left for its entries;
	// recorded once the op's entries are written.
	links    map[string]Changes
	linkKeys []string
	// linkParents: the parents of the owners in links (Parent), for the
	// entries of owners the statement wrote no row of.
	linkParents map[string][2]string
	recorded    bool
	ctx         context.Context // the statement's context before expose
}

// trackedPlan returns the plan of a write that is tracked: the model is
// registered and records action, the context does not disable tracking, and
// the statement will run (no error, no DryRun, no SQL built by hand).
func (p *Plugin) trackedPlan(db *gorm.DB, action Action) *plan {
	if db.Error != nil || db.DryRun || db.Statement.SQL.Len() > 0 || Disabled(db.Statement.Context) {
		return nil
	}
	pl := p.planFor(db)
	if pl == nil || !pl.actions.has(action) {
		return nil
	}
	return pl
}

// loadOp takes the op that auditlog:before stored for this statement. A
// statement cloned from another (db.Session inside a hook) carries a copy of
// its Settings, so the op's statement is checked too.
func loadOp(db *gorm.DB) *op {
	v, ok := db.Statement.Settings.Load(opKey)
	if !ok {
		return nil
	}
	o := v.(*op)
	if o.stmt != db.Statement {
		return nil
	}
	db.Statement.Settings.Delete(opKey)
	o.hide()
	return o
}

// beforeUpdate fills ActorStamps.UpdatedBy and, for a tracked model, puts the
// capture in place of the statement's connection: GORM builds the UPDATE
// inside gorm:update, after the model's update clauses (soft delete,
// optimistic lock) and other plugins have added theirs, so only the
// statement it finally executes says which rows change and how.
func (p *Plugin) beforeUpdate(db *gorm.DB) {
	stmt := db.Statement
	if db.Error == nil && !stmt.SkipHooks && stmt.SQL.Len() == 0 {
		if stamps := p.stampsFor(stmt.Schema); stamps != nil {
			if actor := ActorFrom(stmt.Context); actor != "" {
				stampUpdate(stmt, stamps, actor)
			}
		}
	}
	if pl := p.trackedPlan(db, ActionUpdate); pl != nil {
		p.startCapture(db, pl, writeUpdate)
	}
}

// beforeDelete puts the capture in place of the statement's connection; see
// beforeUpdate.
func (p *Plugin) beforeDelete(db *gorm.DB) {
	pl := p.trackedPlan(db, ActionDelete)
	if pl == nil {
		return
	}
	// A delete; whether it is soft (an UPDATE) is settled when it runs.
	p.startCapture(db, pl, writeHardDelete)
}

func (p *Plugin) startCapture(db *gorm.DB, pl *plan, kind writeKind) {
	stmt := db.Statement
	action := ActionUpdate
	if kind != writeUpdate {
		action = ActionDelete
	}
	c := &capturePool{ConnPool: stmt.ConnPool, stmt: stmt, pl: pl, kind: kind,
		caps: p.capabilities(db), force: p.cfg.strategy, rec: p.newRecorder(db, pl, action, 0),
		pageRows: p.cfg.pageRows}
	if c.pageRows <= 0 {
		c.pageRows = defaultPageRows
	}
	stmt.ConnPool = c
	o := &op{stmt: stmt, plan: pl, capture: c}
	c.rec.o = o
	stmt.Settings.Store(opKey, o)
	if kind == writeUpdate {
		// Links a delete removes (Select("Tags").Delete) get an update entry
		// of their own: a hard delete's entry has only nulls as new values.
		o.expose()
	}
}

// afterWrite records the rows an update or delete changed, as the capture
// saw them when GORM executed the statement.
func (p *Plugin) afterWrite(db *gorm.DB) {
	o := loadOp(db)
	if o == nil {
		return
	}
	c := o.capture
	c.unwrap()
	if db.Error != nil {
		return
	}
	changes, err := c.finish(db)
	if err != nil {
		db.AddError(err)
		return
	}
	p.recordWith(db, c.rec, changes)
}

// unwrap puts the statement's connection back right after gorm:update, so
// that nothing after it (associations, hooks) sees the capture.
func (p *Plugin) unwrap(db *gorm.DB) {
	if v, ok := db.Statement.Settings.Load(opKey); ok {
		if o := v.(*op); o.stmt == db.Statement && o.capture != nil {
			o.capture.unwrap()
		}
	}
}

// record turns the rows a write changed into entries and writes them: a row
// that did not exist before is created, one that no longer exists is
// deleted, any other changed (action: update, or delete for a soft delete;
// an upsert's update of an existing row is an update). A row whose tracked
// fields did not change gets no entry, nor does an action the model does not
// record. The association changes the op's join-table writes left
// (o.links) join the entry of their row, or get an update entry of their
// own, so that a statement gives one entry per object.
//
// Entries are built and written in chunks of the batch size (WithBatchSize):
// each chunk goes through the BeforeLog hooks, scrubbing and its INSERT
// before the next is built, and each row is released once its entry is
// built, so at most one chunk of entries is held at a time. A failed chunk
// adds its error to db and stops: the caller's transaction rolls back every
// chunk written before it. The exception is a statement whose entries must
// be scrubbed (the model masks or redacts fields and the entries may carry
// data from the context or hooks): every row's secrets must be known before
// any entry is scrubbed, since data may carry one row's secret into another
// row's entry, so its entries are written as one chunk.
func (p *Plugin) record(db *gorm.DB, o *op, action Action, changes []rowChange) {
	r := p.newRecorder(db, o.plan, action, len(changes))
	r.o = o
	p.recordWith(db, r, changes)
}

// recordWith is record with a recorder that may have written entries
// already (a paged capture's): it adds changes, then the op's association
// changes left without a row, and writes what is left.
func (p *Plugin) recordWith(db *gorm.DB, r *recorder, changes []rowChange) {
	if r.o != nil {
		r.o.recorded = true
	}
	for i := range changes {
		ch := changes[i]
		changes[i] = rowChange{} // the row is garbage once its entry is built
		if err := r.add(ch); err != nil {
			db.AddError(err)
			return
		}
	}
	r.addLinkEntries()
	if err := r.flush(); err != nil {
		db.AddError(err)
	}
}

// recorder builds the entries of one statement's rows as they come and
// writes them a chunk (the batch size) at a time; see record.
type recorder struct {
	p      *Plugin
	db     *gorm.DB
	o      *op // the statement's op, for its association changes; nil: none
	action Action
	b      *entryBatch
	chunk  int
}

// newRecorder starts the entries of a statement of about rows rows (0:
// unknown) on db's connection.
func (p *Plugin) newRecorder(db *gorm.DB, pl *plan, action Action, rows int) *recorder {
	r := &recorder{p: p, db: db, action: action, b: p.newBatch(db.Statement.Context, pl), chunk: p.cfg.batchSize}
	if rows > 0 {
		r.b.entries = make([]LogEntry, 0, min(r.chunk, rows))
	}
	return r
}

// streams reports whether entries may be written before every row of the
// statement is known: not when they must be scrubbed of every row's secrets.
func (r *recorder) streams() bool { return !r.b.scrub }

// add builds the entry of one row, if it gets one, and writes the chunk
// once it is full (unless the recorder does not stream).
func (r *recorder) add(ch rowChange) error {
	var links Changes
	if r.o != nil {
		links = r.o.takeLinks(ch.key)
	}
	addChange(r.b, r.action, ch, links)
	if r.streams() && len(r.b.entries) >= r.chunk {
		return r.flush()
	}
	return nil
}

// addLinkEntries gives the association changes of objects the statement
// wrote no row of an update entry each.
func (r *recorder) addLinkEntries() {
	if r.o == nil || !r.b.pl.actions.has(ActionUpdate) {
		return
	}
	for _, key := range r.o.linkKeys {
		if l := r.o.takeLinks(key); l != nil {
			r.b.add(ActionUpdate, key, reflect.Value{}, l, nil, nil)
			if parent, ok := r.o.linkParents[key]; ok {
				e := &r.b.entries[len(r.b.entries)-1]
				e.ParentTable, e.ParentPK = parent[0], parent[1]
			}
		}
	}
}

// flush writes the entries built so far and starts a new chunk.
func (r *recorder) flush() error {
	if len(r.b.entries) == 0 {
		return nil
	}
	err := r.p.writeBatch(r.db, r.b)
	// A new slice, not b.entries[:0]: AfterLog hooks got pointers into it.
	r.b.entries = make([]LogEntry, 0, r.chunk)
	return err
}

// addChange adds the entry of one changed row to b, if it gets one (see
// record), with the row's association changes.
func addChange(b *entryBatch, action Action, ch rowChange, links Changes) {
	pl := b.pl
	a := action
	switch {
	case ch.old == nil:
		a = ActionCreate
	case ch.new == nil:
		a = ActionDelete
	case action == ActionCreate:
		a = ActionUpdate // an upsert that updated an existing row
	}
	if !pl.actions.has(a) {
		return
	}
	diff := mergeLinks(pl.diff(ch.old, ch.new), links)
	if diff == nil && ch.old != nil && ch.new != nil {
		return // nothing tracked changed
	}
	state, prev := ch.new, ch.old
	if ch.new == nil {
		state, prev = ch.old, nil // a hard delete: the state it removed
	}
	b.add(a, ch.key, ch.model, diff, state, prev)
}

// writeKind is what an update or delete statement does to its rows.
type writeKind uint8

const (
	writeUpdate     writeKind = iota + 1
	writeSoftDelete           // an UPDATE that sets the soft-delete column
	writeHardDelete
	writeCreate // an INSERT, or an upsert
)

// strategy is how the capture learns a write's old and new rows. The one
// for a statement is chosen by chooseStrategy when GORM executes it; the
// table in ARCHITECTURE.md lists which applies where.
type strategy uint8

const (
	// oneStatement: WITH locked AS (SELECT ... FOR UPDATE) UPDATE ... FROM
	// locked ... RETURNING old and new values, or DELETE ... USING locked
	// RETURNING the deleted rows: one statement (PostgreSQL).
	oneStatement strategy = iota + 1
	// deleteReturning: the DELETE with RETURNING of the deleted rows
	// appended (SQLite 3.35+, MariaDB 10.5+).
	deleteReturning
	// readDelete: a locked read of the rows, then the DELETE restricted to
	// their keys.
	readDelete
	// readReturning: a locked read of the old rows, then the UPDATE
	// (restricted to their keys where phantoms can enter) with RETURNING of
	// the new values appended (SQLite; PostgreSQL when the statement has
	// clauses the one statement does not carry, such as FROM).
	readReturning
	// readCarry: a locked read, the restricted UPDATE; the new values are the
	// SET clause's plain values applied to the old rows (MariaDB).
	readCarry
	// readReread: a locked read, the restricted UPDATE, then the new rows
	// read back by key.
	readReread
	// insertSent: a create records the values GORM sent in the INSERT, with
	// the keys and defaults the database returned.
	insertSent
	// insertReread: a create reads the inserted rows back by key.
	insertReread
)

var strategyNames = [...]string{oneStatement: "one_statement", deleteReturning: "delete_returning",
	readDelete: "read_delete", readReturning: "read_returning", readCarry: "read_carry", readReread: "read_reread",
	insertSent: "insert_sent", insertReread: "insert_reread"}

func (s strategy) String() string {
	if int(s) < len(strategyNames) && strategyNames[s] != "" {
		return strategyNames[s]
	}
	return fmt.Sprintf("strategy(%d)", s)
}

// shape is what the choice of a strategy depends on in the statement GORM
// executes.
type shape struct {
	// plain: the statement has no clause but UPDATE, SET and WHERE (DELETE,
	// FROM of its own table and WHERE), the ones the one statement carries.
	plain bool
	// ownReturning: the caller's RETURNING, which gorm:update or gorm:delete
	// scans itself from the rows the statement returns.
	ownReturning bool
	// carried: every tracked column the SET clause assigns has a plain value
	// whose stored form is known (see carriedValue); for a create, the
	// INSERT of structs sent or got back every tracked column.
	carried bool
}

// chooseStrategy is the one place that decides how a write is captured,
// from the database's capabilities, what the statement does and its shape.
// A strategy forced for tests (force) is used where it applies.
func chooseStrategy(c capabilities, w writeKind, s shape, force strategy) strategy {
	if force != 0 && applies(force, c, w, s) {
		return force
	}
	for _, st := range []strategy{oneStatement, deleteReturning, readDelete, readCarry, readReturning, readReread,
		insertSent, insertReread} {
		if applies(st, c, w, s) {
			return st
		}
	}
	return readReread
}

// applies reports whether strategy st can capture a write of kind w and
// shape s on a database with capabilities c.
func applies(st strategy, c capabilities, w writeKind, s shape) bool {
	hard, create := w == writeHardDelete, w == writeCreate
	switch st {
	case insertSent:
		return create && s.carried
	case insertReread:
		return create
	}
	if create {
		return false
	}
	switch st {
	case oneStatement:
		return c.lockingCTE && s.plain && !s.ownReturning
	case deleteReturning:
		return hard && c.deleteReturning && !s.ownReturning
	case readDelete:
		return hard
	case readReturning:
		return !hard && c.updateReturning && !s.ownReturning
	case readCarry:
		return !hard && s.carried
	case readReread:
		return !hard
	}
	return false
}

// keyChanged is the error of an update whose new rows do not match the rows
// read before it by key: the UPDATE changed a primary key to a value the
// plugin cannot know, and the change is refused rather than recorded
// without its old values or not at all.
func keyChanged(newKey string) error {
	what := "a row read before the UPDATE is missing after it"
	if newKey != "" {
		what = fmt.Sprintf("the UPDATE returned row %s, which it did not read before", newKey)
	}
	return fmt.Errorf("%w: %s (a primary key changed by an expression is recorded on PostgreSQL only)", ErrUnidentifiedRow, what)
}

// setClause is the statement's SET clause, if it has one.
func setClause(stmt *gorm.Statement) clause.Set {
	if c, ok := stmt.Clauses["SET"]; ok {
		if set, ok := c.Expression.(clause.Set); ok {
			return set
		}
	}
	return nil
}
