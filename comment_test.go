package auditlog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestCommentInCondition: a raw Where condition may end with a "--" comment,
// which runs to the end of its line. The statements the plugin builds around
// it must neither lose a clause to it (the lock, the restriction to the rows
// read, RETURNING) nor change rows without their entries.
func TestCommentInCondition(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}}, Include("Qty"))
		seedItems(t, db) // qty 10, 3, 0
		rec := &sqlRecorder{}
		db = db.Session(&gorm.Session{Logger: rec})
		if err := db.Model(&Item{}).Where("qty > ? -- above one", 1).Update("qty", gorm.Expr("qty + 1")).Error; err != nil {
			t.Fatalf("update: %v", err)
		}
		if err := db.Unscoped().Where("qty < ? -- below five", 5).Delete(&Item{}).Error; err != nil {
			t.Fatalf("delete: %v", err)
		}
		want := []summary{
			{ActionUpdate, "1", Changes{"qty": {num("10"), num("11")}}},
			{ActionUpdate, "2", Changes{"qty": {num("3"), num("4")}}},
			{ActionDelete, "2", Changes{"qty": {num("4"), nil}}},
			{ActionDelete, "3", Changes{"qty": {num("0"), nil}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if items := allItems(t, db); len(items) != 1 || items[0].Qty != 11 {
			t.Errorf("rows: %+v", items)
		}
		// Where the plugin locks rows (a read, or PostgreSQL's one statement),
		// the lock comes after the comment's line.
		locks := 0
		for _, s := range rec.sql {
			comment := strings.Index(s, "-- above one")
			if comment < 0 || !strings.Contains(s, "SELECT") {
				continue
			}
			rest := s[comment:]
			if strings.Contains(rest, "FOR UPDATE") {
				locks++
				if nl := strings.IndexByte(rest, '\n'); nl < 0 || !strings.Contains(rest[nl:], "FOR UPDATE") {
					t.Errorf("the comment swallows the lock:\n%s", s)
				}
			}
		}
		if want := map[bool]int{true: 0, false: 1}[db.Dialector.Name() == "sqlite"]; locks != want {
			t.Errorf("%d locking statements hold the comment, want %d: %q", locks, want, rec.sql)
		}
	})
}
