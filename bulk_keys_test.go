package auditlog

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestBulkCompositeKeyPages: a Where update and a Where hard delete of a
// model with a composite key (text, integer), captured in pages of 4 rows
// with entries in chunks of 3, record exactly one entry a matching row with
// its own values (the update's rows still match its WHERE once written), and none for the rows the WHERE leaves out, with every
// capture strategy that applies on each database. The text keys mix cases:
// "a" < "B" < "c" in the database's order (MariaDB's case-insensitive
// collation; on PostgreSQL the column gets ICU's root collation), "B" < "a"
// in byte order, so that pages must follow the database's key order.
func TestBulkCompositeKeyPages(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			probe := openTestDB(t, name, nil)
			for _, st := range strategiesOn(newCapabilities(probe)) {
				if st == insertSent || st == insertReread {
					continue
				}
				t.Run(st.String(), func(t *testing.T) {
					db := openTestDB(t, name, nil)
					setupWith(t, db, []Option{forceStrategy(st), withPageRows(4), WithBatchSize(3)}, []any{&Membership{}})
					checkCompositePages(t, db)
				})
			}
		})
	}
}

func checkCompositePages(t *testing.T, db *gorm.DB) {
	t.Helper()
	if db.Dialector.Name() == "postgres" {
		mustExec(t, db, `ALTER TABLE memberships ALTER COLUMN org_id TYPE varchar(36) COLLATE "und-x-icu"`)
	}
	var rows []Membership
	var want []string
	for _, org := range []string{"a", "B", "c", "D", "e"} {
		for user := int64(1); user <= 3; user++ {
			role := "member"
			if (org == "c" && user == 2) || (org == "a" && user == 3) {
				role = "guest"
			}
			rows = append(rows, Membership{OrgID: org, UserID: user, Role: role})
			if role == "member" {
				pk := compositeKeyText(t, db, org, user)
				want = append(want, "update "+pk+" role member→member+", "delete "+pk+" role member+→<nil>")
			}
		}
	}
	if err := db.WithContext(Disable(context.Background())).Create(&rows).Error; err != nil {
		t.Fatal(err)
	}
	// The rows still match the WHERE once written: a page that started
	// before a row it wrote would write it again.
	err := db.Model(&Membership{}).Where("role <> ?", "guest").Update("role", gorm.Expr("CONCAT(role, '+')")).Error
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Where("role <> ?", "guest").Delete(&Membership{}).Error; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range allEntries(t, db) {
		c := e.Changes["role"]
		got = append(got, fmt.Sprint(e.Action, " ", e.ObjectPK, " role ", c.Old, "→", c.New))
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	var left []string
	if err := db.Model(&Membership{}).Order("user_id").Pluck("role", &left).Error; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"guest", "guest"}, left); diff != "" {
		t.Errorf("rows left (-want +got):\n%s", diff)
	}
}

// compositeKeyText is a Membership's ObjectPK.
func compositeKeyText(t *testing.T, db *gorm.DB, org string, user int64) string {
	t.Helper()
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(&Membership{}); err != nil {
		t.Fatal(err)
	}
	pk, err := keyText(stmt.Schema, []any{org, user})
	if err != nil {
		t.Fatal(err)
	}
	return pk
}
