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
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

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
