package procedures

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const actionList = "store.get, store.where, store.findOne, store.insert, store.update, store.delete, store.count, aggregate, rules.emit, rules.setFact, rules.getFact, if, transform, return"

// TestValidationIssues covers every row of the issue table of PROTOCOL.md
// §7.2.1.
func TestProcedureValidationIssues(t *testing.T) {
	t.Parallel()
	ret := `{"action":"return","value":1}`
	cases := []struct {
		name, def string
		issues    []string
	}{
		{"not an object", `[1]`, []string{"Procedure config must be an object"}},
		{"null", `null`, []string{"Procedure config must be an object"}},
		{"missing name", `{"steps":[` + ret + `]}`, []string{`Missing or invalid "name": expected non-empty string`}},
		{"empty name", `{"name":"","steps":[` + ret + `]}`, []string{`Missing or invalid "name": expected non-empty string`}},
		{"name not a string", `{"name":5,"steps":[` + ret + `]}`, []string{`Missing or invalid "name": expected non-empty string`}},
		{"description", `{"name":"p","description":3,"steps":[` + ret + `]}`, []string{`"description" must be a string`}},
		{"description null", `{"name":"p","description":null,"steps":[` + ret + `]}`, []string{`"description" must be a string`}},
		{"input not an object", `{"name":"p","input":[],"steps":[` + ret + `]}`, []string{`"input" must be an object`}},
		{"input field", `{"name":"p","input":{"a":"string"},"steps":[` + ret + `]}`, []string{`input.a: expected field definition object`}},
		{"input type", `{"name":"p","input":{"a":{"type":"date"},"b":{}},"steps":[` + ret + `]}`, []string{
			`input.a.type: expected one of: string, number, boolean, object, array`,
			`input.b.type: expected one of: string, number, boolean, object, array`}},
		{"input order is JavaScript's", `{"name":"p","input":{"z":1,"10":1,"2":1},"steps":[` + ret + `]}`, []string{
			`input.2: expected field definition object`, `input.10: expected field definition object`, `input.z: expected field definition object`}},
		{"transaction", `{"name":"p","transaction":"yes","steps":[` + ret + `]}`, []string{`"transaction" must be a boolean`}},
		{"timeoutMs zero", `{"name":"p","timeoutMs":0,"steps":[` + ret + `]}`, []string{`"timeoutMs" must be a positive number`}},
		{"timeoutMs string", `{"name":"p","timeoutMs":"5","steps":[` + ret + `]}`, []string{`"timeoutMs" must be a positive number`}},
		{"steps missing", `{"name":"p"}`, []string{`Missing or invalid "steps": expected array`}},
		{"steps object", `{"name":"p","steps":{}}`, []string{`Missing or invalid "steps": expected array`}},
		{"steps empty", `{"name":"p","steps":[]}`, []string{`"steps" must contain at least one step`}},
		{"step not an object", `{"name":"p","steps":[1,` + ret + `,null]}`, []string{`steps[0]: expected step object`, `steps[2]: expected step object`}},
		{"unknown action", `{"name":"p","steps":[{"action":"store.all"}]}`, []string{`steps[0].action: expected one of: ` + actionList}},
		{"missing action", `{"name":"p","steps":[{}]}`, []string{`steps[0].action: expected one of: ` + actionList}},
		{"store.get fields", `{"name":"p","steps":[{"action":"store.get","key":5}]}`, []string{
			`steps[0].bucket: expected non-empty string`, `steps[0].key: expected non-empty string`, `steps[0].as: expected non-empty string`}},
		{"store.where fields", `{"name":"p","steps":[{"action":"store.where","bucket":"b","filter":[],"as":"x"}]}`, []string{`steps[0].filter: expected object`}},
		{"store.findOne fields", `{"name":"p","steps":[{"action":"store.findOne","bucket":"b","as":""}]}`, []string{
			`steps[0].filter: expected object`, `steps[0].as: expected non-empty string`}},
		{"store.insert fields", `{"name":"p","steps":[{"action":"store.insert","bucket":"b","data":"x","as":""}]}`, []string{
			`steps[0].data: expected object`, `steps[0].as: expected non-empty string`}},
		{"store.insert without as", `{"name":"p","steps":[{"action":"store.insert","bucket":"b","data":{}}]}`, nil},
		{"store.update fields", `{"name":"p","steps":[{"action":"store.update","bucket":"b","data":{}}]}`, []string{`steps[0].key: expected non-empty string`}},
		{"store.delete fields", `{"name":"p","steps":[{"action":"store.delete"}]}`, []string{
			`steps[0].bucket: expected non-empty string`, `steps[0].key: expected non-empty string`}},
		{"store.count fields", `{"name":"p","steps":[{"action":"store.count","bucket":"b","filter":null,"as":"n"}]}`, []string{`steps[0].filter: expected object`}},
		{"store.count without filter", `{"name":"p","steps":[{"action":"store.count","bucket":"b","as":"n"}]}`, nil},
		{"aggregate op", `{"name":"p","steps":[{"action":"aggregate","source":"s","as":"a","op":"median","field":"f"}]}`, []string{
			`steps[0].op: expected one of: sum, avg, min, max, count`}},
		{"aggregate field", `{"name":"p","steps":[{"action":"aggregate","source":"s","as":"a","op":"sum"}]}`, []string{`steps[0].field: expected non-empty string`}},
		{"aggregate count needs no field", `{"name":"p","steps":[{"action":"aggregate","source":"s","as":"a","op":"count"}]}`, nil},
		{"aggregate missing all", `{"name":"p","steps":[{"action":"aggregate"}]}`, []string{
			`steps[0].source: expected non-empty string`, `steps[0].as: expected non-empty string`,
			`steps[0].op: expected one of: sum, avg, min, max, count`, `steps[0].field: expected non-empty string`}},
		{"rules.emit", `{"name":"p","steps":[{"action":"rules.emit","data":[]}]}`, []string{
			`steps[0].topic: expected non-empty string`, `steps[0].data: expected object`}},
		{"rules.setFact value", `{"name":"p","steps":[{"action":"rules.setFact","key":"k"}]}`, []string{`steps[0].value: required`}},
		{"rules.setFact null value", `{"name":"p","steps":[{"action":"rules.setFact","key":"k","value":null}]}`, nil},
		{"rules.getFact", `{"name":"p","steps":[{"action":"rules.getFact","key":"k"}]}`, []string{`steps[0].as: expected non-empty string`}},
		{"transform", `{"name":"p","steps":[{"action":"transform","source":"s","as":"t","operation":"sort"}]}`, []string{
			`steps[0].operation: expected one of: map, filter, pick, pluck`, `steps[0].args: required`}},
		{"return value", `{"name":"p","steps":[{"action":"return"}]}`, []string{`steps[0].value: required`}},
		{"if condition", `{"name":"p","steps":[{"action":"if","then":[` + ret + `]}]}`, []string{`steps[0].condition: expected object`}},
		{"if ref and operator", `{"name":"p","steps":[{"action":"if","condition":{"ref":"","operator":"like"},"then":[` + ret + `]}]}`, []string{
			`steps[0].condition.ref: expected non-empty string`,
			`steps[0].condition.operator: expected one of: eq, neq, gt, gte, lt, lte, exists, not_exists`}},
		{"if then", `{"name":"p","steps":[{"action":"if","condition":{"ref":"a","operator":"exists"},"then":[]}]}`, []string{
			`steps[0].then: expected non-empty array of steps`}},
		{"if else", `{"name":"p","steps":[{"action":"if","condition":{"ref":"a","operator":"exists"},"then":[` + ret + `],"else":{}}]}`, []string{
			`steps[0].else: expected non-empty array of steps`}},
		{"nested paths", `{"name":"p","steps":[` + ret + `,{"action":"if","condition":{"ref":"a","operator":"exists"},"then":[{"action":"store.get"}],"else":[` + ret + `,{"action":"x"}]}]}`, []string{
			`steps[1].then[0].bucket: expected non-empty string`, `steps[1].then[0].key: expected non-empty string`,
			`steps[1].then[0].as: expected non-empty string`, `steps[1].else[1].action: expected one of: ` + actionList}},
		{"everything at once", `{"name":1,"description":1,"input":1,"transaction":1,"timeoutMs":-1,"steps":1}`, []string{
			`Missing or invalid "name": expected non-empty string`, `"description" must be a string`, `"input" must be an object`,
			`"transaction" must be a boolean`, `"timeoutMs" must be a positive number`, `Missing or invalid "steps": expected array`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(json.RawMessage(c.def), Limits{})
			if c.issues == nil {
				if err != nil {
					t.Fatalf("Parse = %v, want valid", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a *ValidationError", err)
			}
			if fmt.Sprintf("%q", ve.Issues) != fmt.Sprintf("%q", c.issues) {
				t.Fatalf("issues\n got: %q\nwant: %q", ve.Issues, c.issues)
			}
			if want := "Procedure validation failed: " + strings.Join(c.issues, "; "); err.Error() != want {
				t.Fatalf("message %q, want %q", err, want)
			}
		})
	}
}

// nestIfs returns an if nested n levels deep (n >= 1) around a return.
func nestIfs(n int) string {
	s := `{"action":"return","value":1}`
	for range n {
		s = `{"action":"if","condition":{"ref":"a","operator":"exists"},"then":[` + s + `]}`
	}
	return s
}

func TestProcedureLimits(t *testing.T) {
	t.Parallel()
	issues := func(def string, lim Limits) []string {
		_, err := Parse(json.RawMessage(def), lim)
		var ve *ValidationError
		if errors.As(err, &ve) {
			return ve.Issues
		}
		if err != nil {
			t.Fatal(err)
		}
		return nil
	}
	steps := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = `{"action":"return","value":1}`
		}
		return `{"name":"p","steps":[` + strings.Join(s, ",") + `]}`
	}
	if got := issues(steps(100), Limits{}); got != nil {
		t.Fatalf("100 steps: %q", got)
	}
	if got := issues(steps(101), Limits{}); fmt.Sprint(got) != "[Total step count (101) exceeds maximum (100)]" {
		t.Fatalf("101 steps: %q", got)
	}
	if got := issues(steps(4), Limits{MaxSteps: 3}); fmt.Sprint(got) != "[Total step count (4) exceeds maximum (3)]" {
		t.Fatalf("4 of 3 steps: %q", got)
	}
	// An if counts itself plus its branches, recursively.
	branchy := `{"name":"p","steps":[{"action":"if","condition":{"ref":"a","operator":"exists"},
		"then":[{"action":"return","value":1},{"action":"return","value":2}],
		"else":[` + nestIfs(1) + `]}]}`
	if got := issues(branchy, Limits{MaxSteps: 4}); fmt.Sprint(got) != "[Total step count (5) exceeds maximum (4)]" {
		t.Fatalf("branches: %q", got)
	}
	if got := issues(branchy, Limits{MaxSteps: 5}); got != nil {
		t.Fatalf("branches within the limit: %q", got)
	}
	// Depth: 5 nested ifs (depths 0–4) pass, a sixth is rejected.
	if got := issues(`{"name":"p","steps":[`+nestIfs(5)+`]}`, Limits{}); got != nil {
		t.Fatalf("5 levels: %q", got)
	}
	want := "[steps[0].then[0].then[0].then[0].then[0].then[0]: condition nesting depth exceeds maximum (5)]"
	if got := issues(`{"name":"p","steps":[`+nestIfs(6)+`]}`, Limits{}); fmt.Sprint(got) != want {
		t.Fatalf("6 levels: %q", got)
	}
	if got := issues(`{"name":"p","steps":[`+nestIfs(2)+`]}`, Limits{MaxConditionDepth: 1}); fmt.Sprint(got) != "[steps[0].then[0]: condition nesting depth exceeds maximum (1)]" {
		t.Fatalf("depth 1: %q", got)
	}
}

func TestProcedureParseBuildsDefinition(t *testing.T) {
	t.Parallel()
	d := mustParse(t, `{"name":"p","description":"","extra":{"x":1},"transaction":true,"timeoutMs":250,
		"input":{"b":{"type":"number","required":false},"a":{"type":"string","default":"x"}},
		"steps":[{"action":"return","value":"{{ input.a }}"}]}`)
	if d.Name != "p" || !d.HasDescription || d.Description != "" || !d.Transaction || d.TimeoutMs != 250 {
		t.Fatalf("definition %+v", d)
	}
	if len(d.Input) != 2 || d.Input[0].Name != "b" || d.Input[0].Required || d.Input[1].Name != "a" ||
		!d.Input[1].Required || !d.Input[1].HasDefault || d.Input[1].Default != "x" {
		t.Fatalf("input %+v", d.Input)
	}
	if len(d.Steps) != 1 || d.Steps[0].Path != "steps[0]" || d.Steps[0].Action != ActionReturn {
		t.Fatalf("steps %+v", d.Steps)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"name":"p","steps":[{"action":"return","value":"{{ a.b }} x {{input}}"}]}`)
	f.Add(`{"name":"p","input":{"a":{"type":"string"}},"steps":[` + nestIfs(3) + `]}`)
	f.Add(`{"name":"p","steps":[{"action":"transform","source":"s","as":"t","operation":"map","args":{"k":"{{ {{ }}"}}]}`)
	f.Fuzz(func(t *testing.T, def string) {
		d, err := Parse(json.RawMessage(def), Limits{})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Issues) == 0 {
				t.Fatalf("Parse(%q) = %v", def, err)
			}
			return
		}
		h := newHarness(&testing.T{})
		_, _ = h.runner.Call(t.Context(), d, map[string]any{}, h.env())
	})
}
