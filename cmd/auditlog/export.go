package main

import (
	"bufio"
	"context"
	"fmt"

	"github.com/gorm-auditlog/auditlog"
)

// exportPageSize is how many entries export reads a page: memory stays
// bounded by one page whatever the range.
const exportPageSize = 1000

// progressPages is how often export reports progress, in pages.
const progressPages = 10

// runExport streams the entries of a filtered range as JSON lines.
func runExport(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("page-size")
	var q auditlog.Query
	var actors, actions stringsFlag
	fs.StringVar(&q.Table, "model", "", "only entries of the model with this `table`")
	fs.Var(&actors, "actor", "only entries by this `actor` (repeatable: any of them)")
	fs.Var(&actions, "action", "only entries of this `action`, such as update (repeatable: any of them)")
	fs.StringVar(&q.CID, "cid", "", "only entries of this correlation `id`")
	fs.StringVar(&q.Field, "field", "", "only entries that changed this `column` (needs -model)")
	fs.Var(timeFlag{&q.Since, e.now}, "since", "only entries created at or after this `time`")
	fs.Var(timeFlag{&q.Until, e.now}, "until", "only entries created before this `time`")
	fs.BoolVar(&q.Oldest, "oldest", true, "oldest first; -oldest=false for newest first")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	fs.IntVar(&q.Limit, "page-size", exportPageSize, "entries a query reads (for tests)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if q.Limit < 0 {
		return usagef("-page-size must not be negative")
	}
	q.Actors = actors
	for _, a := range actions {
		q.Actions = append(q.Actions, auditlog.Action(a))
	}
	db, audit, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	if q.Table != "" {
		if err := checkModel(ctx, db, audit, q.Table); err != nil {
			return err
		}
	}

	out := bufio.NewWriter(e.stdout)
	n := 0
	for pages := 1; ; pages++ {
		page, err := audit.Find(ctx, db, q)
		if err != nil && n > 0 {
			return fmt.Errorf("%w (after %d entries exported)", err, n)
		} else if err != nil {
			return err
		}
		warnCorrupt(e.stderr, page.Corrupt)
		if err := writeJSONLines(out, page.Entries); err != nil {
			return err
		}
		if err := out.Flush(); err != nil { // let a reader downstream keep pace
			return fmt.Errorf("write output: %w", err)
		}
		n += len(page.Entries)
		if page.Next == "" {
			break
		}
		if !*quiet && pages%progressPages == 0 {
			fmt.Fprintf(e.stderr, "exported %d entries\n", n)
		}
		q.Cursor = page.Next
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "exported %d entries\n", n)
	}
	return nil
}
