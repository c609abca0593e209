package main

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		give string
		want time.Time
	}{
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2026-01-02T15:04:05.5+02:00", time.Date(2026, 1, 2, 13, 4, 5, 5e8, time.UTC)},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"720h", now.Add(-720 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"30d", time.Date(2026, 1, 30, 12, 0, 0, 0, time.UTC)},
		{"0d", now},
		{"0s", now},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := parseTime(tt.give, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("parseTime(%q) = %v, want %v", tt.give, got, tt.want)
			}
		})
	}
	for _, give := range []string{"", "yesterday", "-5h", "1.5d", "d", "-3d", "2026-13-01", "2026-01-02 15:04:05", "99999999d"} {
		if got, err := parseTime(give, now); err == nil {
			t.Errorf("parseTime(%q) = %v, want an error", give, got)
		}
	}
}

func TestGuessDriver(t *testing.T) {
	tests := []struct{ give, want string }{
		{"postgres://u:p@db/app", "postgres"},
		{"postgresql://db/app", "postgres"},
		{"host=db user=app dbname=app", "postgres"},
		{"app:secret@tcp(db:3306)/app?parseTime=true", "mysql"},
		{"file:app.db?_txlock=immediate", "sqlite"},
		{"app.db", "sqlite"},
	}
	for _, tt := range tests {
		if got := guessDriver(tt.give); got != tt.want {
			t.Errorf("guessDriver(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"file:/data/app.db?_txlock=immediate", "/data/app.db", true},
		{"file:my%20app.db", "my app.db", true},
		{"app.db", "app.db", true},
		{":memory:", "", false},
		{"file::memory:?cache=shared", "", false},
		{"file:app.db?mode=memory", "", false},
		{"file:app.db?mode=rwc", "", false},
	}
	for _, tt := range tests {
		got, ok := sqlitePath(tt.give)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("sqlitePath(%q) = %q, %v, want %q, %v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
}
