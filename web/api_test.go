package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestAPIAnswer pins the shape of /api/entries: entries in LogEntry's JSON
// form, cursors and links, JSON errors.
func TestAPIAnswer(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll())
		code, body, hdr := get(t, h, "/api/entries?model=invoices&pk=1&limit=2")
		if code != http.StatusOK || hdr.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("%d %s", code, hdr.Get("Content-Type"))
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"entries", "next", "prev", "links"} {
			if _, ok := raw[key]; !ok {
				t.Errorf("answer lacks %q:\n%s", key, body)
			}
		}
		var entries []map[string]any
		if err := json.Unmarshal(raw["entries"], &entries); err != nil || len(entries) != 2 {
			t.Fatalf("entries: %v %s", err, raw["entries"])
		}
		if entries[0]["action"] != "invoice.sent" || entries[0]["created_at"] != "2026-03-04T10:00:06Z" {
			t.Errorf("first entry: %v", entries[0])
		}
		var links apiLinks
		json.Unmarshal(raw["links"], &links)
		if !strings.HasPrefix(links.Next, "entries?") || !strings.Contains(links.Next, "limit=2") || !strings.Contains(links.Next, "cursor=") {
			t.Errorf("next link %q", links.Next)
		}
		// The hostile value is JSON-escaped, so the answer is inert as HTML too.
		_, body, _ = get(t, h, "/api/entries?id=6")
		if strings.Contains(body, "<script>") || !strings.Contains(body, `\u003cscript\u003e`) {
			t.Errorf("hostile value in the API: %s", body)
		}
		code, body, hdr = get(t, h, "/api/entries?since=nope")
		if code != http.StatusBadRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || !strings.Contains(body, `"error"`) {
			t.Errorf("bad input: %d %s %s", code, hdr.Get("Content-Type"), body)
		}
	})
}

// TestLocationAndCorrupt: times show in the handler's zone with UTC on
// hover; an entry whose stored JSON is corrupt is skipped and named.
func TestLocationAndCorrupt(t *testing.T) {
	db := openTestDB(t, "sqlite")
	p := seed(t, db)
	h := newHandler(t, p, db, AllowAll(), Location(time.FixedZone("CET", 3600)))
	_, body, _ := get(t, h, "/?id=3")
	if want := `<time datetime="2026-03-04T10:00:02Z" title="2026-03-04T10:00:02Z UTC">2026-03-04 11:00:02 CET</time>`; !strings.Contains(body, want) {
		t.Errorf("history lacks %s", want)
	}
	// Local times in the filter are read in the zone too: 11:00:05 CET is 10:00:05 UTC.
	if ids, _ := apiIDs(t, h, "since=2026-03-04T11:00:05"); len(ids) != 2 {
		t.Errorf("since in CET: %v", ids)
	}
	if err := db.Exec("UPDATE audit_log_entries SET changes = '{not json' WHERE id = 5").Error; err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, h, "/")
	if !strings.Contains(body, "1 entries with corrupt stored JSON were skipped on this page (IDs 5)") {
		t.Errorf("no corrupt notice:\n%s", body)
	}
	if code, body, _ := get(t, h, "/entry?id=5"); code != http.StatusBadRequest || !strings.Contains(body, "corrupt") {
		t.Errorf("corrupt entry: %d %s", code, body)
	}
}
