package auditlog

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestBulkDiagnosePostgres is a diagnostic, skipped unless
// AUDITLOG_BULK_DIAG_ROWS gives a row count: where the time of a paged
// Where update of that many rows goes on PostgreSQL (BENCHMARKS.md, "Why
// time per row grows at a million rows"). It logs the audited update's
// time, by tenth of the rows the time spent in the entries' INSERTs (last
// BeforeLog of a chunk to its first AfterLog) and in all (the rest: building
// entries and the page statements), pg_stat_bgwriter and pg_stat_wal
// before and after, the sizes of the tables and indexes; then the same
// update unaudited on a reseeded table, and EXPLAIN (ANALYZE, BUFFERS) of
// a first and a late page of the one statement (its SQL written out here as
// capture_sql.go builds it for BenchItem, in a transaction rolled back).
//
//	AUDITLOG_BULK_DIAG_ROWS=1000000 go test -run TestBulkDiagnosePostgres -v -timeout 30m .
func TestBulkDiagnosePostgres(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AUDITLOG_BULK_DIAG_ROWS"))
	if n < 100000 {
		t.Skip("AUDITLOG_BULK_DIAG_ROWS: a row count of at least 100000")
	}
	db := openTestDB(t, "postgres", &gorm.Config{NowFunc: time.Now})
	const chunk = 1000
	var befores, afters int
	var chunkStart, lastBefore time.Time
	var insertSum, cycleSum time.Duration
	type bucket struct{ insert, cycle time.Duration }
	var buckets []bucket
	hookB := BeforeLog(func(ctx context.Context, e *LogEntry) error {
		now := time.Now()
		if befores%chunk == 0 {
			if !chunkStart.IsZero() {
				cycleSum += now.Sub(chunkStart)
			}
			chunkStart = now
		}
		befores++
		lastBefore = now
		return nil
	})
	hookA := AfterLog(func(ctx context.Context, e *LogEntry) {
		if afters%chunk == 0 {
			insertSum += time.Since(lastBefore)
		}
		afters++
		if afters%(n/10) == 0 {
			buckets = append(buckets, bucket{insertSum, cycleSum})
			insertSum, cycleSum = 0, 0
		}
	})
	setupWith(t, db, []Option{hookB, hookA}, []any{&BenchItem{}})
	seedLarge(t, db, n)
	mustExec(t, db, "VACUUM ANALYZE bench_items")
	before := pgStats(t, db)
	start := time.Now()
	if err := db.Model(&BenchItem{}).Where("grp = ?", 1).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	after := pgStats(t, db)
	t.Logf("audited: %d rows %v, %.1f us/row", n, el, float64(el.Microseconds())/float64(n))
	for i, b := range buckets {
		t.Logf("  tenth %d: insert %v, cycle (build+page+insert) %v", i+1, b.insert.Round(time.Millisecond), b.cycle.Round(time.Millisecond))
	}
	t.Logf("stats before: %s", before)
	t.Logf("stats after:  %s", after)
	t.Logf("sizes: %s", pgSizes(t, db))

	mustExec(t, db, "DELETE FROM "+DefaultTable)
	mustExec(t, db, "DELETE FROM bench_items")
	mustExec(t, db, "VACUUM ANALYZE bench_items")
	mustExec(t, db, "VACUUM ANALYZE "+DefaultTable)
	seedLarge(t, db, n)
	mustExec(t, db, "VACUUM ANALYZE bench_items")
	before = pgStats(t, db)
	start = time.Now()
	if err := db.WithContext(Disable(context.Background())).Model(&BenchItem{}).Where("grp = ?", 1).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
		t.Fatal(err)
	}
	el = time.Since(start)
	t.Logf("plain: %d rows %v, %.1f us/row", n, el, float64(el.Microseconds())/float64(n))
	t.Logf("stats before: %s", before)
	t.Logf("stats after:  %s", pgStats(t, db))

	tx := db.Begin()
	defer tx.Rollback()
	for _, after := range []int{0, n - 20000} {
		var plan []string
		q := `EXPLAIN (ANALYZE, BUFFERS) WITH "auditlog_locked" AS (SELECT "bench_items"."id" AS "auditlog_0","bench_items"."name" AS "auditlog_1","bench_items"."qty" AS "auditlog_2","bench_items"."price" AS "auditlog_3","bench_items"."grp" AS "auditlog_4","bench_items"."created_at" AS "auditlog_5","bench_items"."updated_at" AS "auditlog_6" FROM "bench_items" WHERE "bench_items"."id" > ` + strconv.Itoa(after) + ` AND grp = 1
ORDER BY "bench_items"."id" LIMIT 10000 FOR UPDATE)
, "auditlog_written" AS (UPDATE "bench_items" SET "qty"=qty + 1,"updated_at"=now()
FROM "auditlog_locked" WHERE "bench_items"."id" = "auditlog_locked"."auditlog_0" RETURNING "auditlog_locked"."auditlog_0","auditlog_locked"."auditlog_1","auditlog_locked"."auditlog_2","auditlog_locked"."auditlog_3","auditlog_locked"."auditlog_4","auditlog_locked"."auditlog_5","auditlog_locked"."auditlog_6","bench_items"."id","bench_items"."name","bench_items"."qty","bench_items"."price","bench_items"."grp","bench_items"."created_at","bench_items"."updated_at")
SELECT * FROM "auditlog_written" ORDER BY "auditlog_0"`
		if err := tx.Raw(q).Scan(&plan).Error; err != nil {
			t.Fatal(err)
		}
		t.Logf("page after %d:\n%s", after, strings.Join(plan, "\n"))
	}
}

func pgStats(t *testing.T, db *gorm.DB) string {
	var s struct {
		CheckpointsTimed, CheckpointsReq, BuffersCheckpoint, BuffersBackend, BuffersAlloc int64
		WalBytes, WalFpi                                                                  int64
	}
	err := db.Raw(`SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_backend, buffers_alloc,
		(SELECT wal_bytes FROM pg_stat_wal)::bigint AS wal_bytes, (SELECT wal_fpi FROM pg_stat_wal) AS wal_fpi FROM pg_stat_bgwriter`).Scan(&s).Error
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%+v", s)
}

func pgSizes(t *testing.T, db *gorm.DB) string {
	var rows []struct {
		Relname string
		Mb      float64
	}
	err := db.Raw(`SELECT c.relname, pg_relation_size(c.oid) / 1048576.0 AS mb FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i') ORDER BY 2 DESC`).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	total := 0.0
	for _, r := range rows {
		fmt.Fprintf(&b, "%s=%.0fMB ", r.Relname, r.Mb)
		total += r.Mb
	}
	fmt.Fprintf(&b, "total=%.0fMB", total)
	return b.String()
}
