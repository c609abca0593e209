package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/gorm-auditlog/auditlog"
)

// runHistory prints one object's entries, newest first, reading every page.
func runHistory(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("page-size")
	model := fs.String("model", "", "`table` of the object's model, as in the entries (required)")
	pk := fs.String("pk", "", "the object's primary `key` as stored: \"42\", or a JSON array of texts for a\ncomposite key: '[\"acme\",\"42\"]' (required)")
	format := fs.String("format", "table", "output `format`: table (aligned columns, one change a line) or json (one LogEntry a\nline, its JSON form)")
	maxLen := fs.Int("max-len", defaultMaxLen, "table format: the most `characters` of a value shown, a longer one cut with …;\n0 shows every value whole")
	children := fs.Bool("children", false, "also the entries of the object's children (models registered with\nauditlog.Parent); the table format names each entry's object")
	pageSize := fs.Int("page-size", 0, "entries a query reads (for tests)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *model == "":
		return usagef("missing -model")
	case *pk == "":
		return usagef("missing -pk")
	case *format != "table" && *format != "json":
		return usagef("unknown -format %q: want table or json", *format)
	case *maxLen < 0:
		return usagef("-max-len must not be negative")
	case *pageSize < 0:
		return usagef("-page-size must not be negative")
	}
	db, audit, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	if err := checkModel(ctx, db, audit, *model); err != nil {
		return err
	}

	out := bufio.NewWriter(e.stdout)
	var entries []auditlog.LogEntry // table format: aligned over all pages
	n := 0
	q := auditlog.Query{Table: *model, ObjectPKs: []string{*pk}, Children: *children, Limit: *pageSize}
	for {
		page, err := audit.Find(ctx, db, q)
		if err != nil {
			return err
		}
		warnCorrupt(e.stderr, page.Corrupt)
		n += len(page.Entries)
		if *format == "json" {
			if err := writeJSONLines(out, page.Entries); err != nil {
				return err
			}
		} else {
			entries = append(entries, page.Entries...)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if *format == "table" {
		var object func(auditlog.LogEntry) string // the OBJECT column, with -children only
		if *children {
			object = func(e auditlog.LogEntry) string { return cell(e.Table) + " " + cell(e.ObjectPK) }
		}
		if err := writeTable(out, audit, entries, *maxLen, object); err != nil {
			return err
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if n == 0 {
		fmt.Fprintf(e.stderr, "auditlog: no entries for %s %s\n", *model, *pk)
	}
	return nil
}

// writeJSONLines writes each entry as one line of its JSON form
// (LogEntry.MarshalJSON).
func writeJSONLines(w io.Writer, entries []auditlog.LogEntry) error {
	for i := range entries {
		b, err := json.Marshal(entries[i])
		if err != nil {
			return fmt.Errorf("write entry %d: %w", entries[i].ID, err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

// defaultMaxLen is how many characters of a value the table shows.
const defaultMaxLen = 60

// tableTime is the layout of the table's TIME column: UTC, microseconds,
// fixed width so that times line up.
const tableTime = "2006-01-02T15:04:05.000000Z07:00"

// writeTable writes entries in aligned columns, one change a line (see
// auditlog.LogEntry.ChangesString for how values read), values cut to
// maxLen characters (0: whole). object, when set, gives an OBJECT column
// after TIME (a timeline with children: entries of several objects).
func writeTable(w io.Writer, audit *auditlog.Plugin, entries []auditlog.LogEntry, maxLen int, object func(auditlog.LogEntry) string) error {
	if maxLen == 0 {
		maxLen = -1
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	objectHead, pad := "", ""
	if object != nil {
		objectHead, pad = "OBJECT\t", "\t"
	}
	fmt.Fprintln(tw, "ID\tTIME\t"+objectHead+"ACTION\tACTOR\tCID\tCHANGES")
	for _, e := range entries {
		changes := audit.DisplayChanges(e, auditlog.DisplayOptions{MaxLen: maxLen})
		first := "-"
		if len(changes) > 0 {
			first = changeLine(changes[0])
		}
		obj := ""
		if object != nil {
			obj = object(e) + "\t"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s%s\t%s\t%s\t%s\n", e.ID, e.CreatedAt.UTC().Format(tableTime), obj,
			cell(string(e.Action)), cell(orDash(e.ActorID)), cell(orDash(e.CID)), first)
		for _, c := range changes[min(1, len(changes)):] {
			fmt.Fprintf(tw, "\t\t"+pad+"\t\t\t%s\n", changeLine(c))
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// changeLine is one change of the table: "name: old → new". Values are JSON
// text, whose control characters are escaped; a label or key is quoted when
// it has any.
func changeLine(c auditlog.DisplayChange) string {
	return cell(c.Name()) + ": " + c.Old + " → " + c.New
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell quotes text with control characters (tabs, newlines), which would
// break the columns.
func cell(s string) string {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}
