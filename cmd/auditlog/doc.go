// Command auditlog reads and prunes the audit log that the
// github.com/gorm-auditlog/auditlog plugin writes, over a database DSN:
//
//	auditlog [global flags] <command> [flags]
//
// The commands are:
//
//	history   one object's history, newest first, as a table or JSON lines
//	export    the entries of a filtered range as JSON lines, oldest first
//	purge     delete the entries older than a cut-off (retention)
//	serve     the read-only web view and JSON API (package web) over HTTP
//	seal      seal committed entries into batches and sign a checkpoint
//	verify    check the sealed log against its seal chain and a checkpoint
//	keygen    make an Ed25519 key pair for signing checkpoints
//	maintain  apply retention policies and record each run
//	relay     publish the committed entries to NATS JetStream (package relay)
//
// The global flags are -dsn (default $AUDITLOG_DSN), -driver (sqlite,
// postgres or mysql; guessed from the DSN when left out: "postgres://" and
// "host=..." are PostgreSQL, "user@tcp(host)/db" is MySQL, anything else a
// SQLite file) and -table (the log table, default audit_log_entries). They
// may also follow the command.
//
// Examples:
//
//	export AUDITLOG_DSN='file:app.db?_txlock=immediate&_busy_timeout=5000'
//	auditlog history -model invoices -pk 42
//	auditlog history -model invoices -pk '["acme","42"]' -format json
//	auditlog history -model orders -pk 7 -children
//	auditlog -dsn 'host=db user=app dbname=app' export -since 2026-01-01 -until 2026-02-01 > jan.jsonl
//	auditlog export -actor user-42 -action update -since 720h -quiet
//	auditlog export -model invoices -field status -quiet
//	auditlog purge -before 2160h -dry-run
//	auditlog purge -before 2025-01-01 -model sessions -action access -batch 5000
//	auditlog serve -addr 127.0.0.1:8080            # prints http://127.0.0.1:8080/?token=...
//	curl -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/entries?actor=user-42'
//	auditlog keygen -out /etc/auditlog/seal.key
//	auditlog seal -key /etc/auditlog/seal.key -checkpoint-dir /mnt/worm/checkpoints -interval 1m
//	auditlog verify -checkpoint /mnt/worm/checkpoints/latest.note -key /etc/auditlog/seal.key.pub
//	auditlog maintain -retention access=90d -retention '*=3650d' -retention sessions:*=30d
//	auditlog relay -dsn 'host=db user=app dbname=app' -nats nats://127.0.0.1:4222   # progress and lag on stderr
//
// The table of history has the columns ID, TIME (UTC, microseconds), ACTION,
// ACTOR, CID and CHANGES, one change a line as "column: old → new" with
// values as JSON text (see auditlog.LogEntry.ChangesString: strings quoted,
// null, a JSON object key by key), each value cut at -max-len characters
// (default 60; -max-len 0 shows them whole). JSON lines (export, history
// -format json) are LogEntry's one JSON form: snake_case keys, created_at in
// RFC 3339 UTC with nanoseconds.
//
// Times (-since, -until, -before) are RFC 3339 ("2026-01-02T15:04:05Z"), a
// date ("2026-01-02", midnight UTC) or an age: a Go duration or a number of
// days ("720h", "30d") before now.
//
// -model names the tracked model's table, as stored in the entries; a name
// that has no entries and is no table of the database is an error, so that a
// typo does not look like an empty history.
//
// Queries go through Plugin.Find and Plugin.Purge, which validate them and
// use the log table's indexes; export reads page by page with Find's cursor,
// so its memory does not grow with the range.
//
// serve listens on 127.0.0.1:8080 unless -addr says otherwise, and requires
// a token (a random one printed at start, or -token) unless
// -insecure-no-auth is given; it serves GET and HEAD only and issues only
// SELECTs. The printed URL carries the token once: the browser gets it as
// a cookie and the token leaves the address bar.
//
// # Exit status
//
// 0 on success, 1 for a runtime error (a database that does not connect, an
// unknown model, a query the library rejects such as a reversed time range),
// 2 for a usage error (unknown command or flag, missing required flag,
// unparsable time). Entries whose stored JSON is corrupt are skipped with a
// warning on stderr naming their IDs ("skipped corrupt entries: IDs 7, 9");
// the command still exits 0, so check stderr before you purge what you
// exported.
package main
