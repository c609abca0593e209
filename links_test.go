package auditlog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

type Post struct {
	ID    int64
	Title string `gorm:"size:40"`
	Tags  []Tag  `gorm:"many2many:post_tags"`
}

type Tag struct {
	ID    int64
	Name  string `gorm:"size:40"`
	Posts []Post `gorm:"many2many:post_tags"`
}

// links is the Change of one association: keys removed, keys added.
func links(removed, added []any) Change {
	if removed == nil {
		removed = []any{}
	}
	if added == nil {
		added = []any{}
	}
	return Change{Old: removed, New: added}
}

// linkSetup migrates posts and tags with tags 1..4 and post 1, registers
// Post with Associations("Tags") (and Tag with Associations("Posts") when
// both), and clears the entries.
func linkSetup(t *testing.T, db *gorm.DB, both bool) (*Plugin, Post) {
	t.Helper()
	p := setup(t, db, []any{&Post{}, &Tag{}})
	if err := p.Register(&Post{}, Associations("Tags")); err != nil {
		t.Fatal(err)
	}
	if both {
		if err := p.Register(&Tag{}, Associations("Posts")); err != nil {
			t.Fatal(err)
		}
	}
	tags := []Tag{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}
	if err := db.Create(&tags).Error; err != nil {
		t.Fatal(err)
	}
	post := Post{Title: "p"}
	if err := db.Create(&post).Error; err != nil {
		t.Fatal(err)
	}
	clearEntries(t, db)
	return p, post
}

func tagsOf(ids ...int64) []Tag {
	out := make([]Tag, len(ids))
	for i, id := range ids {
		out[i] = Tag{ID: id}
	}
	return out
}

// TestAssociationOperations: each Association operation on posts' Tags
// gives one update entry of the post with the keys added and removed.
func TestAssociationOperations(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		_, post := linkSetup(t, db, false)
		steps := []struct {
			name string
			run  func(a *gorm.Association) error
			want []summary
		}{
			{"append", func(a *gorm.Association) error { return a.Append(tagsOf(2, 1)) },
				[]summary{{ActionUpdate, "1", Changes{"tags": links(nil, []any{"1", "2"})}}}},
			{"append existing and new", func(a *gorm.Association) error { return a.Append(tagsOf(1, 3)) },
				[]summary{{ActionUpdate, "1", Changes{"tags": links(nil, []any{"3"})}}}},
			{"append nothing new", func(a *gorm.Association) error { return a.Append(tagsOf(1)) }, nil},
			{"delete", func(a *gorm.Association) error { return a.Delete(tagsOf(2, 4)) },
				[]summary{{ActionUpdate, "1", Changes{"tags": links([]any{"2"}, nil)}}}},
			{"replace", func(a *gorm.Association) error { return a.Replace(tagsOf(3, 4)) },
				[]summary{
					{ActionUpdate, "1", Changes{"tags": links(nil, []any{"4"})}},
					{ActionUpdate, "1", Changes{"tags": links([]any{"1"}, nil)}},
				}},
			{"clear", func(a *gorm.Association) error { return a.Clear() },
				[]summary{{ActionUpdate, "1", Changes{"tags": links([]any{"3", "4"}, nil)}}}},
			{"clear empty", func(a *gorm.Association) error { return a.Clear() }, nil},
		}
		for _, st := range steps {
			clearEntries(t, db)
			if err := st.run(db.Model(&post).Association("Tags")); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if diff := cmp.Diff(st.want, summarize(allEntries(t, db))); diff != "" {
				t.Errorf("%s (-want +got):\n%s", st.name, diff)
			}
		}
	})
}

// TestAssociationCreateWithOwner: creating a post with its tags records one
// entry, the post's create with its links; saving it again with a new title
// and one more tag records one update with both.
func TestAssociationCreateWithOwner(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		linkSetup(t, db, false)
		post := Post{Title: "q", Tags: tagsOf(1, 2)}
		if err := db.Create(&post).Error; err != nil {
			t.Fatal(err)
		}
		want := []summary{
			{ActionCreate, "2", Changes{"id": {nil, num("2")}, "title": {nil, "q"}, "tags": links(nil, []any{"1", "2"})}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("create (-want +got):\n%s", diff)
		}
		clearEntries(t, db)
		post.Tags = append(post.Tags, Tag{ID: 3})
		post.Title = "r"
		if err := db.Save(&post).Error; err != nil {
			t.Fatal(err)
		}
		want = []summary{{ActionUpdate, "2", Changes{"title": {"q", "r"}, "tags": links(nil, []any{"3"})}}}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("save (-want +got):\n%s", diff)
		}
	})
}

// TestAssociationBothSides: with both sides registered, a link change is
// recorded on the post and on each tag.
func TestAssociationBothSides(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		_, post := linkSetup(t, db, true)
		if err := db.Model(&post).Association("Tags").Append(tagsOf(1, 2)); err != nil {
			t.Fatal(err)
		}
		// The tags' entries first: the post's joins the Append's update
		// of the post, written after its join rows.
		want := []summary{
			{ActionUpdate, "1", Changes{"posts": links(nil, []any{"1"})}},
			{ActionUpdate, "2", Changes{"posts": links(nil, []any{"1"})}},
			{ActionUpdate, "1", Changes{"tags": links(nil, []any{"1", "2"})}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("append (-want +got):\n%s", diff)
		}
		clearEntries(t, db)
		tag := Tag{ID: 2}
		if err := db.Model(&tag).Association("Posts").Clear(); err != nil {
			t.Fatal(err)
		}
		want = []summary{
			{ActionUpdate, "1", Changes{"tags": links([]any{"2"}, nil)}},
			{ActionUpdate, "2", Changes{"posts": links([]any{"1"}, nil)}},
		}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("clear from the tag (-want +got):\n%s", diff)
		}
	})
}

// TestAssociationsOption: Register refuses a field that is not many2many.
func TestAssociationsOption(t *testing.T) {
	p := New()
	for _, name := range []string{"Title", "Nope"} {
		err := p.Register(&Post{}, Associations(name))
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(fmt.Sprint(err), `"`+name+`"`) {
			t.Errorf("Associations(%q): got %v, want ErrInvalidOption naming the field", name, err)
		}
	}
	if err := p.Register(&Post{}, Associations("Tags")); err != nil {
		t.Errorf("Associations(Tags): %v", err)
	}
}
