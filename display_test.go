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
	if err := p.Register(&displayOrder{}, Label("Total", "Total (EUR)")); err != nil {
		t.Fatal(err)
	}
	odd := oddEntry(testNow)
	odd.Table = "display_orders"
	tests := []struct {
		name  string
		entry LogEntry
		opts  DisplayOptions
	}{
		{name: "defaults", entry: update},
		{name: "berlin_cut_at_24", entry: update, opts: DisplayOptions{Location: berlin, TimeLayout: "02.01.2006 15:04:05 MST", MaxLen: 24}},
		{name: "unlimited", entry: update, opts: DisplayOptions{MaxLen: -1}},
		{name: "unregistered_table", entry: custom},
		{name: "odd_values_berlin", entry: odd, opts: DisplayOptions{Location: berlin}},
		{name: "odd_values_unregistered", entry: oddEntry(testNow), opts: DisplayOptions{MaxLen: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			list := p.DisplayChanges(tt.entry, tt.opts)
			for _, c := range list {
				b.WriteString(strings.Join([]string{c.Field, c.Key, c.Label, c.Old, c.New}, " | ") + "\n")
			}
			b.WriteString("String: " + list.String() + "\n")
			b.WriteString("ChangesString: " + tt.entry.ChangesString() + "\n")
			golden(t, tt.name, b.String())
		})
	}
}

// displayOrder is the registered model of oddEntry's columns.
type displayOrder struct {
	ID       int64
	Status   *string
	Note     *string
	Title    string
	Remark   string
	Total    string `gorm:"type:numeric(10,2)"`
	DueAt    *time.Time
	Settings JSONMap
	Tags     JSONMap
}

func TestChangesString(t *testing.T) {
	tests := []struct {
		name    string
		changes Changes
		want    string
	}{
		{name: "none", changes: nil, want: ""},
		{name: "sorted by column", changes: Changes{"qty": {num("1"), num("2")}, "name": {"a", "b"}}, want: `name: "a" → "b"; qty: 1 → 2`},
		{name: "nulls and bools", changes: Changes{"done": {nil, true}, "note": {"x", nil}}, want: `done: null → true; note: "x" → null`},
		{name: "null, empty and the string null apart", changes: Changes{"a": {nil, ""}, "b": {"", "null"}, "c": {"null", nil}}, want: `a: null → ""; b: "" → "null"; c: "null" → null`},
		{name: "a value that reads like changes", changes: Changes{"note": {"x; qty: 1 → 2", "x"}}, want: `note: "x; qty: 1 → 2" → "x"`},
		{name: "quotes, newlines, no HTML escaping", changes: Changes{"t": {`say "hi"`, "a\nb\t<c>"}}, want: `t: "say \"hi\"" → "a\nb\t<c>"`},
		{name: "JSON array and object against array", changes: Changes{"tags": {[]any{"a"}, map[string]any{"k": "v"}}}, want: `tags: ["a"] → {"k":"v"}`},
		{name: "JSON objects by key", changes: Changes{"s": {
			map[string]any{"same": num("1"), "gone": "x", "chg": false, "deep": map[string]any{"a": num("1"), "b": num("2")}},
			map[string]any{"same": num("1"), "new": nil, "chg": true, "deep": map[string]any{"a": num("1"), "b": num("3")}, "odd key": "y"},
		}}, want: `s.chg: false → true; s.deep.b: 2 → 3; s.gone: "x" → (absent); s.new: (absent) → null; s."odd key": (absent) → "y"`},
		{name: "JSON object from null", changes: Changes{"s": {nil, map[string]any{"k": "v"}}}, want: `s: null → {"k":"v"}`},
		{name: "equal objects stay one change", changes: Changes{"s": {map[string]any{}, map[string]any{}}}, want: `s: {} → {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (LogEntry{Changes: tt.changes}).ChangesString(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// ChangesString is DisplayChanges of an unregistered table, uncut.
func TestChangesStringIsDisplayChanges(t *testing.T) {
	e := oddEntry(testNow)
	got := New().DisplayChanges(e, DisplayOptions{MaxLen: -1}).String()
	if want := e.ChangesString(); got != want {
		t.Errorf("DisplayChanges(...).String() = %s\nChangesString() = %s", got, want)
	}
}
