// Package store is the embedded data store of STORE.md: schema-validated
// buckets of JSON records, secondary and unique indexes, filters,
// aggregates, pagination, TTL, maxSize eviction, transactions and change
// events, persisted through a commit log. It works on its own, without the
// server.
package store

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf16"
)

// Values are decoded JSON: nil, bool, float64, string, []any,
// map[string]any. A record is a JSON object.

// Record is one stored object, user fields plus metadata.
type Record = map[string]any

// Metadata fields maintained by the store (STORE.md §4).
const (
	FieldVersion   = "_version"
	FieldCreatedAt = "_createdAt"
	FieldUpdatedAt = "_updatedAt"
	FieldExpiresAt = "_expiresAt"
)

// StrictEqual is JavaScript's === on decoded JSON: scalars compare by type
// and value; objects and arrays are never equal (they are never the same
// instance).
func StrictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	}
	return false
}

// DeepEqual compares JSON values structurally: key order is irrelevant,
// array order matters, numbers compare by value (STORE.md §14.3).
func DeepEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !DeepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !DeepEqual(v, w) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	}
	return StrictEqual(a, b)
}

// TypeName names a value's type the way validation messages do: null,
// array, or JavaScript's typeof (string, number, boolean, object).
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "array"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	default:
		return "object"
	}
}

// IsScalar reports whether v can be a key or an index value: a string, a
// number or a boolean.
func IsScalar(v any) bool {
	switch v.(type) {
	case string, float64, bool:
		return true
	}
	return false
}

// Display renders a value as JavaScript's String(v) would, for messages.
func Display(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return FormatNumber(x)
	case []any:
		var b bytes.Buffer
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if e != nil {
				b.WriteString(Display(e))
			}
		}
		return b.String()
	default:
		return "[object Object]"
	}
}

// FormatNumber renders a number as JavaScript does (shortest round trip,
// exponent from 1e21, -0 as 0).
func FormatNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if math.IsInf(f, 1) {
		return "Infinity"
	}
	if math.IsInf(f, -1) {
		return "-Infinity"
	}
	if math.IsNaN(f) {
		return "NaN"
	}
	b, err := json.Marshal(f)
	if err != nil {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return string(b)
}

// UTF16Len is a string's length as JavaScript counts it.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += len(utf16.Encode([]rune{r}))
	}
	return n
}

// CompareStrings orders strings by UTF-16 code units, as JavaScript's < does.
func CompareStrings(a, b string) int {
	if a == b {
		return 0
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			if ua[i] < ub[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ua) < len(ub):
		return -1
	case len(ua) > len(ub):
		return 1
	}
	return 0
}

// CloneValue deep-copies a decoded JSON value, so records never share
// mutable objects.
func CloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = CloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = CloneValue(e)
		}
		return out
	}
	return v
}

// DecodeJSON decodes JSON into generic values.
func DecodeJSON(raw []byte) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// ObjectKeys returns the top-level keys of a JSON object in document
// order (the last occurrence of a duplicate key wins its value but keeps
// its first position, as JavaScript does). It returns nil for anything
// that is not an object.
func ObjectKeys(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}
