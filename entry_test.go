package auditlog

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

func TestLogTableSchema(t *testing.T) {
	// MariaDB's JSON is an alias of LONGTEXT with a json_valid check; MySQL's is JSON.
	wantJSON := map[string][]string{"sqlite": {"TEXT"}, "postgres": {"JSONB"}, "mysql": {"JSON", "LONGTEXT"}}
	forEachDB(t, func(t *testing.T, db *gorm.DB) {
		if err := db.AutoMigrate(&LogEntry{}); err != nil {
			t.Fatal(err)
		}
		m := db.Migrator()
		gotIdx := logIndexColumns(t, db)
		wantIdx := map[string][]string{
			"idx_audit_log_entries_object":  {"created_at", "id", "object_pk", "table_name"},
			"idx_audit_log_entries_model":   {"created_at", "id", "table_name"},
			"idx_audit_log_entries_actor":   {"actor_id", "created_at", "id"},
			"idx_audit_log_entries_cid":     {"cid", "created_at", "id"},
			"idx_audit_log_entries_created": {"created_at", "id"},
			"idx_audit_log_entries_parent":  {"created_at", "id", "parent_pk", "parent_table"}, // Query.Children
		}
		if diff := cmp.Diff(wantIdx, gotIdx); diff != "" {
			t.Errorf("indexes (-want +got):\n%s", diff)
		}
		types, err := m.ColumnTypes(&LogEntry{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, ct := range types {
			got[ct.Name()] = strings.ToUpper(ct.DatabaseTypeName())
		}
		name := db.Dialector.Name()
		for _, col := range []string{"changes", "data", "snapshot"} {
			if !slices.Contains(wantJSON[name], got[col]) {
				t.Errorf("column %s is %s, want %s", col, got[col], wantJSON[name])
			}
		}
		if !strings.Contains(got["id"], "INT") {
			t.Errorf("id is %s, want a 64-bit integer", got["id"])
		}
	})
}

// logIndexColumns maps the log table's secondary indexes to their columns,
// sorted: some migrators list an index's columns in table order, so the
// sets are compared (TestFindUsesIndexes checks the order). On PostgreSQL
// the indexes are read from the test's own schema: GORM's GetIndexes there
// matches the table name in every schema, and other tests' schemas running
// at the same time have log tables too.
func logIndexColumns(t *testing.T, db *gorm.DB) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	if db.Dialector.Name() == "postgres" {
		var rows []struct{ Index, Column string }
		err := db.Raw(`SELECT ci.relname AS "index", a.attname AS "column"
			FROM pg_index i JOIN pg_class ct ON ct.oid = i.indrelid JOIN pg_class ci ON ci.oid = i.indexrelid
			JOIN pg_attribute a ON a.attrelid = ct.oid AND a.attnum = ANY(i.indkey)
			WHERE ct.relname = ? AND ct.relnamespace = current_schema()::regnamespace AND NOT i.indisprimary`,
			DefaultTable).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got[r.Index] = append(got[r.Index], r.Column)
		}
	} else {
		indexes, err := db.Migrator().GetIndexes(&LogEntry{})
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range indexes {
			if pk, _ := idx.PrimaryKey(); !pk && idx.Name() != "PRIMARY" {
				got[idx.Name()] = idx.Columns()
			}
		}
	}
	for name, cols := range got {
		got[name] = slices.Sorted(slices.Values(cols))
	}
	return got
}

func TestChangesJSON(t *testing.T) {
	c := Changes{"price": {Old: json.Number("0.17"), New: nil}, "name": {Old: "a", New: "b"}}
	v, err := c.Value()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":["a","b"],"price":[0.17,null]}`; v != want {
		t.Errorf("Value() = %s, want %s", v, want)
	}
	var back Changes
	if err := back.Scan([]byte(v.(string))); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`{"a":1}`, `{"a":[1]}`, `{"a":[1,2,3]}`, `[`, `{"a":[1,}`} {
		var ch Changes
		if err := ch.Scan(bad); err == nil {
			t.Errorf("Scan(%s): no error", bad)
		}
	}
	var null Changes
	if err := null.Scan(nil); err != nil || null != nil {
		t.Errorf("Scan(nil) = %v, %v; want nil, nil", null, err)
	}
}

// TestLogSchemaHasOneSource: the columns the plugin writes, the values it
// writes into them and the columns it reads back all follow LogEntry.
func TestLogSchemaHasOneSource(t *testing.T) {
	cache := &sync.Map{}
	s, err := schema.Parse(&LogEntry{}, cache, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	e := LogEntry{Table: "t", ObjectPK: "1", ObjectRepr: "r", Action: "a", Changes: Changes{"x": {}},
		ActorID: "u", RemoteAddr: "ip", CID: "c", Data: JSONMap{"d": 1}, Snapshot: JSONMap{"s": 2}, CreatedAt: testNow}
	values := e.columnValues()
	var columns []string
	for _, f := range s.Fields {
		if f.DBName == "" || f.PrimaryKey || slices.Contains(sealColumns, f.DBName) {
			continue
		}
		i := len(columns)
		columns = append(columns, f.DBName)
		v, _ := f.ValueOf(context.Background(), reflect.ValueOf(e))
		if i < len(values) && !cmp.Equal(fmt.Sprint(v), fmt.Sprint(values[i])) {
			t.Errorf("value %d (%s): %v, LogEntry holds %v", i, f.DBName, values[i], v)
		}
	}
	if diff := cmp.Diff(columns, entryColumns); diff != "" {
		t.Errorf("entryColumns (-LogEntry +entryColumns):\n%s", diff)
	}
	stored, err := schema.Parse(&storedEntry{}, cache, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append([]string{"id"}, columns...), stored.DBNames); diff != "" {
		t.Errorf("storedEntry columns (-LogEntry +storedEntry):\n%s", diff)
	}
	leaf, err := schema.Parse(&leafRow{}, cache, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]string{"id"}, columns...), "seal_seq", "leaf_hash", "erased_by") // the seal table's two
	if diff := cmp.Diff(all, leaf.DBNames); diff != "" {
		t.Errorf("leafRow columns (-LogEntry +leafRow):\n%s", diff)
	}
	var selected []string
	for _, c := range strings.Split(leafSelect, ", ") {
		selected = append(selected, c[strings.Index(c, ".")+1:])
	}
	if diff := cmp.Diff(all, selected); diff != "" {
		t.Errorf("leafSelect (-LogEntry +leafSelect):\n%s", diff)
	}
}
