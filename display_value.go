package auditlog

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// absentText stands for a key that one side of a JSON object does not have.
// It is not JSON, so no value renders as it.
const absentText = "(absent)"

// valueText is the JSON text of a canonical value, without HTML escaping:
// strings quoted and escaped, null for nil, objects with sorted keys.
func valueText(v any) string {
	return string(appendDisplayJSON(nil, v))
}

func appendDisplayJSON(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, x)
	case string:
		return appendJSONString(buf, x)
	case json.Number:
		if x != "" && json.Valid([]byte(x)) {
			return append(buf, x...)
		}
		return appendJSONString(buf, string(x))
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendDisplayJSON(buf, e)
		}
		return append(buf, ']')
	case map[string]any:
		buf = append(buf, '{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendDisplayJSON(buf, x[k])
		}
		return append(buf, '}')
	}
	// Not a canonical value (set by hand): its encoding/json text.
	b, err := json.Marshal(v)
	if err != nil {
		return appendJSONString(buf, err.Error())
	}
	return append(buf, b...)
}

// displaySide is one side of a shown change: a value, or absent.
type displaySide struct {
	v      any
	absent bool
}

// keyChange is one shown change of a column: the whole value (key "") or
// one key of a JSON object.
type keyChange struct {
	key      string
	old, new displaySide
}

// keyChanges splits a column's change into the changes people read: one
// per added, removed or changed key when both sides are JSON objects (keys
// sorted, nested objects alike, unchanged keys left out), else the change
// itself. Objects equal on both sides (a change recorded by hand) give the
// change itself, so that no stored change disappears from display.
func keyChanges(old, new any) []keyChange {
	om, ok1 := old.(map[string]any)
	nm, ok2 := new.(map[string]any)
	if ok1 && ok2 {
		if out := objectChanges(nil, "", om, nm); len(out) > 0 {
			return out
		}
	}
	return []keyChange{{old: displaySide{v: old}, new: displaySide{v: new}}}
}

func objectChanges(out []keyChange, prefix string, om, nm map[string]any) []keyChange {
	keys := slices.Collect(maps.Keys(om))
	for k := range nm {
		if _, ok := om[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := prefix + keySegment(k)
		ov, inOld := om[k]
		nv, inNew := nm[k]
		if inOld && inNew {
			if equalValues(ov, nv) {
				continue
			}
			osub, ok1 := ov.(map[string]any)
			nsub, ok2 := nv.(map[string]any)
			if ok1 && ok2 {
				out = objectChanges(out, path+".", osub, nsub)
				continue
			}
		}
		out = append(out, keyChange{key: path,
			old: displaySide{v: ov, absent: !inOld}, new: displaySide{v: nv, absent: !inNew}})
	}
	return out
}

// keySegment is a key as shown in a path: as is when it is letters, digits,
// "_" or "-" only, else a quoted JSON string, so that a path has one reading.
func keySegment(k string) string {
	if k == "" {
		return `""`
	}
	for _, c := range k {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return string(appendJSONString(nil, k))
		}
	}
	return k
}
