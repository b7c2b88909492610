package procedures

import "strings"

// checkInput validates a call's input against the definition's input
// schema (PROTOCOL.md §7.2.4) and returns the input the steps see. An
// input that is not an object is treated as {} (the reference accepts it
// and finds no usable keys in it).
func checkInput(def *Definition, input any) (map[string]any, error) {
	in, ok := input.(map[string]any)
	if !ok {
		in = map[string]any{}
	}
	if !def.HasInput {
		return in, nil
	}
	out := make(map[string]any, len(in)+len(def.Input))
	for k, v := range in {
		out[k] = v // undeclared keys pass through
	}
	var issues []string
	for _, f := range def.Input {
		v, present := in[f.Name]
		if !present || v == nil {
			if f.HasDefault {
				out[f.Name] = f.Default
			} else if f.Required {
				issues = append(issues, `Missing required input "`+f.Name+`"`)
			}
			continue
		}
		if !hasType(v, f.Type) {
			issues = append(issues, strings.Join([]string{`Input "`, f.Name, `": expected `, f.Type, ", got ", typeOf(v)}, ""))
		}
	}
	if len(issues) > 0 {
		return nil, &InputError{Issues: issues}
	}
	return out, nil
}

func hasType(v any, typ string) bool {
	switch v.(type) {
	case string:
		return typ == "string"
	case float64:
		return typ == "number"
	case bool:
		return typ == "boolean"
	case map[string]any:
		return typ == "object"
	case []any:
		return typ == "array"
	}
	return false
}

// typeOf is JavaScript's typeof of a decoded JSON value: arrays and null
// are "object".
func typeOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "object"
}
