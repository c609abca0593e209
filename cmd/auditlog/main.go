package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/gorm-auditlog/auditlog"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// pingTimeout bounds the connection check of a database that does not answer.
const pingTimeout = 15 * time.Second

const usageText = `usage: auditlog [global flags] <command> [flags]

Reads and prunes the audit log of github.com/gorm-auditlog/auditlog.

Commands:
  history -model TABLE -pk PK [-children] [-format table|json] [-max-len N]
        one object's history, newest first (-children: with its children's, see auditlog.Parent)
  export [-model TABLE] [-actor A]... [-action X]... [-cid C] [-field COLUMN] [-since T] [-until T] [-oldest=false] [-quiet]
        entries of a filtered range as JSON lines, oldest first
  purge -before T [-model TABLE]... [-action X]... [-batch N] [-dry-run] [-quiet]
        delete entries created before T (whole sealed batches once the log is sealed)
  serve [-addr HOST:PORT] [-token T | -insecure-no-auth] [-location ZONE]
        serve the read-only web view and JSON API (loopback, token required)
  seal [-key FILE] [-checkpoint FILE | -checkpoint-dir DIR] [-origin O] [-batch N] [-interval D]
        seal the committed entries into batches and sign a checkpoint
  verify [-checkpoint FILE -key PUB] [-origin O] [-max N]
        check the sealed log against its seal chain and a trusted checkpoint
  maintain [-retention [TABLE:]ACTION=AGE ...] [-partitions N [-move]]
        apply retention policies, each run recorded in the run table; keep the log partitioned by month (PostgreSQL)
  relay [-nats URL] [-stream S] [-subject-prefix P] [-name N] [-batch N] [-progress D] [-once]
        publish the committed entries to NATS JetStream, lag on stderr
  keygen -out FILE [-name N]
        make an Ed25519 key pair for signing checkpoints

Global flags (also accepted after the command):
  -dsn DSN
        database to open (default $AUDITLOG_DSN)
  -driver sqlite|postgres|mysql
        database driver (default: guessed from the DSN: "postgres://" or
        "host=..." is postgres, "user@tcp(host)/db" mysql, else sqlite)
  -table NAME
        log table (default audit_log_entries)

Times (T) are RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02, midnight
UTC) or an age before now (720h, 30d).

Exit status: 0 success (also when entries with corrupt JSON were skipped,
which is reported on stderr), 1 runtime error (verify: also a tampered log),
2 usage error.
Run 'auditlog <command> -h' for a command's flags.
`

// command is one subcommand.
type command struct {
	name     string
	synopsis string // flags after the name, for usage messages
	summary  string
	run      func(ctx context.Context, e *env, args []string) error
}

var commands = []command{
	{"history", "-model TABLE -pk PK [-children] [-format table|json] [-max-len N]",
		"Prints the history of one object, newest first: a table with one change a line (values as JSON text,\n" +
			"strings quoted; times in UTC with microseconds), or JSON lines. With -children, the entries of its\n" +
			"children (models registered with auditlog.Parent) too, the table naming each entry's object.", runHistory},
	{"export", "[-model TABLE] [-actor A]... [-action X]... [-cid C] [-since T] [-until T] [-oldest=false] [-quiet]",
		"Writes the entries of a filtered range to stdout as JSON lines, one LogEntry a line, oldest first,\n" +
			"reading them page by page. Progress goes to stderr every 10 pages and at the end.", runExport},
	{"purge", "-before T [-model TABLE]... [-action X]... [-batch N] [-dry-run] [-quiet]",
		"Deletes the entries created before T, in batches, and prints how many went. Once the log is sealed\n" +
			"(its header table exists), it removes whole sealed batches only and records them in the seal chain.", runPurge},
	{"serve", "[-addr HOST:PORT] [-token T | -insecure-no-auth] [-location ZONE]",
		"Serves the read-only web view and JSON API of the log (package web) until interrupted. It listens on\n" +
			"127.0.0.1:8080 by default and requires a token: -token, or a random one; the URL printed at start\n" +
			"carries it (curl: -H 'Authorization: Bearer T').", runServe},
	{"seal", "[-key FILE] [-checkpoint FILE | -checkpoint-dir DIR] [-origin O] [-batch N] [-interval D]",
		"Seals the committed, unsealed entries into batches (Plugin.Seal) and, with -key, signs a checkpoint of the\n" +
			"sealed log, also when nothing was sealed. Keep checkpoints where the database's administrators cannot write.", runSeal},
	{"verify", "[-checkpoint FILE -key PUB] [-origin O] [-max N]",
		"Recomputes every sealed entry's leaf hash, every batch root and header link (Plugin.Verify) and, with a\n" +
			"checkpoint, checks the log against it; prints each problem with its kind and entry. Exit status 1 if any.", runVerify},
	{"maintain", "[-retention [TABLE:]ACTION=AGE ...] [-partitions N [-move]]",
		"Applies retention policies (Plugin.Maintain): removes the expired entries each policy governs, in batches, and\n" +
			"records each policy's run (policy, cut-off, rows removed, status) in the table <log table>_retention_runs.\n" +
			"With -partitions (PostgreSQL) it also makes the next months' partitions and drops wholly expired months.", runMaintain},
	{"relay", "[-nats URL] [-stream S] [-subject-prefix P] [-name N] [-batch N] [-progress D] [-once]",
		"Publishes every committed entry, in commit order per object, to NATS JetStream (subject P.<model table>,\n" +
			"message ID <log table>:<id>: exactly once within the stream's duplicate window), resuming from its cursor\n" +
			"in the database; progress and lag go to stderr. Runs until interrupted, or with -once until caught up.", runRelay},
	{"keygen", "-out FILE [-name N]",
		"Writes a new Ed25519 signing key to FILE (mode 0600) and its public key to FILE.pub.", runKeygen},
}

func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// globals are the flags shared by every command.
type globals struct {
	driver, dsn, table string
}

// env is what a command runs with.
type env struct {
	globals
	stdout, stderr io.Writer
	now            time.Time
	cmd            *command
}

// usageError is bad command-line input: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errReported is a usage error the flag package has already printed.
var errReported = errors.New("reported")

// run is the whole command: it parses args, runs the command and returns the
// exit status. Messages go to stderr, results to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, now: time.Now()}
	fs := flag.NewFlagSet("auditlog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	fs.StringVar(&e.driver, "driver", "", "")
	fs.StringVar(&e.dsn, "dsn", "", "")
	fs.StringVar(&e.table, "table", auditlog.DefaultTable, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, "auditlog: no command\n\n"+usageText)
		return exitUsage
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		return help(stdout, stderr, rest)
	}
	e.cmd = lookupCommand(name)
	if e.cmd == nil {
		fmt.Fprintf(stderr, "auditlog: unknown command %q\nRun 'auditlog -h' for usage.\n", name)
		return exitUsage
	}
	err := e.cmd.run(ctx, e, rest)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errReported):
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "auditlog %s: %s\nusage: auditlog [global flags] %s %s\nRun 'auditlog %[1]s -h' for details.\n",
			e.cmd.name, ue.msg, e.cmd.name, e.cmd.synopsis)
		return exitUsage
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "auditlog: ") {
		msg = "auditlog: " + msg
	}
	fmt.Fprintln(stderr, msg)
	return exitRuntime
}

// help prints the usage of the program or of one command to stdout.
func help(stdout, stderr io.Writer, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	c := lookupCommand(args[0])
	if c == nil || len(args) > 1 {
		fmt.Fprintf(stderr, "auditlog help: unknown command %q\n", strings.Join(args, " "))
		return exitUsage
	}
	e := &env{stdout: stdout, stderr: stdout, now: time.Now(), cmd: c}
	_ = c.run(context.Background(), e, []string{"-h"})
	return exitOK
}

// flagSet returns the command's flag set. Its usage lists the command's
// flags except the hidden ones (the global flags, accepted here too, and
// flags for tests).
func (e *env) flagSet(hidden ...string) *flag.FlagSet {
	fs := flag.NewFlagSet("auditlog "+e.cmd.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Var(stringFlag{&e.driver}, "driver", "")
	fs.Var(stringFlag{&e.dsn}, "dsn", "")
	fs.Var(stringFlag{&e.table}, "table", "")
	hidden = append(hidden, "driver", "dsn", "table")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: auditlog [global flags] %s %s\n\n%s\n\nFlags:\n", e.cmd.name, e.cmd.synopsis, e.cmd.summary)
		fs.VisitAll(func(f *flag.Flag) {
			if slices.Contains(hidden, f.Name) {
				return
			}
			typ, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  -%s", f.Name)
			if typ != "" {
				fmt.Fprintf(w, " %s", typ)
			}
			fmt.Fprintf(w, "\n        %s", strings.ReplaceAll(usage, "\n", "\n        "))
			if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" {
				fmt.Fprintf(w, " (default %s)", d)
			}
			fmt.Fprintln(w)
		})
		fmt.Fprint(w, "\nRun 'auditlog -h' for the global flags, time formats and exit status.\n")
	}
	return fs
}

// parse parses the command's flags; extra arguments are a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errReported
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// open connects to the database (checking the connection with a ping) and
// checks that the log table exists. The caller closes the database.
func (e *env) open(ctx context.Context) (*gorm.DB, *auditlog.Plugin, error) {
	dsn := e.dsn
	if dsn == "" {
		dsn = os.Getenv("AUDITLOG_DSN")
	}
	if dsn == "" {
		return nil, nil, usagef("missing -dsn (or $AUDITLOG_DSN)")
	}
	if e.table == "" {
		return nil, nil, usagef("-table must not be empty")
	}
	driver := e.driver
	if driver == "" {
		driver = guessDriver(dsn)
	}
	var dialector gorm.Dialector
	switch driver {
	case "sqlite":
		if path, ok := sqlitePath(dsn); ok {
			if _, err := os.Stat(path); err != nil {
				return nil, nil, fmt.Errorf("open sqlite database: %w", err)
			}
		}
		dialector = sqlite.Open(dsn)
	case "postgres":
		dialector = postgres.Open(dsn)
	case "mysql":
		withTimes, err := mysqlDSN(dsn)
		if err != nil {
			return nil, nil, usagef("bad mysql DSN: %v", err)
		}
		dialector = mysql.Open(withTimes)
	default:
		return nil, nil, usagef("unknown -driver %q: want sqlite, postgres or mysql", driver)
	}
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
	if err != nil {
		return nil, nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("connect to %s database: %w", driver, err)
	}
	db = db.WithContext(ctx)
	if !db.Migrator().HasTable(e.table) {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("log table %q does not exist (see -table)", e.table)
	}
	var opts []auditlog.Option
	if db.Migrator().HasTable(e.table + "_batches") { // sealed: purge whole batches only
		opts = append(opts, auditlog.Sealing(auditlog.SealConfig{}))
	}
	return db, auditlog.New(append(opts, auditlog.WithTable(e.table))...), nil
}

// mysqlDSN is dsn with parseTime=true, which the log's time columns need
// (without it the driver returns them as bytes); the other settings stay.
func mysqlDSN(dsn string) (string, error) {
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	cfg.ParseTime = true
	return cfg.FormatDSN(), nil
}

// closeDB closes the database's connections.
func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// guessDriver tells the driver from the form of the DSN.
func guessDriver(dsn string) string {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"),
		strings.HasPrefix(strings.TrimSpace(dsn), "host="):
		return "postgres"
	case strings.Contains(dsn, "@tcp("):
		return "mysql"
	}
	return "sqlite"
}

// sqlitePath returns the file of a SQLite DSN, when it names one, so that a
// missing file is reported instead of created empty.
func sqlitePath(dsn string) (string, bool) {
	path, query, _ := strings.Cut(dsn, "?")
	if p, ok := strings.CutPrefix(path, "file:"); ok {
		unescaped, err := url.PathUnescape(p)
		if err != nil {
			return "", false
		}
		path = unescaped
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "//") ||
		strings.Contains(query, "mode=memory") || strings.Contains(query, "mode=rwc") {
		return "", false
	}
	return path, true
}

// checkModel fails for a model name that has no entries and is no table of
// the database: most likely a typo.
func checkModel(ctx context.Context, db *gorm.DB, audit *auditlog.Plugin, table string) error {
	if db.Migrator().HasTable(table) {
		return nil
	}
	page, err := audit.Find(ctx, db, auditlog.Query{Table: table, Limit: 1})
	if err != nil {
		return err
	}
	if len(page.Entries) == 0 && len(page.Corrupt) == 0 {
		return fmt.Errorf("unknown model/table %q: it has no log entries and no table", table)
	}
	return nil
}

// warnCorrupt reports entries that Find skipped.
func warnCorrupt(w io.Writer, ids []int64) {
	if len(ids) == 0 {
		return
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	fmt.Fprintf(w, "auditlog: warning: skipped corrupt entries: IDs %s (their stored JSON cannot be decoded)\n",
		strings.Join(s, ", "))
}

// stringFlag sets a string without resetting it when registered, so that a
// global flag can be given again after the command.
type stringFlag struct{ p *string }

func (f stringFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f stringFlag) Set(s string) error { *f.p = s; return nil }

// stringsFlag is a repeatable flag.
type stringsFlag []string

func (f *stringsFlag) String() string { return strings.Join(*f, ",") }

func (f *stringsFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty value")
	}
	*f = append(*f, s)
	return nil
}

// timeFlag is a time given as RFC 3339, a date or an age before now.
type timeFlag struct {
	t   *time.Time
	now time.Time
}

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f timeFlag) Set(s string) error {
	t, err := parseTime(s, f.now)
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}

// parseTime reads an RFC 3339 time, a date (midnight UTC) or an age before
// now: a Go duration ("720h", "90m") or a number of days ("30d").
func parseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	var age time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 32)
		if err != nil || days > maxDays {
			return time.Time{}, errBadTime
		}
		age = time.Duration(days) * 24 * time.Hour
	} else {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return time.Time{}, errBadTime
		}
		age = d
	}
	return now.Add(-age).UTC(), nil
}

// maxDays is the longest age in days that time.Duration holds.
const maxDays = uint64(1<<63-1) / uint64(24*time.Hour)

var errBadTime = errors.New("want RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or an age (720h, 30d)")
