package auditlog

import "errors"

// The package's sentinel errors, all in one place. Errors are returned
// wrapped with context ("auditlog: register User: ..."); test for them with
// errors.Is.

// Errors returned by Register. Each is wrapped with the model's name and the
// offending field or option; test for them with errors.Is.
var (
	// ErrInvalidModel: the value is not a pointer to a struct GORM can parse.
	ErrInvalidModel = errors.New("auditlog: not a pointer to a GORM model struct")
	// ErrNoPrimaryKey: the model has no primary key, so its entries could not
	// name the object they belong to.
	ErrNoPrimaryKey = errors.New("auditlog: model has no primary key")
	// ErrUnknownField: a field named in Include, Exclude, Mask or Label is
	// neither a Go field name nor a column name of the model.
	ErrUnknownField = errors.New("auditlog: unknown field")
	// ErrInvalidOption: the options contradict each other, such as masking or
	// labelling a field that is not tracked.
	ErrInvalidOption = errors.New("auditlog: invalid option")
)

// Errors returned by StateAt, Revert and Undo.
var (
	// ErrNoState: the object did not exist at that time (not created yet,
	// or hard-deleted), or its history has no entry up to then.
	ErrNoState = errors.New("auditlog: object has no recorded state at that time")
	// ErrEntryNotFound: the entry ID given to Revert or Undo is not in the
	// object's history.
	ErrEntryNotFound = errors.New("auditlog: entry not found in the object's history")
	// ErrMaskedField: reverting or undoing would have to restore a masked or
	// redacted field, whose clear value the log does not have.
	ErrMaskedField = errors.New("auditlog: a masked field cannot be restored")
	// ErrConflict: Undo would put back a field that changed after the
	// entry: its current value is not the one the entry wrote. Nothing is
	// written; the error names the field and both values.
	ErrConflict = errors.New("auditlog: the field changed since the entry")
	// ErrNotReversible: the entry given to Undo has no field changes of an
	// existing row to reverse: a create, a hard delete, an access or custom
	// action, or a change of the primary key or of a column not tracked now.
	ErrNotReversible = errors.New("auditlog: entry cannot be undone")
)

// Errors returned by Find for a query it cannot run.
var (
	// ErrInvalidQuery: the filters contradict each other, such as an empty
	// or reversed time range (Since at or after Until: no entry could match,
	// which is almost always a mistake) or objects of two models.
	ErrInvalidQuery = errors.New("auditlog: invalid query")
	// ErrInvalidCursor: Query.Cursor is malformed, or was returned for
	// another query (other filters or order).
	ErrInvalidCursor = errors.New("auditlog: invalid cursor")
)

// Errors about actions, returned by Plugin.DefineAction and Plugin.Log.
var (
	// ErrUnknownAction: Log was given an action that was not defined, and
	// the plugin does not allow unknown actions (AllowUnknownActions).
	ErrUnknownAction = errors.New("auditlog: unknown action")
	// ErrInvalidAction: an action name or message template is malformed.
	ErrInvalidAction = errors.New("auditlog: invalid action")
)

// ErrUnidentifiedRow fails a create or update whose rows the plugin cannot
// identify afterwards, such as db.Table("items").Create(map) without the key
// on a database that does not return it, or an update that changes a primary
// key with gorm.Expr outside PostgreSQL: its entry could not name the row.
var ErrUnidentifiedRow = errors.New("auditlog: written row has no known primary key value")

// ErrTooManyRows is returned (and fails the change) when one Where update or
// delete of a tracked model matches more rows than the plugin can restrict
// the statement to in one IN list (maxKeyParams key values). Split such a
// change into batches. PostgreSQL has no such limit: an update or delete
// there is one statement that locks the rows it changes. A plain Where
// write (no clause but WHERE) is captured 10,000 rows at a time and never
// fails with it (README: bulk writes in bounded memory).
var ErrTooManyRows = errors.New("auditlog: too many rows in one statement")

// ErrNoObjectKey is returned by History for an object whose primary key is
// not set: it has no history to look up.
var ErrNoObjectKey = errors.New("auditlog: object has no primary key value")

// ErrSkipEntry, returned by a BeforeLog hook, vetoes one entry: it is not
// written, and the change it belongs to goes ahead without it.
var ErrSkipEntry = errors.New("auditlog: skip entry")

// ErrNotRegistered is returned by Revert and Undo for an object whose model
// is not tracked (neither registered nor covered by TrackAll).
var ErrNotRegistered = errors.New("auditlog: model is not registered")

// ErrNoActor fails a tracked write whose context names no actor
// (WithActor, SetActor or the middleware) when the plugin has the
// RequireActor option. Nothing is written.
var ErrNoActor = errors.New("auditlog: no actor in the context")

// ErrNoLogTable fails a tracked write when the log table does not exist:
// create it with db.AutoMigrate(&auditlog.LogEntry{}), or Plugin.AutoMigrate
// when WithTable names another table. The change is rolled back.
var ErrNoLogTable = errors.New("auditlog: log table does not exist")

// Errors about tamper evidence: Plugin.Verify, OpenCheckpoint, CheckProof.
var (
	// ErrTampered: the sealed log does not match its own seal chain or a
	// trusted checkpoint: an entry or batch header was edited, deleted,
	// inserted or moved, the tail was cut off, or a signature or proof does
	// not verify. Verify's report lists every problem found.
	ErrTampered = errors.New("auditlog: audit log tampered with")
	// ErrInvalidCheckpoint: a checkpoint's text is not a checkpoint of this
	// format (not a signature problem: that is ErrTampered).
	ErrInvalidCheckpoint = errors.New("auditlog: invalid checkpoint")
	// ErrNotSealed: the operation needs sealed entries, such as Purge with
	// sealing on reaching an unsealed entry, or a proof of an unsealed entry.
	ErrNotSealed = errors.New("auditlog: entry not sealed")
)
