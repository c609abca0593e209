package auditlog

import (
	"encoding/json"

	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// BenchItem is the benchmarks' model: a few typical columns, auto times.
type BenchItem struct {
	ID        int64
	Name      string `gorm:"size:64"`
	Qty       int
	Price     float64
	Grp       int `gorm:"index"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// benchEnv is one fresh database for one benchmark mode.
type benchEnv struct {
	db     *gorm.DB
	plugin *Plugin // nil for plain and manual
	mode   string
	lock   string // " FOR UPDATE", or "" on SQLite
	cast   string // the SQL type a key is cast to as text
}

func newBenchEnv(b *testing.B, dbName, mode string) *benchEnv {
	b.Helper()
	db := openTestDB(b, dbName, &gorm.Config{NowFunc: time.Now})
	env := &benchEnv{db: db, mode: mode, lock: " FOR UPDATE", cast: "TEXT"}
	if dbName == "sqlite" {
		env.lock = ""
	}
	if dbName == "mysql" {
		env.cast = "CHAR"
	}
	if mode == "audited" || strings.HasPrefix(mode, "audited_") {
		var opts []Option
		for _, st := range strategyNames {
			if st != "" && mode == "audited_"+st {
				opts = append(opts, forceStrategy(strategyByName(st)))
			}
		}
		env.plugin = New(opts...)
		if err := db.Use(env.plugin); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.AutoMigrate(&LogEntry{}, &BenchItem{}, &leanEntry{}); err != nil {
		b.Fatal(err)
	}
	return env
}

// ready registers the model (after seeding, so that seeding is not audited)
// and starts the timer.
func (env *benchEnv) ready(b *testing.B) {
	if env.plugin != nil {
		if err := env.plugin.Register(&BenchItem{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
}

func (env *benchEnv) seed(b *testing.B, n, perGroup int) {
	b.Helper()
	items := make([]BenchItem, n)
	for i := range items {
		items[i] = BenchItem{Name: "item " + strconv.Itoa(i), Qty: i, Price: 1.5, Grp: i / perGroup}
	}
	if err := env.db.CreateInBatches(&items, 1000).Error; err != nil {
		b.Fatal(err)
	}
}

// run does one operation: the GORM call alone (plain, audited), or the GORM
// call plus hand-written auditing in one transaction: lean (manual) or with
// a locked read of the old values (locked).
func (env *benchEnv) run(b *testing.B, write, locked, lean func(*gorm.DB) error) {
	var err error
	switch env.mode {
	case "manual":
		err = env.db.Transaction(lean)
	case "locked":
		err = env.db.Transaction(locked)
	default:
		err = write(env.db)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// manualEntry is what hand-written auditing inserts.
type manualEntry struct {
	pk      int64
	action  string
	changes map[string][2]any
}

// insertEntries is the hand-written multi-row INSERT of entries into the
// plugin's log table.
func insertEntries(tx *gorm.DB, entries []manualEntry) error {
	columns := "table_name, object_pk, object_repr, action, changes, actor_id, remote_addr, cid, created_at"
	return insertManual(tx, "audit_log_entries", columns, entries, func(e manualEntry, pk, changes string, now time.Time) []any {
		return []any{"bench_items", pk, "BenchItem(" + pk + ")", e.action, changes, "bench", "", "", now}
	})
}

// insertManual writes one multi-row INSERT of entries into table, a row of
// values per entry.
func insertManual(tx *gorm.DB, table, columns string, entries []manualEntry, row func(e manualEntry, pk, changes string, now time.Time) []any) error {
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	var args []any
	now := time.Now()
	for i, e := range entries {
		if i > 0 {
			sb.WriteByte(',')
		}
		changes, err := json.Marshal(e.changes)
		if err != nil {
			return err
		}
		values := row(e, strconv.FormatInt(e.pk, 10), string(changes), now)
		sb.WriteString("(?" + strings.Repeat(",?", len(values)-1) + ")")
		args = append(args, values...)
	}
	return tx.Exec(sb.String(), args...).Error
}

// leanEntry is the log table of lean hand-written auditing: what it needs to
// name a change, one index (table, key).
type leanEntry struct {
	ID        int64
	TableName string `gorm:"size:191;index:idx_lean_object,priority:1"`
	ObjectPK  string `gorm:"size:191;index:idx_lean_object,priority:2"`
	Action    string `gorm:"size:32"`
	Changes   string
	ActorID   string `gorm:"size:191"`
	CreatedAt time.Time
}

// insertLean is lean hand-written auditing: the new values only (no locked
// read of the old ones), one multi-row INSERT into a table with one index.
func insertLean(tx *gorm.DB, entries []manualEntry) error {
	columns := "table_name, object_pk, action, changes, actor_id, created_at"
	return insertManual(tx, "lean_entries", columns, entries, func(e manualEntry, pk, changes string, now time.Time) []any {
		return []any{"bench_items", pk, e.action, changes, "bench", now}
	})
}

// insertLeanSelect is lean auditing of a Where write: one INSERT ... SELECT
// of an entry per matching row, with the statement as its changes.
func insertLeanSelect(tx *gorm.DB, cast, action, where string, arg any) error {
	return tx.Exec("INSERT INTO lean_entries (table_name, object_pk, action, changes, actor_id, created_at) "+
		"SELECT 'bench_items', CAST(id AS "+cast+"), ?, ?, 'bench', ? FROM bench_items WHERE "+where,
		action, `{"qty":"qty + 1"}`, time.Now(), arg).Error
}

func createdChanges(it *BenchItem) map[string][2]any {
	return map[string][2]any{
		"id": {nil, it.ID}, "name": {nil, it.Name}, "qty": {nil, it.Qty}, "price": {nil, it.Price}, "grp": {nil, it.Grp},
		"created_at": {nil, it.CreatedAt.UTC()}, "updated_at": {nil, it.UpdatedAt.UTC()},
	}
}

func deletedChanges(it *BenchItem) map[string][2]any {
	return map[string][2]any{
		"id": {it.ID, nil}, "name": {it.Name, nil}, "qty": {it.Qty, nil}, "price": {it.Price, nil}, "grp": {it.Grp, nil},
		"created_at": {it.CreatedAt.UTC(), nil}, "updated_at": {it.UpdatedAt.UTC(), nil},
	}
}

type benchOp struct {
	name string
	fn   func(b *testing.B, env *benchEnv)
}

var benchOps = []benchOp{
	{"create", func(b *testing.B, env *benchEnv) {
		env.ready(b)
		for i := 0; i < b.N; i++ {
			it := BenchItem{Name: "new", Qty: i, Price: 2.5, Grp: 1}
			env.run(b, func(db *gorm.DB) error { return db.Create(&it).Error }, func(tx *gorm.DB) error {
				if err := tx.Create(&it).Error; err != nil {
					return err
				}
				return insertEntries(tx, []manualEntry{{it.ID, "create", createdChanges(&it)}})
			}, func(tx *gorm.DB) error {
				if err := tx.Create(&it).Error; err != nil {
					return err
				}
				return insertLean(tx, []manualEntry{{it.ID, "create", createdChanges(&it)}})
			})
		}
	}},
	{"create_batch_100", func(b *testing.B, env *benchEnv) { benchCreateBatch(b, env, 100) }},
	{"create_batch_1000", func(b *testing.B, env *benchEnv) { benchCreateBatch(b, env, 1000) }},
	{"save", func(b *testing.B, env *benchEnv) {
		env.seed(b, 1, 1)
		var it BenchItem
		env.db.First(&it)
		env.ready(b)
		for i := 0; i < b.N; i++ {
			it.Name = "saved " + strconv.Itoa(i)
			env.run(b, func(db *gorm.DB) error { return db.Save(&it).Error }, func(tx *gorm.DB) error {
				var old BenchItem
				if err := tx.Raw("SELECT * FROM bench_items WHERE id = ?"+env.lock, it.ID).Scan(&old).Error; err != nil {
					return err
				}
				if err := tx.Save(&it).Error; err != nil {
					return err
				}
				return insertEntries(tx, []manualEntry{{it.ID, "update", map[string][2]any{
					"name": {old.Name, it.Name}, "updated_at": {old.UpdatedAt.UTC(), it.UpdatedAt.UTC()},
				}}})
			}, func(tx *gorm.DB) error {
				if err := tx.Save(&it).Error; err != nil {
					return err
				}
				return insertLean(tx, []manualEntry{{it.ID, "update", map[string][2]any{"name": {nil, it.Name}, "updated_at": {nil, it.UpdatedAt.UTC()}}}})
			})
		}
	}},
	{"updates_map", func(b *testing.B, env *benchEnv) {
		env.seed(b, 1, 1)
		env.ready(b)
		for i := 0; i < b.N; i++ {
			values := map[string]any{"name": "map " + strconv.Itoa(i), "qty": i}
			env.run(b, func(db *gorm.DB) error { return db.Model(&BenchItem{ID: 1}).Updates(values).Error }, func(tx *gorm.DB) error {
				var old BenchItem
				if err := tx.Raw("SELECT * FROM bench_items WHERE id = ?"+env.lock, 1).Scan(&old).Error; err != nil {
					return err
				}
				it := BenchItem{ID: 1}
				if err := tx.Model(&it).Updates(values).Error; err != nil {
					return err
				}
				return insertEntries(tx, []manualEntry{{1, "update", map[string][2]any{
					"name": {old.Name, values["name"]}, "qty": {old.Qty, values["qty"]}, "updated_at": {old.UpdatedAt.UTC(), it.UpdatedAt.UTC()},
				}}})
			}, func(tx *gorm.DB) error {
				it := BenchItem{ID: 1}
				if err := tx.Model(&it).Updates(values).Error; err != nil {
					return err
				}
				return insertLean(tx, []manualEntry{{1, "update", map[string][2]any{
					"name": {nil, values["name"]}, "qty": {nil, values["qty"]}, "updated_at": {nil, it.UpdatedAt.UTC()},
				}}})
			})
		}
	}},
	{"update_where_100", func(b *testing.B, env *benchEnv) {
		env.seed(b, 100, 100)
		env.ready(b)
		for i := 0; i < b.N; i++ {
			env.run(b, func(db *gorm.DB) error {
				return db.Model(&BenchItem{}).Where("grp = ?", 0).Update("qty", gorm.Expr("qty + 1")).Error
			}, func(tx *gorm.DB) error {
				var old []BenchItem
				if err := tx.Raw("SELECT * FROM bench_items WHERE grp = ? ORDER BY id"+env.lock, 0).Scan(&old).Error; err != nil {
					return err
				}
				probe := BenchItem{}
				if err := tx.Model(&probe).Where("grp = ?", 0).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
					return err
				}
				entries := make([]manualEntry, len(old))
				for j, o := range old {
					entries[j] = manualEntry{o.ID, "update", map[string][2]any{
						"qty": {o.Qty, o.Qty + 1}, "updated_at": {o.UpdatedAt.UTC(), probe.UpdatedAt.UTC()},
					}}
				}
				return insertEntries(tx, entries)
			}, func(tx *gorm.DB) error {
				if err := tx.Model(&BenchItem{}).Where("grp = ?", 0).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
					return err
				}
				return insertLeanSelect(tx, env.cast, "update", "grp = ?", 0)
			})
		}
	}},
	{"delete", func(b *testing.B, env *benchEnv) {
		env.seed(b, b.N, 1)
		env.ready(b)
		for i := 0; i < b.N; i++ {
			id := int64(i + 1)
			env.run(b, func(db *gorm.DB) error { return db.Delete(&BenchItem{ID: id}).Error }, func(tx *gorm.DB) error {
				var old BenchItem
				if err := tx.Raw("SELECT * FROM bench_items WHERE id = ?"+env.lock, id).Scan(&old).Error; err != nil {
					return err
				}
				if err := tx.Delete(&BenchItem{ID: id}).Error; err != nil {
					return err
				}
				return insertEntries(tx, []manualEntry{{id, "delete", deletedChanges(&old)}})
			}, func(tx *gorm.DB) error {
				if err := tx.Delete(&BenchItem{ID: id}).Error; err != nil {
					return err
				}
				return insertLean(tx, []manualEntry{{id, "delete", nil}})
			})
		}
	}},
	{"delete_where_100", func(b *testing.B, env *benchEnv) {
		env.seed(b, b.N*100, 100)
		env.ready(b)
		for i := 0; i < b.N; i++ {
			env.run(b, func(db *gorm.DB) error { return db.Where("grp = ?", i).Delete(&BenchItem{}).Error }, func(tx *gorm.DB) error {
				var old []BenchItem
				if err := tx.Raw("SELECT * FROM bench_items WHERE grp = ? ORDER BY id"+env.lock, i).Scan(&old).Error; err != nil {
					return err
				}
				if err := tx.Where("grp = ?", i).Delete(&BenchItem{}).Error; err != nil {
					return err
				}
				entries := make([]manualEntry, len(old))
				for j := range old {
					entries[j] = manualEntry{old[j].ID, "delete", deletedChanges(&old[j])}
				}
				return insertEntries(tx, entries)
			}, func(tx *gorm.DB) error {
				if err := insertLeanSelect(tx, env.cast, "delete", "grp = ?", i); err != nil {
					return err
				}
				return tx.Where("grp = ?", i).Delete(&BenchItem{}).Error
			})
		}
	}},
}

func benchCreateBatch(b *testing.B, env *benchEnv, n int) {
	env.ready(b)
	for i := 0; i < b.N; i++ {
		items := make([]BenchItem, n)
		for j := range items {
			items[j] = BenchItem{Name: "batch", Qty: j, Price: 2.5, Grp: i}
		}
		env.run(b, func(db *gorm.DB) error { return db.Create(&items).Error }, func(tx *gorm.DB) error {
			if err := tx.Create(&items).Error; err != nil {
				return err
			}
			entries := make([]manualEntry, len(items))
			for j := range items {
				entries[j] = manualEntry{items[j].ID, "create", createdChanges(&items[j])}
			}
			return insertEntries(tx, entries)
		}, func(tx *gorm.DB) error {
			if err := tx.Create(&items).Error; err != nil {
				return err
			}
			entries := make([]manualEntry, len(items))
			for j := range items {
				entries[j] = manualEntry{items[j].ID, "create", createdChanges(&items[j])}
			}
			return insertLean(tx, entries)
		})
	}
}

// BenchmarkWrite measures each write path as BenchmarkWrite/<db>/<op>/<mode>:
// plain is GORM alone; manual is GORM plus lean hand-written auditing in one
// transaction (the new values only, one INSERT into a log table with one
// index); locked is hand-written auditing with old values (a locked read of
// the old rows, one multi-row INSERT into the plugin's log table); audited is
// GORM with the plugin and the model registered with defaults.
// Each mode gets a fresh database; seeding is not timed and not audited.
func BenchmarkWrite(b *testing.B) {
	for _, dbName := range testDatabases {
		b.Run(dbName, func(b *testing.B) {
			for _, op := range benchOps {
				b.Run(op.name, func(b *testing.B) {
					for _, mode := range []string{"plain", "manual", "locked", "audited"} {
						b.Run(mode, func(b *testing.B) {
							op.fn(b, newBenchEnv(b, dbName, mode))
						})
					}
				})
			}
		})
	}
}

// strategyByName is the strategy of a strategyNames entry.
func strategyByName(name string) strategy {
	for i, n := range strategyNames {
		if n == name {
			return strategy(i)
		}
	}
	return 0
}

// BenchmarkCapture compares the capture strategies that apply to an update
// of one row with plain values, as BenchmarkCapture/<db>/<op>/<mode>:
// audited_<strategy> forces the strategy (read_carry takes the new values
// from the SET clause, read_reread reads them back, read_returning from
// RETURNING). It decides whether a strategy pays for itself.
func BenchmarkCapture(b *testing.B) {
	modes := map[string][]string{
		"sqlite":   {"audited_read_carry", "audited_read_returning", "audited_read_reread"},
		"postgres": {"audited_one_statement", "audited_read_carry", "audited_read_returning", "audited_read_reread"},
		"mysql":    {"audited_read_carry", "audited_read_reread"},
	}
	for _, dbName := range testDatabases {
		b.Run(dbName, func(b *testing.B) {
			for _, op := range benchOps {
				if op.name != "save" && op.name != "updates_map" {
					continue
				}
				b.Run(op.name, func(b *testing.B) {
					for _, mode := range modes[dbName] {
						b.Run(mode, func(b *testing.B) {
							op.fn(b, newBenchEnv(b, dbName, mode))
						})
					}
				})
			}
		})
	}
}
