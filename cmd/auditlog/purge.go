package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

// runPurge deletes (or, with -dry-run, counts) the entries created before a
// cut-off.
func runPurge(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	var before time.Time
	var models, actions stringsFlag
	fs.Var(timeFlag{&before, e.now}, "before", "delete entries created before this `time` (required)")
	fs.Var(&models, "model", "only entries of the model with this `table` (repeatable: any of them)")
	fs.Var(&actions, "action", "only entries of this `action`, such as access (repeatable: any of them)")
	batch := fs.Int("batch", 0, "entries one DELETE removes, 1 to 10000 (default 1000)")
	dryRun := fs.Bool("dry-run", false, "count the entries that would go, delete nothing")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if before.IsZero() {
		return usagef("missing -before")
	}
	if *batch < 0 {
		return usagef("-batch must not be negative")
	}
	opts := auditlog.PurgeOptions{Tables: compact(models), BatchSize: *batch}
	for _, a := range compact(actions) {
		opts.Actions = append(opts.Actions, auditlog.Action(a))
	}
	db, audit, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	for _, m := range opts.Tables {
		if err := checkModel(ctx, db, audit, m); err != nil {
			return err
		}
	}

	if *dryRun {
		n, err := countPurge(ctx, db, audit, before, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "would purge %d entries\n", n)
		return nil
	}
	if !*quiet {
		opts.Progress = func(deleted int64) {
			fmt.Fprintf(e.stderr, "purged %d entries so far\n", deleted)
		}
	}
	n, err := audit.Purge(ctx, db, before, opts)
	fmt.Fprintf(e.stdout, "purged %d entries\n", n)
	return err
}

// countPurge counts the entries Purge would delete, reading them with Find
// (one query per model), corrupt ones included.
func countPurge(ctx context.Context, db *gorm.DB, audit *auditlog.Plugin, before time.Time, opts auditlog.PurgeOptions) (int64, error) {
	tables := opts.Tables
	if len(tables) == 0 {
		tables = []string{""} // every model
	}
	var n int64
	for _, table := range tables {
		q := auditlog.Query{Table: table, Actions: opts.Actions, Until: before, Oldest: true, Limit: auditlog.MaxPageSize}
		for {
			page, err := audit.Find(ctx, db, q)
			if err != nil {
				return n, err
			}
			n += int64(len(page.Entries) + len(page.Corrupt))
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	return n, nil
}

// compact returns the values without repeats, in their first order.
func compact(values []string) []string {
	var out []string
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
