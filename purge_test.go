package auditlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

func TestPurge(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db) // entries at testNow+0s (3 creates), +1s, +2s, +3s, +4s (note)
		ctx := context.Background()
		remaining := func() []string {
			page, err := p.Find(ctx, db, Query{Limit: MaxPageSize})
			if err != nil {
				t.Fatal(err)
			}
			return labels(page.Entries)
		}

		// Only updates of items, before +2s: bob's rename.
		n, err := p.Purge(ctx, db, testNow.Add(2*time.Second), PurgeOptions{Models: []any{&Item{}}, Actions: []Action{ActionUpdate}})
		if err != nil || n != 1 {
			t.Fatalf("purge updates: %d, %v; want 1", n, err)
		}
		want := []string{
			"note.publish notes 1 alice", "delete items 3 carol", "update items 2 alice",
			"create items 3 alice", "create items 2 alice", "create items 1 alice",
		}
		if diff := cmp.Diff(want, remaining()); diff != "" {
			t.Errorf("after purging updates (-want +got):\n%s", diff)
		}

		// Everything before +4s, two at a time, with progress.
		var progress []int64
		n, err = p.Purge(ctx, db, testNow.Add(4*time.Second), PurgeOptions{BatchSize: 2, Progress: func(d int64) { progress = append(progress, d) }})
		if err != nil || n != 5 {
			t.Fatalf("purge: %d, %v; want 5", n, err)
		}
		if diff := cmp.Diff([]int64{2, 4, 5}, progress); diff != "" {
			t.Errorf("progress (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want[:1], remaining()); diff != "" {
			t.Errorf("after purging (-want +got):\n%s", diff)
		}

		// Nothing left before the cut-off.
		if n, err := p.Purge(ctx, db, testNow.Add(4*time.Second), PurgeOptions{}); err != nil || n != 0 {
			t.Errorf("second purge: %d, %v; want 0", n, err)
		}
	})
}

// TestPurgeBatches checks that each batch is one SELECT of IDs and one
// DELETE by ID, whatever the total.
func TestPurgeBatches(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			rec := &sqlRecorder{}
			db := openTestDB(t, name, &gorm.Config{Logger: rec})
			p := setup(t, db, []any{&Item{}})
			if err := db.Create(make([]Item, 25)).Error; err != nil {
				t.Fatal(err)
			}
			rec.reset()
			n, err := p.Purge(context.Background(), db, testNow.Add(time.Hour), PurgeOptions{BatchSize: 10})
			if err != nil || n != 25 {
				t.Fatalf("purge: %d, %v; want 25", n, err)
			}
			want := []string{
				"SELECT audit_log_entries", "DELETE audit_log_entries",
				"SELECT audit_log_entries", "DELETE audit_log_entries",
				"SELECT audit_log_entries", "DELETE audit_log_entries",
			}
			if diff := cmp.Diff(want, rec.kinds(), anyOrder); diff != "" {
				t.Errorf("statements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPurgeErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := seedHistory(t, db)
		ctx := context.Background()
		cut := testNow.Add(time.Hour)
		tests := []struct {
			name   string
			before time.Time
			opts   PurgeOptions
			want   error
		}{
			{name: "no cut-off", opts: PurgeOptions{}, want: ErrInvalidQuery},
			{name: "batch too large", before: cut, opts: PurgeOptions{BatchSize: 10001}, want: ErrInvalidQuery},
			{name: "negative batch", before: cut, opts: PurgeOptions{BatchSize: -1}, want: ErrInvalidQuery},
			{name: "bad model", before: cut, opts: PurgeOptions{Models: []any{"items"}}, want: ErrInvalidModel},
			{name: "bad action", before: cut, opts: PurgeOptions{Actions: []Action{"x y"}}, want: ErrInvalidAction},
		}
		for _, tt := range tests {
			if n, err := p.Purge(ctx, db, tt.before, tt.opts); !errors.Is(err, tt.want) || n != 0 {
				t.Errorf("%s: %d, %v; want 0, %v", tt.name, n, err, tt.want)
			}
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := p.Purge(cancelled, db, cut, PurgeOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
		if page, _ := p.Find(ctx, db, Query{}); len(page.Entries) != 7 {
			t.Errorf("%d entries left after failed purges, want 7", len(page.Entries))
		}
	})
}
