package auditlog

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// TestAssociationStateAtAndRestore: StateAt gives the set of linked keys at
// each entry's time; Undo and Revert of a link entry re-add what it removed
// and remove what it added, recorded with undo_of / revert_of.
func TestAssociationStateAtAndRestore(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		p, post := linkHistory(t, db)
		times, ids := entryTimes(t, p, db, &post)
		wants := [][]any{{"2", "10"}, {"2", "3", "10"}, {"3", "10"}}
		for i, at := range times {
			state, err := p.StateAt(ctx, db, &Post{ID: post.ID}, at)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wants[i], state["tags"]); diff != "" {
				t.Errorf("tags at entry %d (-want +got):\n%s", i, diff)
			}
		}
		key, err := p.StateAtKey(ctx, db, "posts", "1", times[2])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wants[2], key["tags"]); diff != "" {
			t.Errorf("StateAtKey tags (-want +got):\n%s", diff)
		}
		checkLinkRestore(t, p, db, post, ids)
	})
}

// linkHistory: post 1 created with tags 2 and 10, tag 3 appended, tag 2
// deleted, one entry each, a second apart.
func linkHistory(t *testing.T, db *gorm.DB) (*Plugin, Post) {
	t.Helper()
	p := New(WithClock(tickingClock()))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}, &Post{}, &Tag{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&Post{}, Associations("Tags")); err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&[]Tag{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}, {Name: "f"}, {Name: "g"}, {Name: "h"}, {Name: "i"}, {Name: "j"}}).Error; err != nil {
		t.Fatal(err)
	}
	post := Post{Title: "p", Tags: tagsOf(2, 10)}
	if err := db.Create(&post).Error; err != nil {
		t.Fatal(err)
	}
	owner := func() *gorm.Association { return db.Model(&Post{ID: post.ID}).Association("Tags") }
	if err := owner().Append(tagsOf(3)); err != nil {
		t.Fatal(err)
	}
	if err := owner().Delete(tagsOf(2)); err != nil {
		t.Fatal(err)
	}
	return p, post
}

// checkLinkRestore undoes the delete of tag 2 (ids[2]) and reverts the
// append of tag 3 (ids[1]).
func checkLinkRestore(t *testing.T, p *Plugin, db *gorm.DB, post Post, ids []int64) {
	t.Helper()
	ctx := context.Background()
	if err := p.Undo(ctx, db, &Post{ID: post.ID}, ids[2]); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if err := p.Revert(ctx, db, &Post{ID: post.ID}, ids[1]); err != nil {
		t.Fatalf("revert: %v", err)
	}
	got := allEntries(t, db)[3:]
	want := []summary{
		{ActionUpdate, "1", Changes{"tags": links(nil, []any{"2"})}},
		{ActionUpdate, "1", Changes{"tags": links([]any{"3"}, nil)}},
	}
	if diff := cmp.Diff(want, summarize(got)); diff != "" {
		t.Errorf("restore entries (-want +got):\n%s", diff)
	}
	if len(got) == 2 {
		if got[0].Data[DataUndoOf] == nil || got[1].Data[DataRevertOf] == nil {
			t.Errorf("data: %v, %v; want undo_of, revert_of", got[0].Data, got[1].Data)
		}
	}
	var linked []int64
	db.Table("post_tags").Order("tag_id").Pluck("tag_id", &linked)
	if diff := cmp.Diff([]int64{2, 10}, linked); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
}
