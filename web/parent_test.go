package web

import (
	"strings"
	"testing"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

type InvoiceItem struct {
	ID        uint
	InvoiceID uint
	Invoice   *Invoice
	Name      string
}

// TestEntryParent: the entry page of a child (auditlog.Parent) names its
// parent object and links to its timeline; other entries show no parent.
func TestEntryParent(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db)
		if err := db.AutoMigrate(&InvoiceItem{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&InvoiceItem{}, auditlog.Parent("Invoice")); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&InvoiceItem{InvoiceID: 1, Name: "pen"}).Error; err != nil {
			t.Fatal(err)
		}
		h := newHandler(t, p, db, AllowAll())
		_, body, _ := get(t, h, "/entry?id=8")
		want := `<dt>Parent</dt><dd><a href="object?model=invoices&amp;pk=1"><span class="table">invoices</span> <code><bdi>1</bdi></code></a></dd>`
		if !strings.Contains(body, want) {
			t.Errorf("entry 8 lacks its parent %s:\n%s", want, body)
		}
		if !strings.Contains(body, `&#34;parent_table&#34;: &#34;invoices&#34;`) {
			t.Errorf("entry 8's raw JSON lacks parent_table")
		}
		if _, body, _ = get(t, h, "/entry?id=3"); strings.Contains(body, "<dt>Parent</dt>") {
			t.Errorf("entry 3 shows a parent")
		}
	})
}
