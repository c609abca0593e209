package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
)

// parseTemplates parses the embedded templates with the view's functions.
func parseTemplates(loc *time.Location) (*template.Template, error) {
	funcs := template.FuncMap{
		"local": func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05 MST") },
		"utc":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"v":     inert,
		"has":   slices.Contains[[]string],
	}
	t, err := template.New("").Funcs(funcs).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("auditlog/web: templates: %w", err)
	}
	return t, nil
}

// inert makes a logged value safe to show as text beyond what html/template
// escaping does: characters that reorder or hide text (bidirectional
// overrides and isolates, zero-width and other format characters, control
// characters but tab and newline) are shown as their code points, such as
// ⟨U+202E⟩, so that a value cannot disguise itself or what follows it.
func inert(s string) string {
	if !strings.ContainsFunc(s, hidden) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if hidden(r) {
			fmt.Fprintf(&b, "⟨U+%04X⟩", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func hidden(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar
}

// page is what every HTML page's layout needs.
type page struct {
	Title string
	// Home is the link to the site history.
	Home string
}

// render writes the named template with data, buffered so that a
// template failure answers 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
	return nil
}

// fail answers an error: JSON on the API, plain text on exports, an HTML
// page elsewhere. msg is shown to the viewer: it never holds a database
// error.
func (s *server) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	switch {
	case strings.Contains(r.URL.Path, "/api/"):
		writeJSON(w, r, status, map[string]string{"error": msg})
	case strings.Contains(r.URL.Path, "/export."):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintln(w, inert(msg))
	default:
		data := struct {
			Page    page
			Status  int
			Message string
		}{page{Title: http.StatusText(status), Home: "./"}, status, msg}
		if err := s.render(w, r, status, "error.html", data); err != nil {
			http.Error(w, http.StatusText(status), status)
		}
	}
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// prettyJSON is v as indented JSON for a page (whose template escapes it),
// "null" for nil, or the error's text.
func prettyJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "(cannot encode: " + err.Error() + ")"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
