package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Locker is the model of the secrets tests: two masked fields, soft delete,
// and a String that shows both secrets.
type Locker struct {
	ID        int64
	Label     string  `gorm:"size:50"`
	Secret    string  `gorm:"size:100"`
	PIN       *string `gorm:"size:100"`
	DeletedAt gorm.DeletedAt
}

func (l Locker) String() string {
	pin := ""
	if l.PIN != nil {
		pin = *l.PIN
	}
	return "locker " + l.Label + " " + l.Secret + " " + pin
}

// secretMark is in every secret of the test, in the half that masking
// hides: a masked value never contains it, a clear one always does.
const secretMark = "S3cr3t"

func lockerSecret(n int) string { return fmt.Sprintf("S3cr3t-Value-9f2a-%02d", n) }
func lockerPIN(n int) *string   { s := fmt.Sprintf("S3cr3t-PIN-%02d", n); return &s }

// TestSecretsNeverStoredInClear writes masked values through every write path
// and Log, with Serialize, a String() that prints them, WithData carrying
// them, and a BeforeLog hook that copies them into Data (as values and keys)
// and ObjectRepr. Then it reads every column of every row of the log table as
// text and looks for them.
func TestSecretsNeverStoredInClear(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		// clear holds, by object key, the clear masked values the row holds
		// while a step runs (old and new): the hook copies them into the entry.
		clear := map[string][]string{}
		hook := func(ctx context.Context, e *LogEntry) error {
			secrets := clear[e.ObjectPK]
			if len(secrets) == 0 {
				return fmt.Errorf("no secrets known for %s %s", e.Action, e.ObjectPK)
			}
			if e.Data == nil {
				e.Data = JSONMap{}
			}
			e.Data["hook"] = "copied " + strings.Join(secrets, " and ")
			e.Data["hook_list"] = []any{secrets[0], map[string]any{secrets[len(secrets)-1]: true}}
			e.Data[secrets[0]] = "as a key"
			e.ObjectRepr = "locker with " + secrets[0]
			return nil
		}
		p := setupWith(t, db, []Option{BeforeLog(hook)}, []any{&Locker{}}, Mask("Secret", "PIN"), Serialize(), RecordAccess())
		if err := p.DefineAction("locker.opened", "Opened", "{actor} opened {object}"); err != nil {
			t.Fatal(err)
		}
		// set records the clear values of the rows a step touches, and
		// returns a session whose context's WithData carries all of them.
		// (A value is known as a secret to the statement that writes its
		// row, so WithData may carry the secrets of every row of one
		// statement, not of another: see "create in batches".)
		set := func(rows map[string][]string) *gorm.DB {
			var all []any
			for key, secrets := range rows {
				clear[key] = secrets
				for _, s := range secrets {
					all = append(all, s)
				}
			}
			ctx := WithData(WithActor(context.Background(), "tester"), map[string]any{"step_secrets": all})
			return db.WithContext(ctx)
		}
		s, pin := lockerSecret, lockerPIN
		steps := []struct {
			name string
			do   func() error
			want []string // action and key of the entries the step adds
		}{
			{"create one", func() error {
				return set(map[string][]string{"1": {s(1), *pin(1)}}).Create(&Locker{Label: "a", Secret: s(1), PIN: pin(1)}).Error
			}, []string{"create 1"}},
			{"create slice", func() error {
				return set(map[string][]string{"2": {s(2)}, "3": {s(3), *pin(3)}}).
					Create(&[]Locker{{Label: "b", Secret: s(2)}, {Label: "c", Secret: s(3), PIN: pin(3)}}).Error
			}, []string{"create 2", "create 3"}},
			{"create in batches", func() error {
				// One statement per batch: WithData carries no secret here,
				// as each statement knows only its own rows' values.
				set(map[string][]string{"4": {s(4)}, "5": {s(5)}, "6": {s(6)}})
				return db.WithContext(WithData(context.Background(), map[string]any{"batch": true})).
					CreateInBatches(&[]Locker{{Label: "d", Secret: s(4)}, {Label: "e", Secret: s(5)}, {Label: "f", Secret: s(6)}}, 2).Error
			}, []string{"create 4", "create 5", "create 6"}},
			{"save insert", func() error {
				return set(map[string][]string{"7": {s(7)}}).Save(&Locker{Label: "g", Secret: s(7)}).Error
			}, []string{"create 7"}},
			{"save upsert fallback", func() error {
				return set(map[string][]string{"20": {s(8)}}).Save(&Locker{ID: 20, Label: "h", Secret: s(8)}).Error
			}, []string{"create 20"}},
			{"save update after a logged read", func() error {
				var l Locker
				if err := set(map[string][]string{"1": {s(1), *pin(1)}}).First(&l, 1).Error; err != nil {
					return err
				}
				l.Secret = s(9)
				return set(map[string][]string{"1": {s(1), s(9), *pin(1)}}).Save(&l).Error
			}, []string{"access 1", "update 1"}},
			{"updates struct", func() error {
				return set(map[string][]string{"2": {s(2), s(10)}}).Model(&Locker{ID: 2}).Updates(Locker{Secret: s(10)}).Error
			}, []string{"update 2"}},
			{"updates map", func() error {
				return set(map[string][]string{"3": {s(3), s(11), *pin(3), *pin(11)}}).
					Model(&Locker{ID: 3}).Updates(map[string]any{"secret": s(11), "pin": pin(11)}).Error
			}, []string{"update 3"}},
			{"update", func() error {
				return set(map[string][]string{"4": {s(4), s(12)}}).Model(&Locker{ID: 4}).Update("secret", s(12)).Error
			}, []string{"update 4"}},
			{"update column", func() error {
				return set(map[string][]string{"5": {s(5), s(13)}}).Model(&Locker{ID: 5}).UpdateColumn("secret", s(13)).Error
			}, []string{"update 5"}},
			{"update columns", func() error {
				return set(map[string][]string{"6": {s(6), s(14), *pin(14)}}).
					Model(&Locker{ID: 6}).UpdateColumns(map[string]any{"secret": s(14), "pin": pin(14)}).Error
			}, []string{"update 6"}},
			{"where update with a value", func() error {
				return set(map[string][]string{"1": {s(9), s(15), *pin(1)}, "2": {s(10), s(15)}}).
					Model(&Locker{}).Where("id IN ?", []int64{1, 2}).Update("secret", s(15)).Error
			}, []string{"update 1", "update 2"}},
			{"where update with an expression", func() error {
				vault := func(n int) string { return strings.Replace(s(n), "Value", "Vault", 1) }
				return set(map[string][]string{"3": {s(11), vault(11), *pin(11)}, "4": {s(12), vault(12)}}).
					Model(&Locker{}).Where("id IN ?", []int64{3, 4}).Update("secret", gorm.Expr("REPLACE(secret, ?, ?)", "Value", "Vault")).Error
			}, []string{"update 3", "update 4"}},
			{"upsert", func() error {
				return set(map[string][]string{"5": {s(13), s(16)}, "21": {s(17), *pin(17)}}).
					Clauses(clause.OnConflict{UpdateAll: true}).
					Create(&[]Locker{{ID: 5, Label: "e", Secret: s(16)}, {ID: 21, Label: "u", Secret: s(17), PIN: pin(17)}}).Error
			}, []string{"update 5", "create 21"}},
			{"soft delete by object", func() error {
				return set(map[string][]string{"1": {s(15), *pin(1)}}).Delete(&Locker{ID: 1}).Error
			}, []string{"delete 1"}},
			{"soft delete by key", func() error {
				return set(map[string][]string{"2": {s(15)}}).Delete(&Locker{}, 2).Error
			}, []string{"delete 2"}},
			{"soft delete by where", func() error {
				return set(map[string][]string{"3": {strings.Replace(s(11), "Value", "Vault", 1), *pin(11)}, "4": {strings.Replace(s(12), "Value", "Vault", 1)}}).
					Where("id IN ?", []int64{3, 4}).Delete(&Locker{}).Error
			}, []string{"delete 3", "delete 4"}},
			{"hard delete", func() error {
				return set(map[string][]string{"5": {s(16)}}).Unscoped().Delete(&Locker{ID: 5}).Error
			}, []string{"delete 5"}},
			{"hard delete of soft-deleted rows by where", func() error {
				return set(map[string][]string{"1": {s(15), *pin(1)}, "2": {s(15)}}).Unscoped().Where("id IN ?", []int64{1, 2}).Delete(&Locker{}).Error
			}, []string{"delete 1", "delete 2"}},
			{"log with data", func() error {
				tx := set(map[string][]string{"6": {s(14), *pin(14)}})
				return p.Log(tx.Statement.Context, db, &Locker{ID: 6, Label: "f", Secret: s(14), PIN: pin(14)},
					"locker.opened", map[string]any{"opened_with": s(14), *pin(14): "pin as a key"})
			}, []string{"locker.opened 6"}},
			{"log of a slice with every row's secret in the data", func() error {
				tx := set(map[string][]string{"7": {s(7)}, "20": {s(8)}})
				return p.Log(tx.Statement.Context, db, &[]Locker{{ID: 7, Label: "g", Secret: s(7)}, {ID: 20, Label: "h", Secret: s(8)}},
					"locker.opened", map[string]any{"secrets": []any{s(7), s(8)}})
			}, []string{"locker.opened 7", "locker.opened 20"}},
			{"logged reads", func() error {
				var ls []Locker
				return set(map[string][]string{"6": {s(14), *pin(14)}, "7": {s(7)}, "20": {s(8)}, "21": {s(17), *pin(17)}}).
					Order("id").Find(&ls).Error
			}, []string{"access 6", "access 7", "access 20", "access 21"}},
		}
		var want []string
		for _, step := range steps {
			if err := step.do(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			want = append(want, step.want...)
		}
		var got []string
		for _, e := range allEntries(t, db) {
			got = append(got, fmt.Sprintf("%s %s", e.Action, e.ObjectPK))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("entries (-want +got):\n%s", diff)
		}
		for _, leak := range findInLog(t, db, secretMark) {
			t.Errorf("a secret is stored in clear: %s", leak)
		}
	})
}

// findInLog reads every column of every row of the log table as text and
// returns "entry N column: text" for each value that contains s.
func findInLog(t *testing.T, db *gorm.DB, s string) []string {
	t.Helper()
	rows, err := db.Session(&gorm.Session{NewDB: true}).Raw("SELECT * FROM " + DefaultTable + " ORDER BY id").Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	n := 0
	for rows.Next() {
		n++
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			var text string
			switch x := v.(type) {
			case []byte:
				text = string(x)
			case string:
				text = x
			case time.Time:
				text = x.String()
			default:
				text = fmt.Sprint(x)
			}
			if strings.Contains(text, s) {
				found = append(found, fmt.Sprintf("entry %d %s: %s", n, cols[i], text))
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(cols, "data") || !slices.Contains(cols, "object_repr") || n == 0 {
		t.Fatalf("read %d rows of columns %v", n, cols)
	}
	return found
}

// APIKey is a model whose primary key is a secret.
type APIKey struct {
	Token string `gorm:"primaryKey;size:64"`
	Owner string `gorm:"size:50"`
}

// TestMaskedPrimaryKey: an entry names its object by the primary key, in
// ObjectPK (and in the "Model(pk)" ObjectRepr), so a masked primary key
// cannot be kept out of the log: Register refuses it, from Mask and from the
// plugin-wide WithMask.
func TestMaskedPrimaryKey(t *testing.T) {
	if err := New().Register(&APIKey{}, Mask("Token")); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Register with Mask on the primary key: %v, want %v", err, ErrInvalidOption)
	}
	if err := New(WithMask("Token")).Register(&APIKey{}); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Register under WithMask of the primary key: %v, want %v", err, ErrInvalidOption)
	}
}

// TestSharedDataMaskedForEveryRow: WithData is shared by every entry of a
// statement, so a secret of one row in it is masked in the entries of the
// other rows too (regression: each entry was scrubbed only for its own row).
func TestSharedDataMaskedForEveryRow(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		setup(t, db, []any{&Locker{}}, Mask("Secret"))
		ctx := WithData(context.Background(), map[string]any{"secrets": []any{lockerSecret(1), lockerSecret(2)}})
		if err := db.WithContext(ctx).Create(&[]Locker{{Label: "a", Secret: lockerSecret(1)}, {Label: "b", Secret: lockerSecret(2)}}).Error; err != nil {
			t.Fatal(err)
		}
		masked := JSONMap{"secrets": []any{MaskString(lockerSecret(1)), MaskString(lockerSecret(2))}}
		var got []JSONMap
		for _, e := range allEntries(t, db) {
			got = append(got, e.Data)
		}
		if diff := cmp.Diff([]JSONMap{masked, masked}, got); diff != "" {
			t.Errorf("data (-want +got):\n%s", diff)
		}
	})
}

// TestMaskData pins how secrets are masked in Data, including the cases
// FuzzMaskDataHidesSecret found: masking an occurrence that completes
// another, and secrets with invalid UTF-8, which JSON stores with U+FFFD.
func TestMaskData(t *testing.T) {
	tests := []struct {
		name     string
		secrets  []string
		redacted []string
		give     map[string]any
		want     map[string]any // nil: nothing to mask
	}{
		{
			name:    "value, key and nested",
			secrets: []string{"confidential"},
			give:    map[string]any{"a": "my confidential text", "confidential": []any{"confidential"}},
			want:    map[string]any{"a": "my ******ential text", "******ential": []any{"******ential"}},
		},
		{
			name:    "number equal to a secret",
			secrets: []string{"4711"},
			give:    map[string]any{"pin": json.Number("4711"), "other": json.Number("47110")},
			want:    map[string]any{"pin": "**11", "other": json.Number("47110")},
		},
		{
			name:    "masking completes another occurrence",
			secrets: []string{"a*"},
			give:    map[string]any{"k": "aa*"},
			want:    map[string]any{"k": "***"},
		},
		{
			name:    "overlapping occurrences",
			secrets: []string{"🔑🔑"},
			give:    map[string]any{"k": "🔑🔑🔑"},
			want:    map[string]any{"k": "**🔑"},
		},
		{
			name:    "invalid UTF-8 in the secret",
			secrets: []string{"pass\xffword"},
			give:    map[string]any{"k": "<pass\xffword>"},
			want:    map[string]any{"k": "<****\uFFFDword>"},
		},
		{
			name:    "a secret masking leaves as it is",
			secrets: []string{"**c"},
			give:    map[string]any{"k": "**c"},
		},
		{
			name:    "no secret",
			secrets: []string{"confidential"},
			give:    map[string]any{"k": "public"},
		},
		{
			name:     "a redacted secret replaces the whole string, key or number",
			redacted: []string{"$2a$10$hash", "123456"},
			give:     map[string]any{"k": "hash is $2a$10$hash!", "$2a$10$hash": true, "pin": json.Number("123456"), "n": []any{"x", "123456"}},
			want:     map[string]any{"k": Redacted, Redacted: true, "pin": Redacted, "n": []any{"x", Redacted}},
		},
		{
			name:     "redacted and masked secrets together",
			secrets:  []string{"confidential"},
			redacted: []string{"topsecret"},
			give:     map[string]any{"a": "confidential", "b": "topsecret confidential"},
			want:     map[string]any{"a": "******ential", "b": Redacted},
		},
		{
			name:     "a redacted secret masking leaves as it is",
			redacted: []string{"**"},
			give:     map[string]any{"k": "a**b"},
			want:     map[string]any{"k": Redacted},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var secrets []secret
			for _, s := range tt.secrets {
				secrets = append(secrets, secret{text: s})
			}
			for _, s := range tt.redacted {
				secrets = append(secrets, secret{text: s, redact: true})
			}
			got, err := maskData(tt.give, secrets)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("maskData (-want +got):\n%s", diff)
			}
		})
	}
}
