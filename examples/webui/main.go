// Command webui serves auditlog's web view (package web) on a SQLite file
// in a temporary folder, filled with a few hundred generated entries:
// invoices and customers created, updated and deleted by several users in
// several requests. Run it with
//
//	go run ./examples/webui [-addr 127.0.0.1:8080] [-n 300]
//
// and open the URL it prints. The view is mounted under /audit/, as an
// application would mount it behind its own admin authentication.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/web"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Invoice and Customer are the audited models.
type Invoice struct {
	ID       int64
	Number   string
	Customer string
	Amount   int
	Status   string
	Note     string
	IBAN     string // stored masked in the log
}

func (i *Invoice) String() string { return "Invoice " + i.Number }

type Customer struct {
	ID    int64
	Name  string
	Email string
}

func (c *Customer) String() string { return c.Name }

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	n := flag.Int("n", 300, "number of changes to generate")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *n, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr string, n int, out io.Writer) error {
	dir, err := os.MkdirTemp("", "auditlog-webui")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, p, err := open(filepath.Join(dir, "app.db"))
	if err != nil {
		return err
	}
	if err := generate(db, p, n); err != nil {
		return err
	}
	h, err := web.Handler(p, db, web.AllowAll(), web.Tables("invoices", "customers"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/audit/", http.StripPrefix("/audit", h))
	mux.Handle("/{$}", http.RedirectHandler("/audit/", http.StatusFound))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit log of %d generated changes at http://%s/audit/\n", n, ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// open opens the SQLite file with the plugin and the models registered.
func open(path string) (*gorm.DB, *auditlog.Plugin, error) {
	db, err := gorm.Open(sqlite.Open("file:"+path+"?_txlock=immediate&_busy_timeout=5000"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, err
	}
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	tick := 0
	clock := func() time.Time { tick++; return start.Add(time.Duration(tick) * 7 * time.Minute) }
	p := auditlog.New(auditlog.WithClock(clock))
	if err := db.Use(p); err != nil {
		return nil, nil, err
	}
	if err := db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{}, &Customer{}); err != nil {
		return nil, nil, err
	}
	if err := p.Register(&Invoice{}, auditlog.Mask("IBAN"), auditlog.Label("Amount", "Amount (EUR)"), auditlog.Serialize()); err != nil {
		return nil, nil, err
	}
	if err := p.DefineAction("invoice.sent", "Sent", "{actor} sent {object} to {data.to}"); err != nil {
		return nil, nil, err
	}
	return db, p, p.Register(&Customer{})
}

// generate makes n changes from a fixed seed: each request (one cid) of a
// user creates, updates or deletes an invoice or a customer, or sends one.
func generate(db *gorm.DB, p *auditlog.Plugin, n int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	users := []string{"alice", "bob", "carol", "dave", ""}
	statuses := []string{"draft", "sent", "paid", "void"}
	var invoices []*Invoice
	for i := 0; i < n; i++ {
		ctx := auditlog.WithCID(auditlog.WithActor(context.Background(), users[rng.IntN(len(users))]),
			fmt.Sprintf("req-%04d", i/3))
		tx := db.WithContext(ctx)
		var err error
		switch k := rng.IntN(10); {
		case k < 3 || len(invoices) == 0:
			inv := &Invoice{Number: fmt.Sprintf("2026-%04d", len(invoices)+1), Customer: fmt.Sprintf("Customer %d", rng.IntN(20)),
				Amount: rng.IntN(100000), Status: "draft", IBAN: "DE89370400440532013000",
				Note: "Delivery of the spring order: twelve boxes of paper, four toner cartridges and a stapler."}
			invoices = append(invoices, inv)
			err = tx.Create(inv).Error
		case k < 8:
			inv := invoices[rng.IntN(len(invoices))]
			err = tx.Model(inv).Updates(map[string]any{"status": statuses[rng.IntN(len(statuses))], "amount": rng.IntN(100000),
				"note": "Delivery of the spring order: twelve boxes of paper, two toner cartridges and a stapler."}).Error
		case k < 9:
			inv := invoices[rng.IntN(len(invoices))]
			err = p.Log(ctx, db, inv, "invoice.sent", map[string]any{"to": "billing@example.com"})
		default:
			err = tx.Create(&Customer{Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@example.com", i)}).Error
		}
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
	}
	// One hostile value, to see it rendered inert.
	return db.Create(&Customer{Name: `<script>alert("x")</script>` + "\u202egnp.exe"}).Error
}
