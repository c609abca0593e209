package auditlog

import (
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"
)

// logIndexes are the log table's secondary indexes, by the query shape of
// Find each one serves.
var logIndexes = []string{"object", "model", "actor", "cid", "created"}

// BenchmarkEntryIndexes measures what the log table's indexes cost when
// entries are written, as BenchmarkEntryIndexes/<db>/<set>: one multi-row
// INSERT of 100 entries (the plugin's own insertEntries, in a transaction),
// with every index (all), none, or all but one (no_<shape>). The difference
// between all and no_<shape> is that index's cost per 100 entries.
func BenchmarkEntryIndexes(b *testing.B) {
	sets := []string{"all", "none"}
	for _, ix := range logIndexes {
		sets = append(sets, "no_"+ix)
	}
	for _, dbName := range testDatabases {
		b.Run(dbName, func(b *testing.B) {
			for _, set := range sets {
				b.Run(set, func(b *testing.B) {
					db := openTestDB(b, dbName, &gorm.Config{NowFunc: time.Now})
					p := New()
					if err := db.Use(p); err != nil {
						b.Fatal(err)
					}
					if err := db.AutoMigrate(&LogEntry{}); err != nil {
						b.Fatal(err)
					}
					for _, ix := range logIndexes {
						if set == "none" || set == "no_"+ix {
							if err := db.Migrator().DropIndex(&LogEntry{}, "idx_audit_log_entries_"+ix); err != nil {
								b.Fatal(err)
							}
						}
					}
					benchInsertEntries(b, db, p, 100)
				})
			}
		})
	}
}

func benchInsertEntries(b *testing.B, db *gorm.DB, p *Plugin, n int) {
	entries := make([]LogEntry, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range entries {
			pk := strconv.Itoa(i*n + j)
			entries[j] = LogEntry{Table: "bench_items", ObjectPK: pk, ObjectRepr: "BenchItem(" + pk + ")",
				Action: ActionUpdate, Changes: Changes{"qty": {Old: j, New: j + 1}, "name": {Old: "a", New: "b"}},
				ActorID: "user-" + strconv.Itoa(j%10), CID: "req-" + strconv.Itoa(i), CreatedAt: time.Now().UTC()}
		}
		err := db.Transaction(func(tx *gorm.DB) error { return p.insertEntries(tx, p.cfg.table, entries) })
		if err != nil {
			b.Fatal(err)
		}
	}
}
