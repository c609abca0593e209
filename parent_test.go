package auditlog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

type Bill struct {
	ID    int64
	Ref   string     `gorm:"size:20"`
	Code  string     `gorm:"size:20"`
	Lines []BillLine `gorm:"foreignKey:BillID"`
}

type BillLine struct {
	ID     int64
	BillID *int64
	Bill   *Bill
	SKU    string `gorm:"size:20"`
}

// BillNote's belongs-to references Bill's Code, not its key.
type BillNote struct {
	ID       int64
	BillCode string `gorm:"size:20"`
	Bill     Bill   `gorm:"foreignKey:BillCode;references:Code"`
}

// WriteOnlyLine's foreign key is never read (->:false).
type WriteOnlyLine struct {
	ID     int64
	BillID int64 `gorm:"->:false;<-:create"`
	Bill   *Bill
}

// Shipment has a composite key; Parcel belongs to it.
type Shipment struct {
	Region string `gorm:"primaryKey;size:8"`
	No     int64  `gorm:"primaryKey;autoIncrement:false"`
	Note   string `gorm:"size:20"`
}

type Parcel struct {
	ID             int64
	ShipmentRegion string   `gorm:"size:8"`
	ShipmentNo     int64    `gorm:"not null"`
	Shipment       Shipment `gorm:"foreignKey:ShipmentRegion,ShipmentNo"`
	Weight         int
}

func TestParentRegisterErrors(t *testing.T) {
	tests := []struct {
		name    string
		model   any
		opts    []ModelOption
		wantMsg string
	}{
		{name: "no such field", model: &BillLine{}, opts: []ModelOption{Parent("Order")}, wantMsg: `Parent("Order") names no belongs-to field`},
		{name: "a plain field", model: &BillLine{}, opts: []ModelOption{Parent("SKU")}, wantMsg: `Parent("SKU") names no belongs-to field`},
		{name: "empty", model: &BillLine{}, opts: []ModelOption{Parent("")}, wantMsg: `Parent("") names no belongs-to field`},
		{name: "has-many", model: &Bill{}, opts: []ModelOption{Parent("Lines")}, wantMsg: `Parent("Lines") names no belongs-to field`},
		{name: "references another column", model: &BillNote{}, opts: []ModelOption{Parent("Bill")},
			wantMsg: `Parent("Bill"): its foreign key must reference Bill's primary key`},
		{name: "unreadable foreign key", model: &WriteOnlyLine{}, opts: []ModelOption{Parent("Bill")},
			wantMsg: `Parent("Bill"): its foreign key is not a column the plugin can read`},
		{name: "masked foreign key", model: &BillLine{}, opts: []ModelOption{Parent("Bill"), Mask("BillID")},
			wantMsg: `Parent("Bill"): its foreign key BillID is masked or redacted`},
		{name: "redacted foreign key", model: &Parcel{}, opts: []ModelOption{Parent("Shipment"), Redact("shipment_no")},
			wantMsg: `Parent("Shipment"): its foreign key ShipmentNo is masked or redacted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			err := p.Register(tt.model, tt.opts...)
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("Register: %v, want ErrInvalidOption", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Register: %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
	// Plugin-wide masking of the foreign key is refused the same way.
	if err := New(WithMask("bill_id")).Register(&BillLine{}, Parent("Bill")); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Register with WithMask of the foreign key: %v, want ErrInvalidOption", err)
	}
}

// parentEntry is the part of an entry a parent test asserts.
type parentEntry struct {
	ID                    int64
	Table, PK             string
	Action                Action
	ParentTable, ParentPK string
	Changes               Changes
}

func parentEntries(entries []LogEntry) []parentEntry {
	out := make([]parentEntry, len(entries))
	for i, e := range entries {
		out[i] = parentEntry{e.ID, e.Table, e.ObjectPK, e.Action, e.ParentTable, e.ParentPK, e.Changes}
	}
	return out
}

// billHistory writes, one second apart (IDs 1..10):
//
//	1 create bill 1         6 update line 1 (sku)
//	2 create bill 2         7 move line 2 to bill 2
//	3 create line 1 of bill 1  8 update, by a Where, the lines of bill 2
//	4 create line 2 of bill 1  9 delete line 1
//	5 update bill 1         10 create line 3 without an bill
//
// BillLine is registered with Parent("Bill") and Exclude("BillID"):
// the foreign key is tracked all the same.
func billHistory(t *testing.T, db *gorm.DB) *Plugin {
	t.Helper()
	p := setupWith(t, db, []Option{WithClock(tickingClock())}, []any{&Bill{}, &BillLine{}})
	if err := p.Register(&BillLine{}, Parent("Bill"), Exclude("BillID")); err != nil {
		t.Fatal(err)
	}
	one, two := int64(1), int64(2)
	steps := []func() error{
		func() error { return db.Create(&Bill{Ref: "A"}).Error },
		func() error { return db.Create(&Bill{Ref: "B"}).Error },
		func() error { return db.Create(&BillLine{BillID: &one, SKU: "pen"}).Error },
		func() error { return db.Create(&BillLine{BillID: &one, SKU: "ink"}).Error },
		func() error { return db.Model(&Bill{ID: 1}).Update("ref", "A2").Error },
		func() error { return db.Model(&BillLine{ID: 1}).Update("sku", "quill").Error },
		func() error { return db.Model(&BillLine{ID: 2}).Update("bill_id", two).Error },
		func() error { return db.Model(&BillLine{}).Where("bill_id = ?", 2).Update("sku", "ink2").Error },
		func() error { return db.Delete(&BillLine{ID: 1}).Error },
		func() error { return db.Create(&BillLine{SKU: "loose"}).Error },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	return p
}

func wantBillEntries() []parentEntry {
	const lines, inv = "bill_lines", "bills"
	return []parentEntry{
		{1, inv, "1", ActionCreate, "", "", Changes{"id": {nil, num("1")}, "ref": {nil, "A"}, "code": {nil, ""}}},
		{2, inv, "2", ActionCreate, "", "", Changes{"id": {nil, num("2")}, "ref": {nil, "B"}, "code": {nil, ""}}},
		{3, lines, "1", ActionCreate, inv, "1", Changes{"id": {nil, num("1")}, "bill_id": {nil, num("1")}, "sku": {nil, "pen"}}},
		{4, lines, "2", ActionCreate, inv, "1", Changes{"id": {nil, num("2")}, "bill_id": {nil, num("1")}, "sku": {nil, "ink"}}},
		{5, inv, "1", ActionUpdate, "", "", Changes{"ref": {"A", "A2"}}},
		{6, lines, "1", ActionUpdate, inv, "1", Changes{"sku": {"pen", "quill"}}},
		{7, lines, "2", ActionUpdate, inv, "2", Changes{"bill_id": {num("1"), num("2")}}},
		{8, lines, "2", ActionUpdate, inv, "2", Changes{"sku": {"ink", "ink2"}}},
		{9, lines, "1", ActionDelete, inv, "1", Changes{"id": {num("1"), nil}, "bill_id": {num("1"), nil}, "sku": {"quill", nil}}},
		{10, lines, "3", ActionCreate, "", "", Changes{"id": {nil, num("3")}, "sku": {nil, "loose"}}},
	}
}

// pick returns the entries of want with these IDs, in this order.
func pickEntries(want []parentEntry, ids ...int64) []parentEntry {
	var out []parentEntry
	for _, id := range ids {
		out = append(out, want[id-1])
	}
	return out
}

// TestParentEntries: each entry of a child carries its parent's table and
// key as the row holds it: new for create and update (a move goes to the
// new parent), old for delete, none without a parent; Find with Children
// and History with WithChildren give the parent's and its children's
// entries in one stream.
func TestParentEntries(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := billHistory(t, db)
		want := wantBillEntries()
		if diff := cmp.Diff(want, parentEntries(allEntries(t, db))); diff != "" {
			t.Fatalf("entries (-want +got):\n%s", diff)
		}
		ctx := context.Background()
		for _, tt := range []struct {
			bill int64
			want []int64
		}{{1, []int64{9, 6, 5, 4, 3, 1}}, {2, []int64{8, 7, 2}}} {
			page, err := p.Find(ctx, db, Query{Objects: &Bill{ID: tt.bill}, Children: true})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pickEntries(want, tt.want...), parentEntries(page.Entries)); diff != "" {
				t.Errorf("Find children of bill %d (-want +got):\n%s", tt.bill, diff)
			}
			hist, err := p.History(ctx, db, &Bill{ID: tt.bill}, WithChildren())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pickEntries(want, tt.want...), parentEntries(hist)); diff != "" {
				t.Errorf("History WithChildren of bill %d (-want +got):\n%s", tt.bill, diff)
			}
		}
		// Without Children: the bill's own entries only.
		hist, err := p.History(ctx, db, &Bill{ID: 1})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pickEntries(want, 5, 1), parentEntries(hist)); diff != "" {
			t.Errorf("History of bill 1 (-want +got):\n%s", diff)
		}
		// Several parents, other filters apply to both branches.
		page, err := p.Find(ctx, db, Query{Objects: &[]Bill{{ID: 1}, {ID: 2}}, Children: true, Actions: []Action{ActionUpdate}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pickEntries(want, 8, 7, 6, 5), parentEntries(page.Entries)); diff != "" {
			t.Errorf("Find updates of both bills' timelines (-want +got):\n%s", diff)
		}
	})
}

// TestParentPaging: the mixed stream of a parent and its children pages by
// keyset across page boundaries, both ways and in both orders.
func TestParentPaging(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := billHistory(t, db)
		want := wantBillEntries()
		ctx := context.Background()
		for _, tt := range []struct {
			oldest bool
			pages  [][]int64
		}{
			{false, [][]int64{{9, 6}, {5, 4}, {3, 1}}},
			{true, [][]int64{{1, 3}, {4, 5}, {6, 9}}},
		} {
			q := Query{Objects: &Bill{ID: 1}, Children: true, Limit: 2, Oldest: tt.oldest}
			var prevs []string
			for i, ids := range tt.pages {
				page, err := p.Find(ctx, db, q)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(pickEntries(want, ids...), parentEntries(page.Entries)); diff != "" {
					t.Errorf("oldest %v, page %d (-want +got):\n%s", tt.oldest, i+1, diff)
				}
				if last := i == len(tt.pages)-1; last != (page.Next == "") {
					t.Errorf("oldest %v, page %d: Next %q", tt.oldest, i+1, page.Next)
				}
				prevs = append(prevs, page.Prev)
				q.Cursor = page.Next
			}
			// Back from the last page to the one before it.
			q.Cursor = prevs[len(prevs)-1]
			page, err := p.Find(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pickEntries(want, tt.pages[1]...), parentEntries(page.Entries)); diff != "" {
				t.Errorf("oldest %v, back a page (-want +got):\n%s", tt.oldest, diff)
			}
			// A cursor of the query without Children is not one of this query.
			plain, err := p.Find(ctx, db, Query{Objects: &Bill{ID: 1}, Limit: 1, Oldest: tt.oldest})
			if err != nil {
				t.Fatal(err)
			}
			q.Cursor = plain.Next
			if _, err := p.Find(ctx, db, q); !errors.Is(err, ErrInvalidCursor) {
				t.Errorf("Find with another query's cursor: %v, want ErrInvalidCursor", err)
			}
		}
	})
}

// TestParentCompositeKey: a parent with a composite key is named in
// ObjectPK form, a JSON array of its key columns' texts.
func TestParentCompositeKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setupWith(t, db, []Option{WithClock(tickingClock())}, []any{&Shipment{}, &Parcel{}})
		if err := p.Register(&Parcel{}, Parent("Shipment")); err != nil {
			t.Fatal(err)
		}
		for _, s := range []Shipment{{Region: "eu", No: 7}, {Region: "eu", No: 8}} {
			if err := db.Create(&s).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Create(&Parcel{ShipmentRegion: "eu", ShipmentNo: 7, Weight: 3}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&Parcel{ID: 1}).Update("shipment_no", 8).Error; err != nil {
			t.Fatal(err)
		}
		want := []parentEntry{
			{3, "parcels", "1", ActionCreate, "shipments", `["eu","7"]`,
				Changes{"id": {nil, num("1")}, "shipment_region": {nil, "eu"}, "shipment_no": {nil, num("7")}, "weight": {nil, num("3")}}},
			{1, "shipments", `["eu","7"]`, ActionCreate, "", "", Changes{"region": {nil, "eu"}, "no": {nil, num("7")}, "note": {nil, ""}}},
		}
		page, err := p.Find(context.Background(), db, Query{Objects: &Shipment{Region: "eu", No: 7}, Children: true})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, parentEntries(page.Entries)); diff != "" {
			t.Errorf("timeline of shipment eu/7 (-want +got):\n%s", diff)
		}
		page, err = p.Find(context.Background(), db, Query{Table: "shipments", ObjectPKs: []string{`["eu","8"]`}, Children: true})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs := []int64{4, 2}
		var got []int64
		for _, e := range page.Entries {
			got = append(got, e.ID)
		}
		if diff := cmp.Diff(wantIDs, got); diff != "" {
			t.Errorf("timeline of shipment eu/8 by ObjectPKs (-want +got):\n%s", diff)
		}
	})
}

func TestFindChildrenErrors(t *testing.T) {
	db := openTestDB(t, "sqlite", nil)
	p := setup(t, db, []any{&Bill{}})
	tests := []struct {
		name    string
		q       Query
		wantMsg string
	}{
		{"no objects", Query{Children: true}, "Children needs Objects"},
		{"model only", Query{Model: &Bill{}, Children: true}, "Children needs Objects"},
		{"with field", Query{Objects: &Bill{ID: 1}, Children: true, Field: "Ref"}, "Children cannot be combined with Field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Find(context.Background(), db, tt.q)
			if !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Find: %v, want ErrInvalidQuery with %q", err, tt.wantMsg)
			}
		})
	}
}

type Project struct {
	ID   int64
	Name string `gorm:"size:20"`
}

type Task struct {
	ID        int64
	ProjectID int64
	Project   *Project
	Title     string  `gorm:"size:20"`
	Badges    []Badge `gorm:"many2many:task_badges"`
}

type Badge struct {
	ID   int64
	Name string `gorm:"size:20"`
}

// TestParentLinks: an entry of association changes alone (Associations)
// carries the parent the child's row holds, read by key.
func TestParentLinks(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		p := setupWith(t, db, nil, []any{&Project{}, &Badge{}, &Task{}})
		if err := p.Register(&Task{}, Parent("Project"), Associations("Badges")); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&[]Project{{Name: "p1"}, {Name: "p2"}}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&[]Badge{{Name: "a"}, {Name: "b"}}).Error; err != nil {
			t.Fatal(err)
		}
		tasks := []Task{{ProjectID: 1, Title: "t1"}, {ProjectID: 2, Title: "t2"}}
		if err := db.Create(&tasks).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		if err := db.Model(&Task{ID: 1}).Association("Badges").Append(&Badge{ID: 1}, &Badge{ID: 2}); err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&Task{ID: 2}).Association("Badges").Append(&Badge{ID: 1}); err != nil {
			t.Fatal(err)
		}
		if err := db.Model(&Task{ID: 1}).Association("Badges").Clear(); err != nil {
			t.Fatal(err)
		}
		var got []parentEntry
		for _, e := range parentEntries(allEntries(t, db)) {
			e.ID = 0
			got = append(got, e)
		}
		want := []parentEntry{
			{0, "tasks", "1", ActionUpdate, "projects", "1", Changes{"badges": links(nil, []any{"1", "2"})}},
			{0, "tasks", "2", ActionUpdate, "projects", "2", Changes{"badges": links(nil, []any{"1"})}},
			{0, "tasks", "1", ActionUpdate, "projects", "1", Changes{"badges": links([]any{"1", "2"}, nil)}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("link entries (-want +got):\n%s", diff)
		}
	})
}
