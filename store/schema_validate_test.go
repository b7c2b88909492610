package store

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// schRecord decodes a JSON object into a Record.
func schRecord(t testing.TB, s string) Record {
	t.Helper()
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("bad test record %s: %v", s, err)
	}
	return r
}

// schValidate validates a record against a one-field schema {"k": key,
// "f": fieldDef} with the record {"k":"x", "f": value}.
func schValidate(t testing.TB, fieldDef, value string) []Issue {
	t.Helper()
	d := schDef(t, "b", `{"key":"k","schema":{"k":{"type":"string"},"f":`+fieldDef+`}}`)
	rec := schRecord(t, `{"k":"x"}`)
	if value != "" {
		rec["f"] = schRecord(t, `{"v":`+value+`}`)["v"]
	}
	return d.Validate(rec)
}

func TestValidateTypes(t *testing.T) {
	t.Parallel()
	values := map[string]string{
		"string": `"s"`, "emptyString": `""`, "number": `1.5`, "zero": `0`, "negative": `-3`,
		"true": `true`, "false": `false`, "object": `{"a":1}`, "emptyObject": `{}`, "array": `[1]`, "emptyArray": `[]`,
	}
	actual := map[string]string{
		"string": "string", "emptyString": "string", "number": "number", "zero": "number", "negative": "number",
		"true": "boolean", "false": "boolean", "object": "object", "emptyObject": "object", "array": "array", "emptyArray": "array",
	}
	accepts := map[string][]string{
		"string":  {"string", "emptyString"},
		"number":  {"number", "zero", "negative"},
		"boolean": {"true", "false"},
		"object":  {"object", "emptyObject"},
		"array":   {"array", "emptyArray"},
		"date":    {"string", "emptyString", "number", "zero", "negative"},
	}
	for typ, ok := range accepts {
		okSet := map[string]bool{}
		for _, v := range ok {
			okSet[v] = true
		}
		for name, val := range values {
			issues := schValidate(t, `{"type":"`+typ+`"}`, val)
			if okSet[name] {
				if issues != nil {
					t.Errorf("type %s, value %s: unexpected issues %+v", typ, val, issues)
				}
				continue
			}
			want := []Issue{{Field: "f", Message: `Expected type "` + typ + `", got ` + actual[name], Code: IssueType}}
			if !reflect.DeepEqual(issues, want) {
				t.Errorf("type %s, value %s: issues %+v, want %+v", typ, val, issues, want)
			}
		}
	}
	// NaN is not a number (in-process callers only; JSON cannot carry it),
	// but infinities pass.
	d := schDef(t, "b", `{"key":"k","schema":{"k":{"type":"string"},"n":{"type":"number"},"d":{"type":"date"}}}`)
	issues := d.Validate(Record{"k": "x", "n": math.NaN(), "d": math.NaN()})
	want := []Issue{
		{Field: "n", Message: `Expected type "number", got number`, Code: IssueType},
		{Field: "d", Message: `Expected type "date", got number`, Code: IssueType},
	}
	if !reflect.DeepEqual(issues, want) {
		t.Fatalf("NaN: issues %+v", issues)
	}
	if issues := d.Validate(Record{"k": "x", "n": math.Inf(1), "d": math.Inf(-1)}); issues != nil {
		t.Fatalf("infinities: issues %+v", issues)
	}
}

func TestValidateRequiredAndNull(t *testing.T) {
	t.Parallel()
	req := []Issue{{Field: "f", Message: "Field is required", Code: IssueRequired}}
	cases := []struct {
		def, value string
		want       []Issue
	}{
		{`{"type":"string","required":true}`, ``, req},
		{`{"type":"string","required":true}`, `null`, req},
		{`{"type":"string","required":true}`, `""`, nil},
		{`{"type":"number","required":true,"min":5}`, ``, req},
		{`{"type":"boolean","required":true}`, `false`, nil},
		{`{"type":"string","required":false}`, ``, nil},
		{`{"type":"string"}`, `null`, nil},
		{`{"type":"string","minLength":3,"enum":["abc"]}`, `null`, nil},
		// required wins over the type check
		{`{"type":"number","required":true,"enum":[1]}`, `null`, req},
		// an object that is absent/null skips its nested rules
		{`{"type":"object","properties":{"x":{"type":"string","required":true}}}`, `null`, nil},
		{`{"type":"object","properties":{"x":{"type":"string","required":true}}}`, ``, nil},
	}
	for _, tc := range cases {
		if got := schValidate(t, tc.def, tc.value); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("def %s value %q: issues %+v, want %+v", tc.def, tc.value, got, tc.want)
		}
	}
}

func TestValidateConstraints(t *testing.T) {
	t.Parallel()
	is := func(code, msg string) []Issue { return []Issue{{Field: "f", Message: msg, Code: code}} }
	cases := []struct {
		name, def, value string
		want             []Issue
	}{
		// enum: strict equality, JavaScript String() rendering.
		{"enum ok", `{"type":"string","enum":["a","b"]}`, `"a"`, nil},
		{"enum miss", `{"type":"string","enum":["a","b"]}`, `"c"`, is(IssueEnum, "Value must be one of: a, b")},
		{"enum strict", `{"type":"number","enum":[1,2]}`, `3`, is(IssueEnum, "Value must be one of: 1, 2")},
		{"enum 1 vs string", `{"type":"date","enum":["1"]}`, `1`, is(IssueEnum, "Value must be one of: 1")},
		{"enum string vs 1", `{"type":"date","enum":[1]}`, `"1"`, is(IssueEnum, "Value must be one of: 1")},
		{"enum rendering", `{"type":"string","enum":[null,true,1.5,1e21,[1,[2,null]],{"a":1},""]}`, `"x"`,
			is(IssueEnum, "Value must be one of: null, true, 1.5, 1e+21, 1,2,, [object Object], ")},
		{"enum object never equal", `{"type":"object","enum":[{}]}`, `{}`, is(IssueEnum, "Value must be one of: [object Object]")},
		{"enum bool", `{"type":"boolean","enum":[true]}`, `true`, nil},
		{"enum -0", `{"type":"number","enum":[0]}`, `-0`, nil},
		// lengths in UTF-16 code units
		{"minLength ok", `{"type":"string","minLength":2}`, `"ab"`, nil},
		{"minLength miss", `{"type":"string","minLength":2}`, `"a"`, is(IssueMinLength, "Minimum length is 2")},
		{"maxLength ok", `{"type":"string","maxLength":2}`, `"ab"`, nil},
		{"maxLength miss", `{"type":"string","maxLength":2}`, `"abc"`, is(IssueMaxLength, "Maximum length is 2")},
		{"astral counts 2", `{"type":"string","maxLength":1}`, `"😀"`, is(IssueMaxLength, "Maximum length is 1")},
		{"astral min", `{"type":"string","minLength":2}`, `"😀"`, nil},
		{"bmp counts 1", `{"type":"string","maxLength":1}`, `"é"`, nil},
		{"minLength 0", `{"type":"string","minLength":0}`, `""`, nil},
		// pattern: find anywhere
		{"pattern anywhere", `{"type":"string","pattern":"b+"}`, `"abbc"`, nil},
		{"pattern anchored", `{"type":"string","pattern":"^b+$"}`, `"abbc"`, is(IssuePattern, `Value must match pattern "^b+$"`)},
		{"pattern digits", `{"type":"string","pattern":"^\\d{3}-\\d{4}$"}`, `"555-1234"`, nil},
		{"pattern digits miss", `{"type":"string","pattern":"^\\d{3}-\\d{4}$"}`, `"555-12345"`, is(IssuePattern, `Value must match pattern "^\d{3}-\d{4}$"`)},
		{"pattern on date string", `{"type":"date","pattern":"^2024"}`, `"2023-01-01"`, is(IssuePattern, `Value must match pattern "^2024"`)},
		// format
		{"format email", `{"type":"string","format":"email"}`, `"a@b.c"`, nil},
		{"format email miss", `{"type":"string","format":"email"}`, `"ab.c"`, is(IssueFormat, "Invalid email format")},
		{"format url miss", `{"type":"string","format":"url"}`, `"example.com"`, is(IssueFormat, "Invalid url format")},
		{"format iso-date miss", `{"type":"date","format":"iso-date"}`, `"2024-02-30"`, is(IssueFormat, "Invalid iso-date format")},
		{"format skipped for date numbers", `{"type":"date","format":"iso-date"}`, `1700000000000`, nil},
		// min/max inclusive
		{"min ok", `{"type":"number","min":0}`, `0`, nil},
		{"min miss", `{"type":"number","min":0}`, `-0.5`, is(IssueMin, "Minimum value is 0")},
		{"max ok", `{"type":"number","max":5}`, `5`, nil},
		{"max miss", `{"type":"number","max":5}`, `6`, is(IssueMax, "Maximum value is 5")},
		{"max fraction", `{"type":"number","max":2.5}`, `3`, is(IssueMax, "Maximum value is 2.5")},
		{"min date number", `{"type":"date","min":100}`, `50`, is(IssueMin, "Minimum value is 100")},
		{"min skipped for date strings", `{"type":"date","min":100,"maxLength":3}`, `"50"`, nil},
		// constraints only after the type check
		{"type first", `{"type":"string","minLength":5,"enum":["abcdef"]}`, `3`, is(IssueType, `Expected type "string", got number`)},
		// several issues per field, in the documented order
		{"order", `{"type":"string","enum":["abcdefghijk"],"minLength":3,"maxLength":1,"pattern":"^z","format":"email"}`, `"ab"`, []Issue{
			{Field: "f", Message: "Value must be one of: abcdefghijk", Code: IssueEnum},
			{Field: "f", Message: "Minimum length is 3", Code: IssueMinLength},
			{Field: "f", Message: "Maximum length is 1", Code: IssueMaxLength},
			{Field: "f", Message: `Value must match pattern "^z"`, Code: IssuePattern},
			{Field: "f", Message: "Invalid email format", Code: IssueFormat},
		}},
		{"number order", `{"type":"number","enum":[100],"min":10,"max":1}`, `5`, []Issue{
			{Field: "f", Message: "Value must be one of: 100", Code: IssueEnum},
			{Field: "f", Message: "Minimum value is 10", Code: IssueMin},
			{Field: "f", Message: "Maximum value is 1", Code: IssueMax},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := schValidate(t, tc.def, tc.value); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("issues %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidateNested(t *testing.T) {
	t.Parallel()
	d := schDef(t, "people", `{"key":"id","schema":{
		"id":{"type":"string"},
		"address":{"type":"object","required":true,"properties":{
			"city":{"type":"string","required":true},
			"zip":{"type":"string","pattern":"^\\d{5}$"},
			"geo":{"type":"object","properties":{"lat":{"type":"number","min":-90,"max":90}}}
		}},
		"tags":{"type":"array","items":{"type":"string","minLength":2}},
		"contacts":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string","required":true},"email":{"type":"string","format":"email"}}}},
		"matrix":{"type":"array","items":{"type":"array","items":{"type":"number","max":9}}},
		"opaque":{"type":"object"},
		"anything":{"type":"array"},
		"level1":{"type":"object","properties":{"level2":{"type":"object","properties":{"level3":{"type":"number"}}}}}
	}}`)
	cases := []struct {
		name, rec string
		want      []Issue
	}{
		{"valid", `{"id":"1","address":{"city":"Prague","zip":"11000","geo":{"lat":50}},"tags":["ab",null,"cd"],"contacts":[{"name":"A"},null],"matrix":[[1,2],[3,null]],"opaque":{"x":[1]},"anything":[1,"a",{}]}`, nil},
		{"address required", `{"id":"1"}`, []Issue{{Field: "address", Message: "Field is required", Code: IssueRequired}}},
		{"address wrong type", `{"id":"1","address":[]}`, []Issue{{Field: "address", Message: `Expected type "object", got array`, Code: IssueType}}},
		{"nested required and pattern", `{"id":"1","address":{"zip":"1"}}`, []Issue{
			{Field: "address.city", Message: "Field is required", Code: IssueRequired},
			{Field: "address.zip", Message: `Value must match pattern "^\d{5}$"`, Code: IssuePattern},
		}},
		{"deep", `{"id":"1","address":{"city":"P","geo":{"lat":91}},"level1":{"level2":{"level3":"x"}}}`, []Issue{
			{Field: "address.geo.lat", Message: "Maximum value is 90", Code: IssueMax},
			{Field: "level1.level2.level3", Message: `Expected type "number", got string`, Code: IssueType},
		}},
		{"items", `{"id":"1","address":{"city":"P"},"tags":["ok","x",3,null]}`, []Issue{
			{Field: "tags[1]", Message: "Minimum length is 2", Code: IssueMinLength},
			{Field: "tags[2]", Message: `Expected type "string", got number`, Code: IssueType},
		}},
		{"items objects", `{"id":"1","address":{"city":"P"},"contacts":[{"name":"A"},{"email":"bad"},"str"]}`, []Issue{
			{Field: "contacts[1].name", Message: "Field is required", Code: IssueRequired},
			{Field: "contacts[1].email", Message: "Invalid email format", Code: IssueFormat},
			{Field: "contacts[2]", Message: `Expected type "object", got string`, Code: IssueType},
		}},
		{"matrix", `{"id":"1","address":{"city":"P"},"matrix":[[1],[2,10],5]}`, []Issue{
			{Field: "matrix[1][1]", Message: "Maximum value is 9", Code: IssueMax},
			{Field: "matrix[2]", Message: `Expected type "array", got number`, Code: IssueType},
		}},
		{"undeclared nested fields ignored", `{"id":"1","address":{"city":"P","extra":{"deep":true}},"other":1}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := d.Validate(schRecord(t, tc.rec)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("issues %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidateSchemaOrderAndKey(t *testing.T) {
	t.Parallel()
	d := schDef(t, "tickets", `{"key":"id","schema":{"title":{"type":"string","required":true},"id":{"type":"number"},"priority":{"type":"number","max":5}}}`)
	got := d.Validate(schRecord(t, `{"priority":7}`))
	want := []Issue{
		{Field: "title", Message: "Field is required", Code: IssueRequired},
		{Field: "id", Message: "Field is required", Code: IssueRequired},
		{Field: "priority", Message: "Maximum value is 5", Code: IssueMax},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("issues %+v, want %+v", got, want)
	}
	if got := d.Validate(schRecord(t, `{"id":null,"title":"t"}`)); !reflect.DeepEqual(got, want[1:2]) {
		t.Fatalf("null key: issues %+v", got)
	}
	if got := d.Validate(schRecord(t, `{"id":"1","title":"t"}`)); !reflect.DeepEqual(got, []Issue{{Field: "id", Message: `Expected type "number", got string`, Code: IssueType}}) {
		t.Fatalf("key of the wrong type: issues %+v", got)
	}
	// A required key is reported once.
	d = schDef(t, "b", `{"key":"id","schema":{"id":{"type":"string","required":true}}}`)
	if got := d.Validate(Record{}); len(got) != 1 {
		t.Fatalf("issues %+v, want one", got)
	}
}
