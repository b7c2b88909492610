package wire

import (
	"encoding/json"
	"math"
)

// Parameter checks of PROTOCOL.md §2.1, with their exact messages.

// RequireObject returns fields[name] when it is a JSON object.
func RequireObject(fields map[string]json.RawMessage, name string) (json.RawMessage, *Error) {
	raw := fields[name]
	if !IsObject(raw) {
		return nil, Errorf(CodeValidation, "Missing or invalid %q: expected object", name)
	}
	return raw, nil
}

// OptionalObject returns fields[name] when it is an object, nil when it is
// absent or null, and an error otherwise.
func OptionalObject(fields map[string]json.RawMessage, name string) (json.RawMessage, *Error) {
	raw := fields[name]
	if IsNull(raw) {
		return nil, nil
	}
	if !IsObject(raw) {
		return nil, Errorf(CodeValidation, "Invalid %q: expected object", name)
	}
	return raw, nil
}

// RequirePositiveInt returns fields[name] when it is an integer ≥ 1.
func RequirePositiveInt(fields map[string]json.RawMessage, name string) (int, *Error) {
	v, ok := finiteNumber(fields[name])
	if !ok || v < 1 || v != math.Trunc(v) {
		return 0, Errorf(CodeValidation, "Missing or invalid %q: expected positive integer", name)
	}
	return int(min(v, math.MaxInt32)), nil
}

// RequireKey returns the raw "key" when present and not null.
func RequireKey(fields map[string]json.RawMessage) (json.RawMessage, *Error) {
	raw := fields["key"]
	if IsNull(raw) {
		return nil, NewError(CodeValidation, `Missing "key": expected non-null value`)
	}
	return raw, nil
}
