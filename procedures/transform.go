package procedures

import "github.com/noex-go/noex/store"

// transform derives a value from an earlier result (PROTOCOL.md §7.2.2).
// args is the step's args, resolved (placeholders replaced).
func transform(op, source string, src, args any) (any, error) {
	notA := func(what string) error {
		return failf("transform.", op, `: source "`, source, `" is not `, what)
	}
	switch op {
	case "pluck":
		arr, ok := src.([]any)
		if !ok {
			return nil, notA("an array")
		}
		field := fieldName(args)
		out := make([]any, len(arr))
		for i, item := range arr {
			var v any
			switch item.(type) {
			case map[string]any, []any:
				v = property(item, field)
			}
			if store.IsAbsent(v) {
				v = nil
			}
			out[i] = v
		}
		return out, nil
	case "pick":
		obj, ok := src.(map[string]any)
		if !ok {
			return nil, notA("an object")
		}
		fields, ok := args.([]any)
		if !ok {
			return nil, failf(`transform.pick: "args" must be an array of field names`)
		}
		out := make(map[string]any, len(fields))
		for _, f := range fields {
			name := fieldName(f)
			if v, ok := obj[name]; ok {
				out[name] = v
			}
		}
		return out, nil
	case "filter":
		arr, ok := src.([]any)
		if !ok {
			return nil, notA("an array")
		}
		want, ok := args.(map[string]any)
		if !ok {
			return nil, failf(`transform.filter: "args" must be an object`)
		}
		out := []any{}
		for _, item := range arr {
			rec, ok := item.(map[string]any)
			if !ok {
				continue
			}
			match := true
			for k, v := range want {
				if !strictEqual(property(rec, k), v) {
					match = false
					break
				}
			}
			if match {
				out = append(out, item)
			}
		}
		return out, nil
	default: // map
		arr, ok := src.([]any)
		if !ok {
			return nil, notA("an array")
		}
		extra, ok := args.(map[string]any)
		if !ok {
			return nil, failf(`transform.map: "args" must be an object`)
		}
		out := make([]any, len(arr))
		for i, item := range arr {
			rec, ok := item.(map[string]any)
			if !ok {
				out[i] = item
				continue
			}
			merged := make(map[string]any, len(rec)+len(extra))
			for k, v := range rec {
				merged[k] = v
			}
			for k, v := range extra {
				merged[k] = v
			}
			out[i] = merged
		}
		return out, nil
	}
}

// fieldName is a property name as JavaScript would coerce args to one.
func fieldName(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if store.IsAbsent(v) {
		return "undefined"
	}
	return store.Display(v)
}
