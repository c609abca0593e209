package auditlog

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

func TestContextValues(t *testing.T) {
	bg := context.Background()
	slotted := withRequest(bg, "", "198.51.100.7", "req-1")
	tests := []struct {
		name                   string
		ctx                    func() context.Context
		actor, cid, remoteAddr string
	}{
		{name: "empty", ctx: func() context.Context { return bg }},
		{
			name:  "explicit values",
			ctx:   func() context.Context { return WithRemoteAddr(WithCID(WithActor(bg, "alice"), "job-9"), "203.0.113.9") },
			actor: "alice", cid: "job-9", remoteAddr: "203.0.113.9",
		},
		{
			name:  "later With calls replace earlier ones",
			ctx:   func() context.Context { return WithActor(WithActor(bg, "alice"), "bob") },
			actor: "bob",
		},
		{
			name:  "the middleware's actor",
			ctx:   func() context.Context { return withRequest(bg, "carol", "198.51.100.7", "req-1") },
			actor: "carol", cid: "req-1", remoteAddr: "198.51.100.7",
		},
		{
			name: "SetActor fills the slot for contexts derived before the call",
			ctx: func() context.Context {
				derived := WithCID(slotted, "req-2")
				if !SetActor(slotted, "dave") {
					t.Fatal("SetActor on a middleware context reported false")
				}
				return derived
			},
			actor: "dave", cid: "req-2", remoteAddr: "198.51.100.7",
		},
		{
			name: "an explicit actor wins over the slot, also when SetActor comes later",
			ctx: func() context.Context {
				ctx := WithActor(withRequest(bg, "carol", "", ""), "erin")
				SetActor(ctx, "frank")
				return ctx
			},
			actor: "erin",
		},
		{
			name: "an explicit empty actor wins too",
			ctx: func() context.Context {
				return WithActor(withRequest(bg, "carol", "", ""), "")
			},
			actor: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx()
			got := []string{ActorFrom(ctx), CIDFrom(ctx), RemoteAddrFrom(ctx)}
			want := []string{tt.actor, tt.cid, tt.remoteAddr}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("actor, cid, remote addr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetActorWithoutMiddleware(t *testing.T) {
	ctx := WithActor(context.Background(), "alice")
	if SetActor(ctx, "bob") {
		t.Error("SetActor reported true for a context without the middleware's slot")
	}
	if got := ActorFrom(ctx); got != "alice" {
		t.Errorf("actor %q, want alice", got)
	}
}

func TestSetActorConcurrent(t *testing.T) {
	ctx := withRequest(context.Background(), "", "", "")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			SetActor(ctx, "same")
			_ = ActorFrom(ctx)
		}()
	}
	wg.Wait()
	if got := ActorFrom(ctx); got != "same" {
		t.Errorf("actor %q, want same", got)
	}
}

func TestWithData(t *testing.T) {
	in := map[string]any{"source": "import", "batch": 1}
	ctx := WithData(context.Background(), in)
	in["source"] = "changed after the call"
	ctx = WithData(ctx, map[string]any{"batch": 2, "file": "a.csv"})
	got := DataFrom(ctx)
	want := map[string]any{"source": "import", "batch": 2, "file": "a.csv"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	got["file"] = "mutated copy"
	if DataFrom(ctx)["file"] != "a.csv" {
		t.Error("DataFrom returned the context's own map")
	}
	if DataFrom(context.Background()) != nil {
		t.Error("DataFrom of an empty context is not nil")
	}
}

func TestDisabled(t *testing.T) {
	bg := context.Background()
	if Disabled(bg) {
		t.Error("background context is disabled")
	}
	ctx := WithActor(Disable(bg), "alice")
	if !Disabled(ctx) {
		t.Error("a context derived from Disable is not disabled")
	}
	if ActorFrom(ctx) != "alice" {
		t.Error("Disable lost the actor")
	}
}

// TestContextInEntries checks that every entry made under a context carries
// its actor, correlation id, remote address and data, for tracked writes and
// for Log, so that one request can be followed as a unit.
func TestContextInEntries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setup(t, db, []any{&Item{}}, Mask("Secret"))
		ctx := WithData(WithRemoteAddr(WithCID(WithActor(context.Background(), "alice"), "req-7f3a"), "203.0.113.9"),
			map[string]any{"reason": "ticket 12"})
		tx := db.WithContext(ctx)
		item := Item{Name: "pen", Secret: "confidential"}
		if err := tx.Create(&item).Error; err != nil {
			t.Fatal(err)
		}
		if err := tx.Model(&item).Update("qty", 4).Error; err != nil {
			t.Fatal(err)
		}
		if err := p.Log(ctx, db, &item, ActionAccess, map[string]any{"view": "detail"}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Delete(&item).Error; err != nil {
			t.Fatal(err)
		}
		type row struct {
			Action                 Action
			Actor, CID, RemoteAddr string
			Data                   JSONMap
		}
		var got []row
		for _, e := range allEntries(t, db) {
			got = append(got, row{e.Action, e.ActorID, e.CID, e.RemoteAddr, e.Data})
		}
		base := row{Actor: "alice", CID: "req-7f3a", RemoteAddr: "203.0.113.9", Data: JSONMap{"reason": "ticket 12"}}
		with := func(a Action, data JSONMap) row { r := base; r.Action = a; r.Data = data; return r }
		want := []row{
			with(ActionCreate, base.Data),
			with(ActionUpdate, base.Data),
			with(ActionAccess, JSONMap{"reason": "ticket 12", "view": "detail"}),
			with(ActionDelete, base.Data),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// TestDisable checks that writes under Disable are made without reads,
// locks or entries, and that tracking resumes outside it.
func TestDisable(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			rec := &sqlRecorder{}
			db := openTestDB(t, name, &gorm.Config{Logger: rec})
			setup(t, db, []any{&Item{}}, RecordAccess())
			off := db.WithContext(Disable(context.Background()))
			rec.reset()
			items := []Item{{Name: "pen"}, {Name: "ink"}}
			steps := []func() error{
				func() error { return off.Create(&items).Error },
				func() error { return off.Model(&items[0]).Update("qty", 2).Error },
				func() error { return off.Model(&Item{}).Where("qty = ?", 0).Update("qty", 3).Error },
				func() error { var got []Item; return off.Find(&got).Error },
				func() error { return off.Delete(&items[0]).Error },
				func() error { return off.Unscoped().Where("1 = 1").Delete(&Item{}).Error },
			}
			for i, step := range steps {
				if err := step(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			want := []string{"INSERT items", "UPDATE items", "UPDATE items", "SELECT items", "UPDATE items", "DELETE items"}
			if diff := cmp.Diff(want, rec.kinds(), anyOrder); diff != "" {
				t.Errorf("statements under Disable (-want +got):\n%s", diff)
			}
			if n := len(allEntries(t, db)); n != 0 {
				t.Errorf("%d entries under Disable, want 0", n)
			}
			if err := db.Create(&Item{Name: "tracked"}).Error; err != nil {
				t.Fatal(err)
			}
			if got := summarize(allEntries(t, db)); len(got) != 1 || got[0].Action != ActionCreate {
				t.Errorf("entries after Disable: %v, want one create", got)
			}
		})
	}
}
