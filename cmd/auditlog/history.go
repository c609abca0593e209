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
	"time"
	"unicode"

	"github.com/gorm-auditlog/auditlog"
)

// runHistory prints one object's entries, newest first, reading every page.
func runHistory(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("page-size")
	model := fs.String("model", "", "`table` of the object's model, as in the entries (required)")
	pk := fs.String("pk", "", "the object's primary `key` as stored: \"42\", or a JSON array of texts for a\ncomposite key: '[\"acme\",\"42\"]' (required)")
	format := fs.String("format", "table", "output `format`: table (aligned columns) or json (one LogEntry a line)")
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
	q := auditlog.Query{Table: *model, ObjectPKs: []string{*pk}, Limit: *pageSize}
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
		if err := writeTable(out, entries); err != nil {
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

// writeJSONLines writes each entry as one line of JSON.
func writeJSONLines(w io.Writer, entries []auditlog.LogEntry) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range entries {
		if err := enc.Encode(&entries[i]); err != nil {
			return fmt.Errorf("write entry %d: %w", entries[i].ID, err)
		}
	}
	return nil
}

// writeTable writes entries in aligned columns.
func writeTable(w io.Writer, entries []auditlog.LogEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tACTION\tACTOR\tCHANGES")
	for _, e := range entries {
		actor := e.ActorID
		if actor == "" {
			actor = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.CreatedAt.UTC().Format(time.RFC3339),
			cell(string(e.Action)), cell(actor), cell(e.ChangesString()))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// cell quotes text with control characters (tabs, newlines), which would
// break the columns.
func cell(s string) string {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}
