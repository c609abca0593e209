package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/web"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

type Invoice struct {
	ID       int64
	Number   string
	Customer string
	Amount   int
	Status   string
	Note     string
	IBAN     string
}

func (i *Invoice) String() string { return "Invoice " + i.Number }

type Customer struct {
	ID   int64
	Name string
}

func (c *Customer) String() string { return c.Name }

// hostile sets window.__pwned (and the title) if any of it ever runs.
const hostile = `<script>window.__pwned=1;document.title="pwned"</script>"><img src=x onerror="window.__pwned=1">` +
	"\u202egnp.exe javascript:window.__pwned=1"

// fixedNow dates the export's file name.
var fixedNow = time.Date(2026, 2, 3, 12, 0, 0, 0, time.UTC)

// server serves the web view of a SQLite log with 40 entries under
// /audit/, ten a page. Entry 40 (newest) is the hostile customer's rename.
func server(t *testing.T) string {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(t.TempDir(), "app.db")+"?_txlock=immediate"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)
	tick := 0
	p := auditlog.New(auditlog.WithClock(func() time.Time { tick++; return start.Add(time.Duration(tick) * time.Minute) }))
	must(t, db.Use(p))
	must(t, db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{}, &Customer{}))
	must(t, p.Register(&Invoice{}, auditlog.Mask("IBAN"), auditlog.Label("Amount", "Amount (EUR)")))
	must(t, p.Register(&Customer{}))
	users := []string{"alice", "bob", "carol", ""}
	var invoices []*Invoice
	for i := 0; i < 38; i++ {
		ctx := auditlog.WithCID(auditlog.WithActor(context.Background(), users[i%len(users)]), fmt.Sprintf("req-%02d", i/4))
		tx := db.WithContext(ctx)
		if i%3 == 0 {
			inv := &Invoice{Number: fmt.Sprintf("2026-%03d", i), Customer: "Acme", Amount: 100 * i, Status: "draft",
				IBAN: "DE89370400440532013000", Note: "Twelve boxes of paper, four toner cartridges and one stapler, delivered to the north office."}
			invoices = append(invoices, inv)
			must(t, tx.Create(inv).Error)
			continue
		}
		inv := invoices[i%len(invoices)]
		must(t, tx.Model(inv).Updates(map[string]any{"status": "sent", "amount": 7 * i,
			"note": "Twelve boxes of paper, two toner cartridges and one stapler, delivered to the north office."}).Error)
	}
	evil := &Customer{Name: "Acme"}
	must(t, db.Create(evil).Error)
	ctx := auditlog.WithCID(auditlog.WithActor(context.Background(), hostile), "javascript:window.__pwned=1")
	must(t, db.WithContext(ctx).Model(evil).Update("name", hostile).Error)

	h, err := web.Handler(p, db, web.AllowAll(), web.PageSize(10), web.Clock(func() time.Time { return fixedNow }))
	must(t, err)
	mux := http.NewServeMux()
	mux.Handle("/audit/", http.StripPrefix("/audit", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/audit/"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
