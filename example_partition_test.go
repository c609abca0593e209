package auditlog_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/gorm-auditlog/auditlog"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// ExampleWithMonthlyPartitions keeps the log table partitioned by month on
// PostgreSQL, moves an existing plain log table under it, and runs the
// nightly maintenance: partitions ahead, expired months dropped, the rest
// trimmed. (Compiled, not run: it needs a PostgreSQL server.)
func ExampleWithMonthlyPartitions() {
	ctx := context.Background()
	db, err := gorm.Open(postgres.Open("host=127.0.0.1 user=app dbname=app"), &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	audit := auditlog.New(
		auditlog.WithMonthlyPartitions(3), // this month and the next three
		auditlog.Retention(auditlog.AnyAction, 365*24*time.Hour),
	)
	if err := db.Use(audit); err != nil {
		log.Fatal(err)
	}
	// A new log table is created partitioned; an existing plain one is
	// moved under a partitioned one while the application writes.
	if err := audit.PartitionLogTable(ctx, db); err != nil && !errors.Is(err, auditlog.ErrNoLogTable) {
		log.Fatal(err)
	}
	if err := audit.AutoMigrate(db); err != nil {
		log.Fatal(err)
	}
	// Nightly (or: auditlog maintain -partitions 3 -retention '*=365d').
	runs, err := audit.Maintain(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range runs {
		log.Printf("%s: removed %d (partition %q dropped)", r.Policy, r.Removed, r.Partition)
	}
}
