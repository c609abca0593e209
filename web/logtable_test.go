package web

import (
	"strings"
	"testing"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/gorm"
)

type Gadget struct {
	ID   uint
	Name string
}

// TestEntryLogTable: with a model in its own log table (auditlog.LogTable),
// whose entry IDs repeat the plugin's table's, the site history lists both
// tables and names each entry by ID and model table, and the entry page
// shows the entry of that model.
func TestEntryLogTable(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seed(t, db) // entries 1..7 in the plugin's table
		if err := p.Register(&Gadget{}, auditlog.LogTable("gadget_log")); err != nil {
			t.Fatal(err)
		}
		if err := p.AutoMigrate(db); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&Gadget{}); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&Gadget{Name: "sprocket"}).Error; err != nil { // gadget_log entry 1
			t.Fatal(err)
		}
		h := newHandler(t, p, db, AllowAll())
		_, body, _ := get(t, h, "/")
		for _, want := range []string{`href="entry?id=1&amp;model=gadgets"`, `href="entry?id=1&amp;model=invoices"`} {
			if !strings.Contains(body, want) {
				t.Errorf("site history lacks %s", want)
			}
		}
		_, body, _ = get(t, h, "/entry?id=1&model=gadgets")
		if !strings.Contains(body, `&#34;table&#34;: &#34;gadgets&#34;`) {
			t.Errorf("entry 1 of gadgets shows another entry:\n%s", body)
		}
		_, body, _ = get(t, h, "/entry?id=1&model=invoices")
		if !strings.Contains(body, `&#34;table&#34;: &#34;invoices&#34;`) {
			t.Errorf("entry 1 of invoices shows another entry")
		}
	})
}
