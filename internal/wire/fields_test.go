package wire

import (
	"encoding/json"
	"testing"
)

func TestRequireString(t *testing.T) {
	fields := map[string]json.RawMessage{
		"bucket": json.RawMessage(`"users"`),
		"empty":  json.RawMessage(`""`),
		"num":    json.RawMessage(`1`),
		"null":   json.RawMessage(`null`),
	}
	if s, err := RequireString(fields, "bucket"); err != nil || s != "users" {
		t.Errorf("RequireString(bucket) = %q, %v", s, err)
	}
	for _, name := range []string{"empty", "num", "null", "missing"} {
		s, err := RequireString(fields, name)
		if err == nil {
			t.Errorf("RequireString(%s) = %q, want an error", name, s)
			continue
		}
		want := `Missing or invalid "` + name + `": expected non-empty string`
		if err.Code != CodeValidation || err.Message != want || err.Details != nil {
			t.Errorf("RequireString(%s) error = %s %q %v, want VALIDATION_ERROR %q", name, err.Code, err.Message, err.Details, want)
		}
	}
	if _, err := RequireString(nil, "bucket"); err == nil {
		t.Error("RequireString on nil fields succeeded")
	}
}

func TestIsObject(t *testing.T) {
	cases := map[string]bool{
		`{}`:         true,
		` {"a":1} `:  true,
		"\n\t{ }":    true,
		`[]`:         false,
		`null`:       false,
		`"{}"`:       false,
		`1`:          false,
		``:           false,
		`   `:        false,
		`[{"a":1}]`:  false,
		`true`:       false,
		`{"a":[1]} `: true,
	}
	for raw, want := range cases {
		if got := IsObject(json.RawMessage(raw)); got != want {
			t.Errorf("IsObject(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestIsNull(t *testing.T) {
	cases := map[string]bool{
		``:       true,
		`null`:   true,
		`"null"`: false,
		`0`:      false,
		`{}`:     false,
		`[]`:     false,
		`false`:  false,
		`""`:     false,
	}
	for raw, want := range cases {
		if got := IsNull(json.RawMessage(raw)); got != want {
			t.Errorf("IsNull(%q) = %v, want %v", raw, got, want)
		}
	}
	if !IsNull(nil) {
		t.Error("IsNull(nil) = false")
	}
}
