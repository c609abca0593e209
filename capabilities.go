package auditlog

import (
	"slices"

	"gorm.io/gorm"
)

// capabilities is what the write path needs to know about a database: the
// one place that asks which database a statement runs on. It is computed
// from the dialector's name and the clauses GORM's dialector builds for each
// statement, once per Initialize (see Plugin.capabilities).
type capabilities struct {
	dialect string
	// rowLocks: SELECT ... FOR UPDATE locks the rows it reads (PostgreSQL,
	// MySQL, MariaDB). SQLite has one writer at a time and no row locks:
	// within one transaction a read and the write after it see the same rows.
	rowLocks bool
	// updateReturning, deleteReturning: GORM builds RETURNING for UPDATE and
	// DELETE (PostgreSQL; SQLite 3.35+; DELETE only on MariaDB 10.5+, though
	// the mysql dialector lists it for UPDATE too, which MariaDB lacks).
	updateReturning, deleteReturning bool
	// insertReturning: GORM builds RETURNING for INSERT and scans the
	// returned columns into the structs it created.
	insertReturning bool
	// lockingCTE: a CTE with FOR UPDATE is its own plan node, so one
	// statement can lock, write and return old and new values (PostgreSQL).
	lockingCTE bool
	// phantoms: a row that starts to match after the locked read can enter
	// the write (PostgreSQL READ COMMITTED; InnoDB next-key locks do not
	// cover every plan), so the write is restricted to the keys read.
	phantoms bool
	// qualifiedReturning: RETURNING may name the written table's columns
	// qualified by its name (not SQLite, which forbids it).
	qualifiedReturning bool
	// maxParams bounds the placeholders of one statement: the key values of
	// a restriction or read-back are sent in chunks below it.
	maxParams int
}

func newCapabilities(db *gorm.DB) capabilities {
	name := db.Dialector.Name()
	cb := db.Callback()
	c := capabilities{
		dialect:         name,
		updateReturning: slices.Contains(cb.Update().Clauses, "RETURNING"),
		deleteReturning: slices.Contains(cb.Delete().Clauses, "RETURNING"),
		insertReturning: slices.Contains(cb.Create().Clauses, "RETURNING"),
		maxParams:       maxKeyParams,
	}
	switch name {
	case "postgres":
		c.rowLocks, c.lockingCTE, c.phantoms, c.qualifiedReturning = true, true, true, true
		c.lockingCTE = c.updateReturning && c.deleteReturning
	case "sqlite":
	case "mysql":
		c.rowLocks, c.phantoms = true, true
		c.updateReturning = false // MariaDB has INSERT and DELETE RETURNING only
	default:
		// An unknown database: lock and restrict, read everything back.
		c.rowLocks, c.phantoms = true, true
		c.updateReturning, c.deleteReturning, c.insertReturning = false, false, false
	}
	return c
}

// maxKeyParams bounds the primary-key values of one IN list: below SQLite's
// 32766 parameters, leaving room for the statement's own.
const maxKeyParams = 30000

// capabilities returns the capabilities of db's database: those computed at
// Initialize, or, for a database the plugin was not initialized on (one
// Plugin used through several *gorm.DB of different dialects), computed now.
func (p *Plugin) capabilities(db *gorm.DB) capabilities {
	p.mu.RLock()
	c := p.caps
	p.mu.RUnlock()
	if c.dialect == db.Dialector.Name() {
		return c
	}
	return newCapabilities(db)
}
