package auditlog

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// modelConfig is what Register was told about one model.
type modelConfig struct {
	include, exclude, mask []string
	redact                 []string
	labels                 map[string]string
	serialize              bool
	actions                []Action // nil: create, update, delete
	access                 bool
	associations           []string        // many2many fields whose links are recorded
	retention              []retentionRule // this model's policies (Retention)
	parent                 string          // Parent's belongs-to field, when hasParent
	hasParent              bool
	logTable               string // LogTable's table; "": the plugin's log table
	hasLogTable            bool
}

// actionSet is the set of built-in actions recorded for a model.
type actionSet uint8

const (
	recordCreate actionSet = 1 << iota
	recordUpdate
	recordDelete
	recordAccess

	defaultActions = recordCreate | recordUpdate | recordDelete
)

func actionBit(a Action) actionSet {
	switch a {
	case ActionCreate:
		return recordCreate
	case ActionUpdate:
		return recordUpdate
	case ActionDelete:
		return recordDelete
	case ActionAccess:
		return recordAccess
	}
	return 0
}

// has reports whether the set records action a.
func (s actionSet) has(a Action) bool { return s&actionBit(a) != 0 }

// recorded is the set of actions cfg (nil: plugin-wide defaults) records.
func (c *modelConfig) recorded() actionSet {
	if c == nil {
		return defaultActions
	}
	set := defaultActions
	if c.actions != nil {
		set = 0
		for _, a := range c.actions {
			set |= actionBit(a)
		}
	}
	if c.access {
		set |= recordAccess
	}
	return set
}

// trackedField is one tracked column of a model.
type trackedField struct {
	field *schema.Field
	kind  valueKind
	// masked: the clear value is never stored (Mask or Redact); redacted:
	// it is stored as Redacted rather than masked (Redact wins over Mask).
	masked, redacted bool
	label            string
	// timeDigits is, for a time column, how many fractional digits of a
	// value GORM sends the database is known to keep, and timeTruncates
	// whether more are cut off (rather than rounded by a rule the plugin does
	// not know): see capabilities.storedTimeDigits. notTime for other
	// columns.
	timeDigits    int
	timeTruncates bool
}

const (
	notTime     = -1 // not a time column
	unknownTime = -2 // a time column whose stored form is not known: read it back
)

// plan is everything the callbacks need about one model schema, computed once
// and cached per *schema.Schema (GORM keeps one per model type and table).
type plan struct {
	schema    *schema.Schema
	fields    []*trackedField
	serialize bool
	masks     bool // some field is masked or redacted
	actions   actionSet

	// Columns read from the database, and where in them the key and the
	// tracked fields are (see prepareColumns).
	columns       []string
	selectColumns []clause.Column
	locked        lockedColumns // the one-statement write's columns (capture_sql.go)
	columnFields  []*schema.Field
	keyColumns    []int
	fieldColumns  []int
	parent        *parentRef        // Parent: where the parent's key is in a state; nil: none
	logTable      string            // the log table its entries go to (LogTable, or the plugin's)
	stringer      bool              // the model is a fmt.Stringer, used for ObjectRepr
	links         map[string]string // Associations: the association's column in Changes → its field name
	fieldIndex    map[string]int    // tracked field index by column name
}

// Register tracks model (a pointer to a struct, such as &User{}) with the
// given options, replacing any earlier registration of the same type. It
// parses the model once; the plan the callbacks use is built on first use and
// cached. It is safe to call concurrently with writes, which see either the
// old or the new options.
//
// It returns an error wrapping ErrInvalidModel, ErrNoPrimaryKey,
// ErrUnknownField or ErrInvalidOption, naming the model and the field.
func (p *Plugin) Register(model any, opts ...ModelOption) error {
	typ, err := modelType(model)
	if err != nil {
		return err
	}
	s, err := schema.Parse(model, &p.parsed, p.namer())
	if err != nil {
		return fmt.Errorf("auditlog: register %s: %w: %w", typ, ErrInvalidModel, err)
	}
	if len(s.PrimaryFields) == 0 {
		return fmt.Errorf("auditlog: register %s: %w", s.Name, ErrNoPrimaryKey)
	}
	cfg := &modelConfig{}
	for _, o := range opts {
		if o != nil { // a nil option is ignored, as everywhere (options.go)
			o.applyModel(cfg)
		}
	}
	if err := cfg.validate(s); err != nil {
		return fmt.Errorf("auditlog: register %s: %w", s.Name, err)
	}
	if cfg.hasLogTable {
		if err := validLogTable(s, cfg.logTable, p.cfg.seal != nil); err != nil {
			return fmt.Errorf("auditlog: register %s: %w", s.Name, err)
		}
	}
	fields := p.trackedFields(s, cfg, capabilities{})
	if len(fields) == 0 {
		return fmt.Errorf("auditlog: register %s: %w: no field is tracked", s.Name, ErrInvalidOption)
	}
	if err := checkHidden(s, fields, cfg); err != nil {
		return fmt.Errorf("auditlog: register %s: %w", s.Name, err)
	}
	for name := range cfg.labels {
		if !tracks(fields, s.LookUpField(name)) {
			return fmt.Errorf("auditlog: register %s: %w: Label(%q) names a field that is not tracked", s.Name, ErrInvalidOption, name)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.models[typ] = cfg
	clear(p.plans)
	clear(p.display)
	return nil
}

// Unregister stops tracking model's type. Models tracked through TrackAll
// fall back to the plugin-wide options. It is safe for concurrent use.
func (p *Plugin) Unregister(model any) {
	typ, err := modelType(model)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.models, typ)
	clear(p.plans)
	clear(p.display)
}

// Registered reports whether writes of model's type are tracked: it was
// registered, or TrackAll covers it.
func (p *Plugin) Registered(model any) bool {
	typ, err := modelType(model)
	if err != nil {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	_, ok := p.models[typ]
	return ok || p.trackedByDefault(typ)
}

func (p *Plugin) trackedByDefault(typ reflect.Type) bool {
	if !p.cfg.trackAll || typ == logEntryType {
		return false
	}
	for _, m := range p.cfg.trackNot {
		if t, err := modelType(m); err == nil && t == typ {
			return false
		}
	}
	return true
}

var logEntryType = reflect.TypeOf(LogEntry{})

// modelType is the struct type of a pointer to a struct.
func modelType(model any) (reflect.Type, error) {
	if model == nil {
		return nil, fmt.Errorf("auditlog: register <nil>: %w", ErrInvalidModel)
	}
	t := reflect.TypeOf(model)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("auditlog: register %s: %w", t, ErrInvalidModel)
	}
	return t.Elem(), nil
}

func (c *modelConfig) validate(s *schema.Schema) error {
	check := func(option string, names []string) error {
		for _, name := range names {
			if f := s.LookUpField(name); f == nil || f.DBName == "" {
				return fmt.Errorf("%w %q in %s", ErrUnknownField, name, option)
			}
		}
		return nil
	}
	if err := check("Include", c.include); err != nil {
		return err
	}
	if err := check("Exclude", c.exclude); err != nil {
		return err
	}
	if err := check("Mask", c.mask); err != nil {
		return err
	}
	if err := check("Redact", c.redact); err != nil {
		return err
	}
	if c.actions != nil && len(c.actions) == 0 {
		return fmt.Errorf("%w: Actions() lists no action; Unregister the model instead", ErrInvalidOption)
	}
	for _, a := range c.actions {
		if actionBit(a) == 0 {
			return fmt.Errorf("%w: Actions(%q): only create, update, delete and access are recorded automatically", ErrInvalidOption, a)
		}
	}
	for _, name := range c.associations {
		if rel := s.Relationships.Relations[name]; rel == nil || rel.Type != schema.Many2Many || rel.JoinTable == nil {
			return fmt.Errorf("%w: Associations(%q) names no many2many field", ErrInvalidOption, name)
		}
	}
	if c.hasParent {
		if err := validParent(s, c.parent); err != nil {
			return err
		}
	}
	for name, label := range c.labels {
		if err := check("Label", []string{name}); err != nil {
			return err
		}
		if strings.TrimSpace(label) == "" {
			return fmt.Errorf("%w: Label(%q) is empty", ErrInvalidOption, name)
		}
	}
	return nil
}

// checkHidden refuses Mask and Redact of a field that is not tracked, and
// masking or redacting a primary-key field (ObjectPK names the object in
// clear).
func checkHidden(s *schema.Schema, fields []*trackedField, cfg *modelConfig) error {
	options := []struct {
		name  string
		names []string
	}{{"Mask", cfg.mask}, {"Redact", cfg.redact}}
	for _, o := range options {
		option := o.name
		for _, name := range o.names {
			if !tracks(fields, s.LookUpField(name)) {
				return fmt.Errorf("%w: %s(%q) names a field that is not tracked", ErrInvalidOption, option, name)
			}
		}
	}
	if err := checkParentHidden(s, fields, cfg); err != nil {
		return err
	}
	for _, tf := range fields {
		if tf.masked && tf.field.PrimaryKey {
			return fmt.Errorf("%w: %s is masked or redacted but is part of the primary key, which ObjectPK stores in clear to name the object",
				ErrInvalidOption, tf.field.Name)
		}
	}
	return nil
}

func tracks(fields []*trackedField, f *schema.Field) bool {
	for _, tf := range fields {
		if tf.field == f {
			return true
		}
	}
	return false
}

// hasField reports whether names holds f's Go name or column name.
func hasField(names []string, f *schema.Field) bool {
	for _, n := range names {
		if n == f.Name || n == f.DBName {
			return true
		}
	}
	return false
}

// trackedFields lists the columns of s that cfg (nil: plugin-wide options
// only) tracks, in the schema's order.
func (p *Plugin) trackedFields(s *schema.Schema, cfg *modelConfig, caps capabilities) []*trackedField {
	if cfg == nil {
		cfg = &modelConfig{}
	}
	var fields []*trackedField
	// The soft-delete column is always tracked: a soft delete is recorded
	// with it in the changes, whatever Include and Exclude say; so is
	// Parent's foreign key, which every entry's parent key is read from.
	always := append(softDeleteFields(s), parentForeignKeys(s, cfg)...)
	for _, f := range s.Fields {
		if f.DBName == "" || !f.Readable {
			continue
		}
		if !slices.Contains(always, f) {
			if len(cfg.include) > 0 && !hasField(cfg.include, f) {
				continue
			}
			if hasField(cfg.exclude, f) || hasField(p.cfg.exclude, f) {
				continue
			}
		}
		tf := &trackedField{
			field:    f,
			kind:     kindOf(f),
			redacted: hasField(cfg.redact, f) || hasField(p.cfg.redact, f),
			label:    f.Name,
		}
		tf.masked = tf.redacted || hasField(cfg.mask, f) || hasField(p.cfg.mask, f)
		tf.timeDigits, tf.timeTruncates = caps.storedTimeDigits(f)
		for name, label := range cfg.labels {
			if name == f.Name || name == f.DBName {
				tf.label = label
			}
		}
		fields = append(fields, tf)
	}
	return fields
}

// softDeleteFields returns the columns the schema's soft-delete clauses set:
// the Field of gorm.SoftDeleteDeleteClause, or of a plugin's clause of the
// same shape (gorm.io/plugin/soft_delete).
func softDeleteFields(s *schema.Schema) []*schema.Field {
	var fields []*schema.Field
	for _, c := range s.DeleteClauses {
		v := reflect.Indirect(reflect.ValueOf(c))
		if v.Kind() != reflect.Struct {
			continue
		}
		fv := v.FieldByName("Field")
		if !fv.IsValid() || !fv.CanInterface() {
			continue
		}
		if f, ok := fv.Interface().(*schema.Field); ok && f != nil {
			fields = append(fields, f)
		}
	}
	return fields
}

// planFor returns the plan for a statement's schema, or nil when the model is
// not tracked. The result is cached until the next Register or Unregister.
func (p *Plugin) planFor(db *gorm.DB) *plan {
	s := db.Statement.Schema
	if s == nil {
		if s = p.schemaForTable(db); s == nil {
			return nil
		}
	}
	return p.planOf(s, p.capabilities(db))
}

// planOf returns the plan of schema s on the named dialect, or nil when the
// model is not tracked.
func (p *Plugin) planOf(s *schema.Schema, caps capabilities) *plan {
	p.mu.RLock()
	pl, ok := p.plans[s]
	p.mu.RUnlock()
	if ok {
		return pl
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pl, ok := p.plans[s]; ok {
		return pl
	}
	cfg, registered := p.models[s.ModelType]
	if (registered || p.trackedByDefault(s.ModelType)) && s.Table != p.cfg.table && len(s.PrimaryFields) > 0 {
		pl = &plan{
			schema:   s,
			fields:   p.trackedFields(s, cfg, caps),
			actions:  cfg.recorded(),
			logTable: p.cfg.table,
		}
		if cfg != nil && cfg.logTable != "" {
			pl.logTable = cfg.logTable
		}
		if cfg != nil {
			pl.serialize = cfg.serialize
			pl.links = p.linkColumns(s, cfg)
		}
		if len(pl.fields) == 0 {
			pl = nil
		} else {
			pl.prepareColumns()
			pl.fieldIndex = make(map[string]int, len(pl.fields))
			for i, tf := range pl.fields {
				pl.fieldIndex[tf.field.DBName] = i
				pl.masks = pl.masks || tf.masked
			}
			pl.parent = newParentRef(pl, cfg)
		}
	}
	p.plans[s] = pl
	return pl
}

// schemaForTable finds the registered model of a statement that names a table
// but no model (db.Table("items").Where(...).Updates(map)), so that such
// writes are recorded too. It parses each registered model through db's
// schema cache; only statements without a model pay for it.
func (p *Plugin) schemaForTable(db *gorm.DB) *schema.Schema {
	// db.Table("items") sets Table and the quoted TableExpr; an alias or a
	// schema-qualified name is not matched (conditions may use the alias).
	table, expr := db.Statement.Table, db.Statement.TableExpr
	if table == "" || expr != nil && (expr.SQL != db.Statement.Quote(table) || len(expr.Vars) > 0) {
		return nil
	}
	p.mu.RLock()
	types := make([]reflect.Type, 0, len(p.models))
	for t := range p.models {
		types = append(types, t)
	}
	p.mu.RUnlock()
	for _, t := range types {
		st := &gorm.Statement{DB: db}
		if err := st.Parse(reflect.New(t).Interface()); err == nil && st.Schema.Table == table {
			return st.Schema
		}
	}
	return nil
}
