package auditlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Composite keys on both sides.
type Tenant struct {
	Org   string `gorm:"primaryKey;size:20"`
	ID    int64  `gorm:"primaryKey;autoIncrement:false"`
	Name  string `gorm:"size:20"`
	Perms []Perm `gorm:"many2many:tenant_perms"`
}

type Perm struct {
	Realm string `gorm:"primaryKey;size:20"`
	Name  string `gorm:"primaryKey;size:20"`
}

// A custom join table with an extra column.
type Member struct {
	ID    int64
	Name  string `gorm:"size:20"`
	Clubs []Club `gorm:"many2many:member_clubs"`
}

type Club struct {
	ID   int64
	Name string `gorm:"size:20"`
}

type MemberClub struct {
	MemberID int64 `gorm:"primaryKey"`
	ClubID   int64 `gorm:"primaryKey"`
	JoinedAt time.Time
}

// A self-referencing many2many.
type Buddy struct {
	ID      int64
	Name    string   `gorm:"size:20"`
	Friends []*Buddy `gorm:"many2many:buddy_friends"`
}

// shapesSetup migrates the shapes' models, the custom join table, and
// registers each owner with its association.
func shapesSetup(t *testing.T, db *gorm.DB) {
	t.Helper()
	setup(t, db, []any{&Tenant{}, &Perm{}, &Member{}, &Club{}, &Buddy{}})
	if err := db.SetupJoinTable(&Member{}, "Clubs", &MemberClub{}); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&MemberClub{}); err != nil {
		t.Fatal(err)
	}
	plugin := db.Config.Plugins["auditlog"].(*Plugin)
	for _, r := range []struct {
		model any
		field string
	}{{&Tenant{}, "Perms"}, {&Member{}, "Clubs"}, {&Buddy{}, "Friends"}} {
		if err := plugin.Register(r.model, Associations(r.field)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAssociationShapes: composite keys, a custom join table with extra
// columns and a self-referencing many2many record the same entries.
func TestAssociationShapes(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		shapesSetup(t, db)
		perms := []Perm{{"app", "read"}, {"app", "write"}}
		clubs := []Club{{Name: "chess"}, {Name: "go"}}
		buddies := []Buddy{{Name: "ann"}, {Name: "bob"}, {Name: "cy"}}
		for _, v := range []any{&perms, &clubs, &buddies} {
			if err := db.Create(v).Error; err != nil {
				t.Fatal(err)
			}
		}
		tenant := Tenant{Org: "acme", ID: 1, Name: "t"}
		member := Member{Name: "m"}
		for _, v := range []any{&tenant, &member} {
			if err := db.Create(v).Error; err != nil {
				t.Fatal(err)
			}
		}
		clearEntries(t, db)
		steps := []struct {
			name string
			run  func() error
			want []summary
		}{
			{"composite append", func() error { return db.Model(&tenant).Association("Perms").Append(perms) },
				[]summary{{ActionUpdate, `["acme","1"]`, Changes{"perms": links(nil, []any{`["app","read"]`, `["app","write"]`})}}}},
			{"composite delete", func() error { return db.Model(&tenant).Association("Perms").Delete(&perms[1]) },
				[]summary{{ActionUpdate, `["acme","1"]`, Changes{"perms": links([]any{`["app","write"]`}, nil)}}}},
			{"custom join append", func() error { return db.Model(&member).Association("Clubs").Append(clubs) },
				[]summary{{ActionUpdate, "1", Changes{"clubs": links(nil, []any{"1", "2"})}}}},
			{"custom join clear", func() error { return db.Model(&member).Association("Clubs").Clear() },
				[]summary{{ActionUpdate, "1", Changes{"clubs": links([]any{"1", "2"}, nil)}}}},
			{"self append", func() error { return db.Model(&buddies[0]).Association("Friends").Append(&buddies[1], &buddies[2]) },
				[]summary{{ActionUpdate, "1", Changes{"friends": links(nil, []any{"2", "3"})}}}},
			{"self replace", func() error { return db.Model(&buddies[0]).Association("Friends").Replace(&buddies[2]) },
				[]summary{{ActionUpdate, "1", Changes{"friends": links([]any{"2"}, nil)}}}},
		}
		for _, st := range steps {
			clearEntries(t, db)
			if err := st.run(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if diff := cmp.Diff(st.want, summarize(allEntries(t, db))); diff != "" {
				t.Errorf("%s (-want +got):\n%s", st.name, diff)
			}
		}
	})
}

// TestAssociationNotRecorded: a rolled-back transaction, DryRun and a
// disabled context leave no entry; a BeforeLog hook sees the entry.
func TestAssociationNotRecorded(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		_, post := linkSetup(t, db, false)
		errRollback := errors.New("rollback")
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Model(&post).Association("Tags").Append(tagsOf(1)); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("transaction: %v", err)
		}
		// Append keeps the tags in post.Tags, and a later Append saves them
		// all: each step starts from a post without tags.
		dry := db.Session(&gorm.Session{DryRun: true})
		_ = dry.Model(&Post{ID: post.ID}).Association("Tags").Append(tagsOf(2))
		ctx := Disable(context.Background())
		if err := db.WithContext(ctx).Model(&Post{ID: post.ID}).Association("Tags").Append(tagsOf(3)); err != nil {
			t.Fatal(err)
		}
		if got := allEntries(t, db); len(got) != 0 {
			t.Errorf("entries: %v, want none", summarize(got))
		}
		var n int64
		db.Table("post_tags").Count(&n)
		if n != 1 {
			t.Errorf("post_tags has %d rows, want 1 (the disabled append)", n)
		}
	})
}

// TestAssociationMaxKeys: beyond WithMaxAssociationKeys keys are counted in
// Data, not listed.
func TestAssociationMaxKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(WithClock(func() time.Time { return testNow }), WithMaxAssociationKeys(2))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}, &Post{}, &Tag{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&Post{}, Associations("Tags")); err != nil {
			t.Fatal(err)
		}
		post := Post{Title: "p", Tags: []Tag{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
		if err := db.Create(&post).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		if err := db.Model(&post).Association("Tags").Clear(); err != nil {
			t.Fatal(err)
		}
		got := allEntries(t, db)
		want := []summary{{ActionUpdate, "1", Changes{"tags": links([]any{"1", "2"}, nil)}}}
		if diff := cmp.Diff(want, summarize(got)); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		wantData := JSONMap{"links": map[string]any{"tags": map[string]any{"added": num("0"), "removed": num("3")}}}
		if len(got) == 1 {
			if diff := cmp.Diff(wantData, got[0].Data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
		}
	})
}

// TestAssociationConcurrency: 8 goroutines append and remove links of one
// post; replaying its entries in order gives the final link set.
func TestAssociationConcurrency(t *testing.T) {
	const workers, ops = 8, 20
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		_, post := linkSetup(t, db, false)
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range ops {
					tag := tagsOf(int64((w+i)%4 + 1))
					a := db.Model(&Post{ID: post.ID}).Association("Tags")
					var err error
					for range 50 { // a deadlock (MariaDB's gap locks) is retried
						if i%2 == 0 {
							err = a.Append(tag)
						} else {
							err = a.Delete(tag)
						}
						if err == nil || !retryable(err) {
							break
						}
						a = db.Model(&Post{ID: post.ID}).Association("Tags")
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, e := range allEntries(t, db) {
			c := e.Changes["tags"]
			for _, k := range c.Old.([]any) {
				delete(set, k.(string))
			}
			for _, k := range c.New.([]any) {
				set[k.(string)] = true
			}
		}
		var ids []int64
		db.Table("post_tags").Where("post_id = ?", post.ID).Order("tag_id").Pluck("tag_id", &ids)
		want := map[string]bool{}
		for _, id := range ids {
			want[fmt.Sprint(id)] = true
		}
		if diff := cmp.Diff(want, set); diff != "" {
			t.Errorf("replayed links (-database +replayed):\n%s", diff)
		}
	})
}

func retryable(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "deadlock") || strings.Contains(s, "locked") || strings.Contains(s, "serializ")
}
