package store

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Pure parts of declarative query evaluation (STORE.md §15, PROTOCOL.md
// §4.6.3): parameter interpolation of the filter (step 1) and the
// aggregate, sort, offset, limit and projection steps (3–7) over the
// records that the store selected (step 2).

// MarshalJSON renders Absent as null, for diagnostics only.
func (absentValue) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// placeholderName returns <name> when s is entirely {{ params.<name> }}
// (JavaScript \s allowed around the inside, <name> of [A-Za-z0-9_]).
func placeholderName(s string) (string, bool) {
	if len(s) < len("{{params.x}}") || !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") {
		return "", false
	}
	inner := strings.TrimFunc(s[2:len(s)-2], isPlaceholderSpace)
	name, ok := strings.CutPrefix(inner, "params.")
	if !ok || name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", false
		}
	}
	return name, true
}

// Interpolate replaces, at any depth of a decoded filter, every string
// that is entirely a {{ params.<name> }} placeholder by params[name] as
// is, or by Absent when params lacks it (STORE.md §15 step 1). Object
// keys and strings with other text are left alone; the input is not
// modified. Only own keys of params are looked up (the reference would
// also find inherited JavaScript properties such as "constructor").
func Interpolate(v any, params map[string]any) any {
	return interpolate(v, func(name string) any {
		if pv, ok := params[name]; ok {
			return pv
		}
		return Absent
	})
}

func interpolate(v any, resolve func(name string) any) any {
	switch x := v.(type) {
	case string:
		if name, ok := placeholderName(x); ok {
			return resolve(name)
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = interpolate(e, resolve)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = interpolate(e, resolve)
		}
		return out
	case *jsonObject:
		out := &jsonObject{keys: x.keys, vals: make(map[string]any, len(x.vals))}
		for k, e := range x.vals {
			out.vals[k] = interpolate(e, resolve)
		}
		return out
	}
	return v
}

// CompileQueryFilter interpolates a declarative query's filter with
// params and compiles it (STORE.md §15 step 1), keeping document key
// order; a missing parameter is Absent. Parameter values are used as
// they are, so an object parameter may supply an operator object, as in
// the reference. An empty raw message is the empty filter.
func CompileQueryFilter(raw json.RawMessage, params map[string]any) (*Filter, error) {
	if len(raw) == 0 {
		return &Filter{}, nil
	}
	v, err := decodeFilterTemplate(raw)
	if err != nil {
		return nil, err
	}
	return compileTemplate(v, func(name string) (any, bool) {
		pv, ok := params[name]
		return pv, ok
	})
}

// decodeFilterTemplate decodes a filter template, keeping key order.
func decodeFilterTemplate(raw json.RawMessage) (any, error) {
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, &FilterError{Message: "Invalid filter: " + err.Error()}
	}
	return v, nil
}

// compileTemplate interpolates a decoded filter template with the params
// that param looks up and compiles it. The template is only read: the
// parts without a placeholder are shared with it rather than copied
// (compiling never modifies them).
func compileTemplate(tmpl any, param func(name string) (any, bool)) (*Filter, error) {
	v, _ := interpolateShared(tmpl, func(name string) any {
		if pv, ok := param(name); ok {
			return pv
		}
		return Absent
	})
	return compileFilter(v)
}

// interpolateShared is interpolate that copies only the containers on the
// way to a placeholder; changed reports whether there was one.
func interpolateShared(v any, resolve func(name string) any) (out any, changed bool) {
	switch x := v.(type) {
	case string:
		if name, ok := placeholderName(x); ok {
			return resolve(name), true
		}
		return x, false
	case []any:
		var arr []any
		for i, e := range x {
			if ne, ch := interpolateShared(e, resolve); ch {
				if arr == nil {
					arr = slices.Clone(x)
				}
				arr[i] = ne
			}
		}
		if arr == nil {
			return x, false
		}
		return arr, true
	case map[string]any:
		var m map[string]any
		for k, e := range x {
			if ne, ch := interpolateShared(e, resolve); ch {
				if m == nil {
					m = maps.Clone(x)
				}
				m[k] = ne
			}
		}
		if m == nil {
			return x, false
		}
		return m, true
	case *jsonObject:
		var obj *jsonObject
		for k, e := range x.vals {
			if ne, ch := interpolateShared(e, resolve); ch {
				if obj == nil {
					obj = &jsonObject{keys: x.keys, vals: maps.Clone(x.vals)}
				}
				obj.vals[k] = ne
			}
		}
		if obj == nil {
			return x, false
		}
		return obj, true
	}
	return v, false
}

// hasPlaceholder reports whether a decoded filter template holds a
// {{ params.<name> }} placeholder anywhere.
func hasPlaceholder(v any) bool {
	_, changed := interpolateShared(v, func(string) any { return placeholderValue{} })
	return changed
}

// ValidateQueryFilter checks a declarative query's filter template when
// the query is defined: unknown operators and malformed operands are
// reported, while a placeholder may stand for any value.
func ValidateQueryFilter(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	v, err := decodeFilterTemplate(raw)
	if err != nil {
		return err
	}
	return validateTemplate(v)
}

func validateTemplate(tmpl any) error {
	_, err := compileFilter(interpolate(tmpl, func(string) any { return placeholderValue{} }))
	return err
}

// FilterRecords returns the records of recs that f matches, in order; a
// nil filter matches all.
func FilterRecords(recs []Record, f *Filter) []Record {
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		if f == nil || f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

// QueryAggregate is a declarative query's "aggregate" (STORE.md §15).
type QueryAggregate struct {
	Function string   // count, sum, avg, min, max
	Field    string   // ignored by count
	GroupBy  []string // nil: one value; non-nil: the groupBy shape of §10
}

// QueryShape holds the steps of a declarative query applied after the
// records are selected (STORE.md §15 steps 3–7).
type QueryShape struct {
	Sort      []SortKey
	Offset    float64  // records to skip when > 0
	Limit     *float64 // nil: no limit
	Fields    []string // empty: no projection
	Aggregate *QueryAggregate
}

// Apply runs steps 3–7 on the selected records without modifying recs.
// The result is []Record, float64 (aggregate) or []map[string]any
// (grouped aggregate); ok is false when the aggregate has no value (min
// or max without numbers, unknown function).
func (q *QueryShape) Apply(recs []Record) (result any, ok bool) {
	if a := q.Aggregate; a != nil {
		if a.GroupBy != nil {
			return GroupBy(recs, a.GroupBy, a.Function, a.Field), true
		}
		v, ok := Aggregate(recs, a.Function, a.Field)
		if !ok {
			return nil, false
		}
		return v, true
	}
	out := recs
	if len(q.Sort) > 0 {
		out = slices.Clone(recs)
		SortRecords(out, q.Sort)
	}
	out = ApplyOffset(out, q.Offset)
	if q.Limit != nil {
		out = ApplyLimit(out, *q.Limit)
	}
	projected := make([]Record, len(out))
	for i, r := range out {
		projected[i] = Project(r, q.Fields)
	}
	return projected, true
}
