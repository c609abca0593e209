package auditlog

import (
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm/schema"
)

// Display: one naming rule and one value rendering for everything people
// read (ChangesString, DisplayChanges, the auditlog command).
//
// Names: a change is identified by its column name, the key in
// LogEntry.Changes, everywhere; the only other name shown is a label set with
// Label (DisplayChanges). Go field names are never shown. A key inside a JSON
// object column is appended to the name with a dot: "settings.theme".
//
// Values: each value is shown as its JSON text, so that nothing else can be
// mistaken for it: strings quoted and escaped ("pen", "", "null",
// "line 1\nline 2"), numbers as stored, true and false, null for SQL NULL,
// arrays and objects as compact JSON. A key that one side of a JSON object
// does not have is shown as (absent). DisplayChanges shows the times of time
// fields unquoted, in a chosen zone and layout.

// ChangesString returns the entry's changes as text, one "column: old → new"
// per change, sorted by column and joined by "; ", as django-auditlog's
// changes_str: `name: "pen" → "pencil"; qty: 1 → 2; note: "" → null`. Values
// are JSON text (see DisplayChanges), never cut; a JSON object that is an
// object on both sides shows one change per changed key
// (`settings.theme: "dark" → "light"; settings.beta: (absent) → true`).
// Masked values stay masked: they are stored that way. It is
// Plugin.DisplayChanges of a table no model is registered for, with
// DisplayOptions{MaxLen: -1}, joined by ChangeList.String.
func (e LogEntry) ChangesString() string {
	return changeList(e.Changes, nil, displaySettings{loc: time.UTC, layout: time.RFC3339Nano, maxLen: -1}).String()
}

// DisplayOptions says how Plugin.DisplayChanges renders values. The zero
// value renders times in UTC as RFC 3339 with their fractional seconds
// (time.RFC3339Nano) and cuts values at 80 characters.
type DisplayOptions struct {
	// Location is the time zone times are shown in (default UTC). The zero
	// time is always shown in UTC, where it has no odd historical offset.
	Location *time.Location
	// TimeLayout is the layout of times (default time.RFC3339Nano).
	TimeLayout string
	// MaxLen is the most characters (runes) of a value shown; a longer value
	// is cut and ends with "…" (a cut string has no closing quote). Zero
	// means 80, a negative value no limit.
	MaxLen int
}

// DisplayChange is one change, ready to show to people: a changed column, or
// one changed key of a JSON object column.
type DisplayChange struct {
	// Field is the column name, the key in LogEntry.Changes.
	Field string `json:"field"`
	// Key is the path of the changed key inside a JSON object column, its
	// segments joined by "." (a segment that is not letters, digits, "_" or
	// "-" is a quoted JSON string); "" when the change is the whole value.
	Key string `json:"key,omitempty"`
	// Label is the field's Label, else the column name.
	Label string `json:"label"`
	// Old and New are the values as text (see ChangesString): JSON text,
	// a formatted time, or (absent) for a key that side does not have.
	Old string `json:"old"`
	New string `json:"new"`
}

// Name is the change's name as shown: the label, then the key path, if any,
// after a dot ("settings.theme").
func (c DisplayChange) Name() string {
	if c.Key == "" {
		return c.Label
	}
	return c.Label + "." + c.Key
}

// ChangeList is the display form of an entry's changes: in the order of the
// model's fields (columns of models that are not registered: sorted by
// column), the keys of a JSON object column sorted.
type ChangeList []DisplayChange

// String joins the changes as "name: old → new; ...".
func (l ChangeList) String() string {
	var b strings.Builder
	for i, c := range l {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Name())
		b.WriteString(": ")
		b.WriteString(c.Old)
		b.WriteString(" → ")
		b.WriteString(c.New)
	}
	return b.String()
}

// DisplayChanges returns e's changes for display, as django-auditlog's
// changes_display_dict: changes carry the labels given by Label (else their
// column names) when e's table belongs to a registered model, the times of
// time fields are shown unquoted in opts.Location with opts.TimeLayout, and
// values are cut to opts.MaxLen characters. Other values are JSON text (see
// ChangesString); JSON objects show one change per changed key. Masked
// values stay masked. A stored time that does not parse is shown as the
// string it is. It is safe for concurrent use; a model's fields are looked
// up once and cached.
func (p *Plugin) DisplayChanges(e LogEntry, opts DisplayOptions) ChangeList {
	s := displaySettings{loc: opts.Location, layout: opts.TimeLayout, maxLen: opts.MaxLen}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.layout == "" {
		s.layout = time.RFC3339Nano
	}
	if s.maxLen == 0 {
		s.maxLen = 80
	}
	return changeList(e.Changes, p.displayFields(e.Table), s)
}

// displaySettings are DisplayOptions with their defaults filled in.
type displaySettings struct {
	loc    *time.Location
	layout string
	maxLen int
}

// changeList renders changes, ordered by fields (nil: by column).
func changeList(changes Changes, fields map[string]displayField, s displaySettings) ChangeList {
	cols := make([]string, 0, len(changes))
	for col := range changes {
		cols = append(cols, col)
	}
	slices.SortFunc(cols, func(a, b string) int {
		fa, oka := fields[a]
		fb, okb := fields[b]
		switch {
		case oka && okb:
			return fa.order - fb.order
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	list := make(ChangeList, 0, len(changes))
	for _, col := range cols {
		label, isTime := col, false
		if f, ok := fields[col]; ok {
			label, isTime = f.label, f.time && !f.masked
		}
		for _, kc := range keyChanges(changes[col].Old, changes[col].New) {
			list = append(list, DisplayChange{
				Field: col, Key: kc.key, Label: label,
				Old: s.render(kc.old, isTime && kc.key == ""),
				New: s.render(kc.new, isTime && kc.key == ""),
			})
		}
	}
	return list
}

// render is the text of one side of a change: a formatted time for a time
// field, else JSON text, cut to maxLen runes.
func (s displaySettings) render(v displaySide, isTime bool) string {
	text := absentText
	if !v.absent {
		text = valueText(v.v)
		if str, ok := v.v.(string); ok && isTime {
			if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
				text = formatDisplayTime(t, s.loc, s.layout)
			}
		}
	}
	return cutText(text, s.maxLen)
}

// formatDisplayTime shows t in loc, except the zero time, shown in UTC.
func formatDisplayTime(t time.Time, loc *time.Location, layout string) string {
	if t.IsZero() {
		return t.UTC().Format(layout)
	}
	return t.In(loc).Format(layout)
}

// cutText keeps at most maxLen runes of s, the last one "…" when s is cut;
// a negative maxLen keeps all.
func cutText(s string, maxLen int) string {
	if maxLen < 0 || utf8.RuneCountInString(s) <= maxLen {
		return s
	}
	r := []rune(s)
	return string(r[:max(maxLen-1, 0)]) + "…"
}

// displayField is what display needs of a tracked column.
type displayField struct {
	label  string
	time   bool
	masked bool
	order  int
}

// displayFields returns the tracked columns of the registered model whose
// table is table, or nil. Results are cached until the next Register or
// Unregister.
func (p *Plugin) displayFields(table string) map[string]displayField {
	p.mu.RLock()
	fields, ok := p.display[table]
	types := make([]reflect.Type, 0, len(p.models))
	for t := range p.models {
		types = append(types, t)
	}
	p.mu.RUnlock()
	if ok {
		return fields
	}
	namer := p.namer()
	for _, t := range types {
		s, err := schema.Parse(reflect.New(t).Interface(), &p.parsed, namer)
		if err != nil || s.Table != table {
			continue
		}
		p.mu.RLock()
		cfg := p.models[t]
		p.mu.RUnlock()
		fields = map[string]displayField{}
		for i, tf := range p.trackedFields(s, cfg, capabilities{}) {
			label := tf.field.DBName
			for name, l := range cfg.labels {
				if name == tf.field.Name || name == tf.field.DBName {
					label = l
				}
			}
			fields[tf.field.DBName] = displayField{
				label:  label,
				time:   tf.field.DataType == schema.Time || tf.field.GORMDataType == schema.Time,
				masked: tf.masked,
				order:  i,
			}
		}
		break
	}
	p.mu.Lock()
	p.display[table] = fields
	p.mu.Unlock()
	return fields
}
