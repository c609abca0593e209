package auditlog

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// AnyAction in Retention makes a policy cover every action.
const AnyAction Action = ""

// retentionRule is one Retention option: keep entries of action (AnyAction:
// all) for keep.
type retentionRule struct {
	table  string // "" : every table (or, in a modelConfig, the model's)
	action Action
	keep   time.Duration
}

// RetentionOption is a retention policy, usable both as a plugin Option
// (every model's entries) and as a ModelOption of Register (that model's
// entries).
type RetentionOption struct{ rule retentionRule }

func (o RetentionOption) apply(c *config) { c.retention = append(c.retention, o.rule) }

func (o RetentionOption) applyModel(m *modelConfig) { m.retention = append(m.retention, o.rule) }

var (
	_ Option      = RetentionOption{}
	_ ModelOption = RetentionOption{}
)

// Retention keeps the entries of action (AnyAction: every action) for
// keep, after which Plugin.Maintain removes them. As a plugin option
// (auditlog.New(auditlog.Retention(auditlog.ActionAccess, 90*24*time.Hour)))
// it covers every table; given to Register it covers that model's entries
// only. The default is to keep entries forever; keep <= 0 also means
// forever. Repeating adds policies; for the same scope and action the last
// one wins.
//
// Each entry is governed by exactly one policy, the most specific that
// covers it: the model's policy for its action, else the model's policy for
// AnyAction, else the plugin-wide policy for its action, else the
// plugin-wide AnyAction policy, else none (kept). So a model may keep its
// entries longer than the plugin-wide default as well as shorter.
func Retention(action Action, keep time.Duration) RetentionOption {
	return RetentionOption{retentionRule{action: action, keep: keep}}
}

// TableRetention is Retention for the entries of one table, named as in
// LogEntry.Table: for tools that know tables, not model types (the auditlog
// maintain command). It is as specific as a model's Retention; for the same
// table and action, a Register option wins over it.
func TableRetention(table string, action Action, keep time.Duration) Option {
	return RetentionOption{retentionRule{table: table, action: action, keep: keep}}
}

// RetentionPolicy is one effective policy: Table "" is every table.
type RetentionPolicy struct {
	Table  string
	Action Action
	Keep   time.Duration
}

// String is the policy's form in the run table: "table=* action=access
// keep=2160h0m0s".
func (r RetentionPolicy) String() string {
	t, a := r.Table, string(r.Action)
	if t == "" {
		t = "*"
	}
	if a == "" {
		a = "*"
	}
	return fmt.Sprintf("table=%s action=%s keep=%s", t, a, r.Keep)
}

// RetentionPolicies returns the effective policies, most specific first:
// per table and action, per table, per action, global; in each group by
// table and action. Policies with keep <= 0 are left out.
func (p *Plugin) RetentionPolicies(db *gorm.DB) ([]RetentionPolicy, error) {
	byKey := map[[2]string]time.Duration{}
	for _, r := range p.cfg.retention {
		byKey[[2]string{r.table, string(r.action)}] = r.keep
	}
	p.mu.RLock()
	models := make(map[reflect.Type][]retentionRule, len(p.models))
	for typ, cfg := range p.models {
		if len(cfg.retention) > 0 {
			models[typ] = cfg.retention
		}
	}
	p.mu.RUnlock()
	for typ, rules := range models {
		s, err := schema.Parse(reflect.New(typ).Interface(), &p.parsed, db.NamingStrategy)
		if err != nil {
			return nil, fmt.Errorf("auditlog: retention of %s: %w", typ, err)
		}
		for _, r := range rules {
			byKey[[2]string{s.Table, string(r.action)}] = r.keep
		}
	}
	var out []RetentionPolicy
	for k, keep := range byKey {
		if keep > 0 {
			out = append(out, RetentionPolicy{Table: k[0], Action: Action(k[1]), Keep: keep})
		}
	}
	slices.SortFunc(out, func(a, b RetentionPolicy) int {
		if sa, sb := specificity(a), specificity(b); sa != sb {
			return sb - sa
		}
		if a.Table != b.Table {
			return map[bool]int{true: -1, false: 1}[a.Table < b.Table]
		}
		return map[bool]int{true: -1, false: 1}[a.Action < b.Action]
	})
	return out, nil
}

func specificity(r RetentionPolicy) int {
	n := 0
	if r.Table != "" {
		n += 2
	}
	if r.Action != AnyAction {
		n++
	}
	return n
}

// overlaps reports whether two policies' scopes share entries.
func overlaps(a, b RetentionPolicy) bool {
	return (a.Table == "" || b.Table == "" || a.Table == b.Table) &&
		(a.Action == AnyAction || b.Action == AnyAction || a.Action == b.Action)
}

// retentionConditions are the conditions of the entries policy governs
// and has expired at now: in its scope, created before now - Keep, and
// not governed by a more specific policy of all.
func (p *Plugin) retentionConditions(db *gorm.DB, policy RetentionPolicy, all []RetentionPolicy, now time.Time) []clause.Expression {
	caps := p.capabilities(db)
	eq := func(col, v string) clause.Expression { return caps.textIn(col, []string{v}) }
	conds := []clause.Expression{clause.Lt{Column: clause.Column{Name: "created_at"}, Value: caps.timeBound(now.Add(-policy.Keep))}}
	if policy.Table != "" {
		conds = append(conds, eq("table_name", policy.Table))
	}
	if policy.Action != AnyAction {
		conds = append(conds, eq("action", string(policy.Action)))
	}
	for _, o := range all {
		if o == policy || specificity(o) <= specificity(policy) || !overlaps(policy, o) {
			continue
		}
		var c []clause.Expression
		if o.Table != "" && policy.Table == "" {
			c = append(c, eq("table_name", o.Table))
		}
		if o.Action != AnyAction && policy.Action == AnyAction {
			c = append(c, eq("action", string(o.Action)))
		}
		// Not clause.Not, which would negate each condition apart.
		conds = append(conds, clause.Expr{SQL: "NOT (?)", Vars: []any{clause.And(c...)}})
	}
	return conds
}
