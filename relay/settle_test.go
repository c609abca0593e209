package relay

import (
	"testing"
	"time"

	"github.com/gorm-auditlog/auditlog/relay/internal/reltest"
)

// TestInnodbSettlerTimeout: where innodb_trx cannot be read (here: a
// database without it), a gap settles only after the timeout, and the
// list is not read before InnoDB's cache age.
func TestInnodbSettlerTimeout(t *testing.T) {
	db := reltest.Open(t, "sqlite")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := innodbSettler{timeout: 10 * time.Second, now: func() time.Time { return now }}
	token, err := s.mark(db)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		after time.Duration
		want  bool
	}{{0, false}, {innodbCacheAge, false}, {5 * time.Second, false}, {10 * time.Second, true}} {
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(step.after)
		got, err := s.settled(db, token)
		if err != nil || got != step.want {
			t.Errorf("after %v: settled %v, %v; want %v", step.after, got, err, step.want)
		}
	}
}
