package auditlog

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// oddEntry is an entry with the values renderings confuse: null, "", the
// string "null", quotes, newlines, a zero time, a decimal, JSON objects.
func oddEntry(created time.Time) LogEntry {
	return LogEntry{
		ID: 1, Table: "orders", ObjectPK: `["acme","42"]`, ObjectRepr: `Order "42"`, Action: ActionUpdate,
		Changes: Changes{
			"status":   {"active", nil},
			"note":     {"", "null"},
			"title":    {`say "hi"`, "line 1\nline 2"},
			"remark":   {"x; qty: 1 → 2", "x"},
			"total":    {num("12500.50"), num("12500.75")},
			"due_at":   {"0001-01-01T00:00:00Z", "2026-07-02T23:30:00.123456Z"},
			"settings": {map[string]any{"theme": "dark", "size": num("12"), "old": true}, map[string]any{"theme": "light", "size": num("12"), "beta": nil}},
			"tags":     {[]any{"a"}, []any{"a", "b"}},
		},
		ActorID: "user-42", RemoteAddr: "203.0.113.9", CID: "req-7f3a",
		Data:      JSONMap{"reason": "import <batch>", "rows": num("3")},
		Snapshot:  JSONMap{"status": nil, "total": num("12500.75")},
		CreatedAt: created,
	}
}

// TestLogEntryJSON pins the one JSON form of LogEntry (json.Marshal), and
// that it decodes back to the same entry.
func TestLogEntryJSON(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		entry LogEntry
	}{
		{name: "odd_values", entry: oddEntry(time.Date(2026, 1, 2, 4, 4, 5, 123456789, berlin))},
		{name: "empty", entry: LogEntry{Action: ActionCreate}},
		{name: "parent", entry: LogEntry{ID: 7, Table: "lines", ObjectPK: "3", Action: ActionUpdate,
			Changes: Changes{"order_id": {num("1"), num("2")}}, CreatedAt: testNow, ParentTable: "orders", ParentPK: "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, string(got)+"\n")
			ptr, err := json.Marshal(&tt.entry)
			if err != nil || string(ptr) != string(got) {
				t.Errorf("json.Marshal(&entry) = %s, %v; want the same as json.Marshal(entry)", ptr, err)
			}
			var back LogEntry
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			want := tt.entry
			want.CreatedAt = want.CreatedAt.UTC()
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLogEntryJSONStored: an entry read back from each database has the
// same JSON form: null, "" and "null" stay apart through the log table.
func TestLogEntryJSONStored(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, nil)
		entry := oddEntry(time.Date(2026, 1, 2, 3, 4, 5, 123000000, time.UTC))
		entry.ID = 0
		if err := db.Create(&entry).Error; err != nil {
			t.Fatal(err)
		}
		page, err := p.Find(context.Background(), db, Query{Table: "orders"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Entries) != 1 {
			t.Fatalf("%d entries, want 1", len(page.Entries))
		}
		got, err := json.Marshal(page.Entries[0])
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "stored", string(got)+"\n")
	})
}
