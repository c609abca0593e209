package auditlog

import (
	"errors"
	"strings"
	"testing"
)

func TestDefineActionErrors(t *testing.T) {
	tests := []struct {
		name            string
		action          Action
		label, template string
	}{
		{name: "empty name", action: "", label: "X", template: "x"},
		{name: "name too long", action: Action(strings.Repeat("a", 65)), label: "X", template: "x"},
		{name: "space in name", action: "invoice publish", label: "X", template: "x"},
		{name: "quote in name", action: "invoice'; DROP TABLE x", label: "X", template: "x"},
		{name: "control character in name", action: "invoice\npublish", label: "X", template: "x"},
		{name: "empty label", action: "invoice.publish", label: " ", template: "x"},
		{name: "unknown placeholder", action: "invoice.publish", label: "X", template: "{user} published"},
		{name: "unclosed placeholder", action: "invoice.publish", label: "X", template: "{actor published"},
		{name: "stray closing brace", action: "invoice.publish", label: "X", template: "actor} published"},
		{name: "empty data key", action: "invoice.publish", label: "X", template: "{data.} published"},
		{name: "empty nested data key", action: "invoice.publish", label: "X", template: "{data.a..b} published"},
		{name: "trailing dot in data key", action: "invoice.publish", label: "X", template: "{data.a.} published"},
		{name: "invalid UTF-8", action: "invoice.publish", label: "X", template: "{actor} \xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			err := p.DefineAction(tt.action, tt.label, tt.template)
			if !errors.Is(err, ErrInvalidAction) {
				t.Fatalf("DefineAction(%q, %q, %q) = %v, want ErrInvalidAction", tt.action, tt.label, tt.template, err)
			}
			if p.ActionLabel(tt.action) != string(tt.action) {
				t.Errorf("a rejected action was defined")
			}
		})
	}
}

func TestMessage(t *testing.T) {
	p := New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.DefineAction("invoice.publish", "Published", "{actor} published {object}"))
	must(p.DefineAction("invoice.move", "Moved", "{actor} moved {object} ({table} {pk}) to {data.folder} [{label}, {action}, {cid}, {remote_addr}] {{literal}}"))
	must(p.DefineAction(ActionUpdate, "Geändert", "{actor} hat {object} geändert"))
	must(p.DefineAction("invoice.send", "Sent", "sent to {data.customer.name} <{data.customer.email}> ({data.customer.name.first}, {data.n.x}, {data.a.b})"))
	entry := LogEntry{Table: "invoices", ObjectPK: "42", ObjectRepr: "Invoice 2024-001", ActorID: "user-42",
		CID: "req-1", RemoteAddr: "203.0.113.9", Data: JSONMap{"folder": "paid", "n": 3, "a.b": "literal",
			"customer": map[string]any{"name": "Acme", "email": "ap@acme.test"}}}
	with := func(a Action, edit func(*LogEntry)) LogEntry {
		e := entry
		e.Action = a
		if edit != nil {
			edit(&e)
		}
		return e
	}
	tests := []struct {
		name  string
		entry LogEntry
		want  string
		label string
	}{
		{name: "built-in create", entry: with(ActionCreate, nil), want: "user-42 created Invoice 2024-001", label: "Created"},
		{name: "built-in delete without actor", entry: with(ActionDelete, func(e *LogEntry) { e.ActorID = "" }),
			want: "system deleted Invoice 2024-001", label: "Deleted"},
		{name: "built-in access", entry: with(ActionAccess, nil), want: "user-42 accessed Invoice 2024-001", label: "Accessed"},
		{name: "relabelled built-in", entry: with(ActionUpdate, nil), want: "user-42 hat Invoice 2024-001 geändert", label: "Geändert"},
		{name: "custom", entry: with("invoice.publish", nil), want: "user-42 published Invoice 2024-001", label: "Published"},
		{name: "every placeholder", entry: with("invoice.move", nil),
			want:  "user-42 moved Invoice 2024-001 (invoices 42) to paid [Moved, invoice.move, req-1, 203.0.113.9] {literal}",
			label: "Moved"},
		{name: "missing data key", entry: with("invoice.move", func(e *LogEntry) { e.Data = nil }),
			want:  "user-42 moved Invoice 2024-001 (invoices 42) to  [Moved, invoice.move, req-1, 203.0.113.9] {literal}",
			label: "Moved"},
		{name: "nested data keys", entry: with("invoice.send", nil),
			want: "sent to Acme <ap@acme.test> (, , )", label: "Sent"},
		{name: "undefined action", entry: with("invoice.archive", nil), want: "user-42 invoice.archive Invoice 2024-001", label: "invoice.archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Message(tt.entry); got != tt.want {
				t.Errorf("Message = %q, want %q", got, tt.want)
			}
			if got := p.ActionLabel(tt.entry.Action); got != tt.label {
				t.Errorf("ActionLabel = %q, want %q", got, tt.label)
			}
		})
	}
}
