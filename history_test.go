package auditlog

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Membership has a composite key of a string and an integer.
type Membership struct {
	OrgID  string `gorm:"primaryKey;size:36"`
	UserID int64  `gorm:"primaryKey;autoIncrement:false"`
	Role   string `gorm:"size:20"`
}

// Doc has a UUID text key.
type Doc struct {
	ID    string `gorm:"primaryKey;size:36"`
	Title string `gorm:"size:100"`
}

func TestCompositeAndTextKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, []any{&Membership{}, &Doc{}})
		ctx := context.Background()
		m := Membership{OrgID: "acme", UserID: 42, Role: "member"}
		steps := []func() error{
			func() error { return db.Create(&m).Error },
			func() error { return db.Create(&Membership{OrgID: "acme", UserID: 7, Role: "member"}).Error },
			func() error { return db.Model(&m).Update("role", "owner").Error },
			func() error {
				return db.Model(&Membership{}).Where("org_id = ?", "acme").Update("role", "admin").Error
			},
			func() error { return db.Delete(&m).Error },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		got, err := p.History(ctx, db, &Membership{OrgID: "acme", UserID: 42})
		if err != nil {
			t.Fatal(err)
		}
		const key = `["acme","42"]`
		want := []summary{
			{ActionDelete, key, Changes{"org_id": {"acme", nil}, "user_id": {num("42"), nil}, "role": {"admin", nil}}},
			{ActionUpdate, key, Changes{"role": {"owner", "admin"}}},
			{ActionUpdate, key, Changes{"role": {"member", "owner"}}},
			{ActionCreate, key, Changes{"org_id": {nil, "acme"}, "user_id": {nil, num("42")}, "role": {nil, "member"}}},
		}
		if diff := cmp.Diff(want, summarize(got)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}

		const id = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
		if err := db.Create(&Doc{ID: id, Title: "a"}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Save(&Doc{ID: id, Title: "b"}).Error; err != nil {
			t.Fatal(err)
		}
		got, err = p.History(ctx, db, &Doc{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		want = []summary{
			{ActionUpdate, id, Changes{"title": {"a", "b"}}},
			{ActionCreate, id, Changes{"id": {nil, id}, "title": {nil, "a"}}},
		}
		if diff := cmp.Diff(want, summarize(got)); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})
}

func TestHistoryErrors(t *testing.T) {
	db := openTestDB(t, "sqlite", nil)
	p := setup(t, db, []any{&Doc{}})
	ctx := context.Background()
	if _, err := p.History(ctx, db, &Doc{}); !errors.Is(err, ErrNoObjectKey) {
		t.Errorf("History of an object without key: %v, want %v", err, ErrNoObjectKey)
	}
	if _, err := p.History(ctx, db, &NoKey{}); !errors.Is(err, ErrNoPrimaryKey) {
		t.Errorf("History of a model without key: %v, want %v", err, ErrNoPrimaryKey)
	}
	if _, err := p.History(ctx, db, 42); err == nil {
		t.Error("History of an int: no error")
	}
	got, err := p.History(ctx, db, &Doc{ID: "never-written"})
	if err != nil || len(got) != 0 {
		t.Errorf("History of an unwritten object: %v, %v; want no entries", got, err)
	}
}

// Person is a fmt.Stringer whose String shows a masked field when PIN is set.
type Person struct {
	ID   int64
	Name string `gorm:"size:50"`
	PIN  string `gorm:"size:10"`
}

func (p *Person) String() string {
	if p.PIN != "" {
		return p.Name + " (PIN " + p.PIN + ")"
	}
	return p.Name
}

func TestEntryContextAndRepr(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, []any{&Person{}}, Mask("PIN"))
		ctx := WithRemoteAddr(WithCID(WithActor(context.Background(), "user-42"), "req-7f3a"), "203.0.113.9")
		tx := db.WithContext(ctx)
		ada := Person{Name: "Ada"}
		if err := tx.Create(&ada).Error; err != nil {
			t.Fatal(err)
		}
		if err := tx.Model(&ada).Update("pin", "1234").Error; err != nil {
			t.Fatal(err)
		}
		if err := tx.Delete(&ada).Error; err != nil {
			t.Fatal(err)
		}
		got, err := p.History(ctx, db, &ada)
		if err != nil {
			t.Fatal(err)
		}
		type meta struct{ Action, Table, Repr, Actor, CID, Remote string }
		var metas []meta
		for _, e := range got {
			metas = append(metas, meta{string(e.Action), e.Table, e.ObjectRepr, e.ActorID, e.CID, e.RemoteAddr})
			if !e.CreatedAt.Equal(testNow) {
				t.Errorf("CreatedAt %v, want the plugin clock's %v", e.CreatedAt, testNow)
			}
		}
		want := []meta{
			{"delete", "people", "Person(1)", "user-42", "req-7f3a", "203.0.113.9"},
			{"update", "people", "Person(1)", "user-42", "req-7f3a", "203.0.113.9"},
			{"create", "people", "Ada", "user-42", "req-7f3a", "203.0.113.9"},
		}
		if diff := cmp.Diff(want, metas); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}
