// Package auditlog is a GORM v2 plugin that records an audit trail of every
// change to the models registered with it: who changed what, from which value
// to which, when, from where and as part of which request, written in the
// same database transaction as the change.
//
// # Quick start
//
//	audit := auditlog.New()
//	db.Use(audit)
//	db.AutoMigrate(&auditlog.LogEntry{})
//	audit.Register(&Invoice{}, auditlog.Mask("IBAN"))
//
//	db.WithContext(auditlog.WithActor(ctx, "user-42")).Model(&inv).Update("status", "paid")
//	entries, err := audit.History(ctx, db, &inv) // newest first
//
// # What is recorded
//
// Every write path of GORM on a registered model produces one LogEntry per
// affected row: Create of one value or a slice, CreateInBatches, Save (update,
// insert, and the upsert GORM falls back to), Updates with a struct or a map,
// Update, UpdateColumn(s), Delete by object, by primary key and by Where, soft
// delete (logged as ActionDelete with the soft-delete column in the changes),
// Unscoped hard delete, upserts with clause.OnConflict, rows saved as
// associations of another model, and writes through db.Table("name") without
// a model when a registered model has that table. A Where update or delete with no primary key
// in hand gets one entry per row it changed, with that row's own old values.
//
// What is recorded is the statement GORM finally runs: an update or delete
// is captured when GORM executes it, after every callback and plugin
// (soft delete, gorm.io/plugin/optimisticlock, Select and Omit, clause.From)
// added its clauses, and a write that affects no row records nothing. A
// create records what the INSERT stored: a tracked column it left out
// (Select, Omit, default: tags, read-only fields) is read back from the row.
//
// Old values are the database's, read in the change's transaction with
// SELECT ... FOR UPDATE on PostgreSQL and MySQL/MariaDB; there the write is
// then restricted to exactly the rows read, so a row that starts to match
// concurrently is not changed without an entry (SQLite has one writer: its
// read and write see the same rows). On PostgreSQL an update or
// delete is one statement that does all of it: WITH locked AS (SELECT ...
// FOR UPDATE) UPDATE ... FROM locked ... RETURNING the locked (old) and
// updated (new) values, or DELETE ... USING locked ... RETURNING the deleted
// rows. A hard delete on SQLite and MariaDB 10.5+ is DELETE ... RETURNING the
// deleted rows. A plain Where write of more rows than a page (10,000) runs
// page by page in key order, each page's entries written before the next
// (README: bulk writes in bounded memory). Elsewhere new values come from RETURNING (SQLite), from the
// SET clause's plain values, or are read back after the write (gorm.Expr on
// MySQL, upserts, time values whose stored precision is not known). An update that
// changes no tracked field writes no entry: values are compared
// in their canonical stored form, so 0.170 and 0.17 in a decimal column,
// equal instants in different zones and JSON with reordered keys are equal,
// while NULL and "" are not.
//
// Changes are keyed by column name and hold values of their JSON type: nil,
// bool, string, json.Number (numbers, exact; a decimal column's value with
// the scale the column holds, "12500.50"), and map[string]any or []any for
// JSON columns. Times are RFC 3339 strings in UTC, byte slices base64. A
// create lists every non-null tracked column with old nil; a hard delete
// every non-null tracked column with new nil.
//
// # Many-to-many links
//
// A model registered with Associations("Tags") also records its many2many
// links: every join row GORM inserts or deletes gives the owner an update
// entry with Changes["tags"] = Change{Old: keys removed, New: keys added},
// sorted []any of ObjectPK texts; links written inside a write of the owner
// (Create or Save with the association) join that write's entry. Each
// join-table write costs one locked read of the rows it may touch. StateAt
// replays the set of linked keys; Undo and Revert re-add what an entry
// removed and remove what it added.
//
// # A parent's timeline
//
// A model registered with Parent("Order") (a belongs-to field) gives each
// entry its parent's table and key (LogEntry.ParentTable, ParentPK), from
// the foreign key the row holds after the change (before it, for a
// delete). Find with Query.Children and History with WithChildren return
// the parent's entries and its children's in one (CreatedAt, ID) stream,
// one query of two index range scans a page.
//
// # Per-model log tables
//
// A model registered with LogTable("sprocket_log") writes its entries to
// that table (Plugin.AutoMigrate creates it); every reader given the model
// reads it, and Find without a model merges every log table. Sealing
// covers the plugin's log table only.
//
// # Masking
//
// Fields named by Mask (per model) or WithMask (every model) are stored with
// the first half of their text replaced by '*' (MaskString). Their clear value
// appears nowhere in the log: not in Changes, Snapshot or ObjectRepr (a
// model's String() that contains a masked value is replaced by "Model(pk)"),
// nor in Data attached by WithData, Log or hooks (where it is masked too).
// Changes are still detected on the clear values. Masking keeps the second
// half of a value: secrets such as password hashes and tokens want Redact
// (or WithRedact), which stores Redacted for every non-null value (null stays
// null, so setting and clearing still show) and replaces a Data string that
// holds the clear value as a whole.
//
// # Undo and Revert
//
// Plugin.Undo reverses the fields one entry changed, refusing with
// ErrConflict when one of them changed since; Plugin.Revert restores the
// whole tracked state before an entry. Both lock the row in one transaction
// and write a normal audited update whose Data names the entry (DataUndoOf,
// DataRevertOf). Masked and redacted fields cannot be restored
// (ErrMaskedField).
//
// # Who, from where, and as part of what
//
// Entries take the actor, correlation id, remote address and extra data from
// the context given to db.WithContext: WithActor, WithCID, WithRemoteAddr,
// WithData. The Middleware sets them for an HTTP request; SetActor fills in
// the actor from handlers that run after authentication. All entries made
// under one context share its correlation id. Disable turns tracking off for
// the work done under a context.
//
// # Custom actions, access and hooks
//
// Plugin.Log writes an entry of any action for any object, in the caller's
// transaction; actions are defined with a label and a message template by
// Plugin.DefineAction and rendered by Plugin.Message. The LogAccess model
// option records reads made through GORM's query chain. BeforeLog hooks may
// enrich or veto entries, AfterLog hooks observe them. ActorStamps, embedded
// in a model, is filled with the actor on create and update.
//
// # Reading the log
//
// Plugin.History returns one object's entries; Plugin.Find filters by model
// (or several tables), objects, entry IDs, actors, actions, correlation id,
// time, changed field and text in the object's repr, a page at a time with
// keyset cursors forward (Page.Next) and back (Page.Prev). LogEntry.ChangesString and
// Plugin.DisplayChanges render changes for people, one way: changes named by
// column (or their Label), values as JSON text (strings quoted, so null, ""
// and "null" read differently), JSON objects key by key. json.Marshal(entry)
// is the one JSON form of an entry (snake_case keys, created_at in RFC 3339
// UTC with nanoseconds), used by exports. Plugin.StateAt rebuilds an
// object's fields at a point in time; Plugin.Revert restores them as an
// audited update. Plugin.Purge enforces retention in bounded batches. The
// command cmd/auditlog does the same from a shell; package web is a
// read-only history view and JSON API for admins (auditlog serve serves it).
//
// # Tamper evidence
//
// With the Sealing option, Plugin.Seal (or the background Plugin.RunSealer)
// seals committed entries into batches: each entry's leaf hash (a canonical
// encoding of all its fields, docs/LEAF-ENCODING.md), an RFC 6962 Merkle
// root per batch, a chain of batch headers, and an Ed25519-signed
// checkpoint of the whole sealed log to keep outside the database.
// Plugin.Verify recomputes it all and reports every edited, deleted,
// inserted, reordered or re-sequenced entry, edited or deleted header and
// cut-off tail, wrapping ErrTampered; Plugin.VerifyObject checks one
// object's entries, Plugin.Prove and CheckProof an inclusion proof. Purge
// then removes whole sealed batches only, and Plugin.EraseEntries erases an
// entry's payload while keeping it verifiable. Covered: sealed entries up to
// the last checkpoint kept outside the database; not covered: entries not
// sealed yet, and an attacker holding the signing key. The write path is
// unchanged by sealing.
//
// # Transactions
//
// Entries are inserted by callbacks that run before
// gorm:commit_or_rollback_transaction, so a change and its entries commit or
// roll back together, inside the caller's transaction when there is one. When
// GORM's default transaction is off (gorm.Config or gorm.Session
// SkipDefaultTransaction) and the caller has none, the plugin opens one around
// a tracked write. A failed entry insert, or a driver.Valuer that fails while
// reading the values, fails the change. Nothing is written in DryRun.
//
// On SQLite, which has no row locks, open the database with
// "_txlock=immediate&_busy_timeout=5000" in the DSN so that concurrent
// writers wait for each other instead of failing with "database is locked".
//
// # Performance
//
// Per write statement the plugin adds: for a create, one multi-row INSERT of
// the entries (WithBatchSize rows each), and a read-back of the rows when the
// INSERT left a tracked column to the database; for an update or delete, at
// most one locked SELECT of the old rows and one SELECT of the new rows (on
// PostgreSQL neither: the write itself locks and returns them), and one
// multi-row INSERT. ARCHITECTURE.md lists the statements of each database. The number of statements does not grow with the number
// of rows, except past WithBatchSize entries per INSERT and 10,000 rows per
// page of a paged Where write; memory holds one page of rows and one batch of
// entries at a time. Field plans are
// computed once per model schema and cached.
//
// # Limits
//
// Writes that bypass GORM's create, update and delete callbacks are not
// recorded: db.Exec, db.Raw, and SQL run outside GORM. An upsert whose
// conflict is on a unique column other than the primary key, with the key
// unset, is recorded as a create with the row's values after the write. A
// single Where update or delete on MySQL or MariaDB that is not captured
// page by page (one with ORDER BY, LIMIT, FROM or a RETURNING of its own, an
// update of a key column, or one whose entries are scrubbed of masked
// values) and matches more than 30000 rows (fewer with a composite key)
// fails with ErrTooManyRows: split it. An update that changes a primary key with gorm.Expr fails with
// ErrUnidentifiedRow outside PostgreSQL: the new key is not known there. A
// create through
// db.Table("name") from a map without its key fails with ErrUnidentifiedRow on
// PostgreSQL, which cannot report the new key without a model. db.Table with
// an alias or a schema-qualified name and no Model is not matched to a model. On MySQL the
// DSN needs parseTime=true, as GORM does for time fields. A primary key
// cannot be masked or redacted. Undo and Revert cannot restore masked or
// redacted fields, and StateAt knows
// only the columns changed since the first entry when an object's history
// does not start with its creation. Secrets are masked or redacted in Data
// and Snapshot only when they belong to a row of the same statement.
package auditlog
