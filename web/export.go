package web

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorm-auditlog/auditlog"
)

// exportPage is how many entries an export reads per query: its memory is
// one such page, whatever the number of entries.
const exportPage = 500

// exportCSV streams the filter's visible entries, newest first, as CSV:
// the columns of csvHeader, changes and data as JSON, every cell guarded
// against spreadsheet formulas (noFormula).
func (s *server) exportCSV(w http.ResponseWriter, r *http.Request, acc Access) error {
	return s.export(w, r, acc, "csv", "text/csv; charset=utf-8", func(out io.Writer) (entryWriter, func() error) {
		cw := csv.NewWriter(out)
		cw.Write([]string{"id", "created_at", "table", "object_pk", "object_repr", "action",
			"actor_id", "remote_addr", "cid", "changes", "data"})
		write := func(e auditlog.LogEntry) error {
			rec := []string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339Nano), e.Table,
				e.ObjectPK, e.ObjectRepr, string(e.Action), e.ActorID, e.RemoteAddr, e.CID,
				jsonText(e.Changes), jsonText(e.Data)}
			for i := range rec {
				rec[i] = noFormula(rec[i])
			}
			return cw.Write(rec)
		}
		return write, func() error { cw.Flush(); return cw.Error() }
	})
}

// exportJSONL streams the filter's visible entries, newest first, as JSON
// lines in LogEntry's JSON form.
func (s *server) exportJSONL(w http.ResponseWriter, r *http.Request, acc Access) error {
	return s.export(w, r, acc, "jsonl", "application/jsonl; charset=utf-8", func(out io.Writer) (entryWriter, func() error) {
		bw := bufio.NewWriter(out)
		enc := json.NewEncoder(bw)
		return func(e auditlog.LogEntry) error { return enc.Encode(e) }, bw.Flush
	})
}

// entryWriter writes one entry of an export.
type entryWriter func(auditlog.LogEntry) error

// export streams the filter's entries page by page (exportPage entries a
// query, flushed to the client after each), so memory does not grow with
// their number. The filter is checked before the first byte; a database or
// write error after it is logged and ends the stream early (the status is
// already sent).
func (s *server) export(w http.ResponseWriter, r *http.Request, acc Access, ext, ctype string,
	newWriter func(io.Writer) (entryWriter, func() error)) error {
	f, err := s.filter(r, acc)
	if err != nil {
		return err
	}
	f.Cursor = ""
	pg, err := s.find(r.Context(), f, acc, exportPage)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("audit-log-%s.%s", s.cfg.now().In(s.cfg.loc).Format("2006-01-02"), ext)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if r.Method == http.MethodHead {
		return nil
	}
	write, flush := newWriter(w)
	for {
		for _, e := range pg.Entries {
			if err := write(e); err != nil {
				return s.abort(r, err)
			}
		}
		if err := flush(); err != nil {
			return s.abort(r, err)
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		if pg.Next == "" {
			return nil
		}
		f.Cursor = pg.Next
		if pg, err = s.find(r.Context(), f, acc, exportPage); err != nil {
			return s.abort(r, err)
		}
	}
}

// abort logs an error of an export already under way; nil when err is.
func (s *server) abort(r *http.Request, err error) error {
	if err != nil {
		s.cfg.logger.ErrorContext(r.Context(), "auditlog/web: export cut short", "path", r.URL.Path, "err", err)
	}
	return nil
}

// jsonText is v as compact JSON, "" for nil.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return ""
	}
	return string(b)
}

// noFormula keeps a spreadsheet from reading a cell as a formula: a value
// that starts with = + - @ or a tab or carriage return gets a leading '
// (OWASP's advice for CSV injection).
func noFormula(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
