package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gorm-auditlog/auditlog"
)

// runMaintain applies retention policies given as flags and prints each
// policy's run.
func runMaintain(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet()
	var opts []auditlog.Option
	fs.Func("retention", "a policy `[TABLE:]ACTION=AGE`: remove the entries of ACTION (* for all) of TABLE (all tables\n"+
		"when left out) older than AGE (720h, 90d); repeatable, the most specific policy governs an entry", func(s string) error {
		o, err := parseRetention(s, e)
		if err == nil {
			opts = append(opts, o)
		}
		return err
	})
	ahead := fs.Int("partitions", 0, "on PostgreSQL, keep the log table partitioned by month with `N` months of partitions\n"+
		"made ahead, and drop the months whose entries have all expired (the table must be partitioned: see -move)")
	move := fs.Bool("move", false, "with -partitions: first move a plain log table under a partitioned one, while\n"+
		"the application keeps writing (Plugin.PartitionLogTable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ahead < 0 || *move && *ahead == 0 {
		return usagef("-partitions must be positive (and given with -move)")
	}
	if len(opts) == 0 && *ahead == 0 {
		return usagef("no -retention policy and no -partitions")
	}
	if *ahead > 0 {
		opts = append(opts, auditlog.WithMonthlyPartitions(*ahead))
	}
	db, _, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	if db.Migrator().HasTable(e.table + "_batches") {
		return errors.New("the log is sealed: retention policies do not apply, purge whole batches with 'auditlog purge'")
	}
	audit := auditlog.New(append(opts, auditlog.WithTable(e.table))...)
	if *move {
		if err := audit.PartitionLogTable(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s is partitioned by month\n", e.table)
	}
	runs, err := audit.Maintain(ctx, db)
	for _, r := range runs {
		where := ""
		if r.Partition != "" {
			where = " (partition " + r.Partition + " dropped)"
		}
		fmt.Fprintf(e.stdout, "%s: removed %d created before %s%s: %s\n", r.Policy, r.Removed,
			r.Before.Format("2006-01-02T15:04:05Z07:00"), where, r.Status)
	}
	return err
}

// parseRetention reads "[TABLE:]ACTION=AGE".
func parseRetention(s string, e *env) (auditlog.Option, error) {
	scope, age, ok := strings.Cut(s, "=")
	if !ok {
		return nil, errors.New("want [TABLE:]ACTION=AGE")
	}
	table, action, found := strings.Cut(scope, ":")
	if !found {
		table, action = "", scope
	}
	if action == "*" {
		action = string(auditlog.AnyAction)
	}
	cut, err := parseTime(age, e.now)
	if err != nil {
		return nil, err
	}
	keep := e.now.Sub(cut)
	if keep <= 0 {
		return nil, errors.New("the age must be positive")
	}
	return auditlog.TableRetention(table, auditlog.Action(action), keep), nil
}
