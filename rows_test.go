package auditlog

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// TestSameScan: an unchanged column of an UPDATE returning old and new
// values is normalized once, so sameScan must never call two values the same
// when they normalize differently.
func TestSameScan(t *testing.T) {
	dest := func(v any) any { // a **T holding v, as newScanDest and Scan leave it
		p := reflect.New(reflect.TypeOf(v))
		p.Elem().Set(reflect.ValueOf(v))
		pp := reflect.New(p.Type())
		pp.Elem().Set(p)
		return pp.Interface()
	}
	null := func(v any) any { return reflect.New(reflect.PointerTo(reflect.TypeOf(v))).Interface() }
	raw := func(v any) any { return &v }
	utc := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	type status string
	cases := []struct {
		name string
		a, b any
		want bool
	}{
		{"equal strings", dest("a"), dest("a"), true},
		{"strings", dest("a"), dest("b"), false},
		{"named strings", dest(status("on")), dest(status("on")), true},
		{"equal ints", dest(int64(7)), dest(int64(7)), true},
		{"ints", dest(7), dest(8), false},
		{"uints", dest(uint8(1)), dest(uint8(2)), false},
		{"bools", dest(true), dest(false), false},
		{"equal floats", dest(1.5), dest(1.5), true},
		{"zero and negative zero", dest(0.0), dest(math.Copysign(0, -1)), false},
		{"NaNs of equal bits", dest(math.NaN()), dest(math.NaN()), true},
		{"one instant in two zones", dest(utc), dest(utc.In(time.FixedZone("X", 3600))), true},
		{"instants", dest(utc), dest(utc.Add(time.Nanosecond)), false},
		{"both null", null(""), null(""), true},
		{"null and empty", null(""), dest(""), false},
		{"empty and null", dest(""), null(""), false},
		{"bytes are not compared", dest([]byte("a")), dest([]byte("a")), false},
		{"serializer values are not compared", raw("a"), raw("a"), false},
	}
	for _, c := range cases {
		if got := sameScan(c.a, c.b); got != c.want {
			t.Errorf("%s: sameScan = %v, want %v", c.name, got, c.want)
		}
		if c.want {
			a, errA := normalize(scannedValue(c.a), kindPlain)
			b, errB := normalize(scannedValue(c.b), kindPlain)
			if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("%s: same scans normalize to %#v (%v) and %#v (%v)", c.name, a, errA, b, errB)
			}
		}
	}
}

// TestCompareKeys: rows a one-statement write returns are put in key order,
// numerically for numbers (10 after 9), not by their text.
func TestCompareKeys(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		a, b []any
		want int
	}{
		{[]any{int64(9)}, []any{int64(10)}, -1},
		{[]any{uint32(10)}, []any{uint32(9)}, 1},
		{[]any{"b"}, []any{"a"}, 1},
		{[]any{t0}, []any{t0.Add(time.Second)}, -1},
		{[]any{int64(1), "b"}, []any{int64(1), "a"}, 1},
		{[]any{int64(1), "a"}, []any{int64(1), "a"}, 0},
		{[]any{[]byte{2}}, []any{[]byte{1}}, 1}, // by text
	}
	for _, c := range cases {
		if got := compareKeys(c.a, c.b); got != c.want {
			t.Errorf("compareKeys(%v, %v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
