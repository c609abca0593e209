package auditlog

import (
	"bytes"
	"cmp"
	"database/sql/driver"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Canonical values and every equality rule: how a column's Go value becomes
// its stored JSON form, when two values are the same as stored, which time
// digits and written values survive the round trip to the database, and the
// order of primary keys.

// valueKind says how a column's Go value is turned into its stored JSON form.
// It is decided once per field when a model's plan is built.
type valueKind uint8

const (
	kindPlain   valueKind = iota // driver value as is: string, number, bool, time, bytes
	kindJSON                     // JSON text parsed into a structure (jsonb, json, serializer:json)
	kindDecimal                  // numeric column: "0.170" and "0.17" are the same number
)

// kindOf classifies a schema field by its declared type.
func kindOf(f *schema.Field) valueKind {
	if f.Serializer != nil {
		name := f.TagSettings["SERIALIZER"]
		if name == "" {
			name = f.TagSettings["JSON"]
		}
		if strings.EqualFold(name, "json") {
			return kindJSON
		}
		return kindPlain
	}
	dt := strings.ToLower(string(f.DataType))
	if gt := strings.ToLower(string(f.GORMDataType)); gt != "" && dt == "" {
		dt = gt
	}
	switch {
	case dt == "json" || dt == "jsonb" || strings.HasPrefix(dt, "json"):
		return kindJSON
	case dt == "float" || strings.HasPrefix(dt, "decimal") || strings.HasPrefix(dt, "numeric") ||
		strings.HasPrefix(dt, "real") || strings.HasPrefix(dt, "double") || dt == "money":
		return kindDecimal
	}
	return kindPlain
}

// normalize turns a field's Go value into its canonical stored form: nil, bool,
// string, json.Number, or for JSON columns map[string]any and []any built from
// those. Two values are equal as stored if and only if their canonical forms are
// equal (see equalValues). A driver.Valuer is called; its error is returned.
func normalize(v any, kind valueKind) (any, error) {
	if v == nil {
		return nil, nil
	}
	if valuer, ok := v.(driver.Valuer); ok {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, nil
		}
		dv, err := valuer.Value()
		if err != nil {
			return nil, err
		}
		v = dv
		if v == nil {
			return nil, nil
		}
	}
	switch x := v.(type) {
	case string:
		return canonicalText(x, kind), nil
	case []byte:
		if x == nil {
			return nil, nil
		}
		if kind != kindPlain {
			return canonicalText(string(x), kind), nil
		}
		return base64.StdEncoding.EncodeToString(x), nil
	case bool:
		return x, nil
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), nil
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case float64:
		return canonicalFloat(x, 64), nil
	case time.Time:
		return formatTime(x), nil
	}
	return normalizeReflect(reflect.ValueOf(v), kind)
}

// normalizeReflect handles named and pointer types that the fast path of
// normalize does not know.
func normalizeReflect(rv reflect.Value, kind valueKind) (any, error) {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, nil
		}
		rv = rv.Elem()
		if valuer, ok := rv.Interface().(driver.Valuer); ok {
			return normalize(valuer, kind)
		}
	}
	switch rv.Kind() {
	case reflect.String:
		return canonicalText(rv.String(), kind), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(rv.Uint(), 10)), nil
	case reflect.Float32:
		return canonicalFloat(rv.Float(), 32), nil
	case reflect.Float64:
		return canonicalFloat(rv.Float(), 64), nil
	case reflect.Slice:
		if rv.IsNil() {
			return nil, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return normalize(rv.Bytes(), kind)
		}
	case reflect.Struct:
		if t, ok := rv.Interface().(time.Time); ok {
			return formatTime(t), nil
		}
		if rv.Type().ConvertibleTo(timeType) {
			return formatTime(rv.Convert(timeType).Interface().(time.Time)), nil
		}
	}
	// Anything else (maps, slices, structs) is stored as its JSON structure.
	raw, err := json.Marshal(rv.Interface())
	if err != nil {
		return nil, err
	}
	return parseJSON(raw)
}

var timeType = reflect.TypeOf(time.Time{})

// formatTime is the stored form of an instant: RFC 3339 in UTC with as many
// fractional digits as needed, so equal instants in other zones compare equal.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func canonicalText(s string, kind valueKind) any {
	switch kind {
	case kindJSON:
		if v, err := parseJSON([]byte(s)); err == nil {
			return v
		}
	case kindDecimal:
		if n, ok := scaledDecimal(s); ok {
			return n
		}
	}
	return s
}

func canonicalFloat(f float64, bits int) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// parseJSON decodes JSON text keeping numbers exact (json.Number, in canonical
// decimal form) so that reordered keys or 1.0 vs 1 do not count as changes.
func parseJSON(raw []byte) (any, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return canonicalNumbers(v), nil
}

// parseStoredValue decodes one stored value of a change: as parseJSON, but a
// number that is the whole value keeps the scale it was stored with
// ("12500.50", see scaledDecimal): it is a decimal column's value.
func parseStoredValue(raw []byte) (any, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	if n, ok := v.(json.Number); ok {
		if d, ok := scaledDecimal(string(n)); ok {
			return d, nil
		}
	}
	return canonicalNumbers(v), nil
}

// decodeJSON decodes one JSON value, numbers as written (json.Number).
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("auditlog: trailing data after JSON value")
	}
	return v, nil
}

func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, ok := canonicalDecimal(string(x)); ok {
			return n
		}
	case map[string]any:
		for k, e := range x {
			x[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = canonicalNumbers(e)
		}
	}
	return v
}

// equalValues reports whether two canonical values (see normalize) are equal.
func equalValues(a, b any) bool {
	switch a.(type) {
	case map[string]any, []any:
		return reflect.DeepEqual(a, b)
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	if x, ok := a.(json.Number); ok {
		if y, ok := b.(json.Number); ok && x != y {
			cx, okx := canonicalDecimal(string(x))
			cy, oky := canonicalDecimal(string(y))
			return okx && oky && cx == cy // "12500.50" and "12500.5"
		}
	}
	return a == b
}

// rowState is the canonical value of every tracked field of one row, in the
// order of plan.fields.
type rowState []any

// storedTimes rewrites the time values of a state as the database stores
// them, where that is known, and reports false if some value's stored form
// is not known (then the row must be read back).
func (pl *plan) storedTimes(state rowState) bool {
	for i, tf := range pl.fields {
		if s, ok := state[i].(string); ok && tf.timeDigits != notTime {
			stored, known := tf.storedTime(s)
			if !known {
				return false
			}
			state[i] = stored
		}
	}
	return true
}

// storedDecimals reports whether the decimal values of a state are as the
// database stores them. Not for a column whose type is declared: numeric(10,2)
// pads "12500.5" to "12500.50" and rounds "9.999" to "10.00", so the row
// must be read back.
func (pl *plan) storedDecimals(state rowState) bool {
	for i, tf := range pl.fields {
		if _, ok := state[i].(json.Number); ok && tf.kind == kindDecimal {
			if _, typed := tf.field.TagSettings["TYPE"]; typed {
				return false
			}
		}
	}
	return true
}

// storedTime is the stored form of the canonical time s written to the
// field's column, and whether it is known (see capabilities.storedTimeDigits).
func (tf *trackedField) storedTime(s string) (string, bool) {
	digits := fractionDigits(s)
	switch {
	case digits == 0:
		return s, true
	case tf.timeDigits == unknownTime:
		return s, false
	case digits > tf.timeDigits:
		if !tf.timeTruncates {
			return s, false // rounded by the server's rule
		}
		return truncateFraction(s, tf.timeDigits), true
	}
	return s, true
}

// fractionDigits counts the fractional-second digits of an RFC 3339 time.
func fractionDigits(s string) int {
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return 0
	}
	n := 0
	for _, c := range s[dot+1:] {
		if c < '0' || c > '9' {
			break
		}
		n++
	}
	return n
}

// truncateFraction keeps at most digits fractional-second digits of an
// RFC 3339 time, dropping trailing zeros as time.RFC3339Nano does.
func truncateFraction(s string, digits int) string {
	dot := strings.IndexByte(s, '.')
	end := dot + 1
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	frac := strings.TrimRight(s[dot+1:min(dot+1+digits, end)], "0")
	if frac == "" {
		return s[:dot] + s[end:]
	}
	return s[:dot+1] + frac + s[end:]
}

// sameScan reports whether two destinations of newScanDest for the same
// field hold the same value of a kind whose normalized form depends on the
// value alone: strings, integers, booleans, floats (bit for bit) and equal
// instants. It may report false for equal values; it never reports true for
// values that normalize differently.
func sameScan(a, b any) bool {
	if _, raw := a.(*any); raw {
		return false
	}
	pa, pb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem() // *T
	if pa.IsNil() || pb.IsNil() {
		return pa.IsNil() && pb.IsNil()
	}
	x, y := pa.Elem(), pb.Elem()
	switch x.Kind() {
	case reflect.String:
		return x.String() == y.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return x.Int() == y.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return x.Uint() == y.Uint()
	case reflect.Bool:
		return x.Bool() == y.Bool()
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(x.Float()) == math.Float64bits(y.Float())
	case reflect.Struct:
		if x.Type() == timeType {
			return x.Addr().Interface().(*time.Time).Equal(*y.Addr().Interface().(*time.Time))
		}
	}
	return false
}

// carriedValue is the canonical value the column will hold after v is
// written to it, when that is known without reading it back: v is a plain
// value (not an expression or subquery) of the field's own Go kind, the
// column has GORM's default type for that kind, and a time keeps all its
// digits (or is truncated the known way, see capabilities.storedTimeDigits).
func (tf *trackedField) carriedValue(v any) (any, bool) {
	f := tf.field
	if f.Serializer != nil {
		return nil, false
	}
	if _, typed := f.TagSettings["TYPE"]; typed {
		return nil, false // the database may convert: numeric(p,s), uuid, citext, ...
	}
	switch v.(type) {
	case clause.Expression, *gorm.DB:
		return nil, false
	}
	if v != nil {
		rv := reflect.ValueOf(v)
		for rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				v, rv = nil, reflect.Value{}
				break
			}
			rv = rv.Elem()
		}
		if rv.IsValid() && !sameKind(rv.Type(), f.IndirectFieldType) {
			return nil, false
		}
	}
	n, err := normalize(v, tf.kind)
	if err != nil {
		return nil, false
	}
	if s, ok := n.(string); ok && tf.timeDigits != notTime {
		return tf.storedTime(s)
	}
	return n, true
}

// sameKind reports whether a value of type v written to a field of type f
// reads back as the same value: the same type, or both integers, or both
// strings or both booleans (named or not). Floats must be the same size.
func sameKind(v, f reflect.Type) bool {
	if v == f {
		return true
	}
	valuer := reflect.TypeOf((*driver.Valuer)(nil)).Elem()
	if v.Implements(valuer) || f.Implements(valuer) || reflect.PointerTo(f).Implements(valuer) {
		return false
	}
	switch kindClass(v.Kind()) {
	case 0:
		return false
	case kindClass(f.Kind()):
		return v.Kind() != reflect.Float32 && v.Kind() != reflect.Float64 || v.Kind() == f.Kind()
	}
	return false
}

func kindClass(k reflect.Kind) int {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 1
	case reflect.String:
		return 2
	case reflect.Bool:
		return 3
	case reflect.Float32, reflect.Float64:
		return 4
	}
	return 0
}

// compareKeys orders primary-key values as scanned: numbers, strings and
// times by value, anything else by its text.
func compareKeys(a, b []any) int {
	for i := range a {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(a, b any) int {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.IsValid() && vb.IsValid() && va.Type() == vb.Type() {
		switch va.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return cmp.Compare(va.Int(), vb.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return cmp.Compare(va.Uint(), vb.Uint())
		case reflect.String:
			return strings.Compare(va.String(), vb.String())
		}
		if ta, ok := a.(time.Time); ok {
			return ta.Compare(b.(time.Time))
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// compareKeyTexts orders ObjectPK texts as stored: integers by value, before
// any other text, which is ordered as text.
func compareKeyTexts(a, b string) int {
	ia, errA := strconv.ParseInt(a, 10, 64)
	ib, errB := strconv.ParseInt(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(ia, ib)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}
