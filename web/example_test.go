package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"

	"github.com/gorm-auditlog/auditlog"
	"github.com/gorm-auditlog/auditlog/web"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

type Invoice struct {
	ID     int64
	Status string
}

// An application mounts the view under /audit/ and lets each viewer see
// what their role allows: here, auditors see invoices only.
func ExampleHandler() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	db, _ := gorm.Open(sqlite.Open(filepath.Join(dir, "app.db")), &gorm.Config{Logger: logger.Discard})
	audit := auditlog.New()
	db.Use(audit)
	db.AutoMigrate(&auditlog.LogEntry{}, &Invoice{})
	audit.Register(&Invoice{})
	db.WithContext(auditlog.WithActor(context.Background(), "alice")).Create(&Invoice{Status: "draft"})

	h, err := web.Handler(audit, db, web.Authorize(func(r *http.Request) (web.Access, bool) {
		roles := r.Header.Values("X-Role") // set by the application's own authentication
		switch {
		case slices.Contains(roles, "admin"):
			return web.Everything(), true
		case slices.Contains(roles, "auditor"):
			return web.Access{Tables: []string{"invoices"}, AllActions: true}, true
		}
		return web.Access{}, false // 403
	}))
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/audit/", http.StripPrefix("/audit", h))

	for _, role := range []string{"auditor", "guest"} {
		req := httptest.NewRequest(http.MethodGet, "/audit/api/entries?actor=alice", nil)
		req.Header.Set("X-Role", role)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(role, rec.Code)
	}
	// Output:
	// auditor 200
	// guest 403
}
