package natssink_test

import (
	"context"
	"log"

	"github.com/gorm-auditlog/auditlog/relay"
	"github.com/gorm-auditlog/auditlog/relay/natssink"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// Example runs a relay from an application's database to JetStream until
// ctx is done. (Compiled, not run: it needs a NATS server.)
func Example() {
	ctx := context.Background()
	db, err := gorm.Open(sqlite.Open("file:app.db?_txlock=immediate&_busy_timeout=5000"), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	nc, js, err := natssink.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	// The stream captures auditlog.<model table>; its duplicate window
	// (0: two minutes) makes a republished entry a duplicate.
	if err := natssink.EnsureStream(ctx, js, "AUDITLOG", []string{"auditlog.>"}, 0); err != nil {
		log.Fatal(err)
	}
	r, err := relay.New(db, natssink.New(js, natssink.Options{}), relay.Options{
		OnError: func(err error) { log.Print(err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for range 3 {
			s := r.Stats()
			log.Printf("cursor %d, lag %v, waiting %v", s.Cursor, s.Lag, s.Waiting)
		}
	}()
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
