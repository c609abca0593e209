package web

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

var olderLink = regexp.MustCompile(`<a rel="next" href="([^"]+)" id="older">`)
var newerLink = regexp.MustCompile(`<a rel="prev" href="([^"]+)" id="newer">`)

// TestPaging walks the site history two entries a page to the end and
// back, following the page's own links, and the API by its cursors.
func TestPaging(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll(), PageSize(2))
		path := "/?model=invoices&model=customers"
		var pages []string
		for {
			_, body, _ := get(t, h, path)
			pages = append(pages, strings.Join(entryIDs.FindAllString(body, -1), " "))
			m := olderLink.FindStringSubmatch(body)
			if m == nil {
				if newerLink.FindStringSubmatch(body) == nil && len(pages) > 1 {
					t.Fatal("last page has no newer link")
				}
				break
			}
			path = unescape(m[1])[1:]
		}
		want := []string{`entry?id=7 entry?id=6`, `entry?id=5 entry?id=4`, `entry?id=3 entry?id=2`, `entry?id=1`}
		if diff := cmp.Diff(want, pages); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
		for i := len(pages) - 2; i >= 0; i-- {
			_, body, _ := get(t, h, path)
			m := newerLink.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("page %d has no newer link", i+1)
			}
			path = unescape(m[1])
			if !strings.HasPrefix(path, "./") {
				t.Fatalf("newer link %q", path)
			}
			path = path[1:]
			_, body, _ = get(t, h, path)
			if got := strings.Join(entryIDs.FindAllString(body, -1), " "); got != pages[i] {
				t.Errorf("back to page %d: %s, want %s", i, got, pages[i])
			}
		}
		// The API: the same pages by cursor, links included.
		ids, pg := apiIDs(t, h, "limit=3")
		var all []int64
		all = append(all, ids...)
		for pg.Next != "" {
			if !strings.HasPrefix(pg.Links.Next, "entries?") {
				t.Fatalf("next link %q", pg.Links.Next)
			}
			ids, pg = apiIDs(t, h, "limit=3&cursor="+pg.Next)
			all = append(all, ids...)
		}
		if diff := cmp.Diff([]int64{7, 6, 5, 4, 3, 2, 1}, all); diff != "" {
			t.Errorf("api pages (-want +got):\n%s", diff)
		}
		ids, _ = apiIDs(t, h, "limit=3&cursor="+pg.Prev)
		if diff := cmp.Diff([]int64{4, 3, 2}, ids); diff != "" {
			t.Errorf("api prev (-want +got):\n%s", diff)
		}
	})
}

var entryIDs = regexp.MustCompile(`entry\?id=\d+`)

func unescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// TestExports: CSV and JSON lines of the current filter, all its pages
// (more than one query's worth), with a dated file name.
func TestExports(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		clock := func() time.Time { return time.Date(2026, 5, 6, 23, 30, 0, 0, time.UTC) }
		h := newHandler(t, p, db, AllowAll(), Clock(clock))
		code, body, hdr := get(t, h, "/export.csv?model=invoices")
		if code != http.StatusOK || hdr.Get("Content-Disposition") != `attachment; filename="audit-log-2026-05-06.csv"` {
			t.Fatalf("csv: %d %q", code, hdr.Get("Content-Disposition"))
		}
		records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != 6 || records[0][0] != "id" || records[1][0] != "7" || records[5][0] != "1" {
			t.Fatalf("csv records: %q", records)
		}
		if got := records[3]; got[5] != "update" || got[6] != "bob" || !strings.Contains(got[9], `"total":[10,20]`) {
			t.Errorf("csv update row: %q", got)
		}
		_, body, hdr = get(t, h, "/export.jsonl?actor=alice")
		if !strings.Contains(hdr.Get("Content-Disposition"), "audit-log-2026-05-06.jsonl") {
			t.Errorf("jsonl file name: %q", hdr.Get("Content-Disposition"))
		}
		var ids []int64
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			var e struct {
				ID    int64  `json:"id"`
				Actor string `json:"actor_id"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil || e.Actor != "alice" {
				t.Fatalf("jsonl line %q: %v", line, err)
			}
			ids = append(ids, e.ID)
		}
		if diff := cmp.Diff([]int64{6, 2, 1}, ids); diff != "" {
			t.Errorf("jsonl (-want +got):\n%s", diff)
		}
	})
}

func TestExportPagesAndFormulas(t *testing.T) {
	db := openTestDB(t, "sqlite")
	p := seed(t, db)
	for i := 0; i < exportPage+20; i++ {
		if err := db.Create(&Customer{Name: "=HYPERLINK(\"x\")"}).Error; err != nil {
			t.Fatal(err)
		}
	}
	h := newHandler(t, p, db, AllowAll())
	_, body, _ := get(t, h, "/export.csv?model=customers&action=create")
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != exportPage+22 {
		t.Fatalf("%d records, want %d", len(records), exportPage+22)
	}
	if got := records[1][4]; got != `'=HYPERLINK("x")` {
		t.Errorf("formula cell %q not guarded", got)
	}
}

func TestTimelineEntryState(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll())
		_, body, _ := get(t, h, "/object?model=invoices&pk=1")
		for _, want := range []string{
			`<th scope="row"><bdi>Total (EUR)</bdi></th>`,
			`<td class="old"><bdi>10</bdi></td><td class="new"><bdi>20</bdi>`,
			`<bdi>&#34;hunter2&#34;</bdi>`[:0] + `<th scope="row"><bdi>secret</bdi></th>`,
			`<del>jumps</del><ins>leaps</ins>`,
			`<summary>Show all</summary>`,
			`href="state?id=3"`,
			`<span class="action action-invoice.sent">invoice.sent</span>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("timeline lacks %s", want)
			}
		}
		if strings.Contains(body, "hunter2") {
			t.Error("timeline shows a masked value")
		}
		if n := strings.Count(body, `<li class="entry"`); n != 3 {
			t.Errorf("timeline of invoice 1 shows %d entries, want 3", n)
		}
		// Timeline filters.
		_, body, _ = get(t, h, "/object?model=invoices&pk=1&action=update&actor=bob&since=2026-03-04T10:00:01Z")
		if n := strings.Count(body, `<li class="entry"`); n != 1 || !strings.Contains(body, `id="e3"`) {
			t.Errorf("filtered timeline shows %d entries", n)
		}
		// A deleted object keeps its timeline.
		_, body, _ = get(t, h, "/object?model=invoices&pk=2")
		if !strings.Contains(body, `id="e4"`) || !strings.Contains(body, `id="e2"`) {
			t.Errorf("deleted invoice 2 lost its timeline")
		}
		_, body, _ = get(t, h, "/entry?id=3")
		if strings.Contains(body, "Show all") || !strings.Contains(body, "the old stone bridge.&#34;</bdi></td>") {
			t.Errorf("entry 3 does not show its values whole")
		}
		_, body, _ = get(t, h, "/entry?id=7")
		for _, want := range []string{`&#34;to&#34;: &#34;a@example.com&#34;`, `&#34;action&#34;: &#34;invoice.sent&#34;`, `<h2>Snapshot</h2>`} {
			if !strings.Contains(body, want) {
				t.Errorf("entry 7 lacks %s", want)
			}
		}
		_, body, _ = get(t, h, "/state?id=3")
		if !strings.Contains(body, `<bdi>total</bdi></th><td><pre><bdi>20</bdi>`) || strings.Contains(body, "hunter2") {
			t.Errorf("state at entry 3:\n%s", body)
		}
		_, body, _ = get(t, h, "/state?id=4")
		if !strings.Contains(body, "did not exist") {
			t.Errorf("state after a hard delete:\n%s", body)
		}
	})
}

// TestMounted: under a prefix, every link is relative and the bare prefix
// redirects to itself with a slash.
func TestMounted(t *testing.T) {
	db := openTestDB(t, "sqlite")
	p := seed(t, db)
	mux := http.NewServeMux()
	mux.Handle("/audit/", http.StripPrefix("/audit", newHandler(t, p, db, AllowAll())))
	mux.Handle("/audit", http.StripPrefix("/audit", newHandler(t, p, db, AllowAll())))
	code, _, hdr := get(t, mux, "/audit?actor=bob")
	if code != http.StatusMovedPermanently || hdr.Get("Location") != "/audit/?actor=bob" {
		t.Errorf("bare prefix: %d to %q", code, hdr.Get("Location"))
	}
	for _, path := range []string{"/audit/", "/audit/object?model=invoices&pk=1", "/audit/style.css", "/audit/api/entries"} {
		if code, body, _ := get(t, mux, path); code != http.StatusOK {
			t.Errorf("%s: %d %s", path, code, body)
		}
	}
	_, body, _ := get(t, mux, "/audit/")
	if strings.Contains(body, `href="/`) || strings.Contains(body, `action="/`) {
		t.Errorf("absolute link in a mounted page")
	}
}

// TestMountedUnstripped: behind a router that passes the whole path (chi's
// Mount, a ServeMux pattern), the pages route on the end of the path.
func TestMountedUnstripped(t *testing.T) {
	db := openTestDB(t, "sqlite")
	p := seed(t, db)
	mux := http.NewServeMux()
	mux.Handle("/admin/audit/", newHandler(t, p, db, AllowAll()))
	for _, path := range []string{"/admin/audit/", "/admin/audit/object?model=invoices&pk=1", "/admin/audit/entry?id=1",
		"/admin/audit/style.css", "/admin/audit/api/entries", "/admin/audit/export.jsonl"} {
		if code, body, _ := get(t, mux, path); code != http.StatusOK {
			t.Errorf("%s: %d %.200s", path, code, body)
		}
	}
	if code, _, _ := get(t, mux, "/admin/audit/nope"); code != http.StatusNotFound {
		t.Errorf("unknown page: %d", code)
	}
	if code, body, _ := get(t, mux, "/admin/audit/api/entries?since=x"); code != http.StatusBadRequest || !strings.HasPrefix(body, "{") {
		t.Errorf("API error not JSON: %d %s", code, body)
	}
}
