package auditlog

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxActionLen is the size of LogEntry.Action's column.
const maxActionLen = 64

// actionDef is a defined action: its label and parsed message template.
type actionDef struct {
	label    string
	template []templatePart
}

// templatePart is literal text or, when name is set, a placeholder.
type templatePart struct {
	text, name string
}

// builtinActions are defined in every plugin; DefineAction may relabel them.
var builtinActions = [...]struct {
	action          Action
	label, template string
}{
	{ActionCreate, "Created", "{actor} created {object}"},
	{ActionUpdate, "Updated", "{actor} updated {object}"},
	{ActionDelete, "Deleted", "{actor} deleted {object}"},
	{ActionAccess, "Accessed", "{actor} accessed {object}"},
}

func defaultActionDefs() map[Action]actionDef {
	defs := make(map[Action]actionDef, len(builtinActions))
	for _, b := range builtinActions {
		parts, _ := parseTemplate(b.template)
		defs[b.action] = actionDef{label: b.label, template: parts}
	}
	return defs
}

// DefineAction adds a custom action to the plugin's registry, or relabels a
// built-in one, with a display label and a message template that Message
// renders. The placeholders are {actor} (the actor id, "system" without one),
// {object} (ObjectRepr), {action}, {label}, {table}, {pk}, {cid},
// {remote_addr} and {data.KEY} (a key of LogEntry.Data; dots separate the
// keys of nested objects, so {data.customer.name} is Data["customer"]["name"]
// and a key that itself contains a dot cannot be named); write "{{" and "}}"
// for literal braces. Names are at most 64 bytes of letters, digits and
// ". _ - : /", such as "invoice.publish".
//
// It returns an error wrapping ErrInvalidAction for a bad name, an empty
// label or a malformed template. Defining an action again replaces it. It is
// safe for concurrent use.
func (p *Plugin) DefineAction(action Action, label, template string) error {
	if err := validActionName(action); err != nil {
		return err
	}
	if strings.TrimSpace(label) == "" {
		return fmt.Errorf("%w: action %q has an empty label", ErrInvalidAction, action)
	}
	parts, err := parseTemplate(template)
	if err != nil {
		return fmt.Errorf("%w: action %q: %w", ErrInvalidAction, action, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.actions[action] = actionDef{label: label, template: parts}
	return nil
}

// ActionLabel returns the display label of action: the one given to
// DefineAction ("Created", "Updated", "Deleted" and "Accessed" for the
// built-in actions), or the action's own name when it is not defined.
func (p *Plugin) ActionLabel(action Action) string {
	p.mu.RLock()
	def, ok := p.actions[action]
	p.mu.RUnlock()
	if !ok {
		return string(action)
	}
	return def.label
}

// Message renders the entry's action template, such as "user-42 published
// Invoice 2024-001". An entry whose action is not defined renders as
// "{actor} {action} {object}". Placeholders for missing data keys render as
// "". It costs one pass over the template and is safe for concurrent use.
func (p *Plugin) Message(e LogEntry) string {
	p.mu.RLock()
	def, ok := p.actions[e.Action]
	p.mu.RUnlock()
	parts := def.template
	label := def.label
	if !ok {
		parts = []templatePart{{name: "actor"}, {text: " "}, {name: "action"}, {text: " "}, {name: "object"}}
		label = string(e.Action)
	}
	var b strings.Builder
	for _, part := range parts {
		if part.name == "" {
			b.WriteString(part.text)
			continue
		}
		switch part.name {
		case "actor":
			if e.ActorID == "" {
				b.WriteString("system")
			} else {
				b.WriteString(e.ActorID)
			}
		case "object":
			b.WriteString(e.ObjectRepr)
		case "action":
			b.WriteString(string(e.Action))
		case "label":
			b.WriteString(label)
		case "table":
			b.WriteString(e.Table)
		case "pk":
			b.WriteString(e.ObjectPK)
		case "cid":
			b.WriteString(e.CID)
		case "remote_addr":
			b.WriteString(e.RemoteAddr)
		default: // data.KEY
			b.WriteString(dataText(dataAt(e.Data, strings.TrimPrefix(part.name, "data."))))
		}
	}
	return b.String()
}

// dataAt is the value at a dotted path of nested objects in data, nil when
// a step is missing or not an object.
func dataAt(data map[string]any, path string) any {
	var v any = data
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			if jm, isJSON := v.(JSONMap); isJSON {
				m, ok = jm, true
			}
		}
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// dataText is the text a Data value renders as in a message ("" for null).
func dataText(v any) string {
	if str, ok := v.(fmt.Stringer); ok {
		return str.String()
	}
	return textOf(v)
}

var placeholders = map[string]bool{
	"actor": true, "object": true, "action": true, "label": true,
	"table": true, "pk": true, "cid": true, "remote_addr": true,
}

// validDataPath reports whether a {data.KEY} path has no empty key and no
// brace.
func validDataPath(path string) bool {
	for key := range strings.SplitSeq(path, ".") {
		if key == "" || strings.ContainsAny(key, "{}") {
			return false
		}
	}
	return true
}

// parseTemplate splits a message template into text and placeholders.
func parseTemplate(t string) ([]templatePart, error) {
	var parts []templatePart
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			parts = append(parts, templatePart{text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '{' && i+1 < len(t) && t[i+1] == '{':
			text.WriteByte('{')
			i++
		case c == '}' && i+1 < len(t) && t[i+1] == '}':
			text.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q: unclosed {", t)
			}
			name := t[i+1 : i+end]
			key, isData := strings.CutPrefix(name, "data.")
			if !placeholders[name] && (!isData || !validDataPath(key)) {
				return nil, fmt.Errorf("template %q: unknown placeholder {%s}", t, name)
			}
			flush()
			parts = append(parts, templatePart{name: name})
			i += end
		case c == '}':
			return nil, fmt.Errorf("template %q: } without {", t)
		default:
			text.WriteByte(c)
		}
	}
	flush()
	if !utf8.ValidString(t) {
		return nil, fmt.Errorf("template %q: not valid UTF-8", t)
	}
	return parts, nil
}

// validActionName checks an action name: 1 to 64 bytes of letters, digits
// and ". _ - : /".
func validActionName(a Action) error {
	if a == "" || len(a) > maxActionLen {
		return fmt.Errorf("%w: action name %q must be 1 to %d bytes", ErrInvalidAction, a, maxActionLen)
	}
	for _, c := range []byte(a) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '_' || c == '-' || c == ':' || c == '/':
		default:
			return fmt.Errorf("%w: action name %q: only letters, digits and . _ - : / are allowed", ErrInvalidAction, a)
		}
	}
	return nil
}

// checkAction is what Log accepts: a valid name that is defined, or any
// valid name when unknown actions are allowed.
func (p *Plugin) checkAction(a Action) error {
	if err := validActionName(a); err != nil {
		return err
	}
	p.mu.RLock()
	_, ok := p.actions[a]
	p.mu.RUnlock()
	if !ok && !p.cfg.allowUnknown {
		return fmt.Errorf("%w %q: define it with DefineAction, or allow unknown actions with AllowUnknownActions", ErrUnknownAction, a)
	}
	return nil
}
