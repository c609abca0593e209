package auditlog

import (
	"fmt"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Vault is a fmt.Stringer whose String shows its secrets.
type Vault struct {
	ID     int64
	Label  string `gorm:"size:50"`
	Secret string `gorm:"size:100"`
	PIN    *string
}

func (v Vault) String() string { return fmt.Sprintf("%s %s", v.Label, v.Secret) }

// TestSecretsNeverStoredInClear writes masked values through every write
// path, then reads every column of the log table as text and looks for them.
func TestSecretsNeverStoredInClear(t *testing.T) {
	secrets := []string{"confidential-1", "sesame-open-2", "4711-pin", "upserted-3", "mapped-4"}
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Vault{}}, Mask("Secret", "PIN"), Serialize())
		pin := secrets[2]
		v := Vault{Label: "a", Secret: secrets[0], PIN: &pin}
		steps := []func() error{
			func() error { return db.Create(&v).Error },
			func() error { return db.Model(&v).Update("secret", secrets[1]).Error },
			func() error {
				return db.Clauses(clause.OnConflict{UpdateAll: true}).Create(&Vault{ID: v.ID, Label: "a", Secret: secrets[3]}).Error
			},
			func() error {
				return db.Model(&Vault{}).Create(map[string]any{"label": "m", "secret": secrets[4]}).Error
			},
			func() error { return db.Model(&Vault{}).Where("label = ?", "m").Update("label", "n").Error },
			func() error { return db.Where("id > ?", 0).Delete(&Vault{}).Error },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		cols := []string{"table_name", "object_pk", "object_repr", "action", "changes", "actor_id", "remote_addr", "cid", "data", "snapshot"}
		rows, err := db.Table(DefaultTable).Select(cols).Rows()
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			raw := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range raw {
				ptrs[i] = &raw[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			n++
			for i, v := range raw {
				text := fmt.Sprintf("%s", v)
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("column %s holds %q in clear: %s", cols[i], s, text)
					}
				}
			}
		}
		if n < len(steps) {
			t.Errorf("%d entries, want at least %d", n, len(steps))
		}
	})
}
