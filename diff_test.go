package auditlog

import (
	"database/sql"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

func TestNormalize(t *testing.T) {
	zone := time.FixedZone("UTC+2", 2*3600)
	s := "x"
	tests := []struct {
		name string
		give any
		kind valueKind
		want any
	}{
		{name: "nil", give: nil, want: nil},
		{name: "nil pointer", give: (*string)(nil), want: nil},
		{name: "pointer to empty string", give: new(string), want: ""},
		{name: "pointer", give: &s, want: "x"},
		{name: "int", give: 42, want: json.Number("42")},
		{name: "uint64 above 2^53", give: uint64(1<<63 + 1), want: json.Number("9223372036854775809")},
		{name: "float", give: 0.1, want: json.Number("0.1")},
		{name: "float32 keeps its own digits", give: float32(0.1), want: json.Number("0.1")},
		{name: "whole float", give: 2.0, want: json.Number("2")},
		{name: "NaN is text", give: nanFloat(), want: "NaN"},
		{name: "bool", give: true, want: true},
		{name: "bytes are base64", give: []byte("hi"), want: "aGk="},
		{name: "time in UTC", give: time.Date(2026, 1, 2, 5, 4, 5, 120000000, zone), want: "2026-01-02T03:04:05.12Z"},
		{name: "named string", give: failingCode("ok"), want: "ok"},
		{name: "valuer", give: sql.NullInt64{Int64: 7, Valid: true}, want: json.Number("7")},
		{name: "null valuer", give: sql.NullString{}, want: nil},
		{name: "gorm.DeletedAt null", give: gorm.DeletedAt{}, want: nil},
		{name: "decimal text keeps its scale", give: "0.170", kind: kindDecimal, want: json.Number("0.170")},
		{name: "decimal money keeps its scale", give: "12500.50", kind: kindDecimal, want: json.Number("12500.50")},
		{name: "decimal negative zero", give: "-0.000", kind: kindDecimal, want: json.Number("0.000")},
		{name: "decimal leading zeros", give: "+007.50", kind: kindDecimal, want: json.Number("7.50")},
		{name: "decimal without fraction digits", give: "5.", kind: kindDecimal, want: json.Number("5")},
		{name: "decimal exponent", give: "1.5e3", kind: kindDecimal, want: json.Number("1500")},
		{name: "not a decimal stays text", give: "abc", kind: kindDecimal, want: "abc"},
		{name: "json object", give: `{"b": 1.0, "a": [true, null]}`, kind: kindJSON, want: map[string]any{"a": []any{true, nil}, "b": json.Number("1")}},
		{name: "json bytes", give: []byte(`[1, "x"]`), kind: kindJSON, want: []any{json.Number("1"), "x"}},
		{name: "invalid json stays text", give: `{oops`, kind: kindJSON, want: "{oops"},
		{name: "struct becomes its JSON", give: struct{ A int }{A: 1}, want: map[string]any{"A": json.Number("1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalize(tt.give, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("normalize(%#v) (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func nanFloat() float64 { z := 0.0; return z / z }

func TestEqualValues(t *testing.T) {
	tests := []struct {
		name string
		a, b any
		kind valueKind
		want bool
	}{
		{name: "decimals stored equal", a: "0.170", b: "0.17", kind: kindDecimal, want: true},
		{name: "decimals differ", a: "0.171", b: "0.17", kind: kindDecimal, want: false},
		{name: "decimals of other scales stored equal", a: "12500.50", b: "+012500.5000", kind: kindDecimal, want: true},
		{name: "decimal zeros of other signs", a: "-0.00", b: "0", kind: kindDecimal, want: true},
		{name: "int and float of the same number", a: 10, b: 10.0, want: true},
		{name: "equal instants in other zones", a: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), b: time.Date(2026, 1, 2, 4, 0, 0, 0, time.FixedZone("", 3600)), want: true},
		{name: "different instants", a: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), b: time.Date(2026, 1, 2, 3, 0, 0, 1, time.UTC), want: false},
		{name: "json with reordered keys", a: `{"a":1,"b":{"c":2,"d":3}}`, b: `{"b":{"d":3,"c":2},"a":1.0}`, kind: kindJSON, want: true},
		{name: "json arrays keep order", a: `[1,2]`, b: `[2,1]`, kind: kindJSON, want: false},
		{name: "null and empty string differ", a: nil, b: "", want: false},
		{name: "null and zero differ", a: nil, b: 0, want: false},
		{name: "string and number differ", a: "1", b: 1, want: false},
		{name: "object and text differ", a: `{}`, b: "{}", kind: kindJSON, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := normalize(tt.a, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			bKind := tt.kind
			if tt.name == "object and text differ" {
				bKind = kindPlain
			}
			b, err := normalize(tt.b, bKind)
			if err != nil {
				t.Fatal(err)
			}
			if got := equalValues(a, b); got != tt.want {
				t.Errorf("equalValues(%#v, %#v) = %v, want %v", a, b, got, tt.want)
			}
		})
	}
}

func TestTruncateFraction(t *testing.T) {
	tests := []struct {
		give   string
		digits int
		want   string
	}{
		{"2026-01-02T03:04:05.123456789Z", 6, "2026-01-02T03:04:05.123456Z"},
		{"2026-01-02T03:04:05.123000789Z", 6, "2026-01-02T03:04:05.123Z"},
		{"2026-01-02T03:04:05.000000789Z", 6, "2026-01-02T03:04:05Z"},
		{"2026-01-02T03:04:05.1Z", 6, "2026-01-02T03:04:05.1Z"},
	}
	for _, tt := range tests {
		if got := truncateFraction(tt.give, tt.digits); got != tt.want {
			t.Errorf("truncateFraction(%q, %d) = %q, want %q", tt.give, tt.digits, got, tt.want)
		}
	}
}

func FuzzDiffOfValueWithItselfIsEmpty(f *testing.F) {
	for _, s := range []string{"", "0.170", `{"a":1}`, "2026-01-02T03:04:05Z", "\x00", "🔑"} {
		f.Add(s, int64(3), 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, n int64, x float64) {
		for _, kind := range []valueKind{kindPlain, kindJSON, kindDecimal} {
			for _, v := range []any{s, n, x, []byte(s)} {
				a, err := normalize(v, kind)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := normalize(v, kind)
				if !equalValues(a, b) && x == x { // NaN aside, a value equals itself
					t.Fatalf("normalize(%#v, %d) is not equal to itself: %#v", v, kind, a)
				}
			}
		}
	})
}

// Typed is a model with columns whose stored form differs from the Go value:
// a decimal, JSON, a time in another zone.
type Typed struct {
	ID     int64
	Amount string         `gorm:"type:decimal(10,3)"`
	Attrs  map[string]any `gorm:"serializer:json"`
	At     time.Time
	Ptr    *string `gorm:"size:20"`
}

// TestNoFalseChanges saves a row again with values that are equal as stored
// but not as written, and expects no update entry.
func TestNoFalseChanges(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Typed{}})
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		row := Typed{Amount: "0.17", Attrs: map[string]any{"a": 1, "b": map[string]any{"c": true}}, At: at}
		if err := db.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
		clearEntries(t, db)
		same := Typed{ID: row.ID, Amount: "0.170", Attrs: map[string]any{"b": map[string]any{"c": true}, "a": 1.0}, At: at.In(time.FixedZone("", -5*3600))}
		if err := db.Save(&same).Error; err != nil {
			t.Fatal(err)
		}
		if got := allEntries(t, db); len(got) != 0 {
			t.Errorf("entries for an unchanged row: %v", summarize(got))
		}
		empty := ""
		if err := db.Model(&Typed{ID: row.ID}).Updates(map[string]any{"amount": "0.18", "ptr": &empty}).Error; err != nil {
			t.Fatal(err)
		}
		// The amounts as the column holds them: decimal(10,3) keeps three
		// digits, SQLite's numeric affinity none.
		old, new := num("0.170"), num("0.180")
		if db.Dialector.Name() == "sqlite" {
			old, new = num("0.17"), num("0.18")
		}
		want := []summary{{ActionUpdate, "1", Changes{"amount": {old, new}, "ptr": {nil, ""}}}}
		if diff := cmp.Diff(want, summarize(allEntries(t, db))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

// TestCreateRecordsStoredTimes writes times with nanoseconds in another zone:
// the create and update entries must hold what the database stored, so that
// the next entry's old value equals it.
func TestCreateRecordsStoredTimes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("", 3600))
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			db := openTestDB(t, name, &gorm.Config{NowFunc: func() time.Time { return at }})
			setup(t, db, []any{&Item{}})
			if err := db.Create(&[]Item{{Name: "a"}, {Name: "b"}}).Error; err != nil {
				t.Fatal(err)
			}
			check := func(what string) {
				t.Helper()
				var stored []Item
				db.Order("id").Find(&stored)
				entries := allEntries(t, db)
				for i, e := range entries[len(entries)-2:] {
					want := formatTime(stored[i].UpdatedAt)
					if got := e.Changes["updated_at"].New; got != want {
						t.Errorf("%s entry %d: updated_at %v, database holds %v", what, i, got, want)
					}
				}
			}
			check("create")
			at = at.Add(time.Second + 987654321)
			if err := db.Model(&Item{}).Where("id > 0").Update("name", "c").Error; err != nil {
				t.Fatal(err)
			}
			check("update")
		})
	}
}

// FuzzDiffMirror: diffing (a, b) and (b, a) gives the same columns with old
// and new swapped, and a state against itself gives nothing.
func FuzzDiffMirror(f *testing.F) {
	f.Add("pen", "ink", int64(1), int64(2), 0.5, 0.5)
	f.Add("", "", int64(0), int64(0), 0.0, 1e300)
	f.Fuzz(func(t *testing.T, s1, s2 string, n1, n2 int64, x1, x2 float64) {
		pl := fuzzPlan(t)
		a := rowState{mustNormalize(t, s1), mustNormalize(t, n1), mustNormalize(t, x1)}
		b := rowState{mustNormalize(t, s2), mustNormalize(t, n2), mustNormalize(t, x2)}
		if c := pl.diff(a, a); c != nil {
			t.Fatalf("diff of a state with itself: %v", c)
		}
		ab, ba := pl.diff(a, b), pl.diff(b, a)
		if len(ab) != len(ba) {
			t.Fatalf("diff(a,b) has %d columns, diff(b,a) %d", len(ab), len(ba))
		}
		for col, ch := range ab {
			if !equalValues(ch.Old, ba[col].New) || !equalValues(ch.New, ba[col].Old) {
				t.Fatalf("column %s: diff(a,b) %v, diff(b,a) %v", col, ch, ba[col])
			}
		}
	})
}

func mustNormalize(t *testing.T, v any) any {
	n, err := normalize(v, kindPlain)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fuzzPlan is a plan with three plain tracked columns.
func fuzzPlan(t *testing.T) *plan {
	type fuzzRow struct {
		ID int64
		S  string
		N  int64
		X  float64
	}
	s, err := schema.Parse(&fuzzRow{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	pl := &plan{schema: s}
	for _, name := range []string{"S", "N", "X"} {
		pl.fields = append(pl.fields, &trackedField{field: s.LookUpField(name), timeDigits: notTime})
	}
	return pl
}
