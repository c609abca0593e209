package auditlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestAssociationSelectOmit: Omit of the association writes and records no
// link; Select of it records the links with the fields.
func TestAssociationSelectOmit(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		linkSetup(t, db, false)
		omitted := Post{Title: "o", Tags: tagsOf(1)}
		if err := db.Omit("Tags").Create(&omitted).Error; err != nil {
			t.Fatal(err)
		}
		selected := Post{Title: "s", Tags: tagsOf(2, 3)}
		if err := db.Select("Title", "Tags").Create(&selected).Error; err != nil {
			t.Fatal(err)
		}
		selected.Title, selected.Tags = "s2", tagsOf(4)
		if err := db.Select("Title", "Tags").Updates(&selected).Error; err != nil {
			t.Fatal(err)
		}
		want := []summary{
			{ActionCreate, "2", Changes{"id": {nil, num("2")}, "title": {nil, "o"}}},
			{ActionCreate, "3", Changes{"id": {nil, num("3")}, "title": {nil, "s"}, "tags": links(nil, []any{"2", "3"})}},
			{ActionUpdate, "3", Changes{"title": {"s", "s2"}, "tags": links(nil, []any{"4"})}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// TestAssociationActionsAndHooks: a model that records no update records no
// links; BeforeLog sees a link entry and may skip it; without GORM's default
// transaction a link change and its entry still commit together.
func TestAssociationActionsAndHooks(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		var seen []string
		p := New(WithClock(func() time.Time { return testNow }), BeforeLog(func(_ context.Context, e *LogEntry) error {
			seen = append(seen, e.Table+" "+e.ObjectPK)
			return nil
		}))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}, &Post{}, &Tag{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&Post{}, Associations("Tags"), Actions(ActionCreate)); err != nil {
			t.Fatal(err)
		}
		db.Create(&[]Tag{{Name: "a"}, {Name: "b"}})
		post := Post{Title: "p"}
		db.Create(&post)
		if err := db.Model(&Post{ID: post.ID}).Association("Tags").Append(tagsOf(1)); err != nil {
			t.Fatal(err)
		}
		if got := len(allEntries(t, db)); got != 1 {
			t.Errorf("%d entries with Actions(create), want 1 (the create)", got)
		}
		if err := p.Register(&Post{}, Associations("Tags")); err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		seen = nil
		skip := db.Session(&gorm.Session{SkipDefaultTransaction: true})
		if err := skip.Model(&Post{ID: post.ID}).Association("Tags").Delete(tagsOf(1)); err != nil {
			t.Fatal(err)
		}
		want := []summary{{ActionUpdate, "1", Changes{"tags": links([]any{"1"}, nil)}}}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"posts 1"}, seen); diff != "" {
			t.Errorf("BeforeLog saw (-want +got):\n%s", diff)
		}
	})
}

// TestAssociationEntryFailureRollsBack: when the link entry cannot be
// written (a BeforeLog error), the link change fails and is rolled back.
func TestAssociationEntryFailureRollsBack(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		errHook := errors.New("refused")
		p := New(BeforeLog(func(_ context.Context, e *LogEntry) error {
			if _, ok := e.Changes["tags"]; ok {
				return errHook
			}
			return nil
		}))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}, &Post{}, &Tag{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&Post{}, Associations("Tags")); err != nil {
			t.Fatal(err)
		}
		db.Create(&Tag{Name: "a"})
		post := Post{Title: "p"}
		db.Create(&post)
		err := db.Model(&Post{ID: post.ID}).Association("Tags").Append(tagsOf(1))
		if !errors.Is(err, errHook) {
			t.Fatalf("append: %v, want the hook's error", err)
		}
		var n int64
		db.Table("post_tags").Count(&n)
		if n != 0 {
			t.Errorf("post_tags has %d rows after the failed append, want 0", n)
		}
	})
}

// TestAssociationOwnerDelete: deleting a post with Select("Tags") records the
// links removed in an update entry, then the delete, which StateAt still
// reads as a hard delete.
func TestAssociationOwnerDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		linkSetup(t, db, false)
		post := Post{Title: "q", Tags: tagsOf(1, 2)}
		if err := db.Create(&post).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		if err := db.Select("Tags").Delete(&post).Error; err != nil {
			t.Fatal(err)
		}
		want := []summary{
			{ActionUpdate, "2", Changes{"tags": links([]any{"1", "2"}, nil)}},
			{ActionDelete, "2", Changes{"id": {num("2"), nil}, "title": {"q", nil}}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}
