package procedures

import (
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/noex-go/noex/store"
)

// evalCondition applies an if step's operator (PROTOCOL.md §7.2.2) to the
// value of its ref and its (resolved) value; absent is Absent.
func evalCondition(op string, actual, expected any) bool {
	switch op {
	case "eq":
		return strictEqual(actual, expected)
	case "neq":
		return !strictEqual(actual, expected)
	case "gt", "gte", "lt", "lte":
		c, ok := compare(actual, expected)
		if !ok {
			return false
		}
		switch op {
		case "gt":
			return c > 0
		case "gte":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	case "exists":
		return actual != nil && !store.IsAbsent(actual)
	case "not_exists":
		return actual == nil || store.IsAbsent(actual)
	}
	return false
}

// strictEqual is JavaScript's ===: scalars by type and value, absent only
// equals absent, objects and arrays only themselves (the very same stored
// value). Two empty arrays cannot be told apart by identity in Go and
// compare equal.
func strictEqual(a, b any) bool {
	if store.IsAbsent(a) || store.IsAbsent(b) {
		return store.IsAbsent(a) && store.IsAbsent(b)
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer()
	}
	return store.StrictEqual(a, b)
}

// compare orders two values for gt/gte/lt/lte: two strings by UTF-16 code
// units, anything else as JavaScript's relational comparison converts it
// (objects to their string form, then to numbers). ok is false when
// either side is absent or null, or a side is not a number (NaN).
func compare(a, b any) (int, bool) {
	if a == nil || b == nil || store.IsAbsent(a) || store.IsAbsent(b) {
		return 0, false
	}
	pa, pb := toPrimitive(a), toPrimitive(b)
	if sa, ok := pa.(string); ok {
		if sb, ok := pb.(string); ok {
			return store.CompareStrings(sa, sb), true
		}
	}
	x, y := toNumber(pa), toNumber(pb)
	switch {
	case math.IsNaN(x) || math.IsNaN(y):
		return 0, false
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

func toPrimitive(v any) any {
	switch v.(type) {
	case map[string]any, []any:
		return store.Display(v)
	}
	return v
}

// toNumber is JavaScript's Number(v) for primitives.
func toNumber(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		s := strings.TrimFunc(x, isJSSpace)
		switch s {
		case "":
			return 0
		case "Infinity", "+Infinity":
			return math.Inf(1)
		case "-Infinity":
			return math.Inf(-1)
		}
		if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
			base := map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[1]]
			n, err := strconv.ParseUint(s[2:], base, 64)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}
		if strings.ContainsAny(s, "_xXpP") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "+inf") ||
			strings.EqualFold(s, "-inf") || strings.EqualFold(s, "nan") || strings.EqualFold(s, "infinity") {
			return math.NaN() // Go syntax JavaScript does not accept
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !strings.Contains(err.Error(), "range") {
			return math.NaN()
		}
		return f
	}
	return math.NaN()
}
