package auditlog

import (
	"maps"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// ActorStamps records who created a row and who changed it last, as
// django-audit-log's CreatingUserField and LastUserField do. Embed it in a
// model (anonymously, or as a field tagged `gorm:"embedded"`); the plugin
// fills it from the context's actor (ActorFrom) on every model that has it,
// registered or not:
//
//   - on create, CreatedBy and UpdatedBy when they are empty (an import can
//     keep the values it brings);
//   - on update, UpdatedBy, unless the update sets it itself (a map key or
//     clause), or is an UpdateColumn(s), which skips hooks and
//     auto-update times too, or omits the column.
//
// Without an actor nothing is filled. The values are written in the same
// statement as the change, so they cost no extra query; map creates get
// them as keys added to the map, as GORM adds the primary key. Stamps are
// filled also under Disable: they are the row's data, not its trail.
type ActorStamps struct {
	CreatedBy string `gorm:"size:191"`
	UpdatedBy string `gorm:"size:191"`
}

var actorStampsType = reflect.TypeOf(ActorStamps{})

// stampFields are a schema's ActorStamps fields; nil when it has none.
type stampFields struct {
	createdBy, updatedBy *schema.Field
}

// stampsFor returns the ActorStamps fields of s, computed once per schema.
func (p *Plugin) stampsFor(s *schema.Schema) *stampFields {
	if s == nil {
		return nil
	}
	if v, ok := p.stamps.Load(s); ok {
		return v.(*stampFields)
	}
	var st stampFields
	for _, f := range s.Fields {
		if f.DBName == "" || len(f.StructField.Index) < 2 || embeddingType(s.ModelType, f.StructField.Index) != actorStampsType {
			continue
		}
		switch f.Name {
		case "CreatedBy":
			st.createdBy = f
		case "UpdatedBy":
			st.updatedBy = f
		}
	}
	var found *stampFields
	if st.createdBy != nil || st.updatedBy != nil {
		found = &st
	}
	p.stamps.Store(s, found)
	return found
}

// embeddingType is the type of the struct that holds the field at index (as
// GORM records it: a negative step is an embedded pointer) in t.
func embeddingType(t reflect.Type, index []int) reflect.Type {
	for _, i := range index[:len(index)-1] {
		if i < 0 {
			i = -i - 1
		}
		if t.Kind() != reflect.Struct || i >= t.NumField() {
			return nil
		}
		t = t.Field(i).Type
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return t
}

// stampCreate fills CreatedBy and UpdatedBy of the rows to be created where
// they are empty.
func (p *Plugin) stampCreate(db *gorm.DB) {
	stmt := db.Statement
	st := p.stampsFor(stmt.Schema)
	if st == nil || db.Error != nil {
		return
	}
	actor := ActorFrom(stmt.Context)
	if actor == "" {
		return
	}
	ctx := stmt.Context
	rv := reflect.Indirect(stmt.ReflectValue)
	fields := []*schema.Field{st.createdBy, st.updatedBy}
	switch {
	case rv.Kind() == reflect.Map:
		stampMap(rv, fields, actor)
	case (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) && rv.Type().Elem().Kind() == reflect.Map:
		for i := 0; i < rv.Len(); i++ {
			stampMap(rv.Index(i), fields, actor)
		}
	default:
		_ = eachStruct(rv, func(row reflect.Value) error {
			if !row.CanAddr() {
				return nil
			}
			for _, f := range fields {
				if f == nil {
					continue
				}
				if _, zero := f.ValueOf(ctx, row); zero {
					if err := f.Set(ctx, row, actor); err != nil {
						db.AddError(err)
						return err
					}
				}
			}
			return nil
		})
	}
}

// stampMap adds the stamp columns to a map given to Create when it has
// neither the field's name nor its column.
func stampMap(m reflect.Value, fields []*schema.Field, actor string) {
	m = reflect.Indirect(m)
	if m.Kind() != reflect.Map || m.Type().Key().Kind() != reflect.String || m.IsNil() {
		return
	}
	value := reflect.ValueOf(actor)
	if !value.Type().AssignableTo(m.Type().Elem()) {
		return
	}
	for _, f := range fields {
		if f == nil {
			continue
		}
		if m.MapIndex(reflect.ValueOf(f.Name)).IsValid() || m.MapIndex(reflect.ValueOf(f.DBName)).IsValid() {
			continue
		}
		m.SetMapIndex(reflect.ValueOf(f.DBName).Convert(m.Type().Key()), value)
	}
}

// stampUpdate sets UpdatedBy in what an update writes, before gorm:update
// builds its SET clause from it (which also copies it into the model in
// memory): in a copy of a map (the caller's map is left as it is) unless the
// map names the column, or in the struct being saved or passed to Updates.
// Omit("UpdatedBy") leaves it out.
func stampUpdate(stmt *gorm.Statement, st *stampFields, actor string) {
	f := st.updatedBy
	if f == nil || !f.Updatable {
		return
	}
	if cols, _ := stmt.SelectAndOmitColumns(false, true); !cols[f.DBName] {
		if _, omitted := cols[f.DBName]; omitted {
			return
		}
	}
	switch dest := stmt.Dest.(type) {
	case map[string]any:
		if _, ok := dest[f.DBName]; ok {
			return
		}
		if _, ok := dest[f.Name]; ok {
			return
		}
		m := maps.Clone(dest)
		m[f.DBName] = actor
		stmt.Dest = m
		return
	}
	dest := reflect.ValueOf(stmt.Dest)
	for dest.Kind() == reflect.Pointer && !dest.IsNil() {
		dest = dest.Elem()
	}
	if dest.Kind() != reflect.Struct || dest.Type() != stmt.Schema.ModelType {
		return
	}
	if !dest.CanAddr() { // Updates(T{...}): stamp a copy
		cp := reflect.New(dest.Type())
		cp.Elem().Set(dest)
		stmt.Dest, dest = cp.Interface(), cp.Elem()
	}
	_ = f.Set(stmt.Context, dest, actor)
}
