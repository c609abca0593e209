package auditlog

// Regression tests for capture findings: writes whose entries did not match
// what the database holds, or that the plugin broke. Every test runs on
// SQLite, PostgreSQL and MariaDB and asserts the exact entries and the rows
// read back, so an entry is shown to equal the database.
//
// On HEAD a0ce297 (before the fix), GORM without the plugin always behaves
// as asserted, and with it:
//
//   - TestCreateRecordsOnlyInsertedColumns: every case fails on all three
//     databases. The rows are right; the entry lists the struct's values:
//     columns left out by Select/Omit ("email": "x", "age": 5), the struct's
//     "vip" or "" instead of the database default "active", and the
//     read-only "badge" that is never written.
//   - TestOptimisticLockKeepsWorking: every case fails on all three, except
//     "copy older than the row" on PostgreSQL. The plugin builds the SET
//     clause before gorm:update, so optimisticlock's "version = version+1" is
//     never added: the version stays 1 and no entry shows it. As the version
//     never moves, the stale copy's update succeeds (1 row instead of 0)
//     and overwrites the fresh one, with an entry. On SQLite and MariaDB a
//     copy older than the row updates 0 rows but gets an entry "title
//     other -> new" (new values carried from the SET, not read back).
//   - TestBeforeLogCannotLeakOtherRowsSecrets fails on all three: an entry's
//     Data keeps the other row's secret in clear ("bravo-secret-two" in
//     entry 1), and a secret put into Snapshot is stored in clear.
//   - TestPlainKeyChangeWithUncarriedColumn fails on SQLite ("the UPDATE
//     returned row ["t","b2"], which it did not read before") and MariaDB
//     ("a row read before the UPDATE is missing after it"), both
//     ErrUnidentifiedRow, and the update is rolled back; PostgreSQL passes.
//   - TestAliasedTableWrite fails on SQLite ("read old cf_things rows: no
//     such table: i") and MariaDB ("Table '<db>.i' doesn't exist") for both
//     updates, which are rolled back; PostgreSQL passes. (MariaDB refuses an
//     alias in a DELETE with or without the plugin.)
//   - TestCreateFromSliceOfMaps fails on all three: ErrUnidentifiedRow "2 of
//     4 cf_members rows created from maps have no primary key value after
//     the INSERT", counting the maps GORM appended from RETURNING; the
//     create is rolled back.
//   - TestUpdateFrom fails on SQLite ("read old cf_users rows: no such
//     column: cf_accounts.user_id") and PostgreSQL ("missing FROM-clause
//     entry for table "cf_accounts""); both updates are rolled back. MariaDB
//     is skipped: it has no UPDATE ... FROM.

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/plugin/optimisticlock"
)

// CfPerson has a column with a database default and a read-only one.
type CfPerson struct {
	ID     int64
	Name   string `gorm:"size:50"`
	Email  string `gorm:"size:100"`
	Age    int
	Status string `gorm:"size:20;default:active"`
	Badge  string `gorm:"->;size:20"`
}

// cfPersonRow reads a cf_people row with NULL kept apart from zero values.
type cfPersonRow struct {
	ID                         int64
	Name, Email, Status, Badge *string
	Age                        *int64
}

func (cfPersonRow) TableName() string { return "cf_people" }

func cfPtr[T any](v T) *T { return &v }

// readBack reads the rows of T's table with the given primary keys, in key
// order, on a new session.
func readBack[T any](t *testing.T, db *gorm.DB, keys ...any) []T {
	t.Helper()
	var rows []T
	if err := db.Session(&gorm.Session{NewDB: true}).Order("id").Find(&rows, keys).Error; err != nil {
		t.Fatalf("read rows: %v", err)
	}
	return rows
}

// insertedColumnsCases are the creates of TestCreateRecordsOnlyInsertedColumns,
// in order: each creates the next keys.
var insertedColumnsCases = []struct {
	name string
	do   func(db *gorm.DB) error
	rows []cfPersonRow // the created rows, read back
	want []summary
}{
	{"select one column", func(db *gorm.DB) error {
		return db.Select("Name").Create(&CfPerson{Name: "z", Email: "x", Age: 5, Status: "vip", Badge: "b"}).Error
	}, []cfPersonRow{{ID: 1, Name: cfPtr("z"), Status: cfPtr("active")}},
		[]summary{{ActionCreate, "1", Changes{"id": {nil, num("1")}, "name": {nil, "z"}, "status": {nil, "active"}}}}},
	{"omit a column", func(db *gorm.DB) error {
		return db.Omit("Email").Create(&CfPerson{Name: "y", Email: "x", Age: 5, Badge: "b"}).Error
	}, []cfPersonRow{{ID: 2, Name: cfPtr("y"), Age: cfPtr[int64](5), Status: cfPtr("active")}},
		[]summary{{ActionCreate, "2", Changes{"id": {nil, num("2")}, "name": {nil, "y"}, "age": {nil, num("5")}, "status": {nil, "active"}}}}},
	{"omit the column with a default", func(db *gorm.DB) error {
		return db.Omit("Status").Create(&CfPerson{Name: "v", Status: "vip"}).Error
	}, []cfPersonRow{{ID: 3, Name: cfPtr("v"), Email: cfPtr(""), Age: cfPtr[int64](0), Status: cfPtr("active")}},
		[]summary{{ActionCreate, "3", Changes{"id": {nil, num("3")}, "name": {nil, "v"}, "email": {nil, ""}, "age": {nil, num("0")}, "status": {nil, "active"}}}}},
	{"read-only field", func(db *gorm.DB) error {
		return db.Create(&CfPerson{Name: "w", Status: "vip", Badge: "b"}).Error
	}, []cfPersonRow{{ID: 4, Name: cfPtr("w"), Email: cfPtr(""), Age: cfPtr[int64](0), Status: cfPtr("vip")}},
		[]summary{{ActionCreate, "4", Changes{"id": {nil, num("4")}, "name": {nil, "w"}, "email": {nil, ""}, "age": {nil, num("0")}, "status": {nil, "vip"}}}}},
	{"slice with select", func(db *gorm.DB) error {
		return db.Select("Name", "Age").Create(&[]CfPerson{{Name: "s", Email: "x", Age: 1, Status: "vip"}, {Name: "t", Badge: "b"}}).Error
	}, []cfPersonRow{{ID: 5, Name: cfPtr("s"), Age: cfPtr[int64](1), Status: cfPtr("active")}, {ID: 6, Name: cfPtr("t"), Age: cfPtr[int64](0), Status: cfPtr("active")}},
		[]summary{
			{ActionCreate, "5", Changes{"id": {nil, num("5")}, "name": {nil, "s"}, "age": {nil, num("1")}, "status": {nil, "active"}}},
			{ActionCreate, "6", Changes{"id": {nil, num("6")}, "name": {nil, "t"}, "age": {nil, num("0")}, "status": {nil, "active"}}},
		}},
}

// TestCreateRecordsOnlyInsertedColumns: a create lists what the row holds,
// not the struct: a column left out by Select or Omit is NULL or its
// database default, and a read-only field ("->") is never written.
func TestCreateRecordsOnlyInsertedColumns(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&CfPerson{}})
		for _, tt := range insertedColumnsCases {
			t.Run(tt.name, func(t *testing.T) {
				clearEntries(t, db)
				if err := tt.do(db); err != nil {
					t.Fatal(err)
				}
				var keys []any
				for _, r := range tt.rows {
					keys = append(keys, r.ID)
				}
				if diff := cmp.Diff(tt.rows, readBack[cfPersonRow](t, db, keys...)); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.want, summarize(allEntries(t, db))); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// CfDoc is versioned by gorm.io/plugin/optimisticlock: an update through a
// loaded struct adds "version = <loaded>" to its WHERE and sets
// "version = version+1".
type CfDoc struct {
	ID      int64
	Title   string `gorm:"size:50"`
	Pages   int
	Version optimisticlock.Version
}

// writeOutcome is what a write call reports.
type writeOutcome struct {
	Rows int64
	Err  string
}

func outcomeOf(tx *gorm.DB) writeOutcome {
	o := writeOutcome{Rows: tx.RowsAffected}
	if tx.Error != nil {
		o.Err = tx.Error.Error()
	}
	return o
}

func loadDoc(db *gorm.DB, id int64) *CfDoc {
	var d CfDoc
	db.Session(&gorm.Session{NewDB: true}).First(&d, id)
	return &d
}

func docVersion(n int64) optimisticlock.Version { return optimisticlock.Version{Int64: n, Valid: true} }

// optimisticLockCases each write row id, seeded as {id, "old", 0, version 1}.
var optimisticLockCases = []struct {
	name string
	id   int64
	do   func(db *gorm.DB) []writeOutcome
	row  CfDoc
	want []summary
}{
	{"update through a loaded struct", 1, func(db *gorm.DB) []writeOutcome {
		return []writeOutcome{outcomeOf(db.Model(loadDoc(db, 1)).Update("title", "new"))}
	}, CfDoc{1, "new", 0, docVersion(2)}, []summary{{ActionUpdate, "1", Changes{"title": {"old", "new"}, "version": {num("1"), num("2")}}}}},
	{"updates map", 2, func(db *gorm.DB) []writeOutcome {
		return []writeOutcome{outcomeOf(db.Model(loadDoc(db, 2)).Updates(map[string]any{"title": "new", "pages": 3}))}
	}, CfDoc{2, "new", 3, docVersion(2)}, []summary{{ActionUpdate, "2", Changes{"title": {"old", "new"}, "pages": {num("0"), num("3")}, "version": {num("1"), num("2")}}}}},
	{"updates struct", 3, func(db *gorm.DB) []writeOutcome {
		return []writeOutcome{outcomeOf(db.Model(loadDoc(db, 3)).Updates(CfDoc{Title: "new", Pages: 4}))}
	}, CfDoc{3, "new", 4, docVersion(2)}, []summary{{ActionUpdate, "3", Changes{"title": {"old", "new"}, "pages": {num("0"), num("4")}, "version": {num("1"), num("2")}}}}},
	{"save", 4, func(db *gorm.DB) []writeOutcome {
		d := loadDoc(db, 4)
		d.Title, d.Pages = "new", 5
		return []writeOutcome{outcomeOf(db.Save(d))}
	}, CfDoc{4, "new", 5, docVersion(2)}, []summary{{ActionUpdate, "4", Changes{"title": {"old", "new"}, "pages": {num("0"), num("5")}, "version": {num("1"), num("2")}}}}},
	{"stale copy changes nothing", 5, func(db *gorm.DB) []writeOutcome {
		fresh, stale := loadDoc(db, 5), loadDoc(db, 5)
		return []writeOutcome{
			outcomeOf(db.Model(fresh).Update("title", "new")),
			outcomeOf(db.Model(stale).Updates(map[string]any{"title": "stale", "pages": 9})),
		}
	}, CfDoc{5, "new", 0, docVersion(2)}, []summary{{ActionUpdate, "5", Changes{"title": {"old", "new"}, "version": {num("1"), num("2")}}}}},
	{"copy older than the row changes nothing", 7, func(db *gorm.DB) []writeOutcome {
		d := loadDoc(db, 7)
		// another writer, outside GORM's callbacks
		if res := db.Exec("UPDATE cf_docs SET title = 'other', version = 2 WHERE id = 7"); res.Error != nil {
			return []writeOutcome{outcomeOf(res)}
		}
		return []writeOutcome{outcomeOf(db.Model(d).Update("title", "new"))}
	}, CfDoc{7, "other", 0, docVersion(2)}, nil},
	{"where update without a loaded version", 6, func(db *gorm.DB) []writeOutcome {
		return []writeOutcome{outcomeOf(db.Model(&CfDoc{}).Where("id = ?", 6).Update("pages", 7))}
	}, CfDoc{6, "old", 7, docVersion(2)}, []summary{{ActionUpdate, "6", Changes{"pages": {num("0"), num("7")}, "version": {num("1"), num("2")}}}}},
}

// TestOptimisticLockKeepsWorking: with the plugin installed, optimisticlock
// still increments the version and still refuses a stale copy's update, as
// it does without the plugin; the entry shows the version's change, and a
// refused update leaves no entry.
func TestOptimisticLockKeepsWorking(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		plain := openTestDB(t, db.Dialector.Name(), nil)
		setup(t, db, []any{&CfDoc{}})
		if err := plain.AutoMigrate(&CfDoc{}); err != nil {
			t.Fatal(err)
		}
		for _, tt := range optimisticLockCases {
			t.Run(tt.name, func(t *testing.T) {
				for _, d := range []*gorm.DB{db, plain} {
					if err := d.Create(&CfDoc{ID: tt.id, Title: "old"}).Error; err != nil {
						t.Fatal(err)
					}
				}
				clearEntries(t, db)
				wantOut := tt.do(plain)
				if diff := cmp.Diff(wantOut, tt.do(db)); diff != "" {
					t.Errorf("outcomes with the plugin (-without +with):\n%s", diff)
				}
				want := []CfDoc{tt.row}
				if diff := cmp.Diff(want, readBack[CfDoc](t, plain, tt.id)); diff != "" {
					t.Errorf("row without the plugin (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, readBack[CfDoc](t, db, tt.id)); diff != "" {
					t.Errorf("row with the plugin (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.want, summarize(allEntries(t, db))); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// CfAcct and CfVault have a masked Secret; CfVault is also serialized.
type CfAcct struct {
	ID     int64
	Owner  string `gorm:"size:50"`
	Secret string `gorm:"size:100"`
}

type CfVault struct {
	ID     int64
	Owner  string `gorm:"size:50"`
	Secret string `gorm:"size:100"`
}

// TestBeforeLogCannotLeakOtherRowsSecrets: a BeforeLog hook that copies the
// clear secrets of every row of one statement into an entry's Data, or a
// secret into its Snapshot, gets them masked like the secrets of the
// entry's own row: no clear secret reaches the log table.
func TestBeforeLogCannotLeakOtherRowsSecrets(t *testing.T) {
	secrets := []string{"alpha-secret-one", "bravo-secret-two"}
	masked := []any{MaskString(secrets[0]), MaskString(secrets[1])}
	hook := func(ctx context.Context, e *LogEntry) error {
		switch e.Table {
		case "cf_accts":
			e.Data = JSONMap{"all": []any{secrets[0], secrets[1]}}
		case "cf_vaults":
			if e.Snapshot == nil {
				e.Snapshot = JSONMap{}
			}
			e.Snapshot["copy"] = "was " + secrets[0]
		}
		return nil
	}
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setupWith(t, db, []Option{BeforeLog(hook)}, []any{&CfAcct{}}, Mask("Secret"))
		if err := db.AutoMigrate(&CfVault{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&CfVault{}, Mask("Secret"), Serialize()); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&[]CfAcct{{Owner: "a", Secret: secrets[0]}, {Owner: "b", Secret: secrets[1]}}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&CfVault{Owner: "v", Secret: secrets[0]}).Error; err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]CfAcct{{1, "a", secrets[0]}, {2, "b", secrets[1]}}, readBack[CfAcct](t, db, 1, 2)); diff != "" {
			t.Errorf("accounts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]CfVault{{1, "v", secrets[0]}}, readBack[CfVault](t, db, 1)); diff != "" {
			t.Errorf("vaults (-want +got):\n%s", diff)
		}
		type stored struct {
			Table, PK      string
			Changes        Changes
			Data, Snapshot JSONMap
		}
		acct := func(id, owner string, i int) stored {
			return stored{"cf_accts", id, Changes{"id": {nil, num(id)}, "owner": {nil, owner}, "secret": {nil, masked[i]}},
				JSONMap{"all": masked}, nil}
		}
		want := []stored{acct("1", "a", 0), acct("2", "b", 1), {"cf_vaults", "1",
			Changes{"id": {nil, num("1")}, "owner": {nil, "v"}, "secret": {nil, masked[0]}}, nil,
			JSONMap{"id": num("1"), "owner": "v", "secret": masked[0], "copy": "was " + masked[0].(string)}}}
		var got []stored
		for _, e := range allEntries(t, db) {
			got = append(got, stored{e.Table, e.ObjectPK, e.Changes, e.Data, e.Snapshot})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		for _, s := range secrets {
			for _, leak := range findInLog(t, db, s) {
				t.Errorf("%q is stored in clear: %s", s, leak)
			}
		}
	})
}

// CfPrice has a composite key and a numeric column, whose stored value
// the plugin cannot know without reading it back (its type is declared).
type CfPrice struct {
	Tenant string `gorm:"primaryKey;size:20"`
	Code   string `gorm:"primaryKey;size:20"`
	Amount string `gorm:"type:numeric(10,2)"`
	Label  string `gorm:"size:20"`
}

// TestPlainKeyChangeWithUncarriedColumn: an update that changes part of a
// composite key to a plain value, together with a column whose new value
// must be read back, succeeds and is recorded under the old key.
func TestPlainKeyChangeWithUncarriedColumn(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&CfPrice{}})
		if err := db.Create(&[]CfPrice{{"t", "a", "1.00", "x"}, {"t", "b", "1.25", "y"}}).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		res := db.Model(&CfPrice{Tenant: "t", Code: "b"}).Updates(map[string]any{"code": "b2", "amount": "3.50"})
		if res.Error != nil || res.RowsAffected != 1 {
			t.Errorf("update: %v, %d rows", res.Error, res.RowsAffected)
		}
		var rows []CfPrice
		if err := db.Session(&gorm.Session{NewDB: true}).Order("code").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		// The amount as the database returns it: "3.50", or 3.5 from SQLite's
		// numeric affinity; compared here in canonical form.
		for i := range rows {
			rows[i].Amount = string(mustDecimal(t, rows[i].Amount))
		}
		if diff := cmp.Diff([]CfPrice{{"t", "a", "1", "x"}, {"t", "b2", "3.5", "y"}}, rows); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		// The log keeps the amount as the column holds it.
		newAmount := num("3.50")
		if db.Dialector.Name() == "sqlite" {
			newAmount = num("3.5")
		}
		want := []summary{{ActionUpdate, `["t","b"]`, Changes{"code": {"b", "b2"}, "amount": {num("1.25"), newAmount}}}}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

func mustDecimal(t *testing.T, s string) json.Number {
	t.Helper()
	n, ok := canonicalDecimal(s)
	if !ok {
		t.Fatalf("%q is not a decimal", s)
	}
	return n
}

// CfThing is written through an aliased table name.
type CfThing struct {
	ID   int64
	Name string `gorm:"size:50"`
	Qty  int
}

// aliasedWrites are the steps of TestAliasedTableWrite.
var aliasedWrites = []struct {
	name string
	do   func(db *gorm.DB) *gorm.DB
}{
	{"update", func(db *gorm.DB) *gorm.DB {
		return db.Table("cf_things AS i").Model(&CfThing{}).Where("i.id = ?", 9).Update("name", "x")
	}},
	{"updates", func(db *gorm.DB) *gorm.DB {
		return db.Table("cf_things AS i").Model(&CfThing{}).Where("i.qty > ?", 2).Updates(map[string]any{"qty": 30})
	}},
	{"delete", func(db *gorm.DB) *gorm.DB { // MariaDB has no alias in a DELETE: fails without the plugin too
		return db.Table("cf_things AS i").Where("i.id = ?", 8).Delete(&CfThing{})
	}},
}

// TestAliasedTableWrite: Table("cf_things AS i") with conditions on the
// alias updates and deletes the same rows as without the plugin, and
// records them.
func TestAliasedTableWrite(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		plain := openTestDB(t, db.Dialector.Name(), nil)
		setup(t, db, []any{&CfThing{}})
		for _, d := range []*gorm.DB{db, plain} {
			if err := d.AutoMigrate(&CfThing{}); err != nil {
				t.Fatal(err)
			}
			if err := d.Create(&[]CfThing{{8, "a", 1}, {9, "b", 2}, {10, "c", 3}}).Error; err != nil {
				t.Fatal(err)
			}
		}
		clearEntries(t, db)
		for _, s := range aliasedWrites {
			without, with := s.do(plain), s.do(db)
			if (without.Error == nil) != (with.Error == nil) || without.RowsAffected != with.RowsAffected {
				t.Errorf("%s: %v, %d rows; without the plugin %v, %d rows", s.name, with.Error, with.RowsAffected, without.Error, without.RowsAffected)
			}
		}
		wantRows := []CfThing{{9, "x", 2}, {10, "c", 30}}
		want := []summary{
			{ActionUpdate, "9", Changes{"name": {"b", "x"}}},
			{ActionUpdate, "10", Changes{"qty": {num("3"), num("30")}}},
			{ActionDelete, "8", Changes{"id": {num("8"), nil}, "name": {"a", nil}, "qty": {num("1"), nil}}},
		}
		if db.Dialector.Name() == "mysql" {
			wantRows, want = append([]CfThing{{8, "a", 1}}, wantRows...), want[:2]
		}
		for name, d := range map[string]*gorm.DB{"without": plain, "with": db} {
			if diff := cmp.Diff(wantRows, readBack[CfThing](t, d, 8, 9, 10)); diff != "" {
				t.Errorf("rows %s the plugin (-want +got):\n%s", name, diff)
			}
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// CfMember is created from maps.
type CfMember struct {
	ID    int64
	Name  string `gorm:"size:50"`
	Email string `gorm:"size:50"`
	Age   int
}

// cfMemberRow reads a cf_members row with NULL kept apart from zero values.
type cfMemberRow struct {
	ID          int64
	Name, Email *string
	Age         *int64
}

func (cfMemberRow) TableName() string { return "cf_members" }

// TestCreateFromSliceOfMaps: Model(&T{}).Create(&[]map[string]any{...})
// creates the rows as without the plugin (GORM inserts NULL for a key that
// another map has and this one lacks, and appends one map per row returned
// by RETURNING to the caller's slice), and records one entry per row with
// the database's values.
func TestCreateFromSliceOfMaps(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		plain := openTestDB(t, db.Dialector.Name(), nil)
		setup(t, db, []any{&CfMember{}})
		if err := plain.AutoMigrate(&CfMember{}); err != nil {
			t.Fatal(err)
		}
		rows := func() *[]map[string]any {
			return &[]map[string]any{{"name": "a", "age": 1}, {"name": "b", "email": "e"}}
		}
		without, with := rows(), rows()
		if err := plain.Model(&CfMember{}).Create(without).Error; err != nil {
			t.Fatalf("without the plugin: %v", err)
		}
		if err := db.Model(&CfMember{}).Create(with).Error; err != nil {
			t.Errorf("with the plugin: %v", err)
		}
		if diff := cmp.Diff(*without, *with); diff != "" {
			t.Errorf("caller's slice (-without +with the plugin):\n%s", diff)
		}
		want := []cfMemberRow{{ID: 1, Name: cfPtr("a"), Age: cfPtr[int64](1)}, {ID: 2, Name: cfPtr("b"), Email: cfPtr("e")}}
		for name, d := range map[string]*gorm.DB{"without": plain, "with": db} {
			if diff := cmp.Diff(want, readBack[cfMemberRow](t, d, 1, 2)); diff != "" {
				t.Errorf("rows %s the plugin (-want +got):\n%s", name, diff)
			}
		}
		wantEntries := []summary{
			{ActionCreate, "1", Changes{"id": {nil, num("1")}, "name": {nil, "a"}, "age": {nil, num("1")}}},
			{ActionCreate, "2", Changes{"id": {nil, num("2")}, "name": {nil, "b"}, "email": {nil, "e"}}},
		}
		if diff := cmp.Diff(wantEntries, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// CfUser and CfAccount are GORM's TestUpdateFrom models, reduced.
type CfUser struct {
	ID        int64
	Name      string `gorm:"size:50"`
	DeletedAt gorm.DeletedAt
}

type CfAccount struct {
	ID        int64
	UserID    int64
	Number    string `gorm:"size:50"`
	DeletedAt gorm.DeletedAt
}

// updateFrom updates the users that have an account of one of the numbers,
// naming cf_accounts in an UPDATE ... FROM (GORM's TestUpdateFrom).
func updateFrom(db *gorm.DB, value any, numbers ...string) *gorm.DB {
	return db.Model(&CfUser{}).Clauses(clause.From{Tables: []clause.Table{{Name: "cf_accounts"}}}).
		Where("cf_accounts.user_id = cf_users.id AND cf_accounts.number IN ? AND cf_accounts.deleted_at IS NULL", numbers).
		Update("name", value)
}

// TestUpdateFrom: an UPDATE ... FROM another table (PostgreSQL, SQLite)
// changes the same rows as without the plugin and records each of them.
func TestUpdateFrom(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		if db.Dialector.Name() == "mysql" {
			t.Skip("MariaDB has no UPDATE ... FROM (GORM's TestUpdateFrom skips it too)")
		}
		plain := openTestDB(t, db.Dialector.Name(), nil)
		setup(t, db, []any{&CfUser{}, &CfAccount{}})
		for _, d := range []*gorm.DB{db, plain} {
			if err := d.AutoMigrate(&CfUser{}, &CfAccount{}); err != nil {
				t.Fatal(err)
			}
			if err := d.Create(&[]CfUser{{ID: 1, Name: "u1"}, {ID: 2, Name: "u2"}, {ID: 3, Name: "u3"}}).Error; err != nil {
				t.Fatal(err)
			}
			if err := d.Create(&[]CfAccount{{ID: 1, UserID: 1, Number: "n1"}, {ID: 2, UserID: 2, Number: "n2"}}).Error; err != nil {
				t.Fatal(err)
			}
		}
		clearEntries(t, db)
		for _, step := range []func(d *gorm.DB) *gorm.DB{
			func(d *gorm.DB) *gorm.DB { return updateFrom(d, "franco", "n1") },
			func(d *gorm.DB) *gorm.DB { return updateFrom(d, gorm.Expr("cf_accounts.number"), "n1", "n2") },
		} {
			if diff := cmp.Diff(outcomeOf(step(plain)), outcomeOf(step(db))); diff != "" {
				t.Errorf("outcome with the plugin (-without +with):\n%s", diff)
			}
		}
		wantRows := []CfUser{{ID: 1, Name: "n1"}, {ID: 2, Name: "n2"}, {ID: 3, Name: "u3"}}
		for name, d := range map[string]*gorm.DB{"without": plain, "with": db} {
			if diff := cmp.Diff(wantRows, readBack[CfUser](t, d, 1, 2, 3)); diff != "" {
				t.Errorf("rows %s the plugin (-want +got):\n%s", name, diff)
			}
		}
		want := []summary{
			{ActionUpdate, "1", Changes{"name": {"u1", "franco"}}},
			{ActionUpdate, "1", Changes{"name": {"franco", "n1"}}},
			{ActionUpdate, "2", Changes{"name": {"u2", "n2"}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}
