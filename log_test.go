package auditlog

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// Note is a model that is never registered.
type Note struct {
	ID   int64
	Body string `gorm:"size:100"`
}

func (n *Note) String() string { return "Note: " + n.Body }

// Login is a Stringer whose label reveals the masked field.
type Login struct {
	ID       int64
	Name     string `gorm:"size:100"`
	Password string `gorm:"size:100"`
}

func (a *Login) String() string { return a.Name + " / " + a.Password }

// logged is the part of an entry that Log decides.
type logged struct {
	Action     Action
	Table, PK  string
	Repr       string
	Actor, CID string
	Data       JSONMap
	Changes    Changes
}

func loggedEntries(entries []LogEntry) []logged {
	var out []logged
	for _, e := range entries {
		out = append(out, logged{e.Action, e.Table, e.ObjectPK, e.ObjectRepr, e.ActorID, e.CID, e.Data, e.Changes})
	}
	return out
}

func TestLog(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, []any{&Login{}}, Mask("Password"))
		if err := db.AutoMigrate(&Note{}); err != nil {
			t.Fatal(err)
		}
		if err := p.DefineAction("note.publish", "Published", "{actor} published {object}"); err != nil {
			t.Fatal(err)
		}
		ctx := WithCID(WithActor(context.Background(), "alice"), "job-1")
		notes := []Note{{Body: "a"}, {Body: "b"}}
		acct := Login{Name: "ops", Password: "hunter2hunter2"}
		if err := db.Create(&notes).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&acct).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)

		// An unregistered object, a slice in one call, a registered object
		// with a masked field, and work in a transaction that commits and
		// one that rolls back.
		if err := p.Log(ctx, db, &notes[0], "note.publish", map[string]any{"channel": "web"}); err != nil {
			t.Fatal(err)
		}
		if err := p.Log(ctx, db, &notes, "note.publish", nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Log(ctx, db, &acct, "note.publish", map[string]any{"note": "password was hunter2hunter2", "pin": acct.Password}); err != nil {
			t.Fatal(err)
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			return p.Log(ctx, tx, &notes[1], ActionAccess, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		errRollback := errors.New("rollback")
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := p.Log(ctx, tx, &notes[0], ActionAccess, nil); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("transaction: %v", err)
		}
		if err := p.Log(ctx, db.Session(&gorm.Session{DryRun: true}), &notes[0], ActionAccess, nil); err != nil {
			t.Fatal(err)
		}

		base := logged{Action: "note.publish", Table: "notes", Actor: "alice", CID: "job-1"}
		with := func(pk, repr string, data JSONMap) logged {
			l := base
			l.PK, l.Repr, l.Data = pk, repr, data
			return l
		}
		access := with("2", "Note: b", nil)
		access.Action = ActionAccess
		want := []logged{
			with("1", "Note: a", JSONMap{"channel": "web"}),
			with("1", "Note: a", nil),
			with("2", "Note: b", nil),
			{Action: "note.publish", Table: "logins", PK: "1", Repr: "Login(1)", Actor: "alice", CID: "job-1",
				Data: JSONMap{"note": "password was *******hunter2", "pin": "*******hunter2"}},
			access,
		}
		if diff := cmp.Diff(want, loggedEntries(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

func TestLogErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, nil)
		if err := db.AutoMigrate(&Note{}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		type keyless struct{ Body string }
		tests := []struct {
			name   string
			obj    any
			action Action
			want   error
		}{
			{name: "undefined action", obj: &Note{ID: 1}, action: "note.publish", want: ErrUnknownAction},
			{name: "malformed action", obj: &Note{ID: 1}, action: "note publish", want: ErrInvalidAction},
			{name: "nil object", obj: nil, action: ActionAccess, want: ErrInvalidModel},
			{name: "not a model", obj: 42, action: ActionAccess, want: ErrInvalidModel},
			{name: "no key value", obj: &Note{Body: "new"}, action: ActionAccess, want: ErrNoObjectKey},
			{name: "no key value in a slice", obj: &[]Note{{ID: 1}, {}}, action: ActionAccess, want: ErrNoObjectKey},
			{name: "model without a primary key", obj: &keyless{Body: "x"}, action: ActionAccess, want: ErrNoPrimaryKey},
		}
		for _, tt := range tests {
			err := p.Log(ctx, db, tt.obj, tt.action, nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: Log = %v, want %v", tt.name, err, tt.want)
			}
		}
		if n := len(allEntries(t, db)); n != 0 {
			t.Errorf("%d entries written by failing calls", n)
		}

		// A data value that cannot be encoded fails the call.
		err := p.Log(ctx, db, &Note{ID: 1}, ActionAccess, map[string]any{"f": func() {}})
		if err == nil {
			t.Error("Log with data that cannot be encoded succeeded")
		}

		// AllowUnknownActions accepts any valid name.
		open := New(AllowUnknownActions())
		if err := open.Log(ctx, db, &Note{ID: 1}, "note.archive", nil); err != nil {
			t.Errorf("AllowUnknownActions: %v", err)
		}
		if err := open.Log(ctx, db, &Note{ID: 1}, "note archive", nil); !errors.Is(err, ErrInvalidAction) {
			t.Errorf("AllowUnknownActions with a malformed name: %v, want ErrInvalidAction", err)
		}
		if got := loggedEntries(allEntries(t, db)); len(got) != 1 || got[0].Action != "note.archive" {
			t.Errorf("entries: %v, want one note.archive", got)
		}
	})
}

// TestAccessLogging checks LogAccess: one access entry per row read through
// the query chain, in one INSERT per query.
func TestAccessLogging(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			rec := &sqlRecorder{}
			db := openTestDB(t, name, &gorm.Config{Logger: rec})
			p := setup(t, db, []any{&Item{}}, RecordAccess(), Mask("Secret"))
			seedItems(t, db)
			ctx := WithActor(context.Background(), "auditor")
			read := db.WithContext(ctx)
			steps := []struct {
				name  string
				do    func() error
				pks   []string
				stmts []string
			}{
				{
					name:  "First",
					do:    func() error { var it Item; return read.First(&it, 2).Error },
					pks:   []string{"2"},
					stmts: []string{"SELECT items", "INSERT audit_log_entries"},
				},
				{
					name:  "Find of three rows: one INSERT",
					do:    func() error { var its []Item; return read.Order("id").Find(&its).Error },
					pks:   []string{"1", "2", "3"},
					stmts: []string{"SELECT items", "INSERT audit_log_entries"},
				},
				{
					name:  "not found",
					do:    func() error { var it Item; return read.Where("id = ?", 99).Find(&it).Error },
					stmts: []string{"SELECT items"},
				},
				{
					name: "Count and Pluck are not row reads",
					do: func() error {
						var n int64
						var names []string
						_ = read.Model(&Item{}).Count(&n)
						return read.Model(&Item{}).Pluck("name", &names).Error
					},
					stmts: []string{"SELECT items", "SELECT items"},
				},
				{
					name:  "explicit LogAccess",
					do:    func() error { return p.LogAccess(ctx, db, &Item{ID: 3}) },
					pks:   []string{"3"},
					stmts: []string{"INSERT audit_log_entries"},
				},
				{
					name:  "Disable",
					do:    func() error { var its []Item; return db.WithContext(Disable(ctx)).Find(&its).Error },
					stmts: []string{"SELECT items"},
				},
			}
			for _, step := range steps {
				clearEntries(t, db)
				rec.reset()
				if err := step.do(); err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				if diff := cmp.Diff(step.stmts, rec.kinds(), anyOrder); diff != "" {
					t.Errorf("%s: statements (-want +got):\n%s", step.name, diff)
				}
				var pks []string
				for _, e := range allEntries(t, db) {
					if e.Action != ActionAccess || e.ActorID != "auditor" || e.Changes != nil {
						t.Errorf("%s: entry %+v", step.name, e)
					}
					pks = append(pks, e.ObjectPK)
				}
				if diff := cmp.Diff(step.pks, pks); diff != "" {
					t.Errorf("%s: accessed keys (-want +got):\n%s", step.name, diff)
				}
			}

			// A row read without its key cannot be logged: the query fails.
			var names []Item
			err := read.Select("name").Find(&names).Error
			if !errors.Is(err, ErrUnidentifiedRow) {
				t.Errorf("select without the key: %v, want ErrUnidentifiedRow", err)
			}
		})
	}
}

// TestActionsOption checks that actions a model does not record cost no
// statement and write no entry.
func TestActionsOption(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			rec := &sqlRecorder{}
			db := openTestDB(t, name, &gorm.Config{Logger: rec})
			setup(t, db, []any{&Item{}}, Actions(ActionDelete))
			rec.reset()
			item := Item{Name: "pen"}
			if err := db.Create(&item).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Model(&item).Update("qty", 2).Error; err != nil {
				t.Fatal(err)
			}
			var read Item
			if err := db.First(&read, item.ID).Error; err != nil {
				t.Fatal(err)
			}
			want := []string{"INSERT items", "UPDATE items", "SELECT items"}
			if diff := cmp.Diff(want, rec.kinds(), anyOrder); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
			if err := db.Delete(&item).Error; err != nil {
				t.Fatal(err)
			}
			got := summarize(allEntries(t, db))
			if len(got) != 1 || got[0].Action != ActionDelete {
				t.Errorf("entries %v, want one delete", got)
			}
		})
	}
}

func TestActionsOptionErrors(t *testing.T) {
	p := New()
	for _, opts := range [][]ModelOption{{Actions()}, {Actions("publish")}, {Actions(ActionCreate, "")}} {
		if err := p.Register(&Item{}, opts...); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("Register with %d options: %v, want ErrInvalidOption", len(opts), err)
		}
	}
	if err := p.Register(&Item{}, Actions(ActionCreate), Actions(ActionAccess)); err != nil {
		t.Errorf("Actions(create), Actions(access): %v", err)
	}
}
