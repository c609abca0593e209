package auditlog

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// partitionClock is a settable clock for the plugin in partition tests.
type partitionClock struct{ now time.Time }

func (c *partitionClock) Now() time.Time { return c.now }

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

// openPartitioned opens a fresh PostgreSQL database with a plugin that
// partitions its log table, migrated at the clock's time, and Item
// registered.
func openPartitioned(t *testing.T, clock *partitionClock, ahead int, opts ...Option) (*gorm.DB, *Plugin) {
	t.Helper()
	db := openTestDB(t, "postgres", nil)
	p := New(append([]Option{WithClock(clock.Now), WithMonthlyPartitions(ahead)}, opts...)...)
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := p.AutoMigrate(db); err != nil {
		t.Fatalf("AutoMigrate: %v", err)
	}
	if err := db.AutoMigrate(&Item{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Item{}); err != nil {
		t.Fatal(err)
	}
	return db, p
}

// partitionNames lists the log table's partitions by name.
func partitionNames(t *testing.T, db *gorm.DB, table string) []string {
	t.Helper()
	var names []string
	err := db.Raw(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = ?::regclass ORDER BY c.relname`, table).Scan(&names).Error
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// entryPartitions maps each entry's object key to the partition holding it.
func entryPartitions(t *testing.T, db *gorm.DB) map[string]string {
	t.Helper()
	var rows []struct{ ObjectPK, Part string }
	err := db.Raw("SELECT object_pk, tableoid::regclass::text AS part FROM audit_log_entries ORDER BY id").Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range rows {
		m[r.ObjectPK] = r.Part
	}
	return m
}

// TestMonthlyPartitionsMigrate: AutoMigrate makes the partitioned table
// (primary key id, created_at; the plain table's indexes), the default
// partition and the partitions of this month and the next ahead months;
// a second AutoMigrate changes nothing; entries land in their month.
// Other databases get a clear error and no table.
func TestMonthlyPartitionsMigrate(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			if name != "postgres" {
				db := openTestDB(t, name, nil)
				err := New(WithMonthlyPartitions(2)).AutoMigrate(db)
				if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "PostgreSQL only") {
					t.Fatalf("AutoMigrate on %s: %v, want errors.ErrUnsupported", name, err)
				}
				if db.Migrator().HasTable(DefaultTable) {
					t.Fatal("the log table was created")
				}
				return
			}
			clock := &partitionClock{day(2026, 11, 15)}
			db, p := openPartitioned(t, clock, 2)
			want := []string{"audit_log_entries_p202611", "audit_log_entries_p202612", "audit_log_entries_p202701", "audit_log_entries_pdefault"}
			if got := partitionNames(t, db, DefaultTable); !slices.Equal(got, want) {
				t.Fatalf("partitions %v, want %v", got, want)
			}
			var pk []string
			db.Raw(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
				WHERE i.indrelid = 'audit_log_entries'::regclass AND i.indisprimary ORDER BY a.attname`).Scan(&pk)
			if !slices.Equal(pk, []string{"created_at", "id"}) {
				t.Fatalf("primary key %v", pk)
			}
			var indexes []string
			db.Raw("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'audit_log_entries' AND indexname LIKE 'idx_%' ORDER BY 1").Scan(&indexes)
			wantIdx := plainLogIndexes(t, db)
			if !slices.Equal(indexes, wantIdx) {
				t.Fatalf("indexes %v, want %v", indexes, wantIdx)
			}
			if err := p.AutoMigrate(db); err != nil {
				t.Fatalf("second AutoMigrate: %v", err)
			}
			if got := partitionNames(t, db, DefaultTable); !slices.Equal(got, want) {
				t.Fatalf("after a second AutoMigrate: partitions %v", got)
			}
			db.Create(&Item{Name: "nov"})
			clock.now = day(2026, 12, 3)
			db.Create(&Item{Name: "dec"})
			clock.now = day(2027, 6, 1) // no partition yet
			db.Create(&Item{Name: "june"})
			got := entryPartitions(t, db)
			wantParts := map[string]string{"1": "audit_log_entries_p202611", "2": "audit_log_entries_p202612", "3": "audit_log_entries_pdefault"}
			if !mapsEqual(got, wantParts) {
				t.Fatalf("entries in %v, want %v", got, wantParts)
			}
			entries, err := p.History(context.Background(), db, &Item{ID: 2})
			if err != nil || len(entries) != 1 || entries[0].Changes["name"].New != "dec" {
				t.Fatalf("History: %v %+v", err, entries)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestMonthlyPartitionsBadInput: a plain log table is not converted
// silently, and a name too long for its partitions is refused.
func TestMonthlyPartitionsBadInput(t *testing.T) {
	db := openTestDB(t, "postgres", nil)
	if err := db.AutoMigrate(&LogEntry{}); err != nil {
		t.Fatal(err)
	}
	err := New(WithMonthlyPartitions(1)).AutoMigrate(db)
	if !errors.Is(err, ErrNotPartitioned) || !strings.Contains(err.Error(), "PartitionLogTable") {
		t.Fatalf("AutoMigrate over a plain table: %v, want ErrNotPartitioned", err)
	}
	long := strings.Repeat("x", 55)
	err = New(WithTable(long), WithMonthlyPartitions(1)).AutoMigrate(db)
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("AutoMigrate with a 55-byte name: %v, want ErrInvalidOption", err)
	}
}

// TestMaintainMakesPartitionsAhead: as time passes Maintain adds the next
// months and moves an entry that waited in the default partition into its
// month's new partition.
func TestMaintainMakesPartitionsAhead(t *testing.T) {
	clock := &partitionClock{day(2026, 11, 15)}
	db, p := openPartitioned(t, clock, 1)
	clock.now = day(2027, 2, 20) // written before any Maintain made February
	db.Create(&Item{Name: "feb"})
	if got := entryPartitions(t, db)["1"]; got != "audit_log_entries_pdefault" {
		t.Fatalf("entry in %s, want the default partition", got)
	}
	clock.now = day(2027, 1, 31)
	runs, err := p.Maintain(context.Background(), db)
	if err != nil || len(runs) != 0 {
		t.Fatalf("Maintain: %v %+v", err, runs)
	}
	want := []string{"audit_log_entries_p202611", "audit_log_entries_p202612", "audit_log_entries_p202701",
		"audit_log_entries_p202702", "audit_log_entries_pdefault"}
	if got := partitionNames(t, db, DefaultTable); !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	if got := entryPartitions(t, db)["1"]; got != "audit_log_entries_p202702" {
		t.Fatalf("entry in %s after Maintain, want audit_log_entries_p202702", got)
	}
	var n int64
	db.Table(DefaultTable).Count(&n)
	if n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
}

// Invoice2 is a model whose entries are kept longer than the default.
type Invoice2 struct {
	ID    int64 `gorm:"primaryKey"`
	Total int
}

// TestMaintainDropsExpiredMonths: a past month whose entries have all
// expired is dropped whole and the drop recorded per policy; a month that
// still holds an entry to keep is trimmed by batched deletes instead.
func TestMaintainDropsExpiredMonths(t *testing.T) {
	clock := &partitionClock{day(2026, 10, 5)}
	db, p := openPartitioned(t, clock, 1, Retention(AnyAction, 60*24*time.Hour), Retention(ActionAccess, 10*24*time.Hour))
	if err := db.AutoMigrate(&Invoice2{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Invoice2{}, Retention(AnyAction, 3650*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	db.Create(&Item{Name: "oct"})                                               // entry 1, October
	if err := p.LogAccess(context.Background(), db, &Item{ID: 1}); err != nil { // entry 2, October, access
		t.Fatal(err)
	}
	clock.now = day(2026, 11, 10)
	db.Create(&Item{Name: "nov"})  // November
	db.Create(&Invoice2{Total: 5}) // November, kept ten years
	clock.now = day(2026, 12, 20)
	db.Create(&Item{Name: "dec"}) // December, not expired
	clock.now = day(2027, 1, 25)  // cut-off 60 days: 2026-11-26
	runs, err := p.Maintain(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		Policy, Partition string
		Removed           int64
	}
	var got []run
	for _, r := range runs {
		got = append(got, run{r.Policy, r.Partition, r.Removed})
	}
	access := RetentionPolicy{Action: ActionAccess, Keep: 10 * 24 * time.Hour}.String()
	all := RetentionPolicy{Action: AnyAction, Keep: 60 * 24 * time.Hour}.String()
	invoices := RetentionPolicy{Table: "invoice2", Action: AnyAction, Keep: 3650 * 24 * time.Hour}.String()
	want := []run{
		{access, "audit_log_entries_p202610", 1}, // policies most specific first
		{all, "audit_log_entries_p202610", 1},
		{invoices, "", 0},
		{access, "", 0},
		{all, "", 1}, // November's item, by a batched delete
	}
	if !slices.Equal(got, want) {
		t.Fatalf("runs\n%+v\nwant\n%+v", got, want)
	}
	if parts := partitionNames(t, db, DefaultTable); slices.Contains(parts, "audit_log_entries_p202610") ||
		!slices.Contains(parts, "audit_log_entries_p202611") {
		t.Fatalf("partitions after Maintain: %v", parts)
	}
	var left []string
	db.Table(DefaultTable).Order("id").Pluck("table_name || ':' || object_pk", &left)
	if !slices.Equal(left, []string{"invoice2:1", "items:3"}) {
		t.Fatalf("entries left %v", left)
	}
	var recorded int64
	db.Table(p.RetentionRunTable()).Where("partition_name = ?", "audit_log_entries_p202610").Count(&recorded)
	if recorded != 2 {
		t.Fatalf("%d runs recorded for the dropped partition, want 2", recorded)
	}
}

// Sprocket2 logs into a table of its own.
type Sprocket2 struct {
	ID   int64 `gorm:"primaryKey"`
	Name string
}

// TestMonthlyPartitionsLogTable: every log table in use is partitioned,
// kept ahead by Maintain and read by History.
func TestMonthlyPartitionsLogTable(t *testing.T) {
	clock := &partitionClock{day(2026, 11, 15)}
	db := openTestDB(t, "postgres", nil)
	p := New(WithClock(clock.Now), WithMonthlyPartitions(1))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Sprocket2{}, LogTable("sprocket_log")); err != nil {
		t.Fatal(err)
	}
	if err := p.AutoMigrate(db); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&Sprocket2{}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{DefaultTable, "sprocket_log"} {
		if kind, _ := relationKind(db, table); kind != "p" {
			t.Fatalf("%s: kind %q, want partitioned", table, kind)
		}
	}
	clock.now = day(2027, 1, 20)
	if _, err := p.Maintain(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	want := []string{"sprocket_log_p202611", "sprocket_log_p202612", "sprocket_log_p202701", "sprocket_log_p202702", "sprocket_log_pdefault"}
	if got := partitionNames(t, db, "sprocket_log"); !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	db.Create(&Sprocket2{Name: "cog"})
	var part string
	db.Raw("SELECT tableoid::regclass::text FROM sprocket_log").Scan(&part)
	if part != "sprocket_log_p202701" {
		t.Fatalf("entry in %q, want sprocket_log_p202701", part)
	}
	entries, err := p.History(context.Background(), db, &Sprocket2{ID: 1})
	if err != nil || len(entries) != 1 || entries[0].Changes["name"].New != "cog" {
		t.Fatalf("History: %v %+v", err, entries)
	}
}

// plainLogIndexes creates a plain log table "plain_log" and returns its
// LogEntry indexes' names as they would be for audit_log_entries.
func plainLogIndexes(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	if err := db.Table("plain_log").AutoMigrate(&LogEntry{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	db.Raw(`SELECT replace(indexname, 'plain_log', 'audit_log_entries') FROM pg_indexes
		WHERE schemaname = current_schema() AND tablename = 'plain_log' AND indexname LIKE 'idx_%' ORDER BY 1`).Scan(&names)
	if len(names) < 6 {
		t.Fatalf("plain log indexes %v", names)
	}
	return names
}
