package auditlog

import (
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm/schema"
)

// ChangesString returns the entry's changes as text, one "field: old → new"
// per changed column, sorted by column and joined by "; ", as
// django-auditlog's changes_str: "name: pen → pencil; qty: 1 → 2". Values
// print as their JSON text without quotes around strings; a missing value
// prints as "null". Masked values stay masked: they are stored that way.
func (e LogEntry) ChangesString() string {
	cols := make([]string, 0, len(e.Changes))
	for c := range e.Changes {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString("; ")
		}
		ch := e.Changes[c]
		b.WriteString(c)
		b.WriteString(": ")
		b.WriteString(displayText(ch.Old))
		b.WriteString(" → ")
		b.WriteString(displayText(ch.New))
	}
	return b.String()
}

// displayText is the text of a stored value, "null" for null.
func displayText(v any) string {
	if v == nil {
		return "null"
	}
	return textOf(v)
}

// DisplayOptions says how Plugin.DisplayChanges renders values. The zero
// value renders times in UTC as RFC 3339 and cuts values at 80 characters.
type DisplayOptions struct {
	// Location is the time zone times are shown in (default UTC).
	Location *time.Location
	// TimeLayout is the layout of times (default time.RFC3339).
	TimeLayout string
	// MaxLen is the most characters (runes) of a value shown; a longer value
	// is cut and ends with "…". Zero means 80, a negative value no limit.
	MaxLen int
}

// DisplayChange is one changed field, ready to show to people.
type DisplayChange struct {
	Field    string // column name, the key in LogEntry.Changes
	Label    string // the field's Label, else its Go name, else the column
	Old, New string
}

// ChangeList is the display form of an entry's changes, in the order of the
// model's fields (columns of models that are not registered: sorted).
type ChangeList []DisplayChange

// String joins the changes as "Label: old → new; ...".
func (l ChangeList) String() string {
	var b strings.Builder
	for i, c := range l {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.Label)
		b.WriteString(": ")
		b.WriteString(c.Old)
		b.WriteString(" → ")
		b.WriteString(c.New)
	}
	return b.String()
}

// DisplayChanges returns e's changes for display, as django-auditlog's
// changes_display_dict: fields carry the labels given by Label (or their Go
// names) when e's table belongs to a registered model, times of time fields
// are shown in opts.Location with opts.TimeLayout, and values are cut to
// opts.MaxLen characters. Masked values stay masked. It is safe for
// concurrent use; a model's field labels are looked up once and cached.
func (p *Plugin) DisplayChanges(e LogEntry, opts DisplayOptions) ChangeList {
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	layout := opts.TimeLayout
	if layout == "" {
		layout = time.RFC3339
	}
	maxLen := opts.MaxLen
	if maxLen == 0 {
		maxLen = 80
	}
	fields := p.displayFields(e.Table)
	list := make(ChangeList, 0, len(e.Changes))
	for col, ch := range e.Changes {
		c := DisplayChange{Field: col, Label: col}
		isTime := false
		if f, ok := fields[col]; ok {
			c.Label, isTime = f.label, f.time && !f.masked
		}
		c.Old = displayValue(ch.Old, isTime, loc, layout, maxLen)
		c.New = displayValue(ch.New, isTime, loc, layout, maxLen)
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b DisplayChange) int {
		fa, oka := fields[a.Field]
		fb, okb := fields[b.Field]
		switch {
		case oka && okb:
			return fa.order - fb.order
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a.Field, b.Field)
	})
	return list
}

func displayValue(v any, isTime bool, loc *time.Location, layout string, maxLen int) string {
	s := displayText(v)
	if isTime {
		if str, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
				s = t.In(loc).Format(layout)
			}
		}
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		r := []rune(s)
		s = string(r[:maxLen-1]) + "…"
	}
	return s
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
			fields[tf.field.DBName] = displayField{
				label:  tf.label,
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
