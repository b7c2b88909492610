package wire

import "encoding/json"

// Field-check helpers shared by every operation. Their messages are the
// "Field checks" catalogue of PROTOCOL.md §10.2.

// RequireString returns fields[name] when it is a non-empty string, or the
// VALIDATION_ERROR the protocol names for it.
func RequireString(fields map[string]json.RawMessage, name string) (string, *Error) {
	s, ok := nonEmptyString(fields[name])
	if !ok {
		return "", Errorf(CodeValidation, "Missing or invalid %q: expected non-empty string", name)
	}
	return s, nil
}

// IsObject reports whether raw is a JSON object.
func IsObject(raw json.RawMessage) bool {
	return firstByte(raw) == '{'
}

// IsNull reports whether raw is JSON null or absent.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
