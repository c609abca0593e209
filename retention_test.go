package auditlog

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

type retItem struct {
	ID   int64
	Name string
}

// retentionCase is an entry of TestMaintainRetention and whether it stays.
type retentionCase struct {
	table  string
	action Action
	age    time.Duration
	keep   bool
	reason string
}

// TestMaintainRetention: each entry is governed by the most specific
// policy (model and action, model, action, all), expired entries go in
// batched deletes on every database, the others stay, and every policy's
// run is recorded in the run table, also when it removed nothing.
func TestMaintainRetention(t *testing.T) {
	day := 24 * time.Hour
	tests := []retentionCase{
		{"ret_items", ActionUpdate, 20 * day, false, "model and action: 10 days"},
		{"ret_items", ActionUpdate, 5 * day, true, "model and action: 10 days"},
		{"ret_items", ActionCreate, 20 * day, true, "model: 30 days"},
		{"ret_items", ActionCreate, 40 * day, false, "model: 30 days"},
		{"ret_items", ActionAccess, 40 * day, false, "model (30 days) before the plugin's access policy (90 days)"},
		{"others", ActionAccess, 100 * day, false, "access: 90 days"},
		{"others", ActionAccess, 80 * day, true, "access: 90 days"},
		{"others", ActionUpdate, 300 * day, true, "all: 365 days"},
		{"others", ActionUpdate, 400 * day, false, "all: 365 days"},
		{"others", "approve", 400 * day, false, "all: 365 days, a custom action"},
	}
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p, kept := retentionFixture(t, db, tests)
		runs, err := p.Maintain(context.Background(), db)
		if err != nil {
			t.Fatalf("Maintain: %v", err)
		}
		var got []int64
		db.Table(DefaultTable).Order("id").Pluck("id", &got)
		if !slices.Equal(got, kept) {
			t.Errorf("entries left %v, want %v", got, kept)
		}
		type run struct {
			Policy  string
			Removed int64
			Status  string
		}
		want := []run{
			{"table=ret_items action=update keep=240h0m0s", 1, "ok"},
			{"table=ret_items action=* keep=720h0m0s", 2, "ok"},
			{"table=* action=access keep=2160h0m0s", 1, "ok"},
			{"table=* action=* keep=8760h0m0s", 2, "ok"},
		}
		var gotRuns []run
		for _, r := range runs {
			gotRuns = append(gotRuns, run{r.Policy, r.Removed, r.Status})
		}
		if diff := cmp.Diff(want, gotRuns); diff != "" {
			t.Errorf("runs (-want +got):\n%s", diff)
		}
		if _, err := p.Maintain(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		var stored []RetentionRun
		db.Table(p.RetentionRunTable()).Order("id").Find(&stored)
		if len(stored) != 8 || stored[7].Status != "ok" || stored[7].Removed != 0 || stored[7].FinishedAt == nil ||
			!stored[0].Before.Equal(testNow.Add(-10*day)) {
			t.Errorf("run table: %+v", stored)
		}
	})
}

// TestMaintainWithoutPolicies: nothing is removed and no run table made.
func TestMaintainWithoutPolicies(t *testing.T) {
	db := openTestDB(t, "sqlite", nil)
	p := setup(t, db, nil)
	if runs, err := p.Maintain(context.Background(), db); err != nil || runs != nil {
		t.Errorf("Maintain: %v, %v", runs, err)
	}
	if db.Migrator().HasTable(p.RetentionRunTable()) {
		t.Error("run table created without policies")
	}
}

// retentionFixture installs a plugin with policies for every table (access:
// 90 days, all: 365 days) and for retItem (update: 10 days, all: 30 days)
// and writes the cases' entries; it returns the IDs that must stay.
func retentionFixture(t *testing.T, db *gorm.DB, tests []retentionCase) (*Plugin, []int64) {
	t.Helper()
	day := 24 * time.Hour
	p := New(WithClock(func() time.Time { return testNow }), AllowUnknownActions(),
		Retention(ActionAccess, 90*day), Retention(AnyAction, 365*day))
	if err := db.Use(p); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(&LogEntry{}, &retItem{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Register(&retItem{}, Retention(ActionUpdate, 10*day), Retention(AnyAction, 30*day)); err != nil {
		t.Fatal(err)
	}
	var kept []int64
	for _, tt := range tests {
		e := LogEntry{Table: tt.table, ObjectPK: "1", Action: tt.action, CreatedAt: testNow.Add(-tt.age)}
		if err := db.Create(&e).Error; err != nil {
			t.Fatal(err)
		}
		if tt.keep {
			kept = append(kept, e.ID)
		}
	}
	return p, kept
}

// TestMaintainFailureRecorded: a run stopped by its context is recorded
// "failed: ..." with what it removed; a sealed log refuses policies.
func TestMaintainFailureRecorded(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(WithClock(func() time.Time { return testNow }), Retention(AnyAction, time.Hour))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}); err != nil {
			t.Fatal(err)
		}
		db.Create(&LogEntry{Table: "t", ObjectPK: "1", Action: ActionCreate, CreatedAt: testNow.Add(-2 * time.Hour)})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// cancelled once the run is recorded, before its deletes
		err := db.Callback().Create().After("gorm:create").Register("test:cancel", func(tx *gorm.DB) {
			if tx.Statement.Table == p.RetentionRunTable() {
				cancel()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		runs, err := p.Maintain(ctx, db)
		if err == nil || len(runs) != 1 {
			t.Fatalf("Maintain with a cancelled context: %v, %v", runs, err)
		}
		var stored RetentionRun
		db.Table(p.RetentionRunTable()).Take(&stored)
		if !strings.HasPrefix(stored.Status, "failed: ") || stored.FinishedAt == nil {
			t.Errorf("run table: %+v", stored)
		}
		sealed := New(Sealing(SealConfig{}), Retention(AnyAction, time.Hour))
		if _, err := sealed.Maintain(context.Background(), db); !errors.Is(err, ErrSealedRetention) {
			t.Errorf("sealed: %v", err)
		}
	})
}

// TestMaintainBatches: more expired entries than one batch (1000) all go,
// the recent ones stay, on every database.
func TestMaintainBatches(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := New(WithClock(func() time.Time { return testNow }), Retention(ActionAccess, time.Hour))
		if err := db.Use(p); err != nil {
			t.Fatal(err)
		}
		if err := db.AutoMigrate(&LogEntry{}); err != nil {
			t.Fatal(err)
		}
		rows := make([]LogEntry, 2600)
		for i := range rows {
			rows[i] = LogEntry{Table: "t", ObjectPK: "1", Action: ActionAccess, CreatedAt: testNow.Add(-2 * time.Hour)}
			if i >= 2500 {
				rows[i].CreatedAt = testNow
			}
		}
		if err := db.CreateInBatches(rows, 500).Error; err != nil {
			t.Fatal(err)
		}
		runs, err := p.Maintain(context.Background(), db)
		if err != nil || len(runs) != 1 || runs[0].Removed != 2500 {
			t.Fatalf("Maintain: %+v, %v", runs, err)
		}
		var left int64
		db.Table(DefaultTable).Count(&left)
		if left != 100 {
			t.Errorf("%d entries left, want 100", left)
		}
	})
}
