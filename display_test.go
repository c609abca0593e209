package auditlog

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<test name>/<name>.golden, or rewrites
// the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.Split(t.Name(), "/")[0], name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestDisplay(t *testing.T) {
	p := New()
	err := p.Register(&Item{}, Label("Name", "Product name"), Label("qty", "Quantity"), Mask("Secret"))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("très long ", 20)
	update := LogEntry{Table: "items", ObjectPK: "1", Action: ActionUpdate, Changes: Changes{
		"name":       {"pen", "pencil"},
		"qty":        {num("1"), num("12")},
		"note":       {nil, long},
		"secret":     {"******ential", "******cret-2"},
		"updated_at": {"2026-01-02T03:04:05Z", "2026-07-02T23:30:00.123456Z"},
		"price":      {num("1.5"), nil},
	}}
	custom := LogEntry{Table: "notes", ObjectPK: "7", Action: "note.tag", Changes: Changes{
		"tags":  {[]any{"a"}, []any{"a", "b"}},
		"body":  {"x", "y"},
		"flags": {map[string]any{"pinned": false}, map[string]any{"pinned": true}},
	}}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		entry LogEntry
		opts  DisplayOptions
	}{
		{name: "defaults", entry: update},
		{name: "berlin_cut_at_24", entry: update, opts: DisplayOptions{Location: berlin, TimeLayout: "02.01.2006 15:04:05 MST", MaxLen: 24}},
		{name: "unlimited", entry: update, opts: DisplayOptions{MaxLen: -1}},
		{name: "unregistered_table", entry: custom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			list := p.DisplayChanges(tt.entry, tt.opts)
			for _, c := range list {
				b.WriteString(c.Field + " | " + c.Label + " | " + c.Old + " | " + c.New + "\n")
			}
			b.WriteString("String: " + list.String() + "\n")
			b.WriteString("ChangesString: " + tt.entry.ChangesString() + "\n")
			golden(t, tt.name, b.String())
		})
	}
}

func TestChangesString(t *testing.T) {
	tests := []struct {
		name    string
		changes Changes
		want    string
	}{
		{name: "none", changes: nil, want: ""},
		{name: "sorted by column", changes: Changes{"qty": {num("1"), num("2")}, "name": {"a", "b"}}, want: "name: a → b; qty: 1 → 2"},
		{name: "nulls and bools", changes: Changes{"done": {nil, true}, "note": {"x", nil}}, want: "done: null → true; note: x → null"},
		{name: "JSON values", changes: Changes{"tags": {[]any{"a"}, map[string]any{"k": "v"}}}, want: `tags: ["a"] → {"k":"v"}`},
	}
	for _, tt := range tests {
		if got := (LogEntry{Changes: tt.changes}).ChangesString(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
