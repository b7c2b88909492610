package rules

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Values handled by the engine are decoded JSON (nil, bool, float64,
// string, []any, map[string]any). Numbers given by Go callers (int, int64,
// json.Number, ...) are accepted wherever a number is expected.

// absentT marks a value that does not exist (JavaScript undefined), as
// opposed to nil, which is JSON null (RULES.md conventions).
type absentT struct{}

var absent any = absentT{}

func isAbsent(v any) bool { _, ok := v.(absentT); return ok }

// orNull turns absent into nil before a value leaves the engine (facts,
// service arguments): JSON has no undefined.
func orNull(v any) any {
	if isAbsent(v) {
		return nil
	}
	return v
}

// toNumber reports v as a float64 when it is a JSON or Go number.
func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func isNumber(v any) bool { _, ok := toNumber(v); return ok }

// strictEqual is JavaScript's ===: scalars by type and value; objects and
// arrays only equal to themselves (the same instance).
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case absentT:
		return isAbsent(b)
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && sameMap(x, y)
	case []any:
		y, ok := b.([]any)
		return ok && sameSlice(x, y)
	}
	if x, ok := toNumber(a); ok {
		y, ok := toNumber(b)
		return ok && x == y
	}
	return false
}

// sameValueZero is strictEqual except that NaN equals NaN (Array.includes).
func sameValueZero(a, b any) bool {
	if x, ok := toNumber(a); ok && math.IsNaN(x) {
		y, ok := toNumber(b)
		return ok && math.IsNaN(y)
	}
	return strictEqual(a, b)
}

func sameMap(a, b map[string]any) bool {
	if a == nil || b == nil {
		return false
	}
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func sameSlice(a, b []any) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	return &a[0] == &b[0]
}

// getPath walks a dot-path split into parts (RULES.md §7.1): objects by
// key, arrays by canonical index (and "length"); any other step yields
// absent.
func getPath(root any, parts []string) any {
	cur := root
	for _, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return absent
			}
			cur = v
		case []any:
			if p == "length" {
				cur = float64(len(c))
				continue
			}
			i, ok := arrayIndex(p)
			if !ok || i >= len(c) {
				return absent
			}
			cur = c[i]
		default:
			return absent
		}
	}
	return cur
}

// arrayIndex parses a canonical non-negative array index ("0", "12"; not
// "01", "+1" or "-1"), as JavaScript property access on arrays does.
func arrayIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// splitPath splits a dot-path; the empty path is no parts.
func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, ".")
}

// jsString converts like JavaScript's String(): absent and null are the
// caller's business (interpolation maps them to ""), numbers are the
// shortest round-trip decimal, objects are "[object Object]", arrays join
// their elements with ",".
func jsString(v any) string {
	switch x := v.(type) {
	case absentT:
		return "undefined"
	case nil:
		return "null"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case map[string]any:
		return "[object Object]"
	case []any:
		var b strings.Builder
		for i, el := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if el == nil || isAbsent(el) {
				continue
			}
			b.WriteString(jsString(el))
		}
		return b.String()
	}
	if n, ok := toNumber(v); ok {
		return jsNumber(n)
	}
	return "[object Object]"
}

// jsNumber formats a number as JavaScript's Number.prototype.toString.
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1.5e+21, 1e-07
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	digits := strings.TrimLeft(exp[1:], "0")
	return mant + "e" + string(sign) + digits
}

// refString returns the ref of a {"ref": "..."} value.
func refString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m["ref"].(string)
	return s, ok
}

// isObject is JavaScript's "non-null, non-array object" for decoded JSON.
func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

func isArray(v any) bool { _, ok := v.([]any); return ok }

// deepCopy copies decoded JSON so a stored definition cannot be changed
// through a value handed out.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
