package web

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

func TestHandlerNeedsAuthorization(t *testing.T) {
	db := openTestDB(t, "sqlite")
	p := auditlog.New()
	tests := []struct {
		name string
		p    *auditlog.Plugin
		db   *gorm.DB
		opts []Option
	}{
		{name: "no authorization option", p: p, db: db},
		{name: "nil plugin", db: db, opts: []Option{AllowAll()}},
		{name: "nil database", p: p, opts: []Option{AllowAll()}},
		{name: "page size too large", p: p, db: db, opts: []Option{AllowAll(), PageSize(auditlog.MaxPageSize + 1)}},
		{name: "nil location", p: p, db: db, opts: []Option{AllowAll(), Location(nil)}},
	}
	for _, tt := range tests {
		if _, err := Handler(tt.p, tt.db, tt.opts...); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := Handler(p, db, AllowAll()); err != nil {
		t.Errorf("AllowAll: %v", err)
	}
}

// TestFilters runs every filter through the API and the site history: both
// answer the same entries, newest first.
func TestFilters(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll())
		tests := []struct {
			name  string
			query string
			want  []int64
		}{
			{name: "everything", query: "", want: []int64{7, 6, 5, 4, 3, 2, 1}},
			{name: "one model", query: "model=customers", want: []int64{6, 5}},
			{name: "several models", query: "model=customers&model=invoices&action=create", want: []int64{5, 2, 1}},
			{name: "object key", query: "model=invoices&pk=1", want: []int64{7, 3, 1}},
			{name: "several actors", query: "actor=bob&actor=carol", want: []int64{4, 3}},
			{name: "empty actor values ignored", query: "actor=&actor=bob", want: []int64{3}},
			{name: "several actions", query: "action=delete&action=invoice.sent", want: []int64{7, 4}},
			{name: "correlation id", query: "cid=req-1", want: []int64{2, 1}},
			{name: "time range RFC 3339", query: "since=2026-03-04T10:00:02Z&until=2026-03-04T10:00:04Z", want: []int64{4, 3}},
			{name: "time range local form", query: "since=2026-03-04T10:00:05", want: []int64{7, 6}},
			{name: "date", query: "until=2026-03-04", want: []int64{}},
			{name: "changed field", query: "model=invoices&field=total", want: []int64{4, 3, 2, 1}},
			{name: "text over repr", query: "q=inv-1", want: []int64{7, 3, 1}},
			{name: "text with wildcard", query: "q=%25", want: []int64{}},
			{name: "entry ids", query: "id=2&id=6", want: []int64{6, 2}},
			{name: "nothing", query: "actor=mallory", want: []int64{}},
		}
		for _, tt := range tests {
			got, _ := apiIDs(t, h, tt.query)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: api (-want +got):\n%s", tt.name, diff)
			}
			code, body, _ := get(t, h, "/?"+tt.query)
			if code != http.StatusOK {
				t.Fatalf("%s: history %d %s", tt.name, code, body)
			}
			if n := entryLinks(body); n != len(tt.want) {
				t.Errorf("%s: history shows %d entries, want %d", tt.name, n, len(tt.want))
			}
			for _, id := range tt.want {
				if !strings.Contains(body, `href="entry?id=`+itoa(id)+`"`) {
					t.Errorf("%s: history lacks entry %d", tt.name, id)
				}
			}
		}
	})
}

// TestHistoryColumns checks the columns of a history row.
func TestHistoryColumns(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		h := newHandler(t, p, db, AllowAll())
		_, body, _ := get(t, h, "/?id=3&id=5")
		for _, want := range []string{
			`<time datetime="2026-03-04T10:00:02Z" title="2026-03-04T10:00:02Z UTC">2026-03-04 10:00:02 UTC</time>`,
			`<a href="object?model=invoices&amp;pk=1" class="object"><span class="table">invoices</span> <bdi>Invoice INV-1</bdi></a>`,
			`<span class="action action-update">Updated</span>`,
			`<bdi>Total (EUR), note, secret</bdi>`,
			`<a href="./?cid=req-2" class="cid"`,
			`<span class="system">system</span>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("history lacks %s", want)
			}
		}
		// Choices: models, actors and actions seen.
		for _, want := range []string{`<option value="customers">`, `<option value="carol">`, `<option value="invoice.sent">invoice.sent</option>`} {
			if !strings.Contains(body, want) {
				t.Errorf("filter choices lack %s", want)
			}
		}
	})
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
