package auditlog

import (
	"testing"
	"time"

	"gorm.io/gorm"
)

// BenchmarkAssociationClear clears 100,000 links of one post, plain (the
// association not registered) and audited (Associations("Tags")): one entry
// listing 1000 keys and counting the rest. Run with -benchmem: the audited
// Clear reads the links row by row and keeps at most WithMaxAssociationKeys
// keys per owner, so its allocations grow with the rows read (scan buffers),
// its live memory does not.
func BenchmarkAssociationClear(b *testing.B) {
	const n = 100_000
	for _, mode := range []string{"plain", "audited"} {
		b.Run(mode, func(b *testing.B) {
			db := openTestDB(b, "sqlite", nil)
			p := New(WithClock(func() time.Time { return testNow }))
			if err := db.Use(p); err != nil {
				b.Fatal(err)
			}
			if err := db.AutoMigrate(&LogEntry{}, &Post{}, &Tag{}); err != nil {
				b.Fatal(err)
			}
			if mode == "audited" {
				if err := p.Register(&Post{}, Associations("Tags")); err != nil {
					b.Fatal(err)
				}
			}
			post := Post{Title: "p"}
			if err := db.Create(&post).Error; err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				b.StopTimer()
				seedLinks(b, db, post.ID, n)
				b.StartTimer()
				if err := db.Model(&Post{ID: post.ID}).Association("Tags").Clear(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seedLinks links post to tags 1..n (SQLite), creating missing tags.
func seedLinks(b *testing.B, db *gorm.DB, post int64, n int) {
	b.Helper()
	err := db.Exec(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < ?)
		INSERT OR IGNORE INTO tags (id, name) SELECT i, 't' FROM s`, n).Error
	if err == nil {
		err = db.Exec(`INSERT INTO post_tags (post_id, tag_id) SELECT ?, id FROM tags WHERE id <= ?`, post, n).Error
	}
	if err != nil {
		b.Fatal(err)
	}
}
