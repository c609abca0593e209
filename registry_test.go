package auditlog

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

type NoKey struct {
	Name string
}

type Account struct {
	ID       int64
	Email    string `gorm:"size:100"`
	Password string `gorm:"size:100"`
	Token    string `gorm:"size:100"`
	Balance  int
}

func TestRegisterErrors(t *testing.T) {
	tests := []struct {
		name    string
		model   any
		opts    []ModelOption
		wantErr error
		wantMsg string // a part of the message naming the model or field
	}{
		{name: "nil", model: nil, wantErr: ErrInvalidModel, wantMsg: "<nil>"},
		{name: "struct value", model: Account{}, wantErr: ErrInvalidModel, wantMsg: "auditlog.Account"},
		{name: "pointer to non-struct", model: new(int), wantErr: ErrInvalidModel, wantMsg: "*int"},
		{name: "slice", model: &[]Account{}, wantErr: ErrInvalidModel, wantMsg: "[]auditlog.Account"},
		{name: "no primary key", model: &NoKey{}, wantErr: ErrNoPrimaryKey, wantMsg: "NoKey"},
		{name: "unknown include", model: &Account{}, opts: []ModelOption{Include("Emial")}, wantErr: ErrUnknownField, wantMsg: `"Emial" in Include`},
		{name: "unknown exclude", model: &Account{}, opts: []ModelOption{Exclude("nope")}, wantErr: ErrUnknownField, wantMsg: `"nope" in Exclude`},
		{name: "unknown mask", model: &Account{}, opts: []ModelOption{Mask("Pasword")}, wantErr: ErrUnknownField, wantMsg: `Account: auditlog: unknown field "Pasword" in Mask`},
		{name: "unknown label", model: &Account{}, opts: []ModelOption{Label("X", "x")}, wantErr: ErrUnknownField, wantMsg: `"X" in Label`},
		{name: "empty label", model: &Account{}, opts: []ModelOption{Label("Email", " ")}, wantErr: ErrInvalidOption, wantMsg: "empty"},
		{name: "mask of an excluded field", model: &Account{}, opts: []ModelOption{Exclude("Password"), Mask("Password")}, wantErr: ErrInvalidOption, wantMsg: `Mask("Password")`},
		{name: "label of a field not included", model: &Account{}, opts: []ModelOption{Include("Email"), Label("balance", "Balance")}, wantErr: ErrInvalidOption, wantMsg: `Label("balance")`},
		{name: "nothing tracked", model: &Account{}, opts: []ModelOption{Include("Email"), Exclude("email"), Serialize()}, wantErr: ErrInvalidOption, wantMsg: "no field is tracked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			err := p.Register(tt.model, tt.opts...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Register: %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Register: %q does not contain %q", err, tt.wantMsg)
			}
			if tt.model != nil && p.Registered(tt.model) {
				t.Errorf("Registered after a failed Register")
			}
		})
	}
}

func TestRegisterUnregister(t *testing.T) {
	p := New()
	if p.Registered(&Account{}) {
		t.Fatal("registered before Register")
	}
	if err := p.Register(&Account{}, Include("email", "Balance"), Mask("Email"), Label("Balance", "Funds")); err != nil {
		t.Fatal(err)
	}
	if !p.Registered(&Account{}) || p.Registered(&Item{}) {
		t.Fatal("Registered wrong after Register")
	}
	p.Unregister(&Account{})
	if p.Registered(&Account{}) {
		t.Fatal("registered after Unregister")
	}
	p.Unregister(nil) // harmless
	// A nil option is ignored, as by New and Middleware.
	if err := p.Register(&Account{}, nil, Include("Email")); err != nil || !p.Registered(&Account{}) {
		t.Fatalf("Register with a nil option: %v", err)
	}
}

func TestModelOptions(t *testing.T) {
	tests := []struct {
		name    string
		plugin  []Option
		opts    []ModelOption
		want    Changes
		wantSnp JSONMap
	}{
		{
			name: "defaults track every column",
			want: Changes{"id": {nil, num("1")}, "email": {nil, "a@x.io"}, "password": {nil, "opensesame"}, "token": {nil, "tok-123456"}, "balance": {nil, num("5")}},
		},
		{
			name: "include by Go and column name",
			opts: []ModelOption{Include("Email", "balance")},
			want: Changes{"email": {nil, "a@x.io"}, "balance": {nil, num("5")}},
		},
		{
			name: "exclude wins over include",
			opts: []ModelOption{Include("Email", "Balance"), Exclude("balance")},
			want: Changes{"email": {nil, "a@x.io"}},
		},
		{
			name: "mask",
			opts: []ModelOption{Exclude("ID"), Mask("Password", "token")},
			want: Changes{"email": {nil, "a@x.io"}, "password": {nil, "*****esame"}, "token": {nil, "*****23456"}, "balance": {nil, num("5")}},
		},
		{
			name:   "plugin-wide mask and exclude",
			plugin: []Option{WithMask("Password"), WithExclude("Token", "NotAField")},
			opts:   []ModelOption{Exclude("ID")},
			want:   Changes{"email": {nil, "a@x.io"}, "password": {nil, "*****esame"}, "balance": {nil, num("5")}},
		},
		{
			name:    "serialize stores a masked snapshot",
			opts:    []ModelOption{Include("Email", "Password"), Mask("Password"), Serialize()},
			want:    Changes{"email": {nil, "a@x.io"}, "password": {nil, "*****esame"}},
			wantSnp: JSONMap{"email": "a@x.io", "password": "*****esame"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, db *gorm.DB) {
				p := New(tt.plugin...)
				if err := db.Use(p); err != nil {
					t.Fatal(err)
				}
				if err := db.AutoMigrate(&LogEntry{}, &Account{}); err != nil {
					t.Fatal(err)
				}
				if err := p.Register(&Account{}, tt.opts...); err != nil {
					t.Fatal(err)
				}
				if err := db.Create(&Account{Email: "a@x.io", Password: "opensesame", Token: "tok-123456", Balance: 5}).Error; err != nil {
					t.Fatal(err)
				}
				entries := allEntries(t, db)
				if len(entries) != 1 {
					t.Fatalf("%d entries, want 1", len(entries))
				}
				if diff := cmp.Diff(tt.want, entries[0].Changes); diff != "" {
					t.Errorf("changes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantSnp, entries[0].Snapshot); diff != "" {
					t.Errorf("snapshot (-want +got):\n%s", diff)
				}
			})
		})
	}
}

type Session struct {
	ID    int64
	Token string
}

func TestTrackAll(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(TrackAll(&Session{}))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}, &Account{}, &Session{}); err != nil {
			t.Fatal(err)
		}
		if !p.Registered(&Account{}) || p.Registered(&Session{}) || p.Registered(&LogEntry{}) {
			t.Fatalf("Registered: account %v session %v log %v, want true false false",
				p.Registered(&Account{}), p.Registered(&Session{}), p.Registered(&LogEntry{}))
		}
		// An explicit registration refines the model.
		if err := p.Register(&Account{}, Include("Email")); err != nil {
			t.Fatal(err)
		}
		db.Create(&Account{Email: "a@x.io", Balance: 1})
		db.Create(&Session{Token: "t"})
		want := []summary{{ActionCreate, "1", Changes{"email": {nil, "a@x.io"}}}}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

func TestWithTable(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(WithTable("account_history"))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := p.AutoMigrate(db); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&Account{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Register(&Account{}, Include("Balance")); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&Account{Balance: 3}).Error; err != nil {
			t.Fatal(err)
		}
		if db.Migrator().HasTable(&LogEntry{}) {
			t.Error("the default log table was created")
		}
		var got []LogEntry
		if err := db.Table("account_history").Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		want := []summary{{ActionCreate, "1", Changes{"balance": {nil, num("3")}}}}
		if diff := cmp.Diff(want, summarize(got)); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if !db.Migrator().HasIndex("account_history", "idx_account_history_object") {
			t.Error("the per-object index is missing")
		}
	})
}

// TestSerializeSnapshots: the snapshot is the tracked state after the change,
// and for a hard delete the state before it.
func TestSerializeSnapshots(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Item{}}, Include("Name", "Qty", "DeletedAt"), Serialize())
		it := Item{Name: "pen", Qty: 1}
		steps := []func() error{
			func() error { return db.Create(&it).Error },
			func() error { return db.Model(&it).Update("qty", gorm.Expr("qty + 1")).Error },
			func() error { return db.Delete(&it).Error },
			func() error { return db.Unscoped().Delete(&it).Error },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		var got []JSONMap
		for _, e := range allEntries(t, db) {
			got = append(got, e.Snapshot)
		}
		want := []JSONMap{
			{"name": "pen", "qty": num("1"), "deleted_at": nil},
			{"name": "pen", "qty": num("2"), "deleted_at": nil},
			{"name": "pen", "qty": num("2"), "deleted_at": nowText},
			{"name": "pen", "qty": num("2"), "deleted_at": nowText},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("snapshots (-want +got):\n%s", diff)
		}
	})
}
