package auditlog

import (
	"database/sql"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

type carriedModel struct {
	ID      int64
	Name    string
	Code    failingCode
	Qty     int32
	Ratio   float32
	Price   float64
	Amount  float64 `gorm:"type:numeric(10,2)"`
	Flag    bool
	Note    *string
	At      time.Time
	Null    sql.NullString
	Payload map[string]any `gorm:"serializer:json"`
}

func TestCarriedValue(t *testing.T) {
	s, err := schema.Parse(&carriedModel{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	note := "n"
	tests := []struct {
		field   string
		dialect string
		give    any
		want    bool
		reason  string
	}{
		{"Name", "postgres", "x", true, "a string into a string column"},
		{"Name", "postgres", 5, false, "an int into a string column is converted by the database"},
		{"Name", "postgres", gorm.Expr("upper(name)"), false, "an expression is evaluated by the database"},
		{"Qty", "postgres", 7, true, "any integer into an integer column"},
		{"Qty", "postgres", uint8(7), true, "any integer into an integer column"},
		{"Qty", "postgres", 7.0, false, "a float into an integer column is rounded"},
		{"Ratio", "postgres", 0.1, false, "a float64 into a float32 column loses digits"},
		{"Ratio", "postgres", float32(0.1), true, "same float size"},
		{"Price", "postgres", 9.5, true, "float64 into GORM's default float column"},
		{"Amount", "postgres", 9.999, false, "numeric(10,2) rounds"},
		{"Flag", "postgres", true, true, "bool"},
		{"Note", "postgres", &note, true, "a pointer to the field's type"},
		{"Note", "postgres", nil, true, "null"},
		{"Code", "postgres", failingCode("ok"), true, "the field's own type: what its Value returns is stored"},
		{"Code", "postgres", "ok", false, "a string into a Valuer field: the Valuer is not called on it"},
		{"Null", "postgres", sql.NullString{String: "x", Valid: true}, true, "the field's own Valuer type"},
		{"Payload", "postgres", map[string]any{"a": 1}, false, "serializer fields are read back"},
		{"At", "postgres", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), true, "pgx truncates to microseconds"},
		{"At", "mysql", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true, "whole seconds survive any precision"},
		{"At", "mysql", time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC), true, "datetime(3) keeps milliseconds"},
		{"At", "mysql", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), false, "MySQL rounds finer digits"},
		{"At", "mariadb", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), true, "MariaDB truncates finer digits"},
		{"At", "sqlite", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), true, "SQLite keeps nanoseconds"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"/"+tt.reason, func(t *testing.T) {
			f := s.LookUpField(tt.field)
			caps := map[string]capabilities{
				"postgres": {dialect: "postgres"},
				"sqlite":   {dialect: "sqlite"},
				"mysql":    {dialect: "mysql", timePrecision: 3},
				"mariadb":  {dialect: "mysql", timePrecision: 3, timeTruncates: true},
			}[tt.dialect]
			tf := &trackedField{field: f, kind: kindOf(f)}
			tf.timeDigits, tf.timeTruncates = caps.storedTimeDigits(f)
			if _, got := tf.carriedValue(tt.give); got != tt.want {
				t.Errorf("carriedValue(%#v) on %s: %v, want %v (%s)", tt.give, tt.dialect, got, tt.want, tt.reason)
			}
		})
	}
}
