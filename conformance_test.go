package auditlog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
)

// forceStrategy makes the plugin capture with st wherever st applies (and
// with chooseStrategy's choice elsewhere).
func forceStrategy(st strategy) Option {
	return optionFunc(func(c *config) { c.strategy = st })
}

// strategiesOn lists the strategies that apply to some write on a database
// with capabilities c.
func strategiesOn(c capabilities) []strategy {
	all := []strategy{oneStatement, deleteReturning, readDelete, readCarry, readReturning, readReread, insertSent, insertReread}
	var out []strategy
	for _, st := range all {
		for _, w := range []writeKind{writeUpdate, writeSoftDelete, writeHardDelete, writeCreate} {
			if applies(st, c, w, shape{plain: true, carried: true}) {
				out = append(out, st)
				break
			}
		}
	}
	return out
}

// TestCaptureConformance runs the write-path table with each capture
// strategy forced in turn, on every database where it applies, as subtests
// <db>/<strategy>: every strategy must record exactly the same entries.
//
//	go test -run TestCaptureConformance -v
func TestCaptureConformance(t *testing.T) {
	for _, name := range testDatabases {
		t.Run(name, func(t *testing.T) {
			probe := openTestDB(t, name, nil)
			for _, st := range strategiesOn(newCapabilities(probe)) {
				t.Run(st.String(), func(t *testing.T) {
					for _, tt := range writePathCases() {
						t.Run(tt.name, func(t *testing.T) {
							db := openTestDB(t, name, nil)
							setupWith(t, db, []Option{forceStrategy(st)}, []any{&Item{}}, Mask("Secret"))
							checkWritePath(t, db, tt)
						})
					}
				})
			}
		})
	}
}

// TestForcedStrategyIsUsed guards the conformance run: a forced strategy
// that applies is the one chosen, and one that does not apply falls back to
// the database's own choice.
func TestForcedStrategyIsUsed(t *testing.T) {
	pg := capabilities{dialect: "postgres", rowLocks: true, lockingCTE: true, phantoms: true,
		updateReturning: true, deleteReturning: true, insertReturning: true}
	tests := []struct {
		name  string
		kind  writeKind
		shape shape
		force strategy
		want  strategy
	}{
		{"default update", writeUpdate, shape{plain: true, carried: true}, 0, oneStatement},
		{"forced reread", writeUpdate, shape{plain: true}, readReread, readReread},
		{"carry needs plain values", writeUpdate, shape{plain: true}, readCarry, oneStatement},
		{"read_delete is for deletes", writeUpdate, shape{plain: true}, readDelete, oneStatement},
		{"FROM: not one statement", writeUpdate, shape{}, 0, readReturning},
		{"own RETURNING", writeSoftDelete, shape{plain: true, ownReturning: true}, 0, readReread},
		{"hard delete with own RETURNING", writeHardDelete, shape{ownReturning: true}, 0, readDelete},
		{"create that sent every column", writeCreate, shape{carried: true}, 0, insertSent},
		{"create that left a column out", writeCreate, shape{}, 0, insertReread},
		{"forced read-back of a create", writeCreate, shape{carried: true}, insertReread, insertReread},
		{"update strategies are not for creates", writeCreate, shape{carried: true}, readCarry, insertSent},
	}
	for _, tt := range tests {
		if got := chooseStrategy(pg, tt.kind, tt.shape, tt.force); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestCapabilities checks what the plugin learns about each database.
func TestCapabilities(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		got := newCapabilities(db)
		var want capabilities
		switch db.Dialector.Name() {
		case "sqlite": // mattn bundles SQLite 3.45: RETURNING everywhere, no row locks
			want = capabilities{dialect: "sqlite", updateReturning: true, deleteReturning: true, insertReturning: true}
		case "postgres":
			want = capabilities{dialect: "postgres", rowLocks: true, updateReturning: true, deleteReturning: true,
				insertReturning: true, lockingCTE: true, phantoms: true, qualifiedReturning: true, rangePartitions: true}
		case "mysql": // the test server is MariaDB 10.5+
			want = capabilities{dialect: "mysql", rowLocks: true, deleteReturning: true, deleteLimit: true, insertReturning: true,
				phantoms: true, keyWriteHint: "FORCE INDEX (PRIMARY)", timePrecision: 3, timeTruncates: true}
		}
		want.maxParams = maxKeyParams
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(capabilities{})); diff != "" {
			t.Errorf("capabilities (-want +got):\n%s", diff)
		}
	})
}
