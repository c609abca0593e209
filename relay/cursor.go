package relay

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// cursorRow is one relay's durable cursor: every committed entry up to
// LastID has been published and acknowledged.
type cursorRow struct {
	Name      string    `gorm:"column:name;primaryKey;size:191"`
	LastID    int64     `gorm:"column:last_id;not null"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

// loadCursor creates the cursor table when missing and returns the named
// cursor (0 when there is none yet).
func loadCursor(db *gorm.DB, table, name string) (int64, error) {
	if err := db.Table(table).AutoMigrate(&cursorRow{}); err != nil {
		return 0, fmt.Errorf("relay: cursor table: %w", err)
	}
	var row cursorRow
	err := db.Table(table).Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("relay: cursor: %w", err)
	}
	return row.LastID, nil
}

// saveCursor stores the named cursor (an upsert).
func saveCursor(db *gorm.DB, table, name string, last int64) error {
	row := cursorRow{Name: name, LastID: last, UpdatedAt: time.Now().UTC()}
	err := db.Table(table).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"last_id", "updated_at"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("relay: save cursor: %w", err)
	}
	return nil
}
