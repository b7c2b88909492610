package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// schDef parses a definition that must be valid.
func schDef(t testing.TB, name, config string) *BucketDef {
	t.Helper()
	d, err := ParseBucketDef(name, json.RawMessage(config))
	if err != nil {
		t.Fatalf("ParseBucketDef(%q, %s): unexpected error %v", name, config, err)
	}
	return d
}

// schDefErr parses a definition that must be rejected and returns the message.
func schDefErr(t testing.TB, name, config string) string {
	t.Helper()
	d, err := ParseBucketDef(name, json.RawMessage(config))
	if err == nil {
		t.Fatalf("ParseBucketDef(%q, %s) = %+v, want an error", name, config, d)
	}
	var de *DefinitionError
	if !errors.As(err, &de) {
		t.Fatalf("ParseBucketDef(%q, %s): error %T %v, want *DefinitionError", name, config, err, err)
	}
	return de.Message
}

// schJSONEqual compares two JSON documents semantically.
func schJSONEqual(t testing.TB, got, want []byte) {
	t.Helper()
	g, err1 := DecodeJSON(got)
	w, err2 := DecodeJSON(want)
	if err1 != nil || err2 != nil || !DeepEqual(g, w) {
		t.Fatalf("JSON differs:\n got %s\nwant %s", got, want)
	}
}

// schNormalize strips unexported, derived state so two definitions can be
// compared with reflect.DeepEqual.
func schNormalize(d *BucketDef) BucketDef {
	c := *d
	c.members = nil
	c.fieldIndex = nil
	c.Fields = schNormalizeFields(d.Fields)
	return c
}

func schNormalizeFields(fields []Field) []Field {
	if fields == nil {
		return nil
	}
	out := make([]Field, len(fields))
	for i, f := range fields {
		out[i] = Field{Name: f.Name, Def: schNormalizeFieldDef(f.Def)}
	}
	return out
}

func schNormalizeFieldDef(fd *FieldDef) *FieldDef {
	if fd == nil {
		return nil
	}
	c := *fd
	c.re = nil
	c.raw = nil
	c.Properties = schNormalizeFields(fd.Properties)
	c.Items = schNormalizeFieldDef(fd.Items)
	return &c
}

// schEqualDefs reports whether two definitions are equal in every respect
// that matters: parsed content and serialised config.
func schEqualDefs(a, b *BucketDef) bool {
	return reflect.DeepEqual(schNormalize(a), schNormalize(b)) && bytes.Equal(a.MarshalConfig(), b.MarshalConfig())
}

const schOrdersConfig = `{
  "key": "id",
  "schema": {
    "id":       { "type": "string", "generated": "uuid" },
    "customer": { "type": "string", "required": true },
    "total":    { "type": "number", "min": 0, "default": 0 },
    "status":   { "type": "string", "enum": ["new", "paid", "shipped"], "default": "new" },
    "email":    { "type": "string", "format": "email", "unique": true }
  },
  "indexes": ["customer"],
  "ttl": "7d"
}`

func TestParseBucketDefFull(t *testing.T) {
	t.Parallel()
	d := schDef(t, "orders", schOrdersConfig)
	if d.Name != "orders" || d.Key != "id" || d.EtsType != EtsSet || !d.Persistent || d.TTL != 7*86_400_000 || d.MaxSize != 0 {
		t.Fatalf("unexpected definition %+v", d)
	}
	var names []string
	for _, f := range d.Fields {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "id,customer,total,status,email" {
		t.Fatalf("fields not in document order: %v", names)
	}
	if !reflect.DeepEqual(d.Indexes, []string{"customer"}) {
		t.Fatalf("indexes = %v", d.Indexes)
	}
	st := d.FieldDef("status")
	if st == nil || !st.HasEnum || len(st.Enum) != 3 || !st.HasDefault || st.Default != "new" {
		t.Fatalf("status = %+v", st)
	}
	if fd := d.FieldDef("total"); fd.Min == nil || *fd.Min != 0 || fd.Max != nil || !fd.HasDefault || fd.Default != 0.0 {
		t.Fatalf("total = %+v", fd)
	}
	if d.FieldDef("nope") != nil {
		t.Fatal("FieldDef of an undeclared field must be nil")
	}
	want := []IndexSpec{{Field: "customer"}, {Field: "email", Unique: true}}
	if got := d.IndexedFields(); !reflect.DeepEqual(got, want) {
		t.Fatalf("IndexedFields = %+v, want %+v", got, want)
	}
}

func TestParseBucketDefOptions(t *testing.T) {
	t.Parallel()
	d := schDef(t, "b", `{"key":"k","schema":{"k":{"type":"number"}},"etsType":"ordered_set","persistent":false,"maxSize":3,"ttl":1500}`)
	if d.EtsType != EtsOrderedSet || d.Persistent || d.MaxSize != 3 || d.TTL != 1500 || d.Indexes != nil {
		t.Fatalf("unexpected definition %+v", d)
	}
	// null counts as absent for optional top-level settings.
	d = schDef(t, "b", `{"key":"k","schema":{"k":{"type":"number"}},"etsType":null,"persistent":null,"maxSize":null,"ttl":null,"indexes":null}`)
	if d.EtsType != EtsSet || !d.Persistent || d.MaxSize != 0 || d.TTL != 0 || d.Indexes != nil {
		t.Fatalf("unexpected definition %+v", d)
	}
	for _, ets := range []string{"set", "ordered_set", "bag", "duplicate_bag"} {
		if d := schDef(t, "b", `{"key":"k","schema":{"k":{"type":"string"}},"etsType":"`+ets+`"}`); d.EtsType != ets {
			t.Fatalf("etsType %q parsed as %q", ets, d.EtsType)
		}
	}
	// Duplicate indexes collapse; unique indexed fields are unique indexes.
	d = schDef(t, "b", `{"key":"k","schema":{"k":{"type":"string"},"a":{"type":"string","unique":true},"b":{"type":"number"},"c":{"type":"string","unique":true}},"indexes":["b","a","b"]}`)
	want := []IndexSpec{{Field: "b"}, {Field: "a", Unique: true}, {Field: "c", Unique: true}}
	if got := d.IndexedFields(); !reflect.DeepEqual(got, want) {
		t.Fatalf("IndexedFields = %+v, want %+v", got, want)
	}
	// Duplicate JSON keys: last value wins, first position kept.
	d = schDef(t, "b", `{"key":"x","schema":{"k":{"type":"string"},"j":{"type":"number"},"k":{"type":"number"}},"key":"k"}`)
	if d.Key != "k" || d.Fields[0].Name != "k" || d.Fields[0].Def.Type != TypeNumber || len(d.Fields) != 2 {
		t.Fatalf("duplicate keys mishandled: %+v", d)
	}
}

func TestParseFieldDefOptions(t *testing.T) {
	t.Parallel()
	d := schDef(t, "b", `{"key":"k","schema":{
		"k":{"type":"string"},
		"s":{"type":"string","required":true,"minLength":2,"maxLength":5,"pattern":"^a","format":"url","unique":true,"default":null},
		"n":{"type":"number","min":-1.5,"max":10,"enum":[1,2,"3",null],"generated":"autoincrement"},
		"d":{"type":"date","min":0,"maxLength":30,"format":"iso-date"},
		"r":{"type":"string","ref":"users"},
		"r2":{"type":"string","ref":"users","onDelete":"set_null"},
		"o":{"type":"object","properties":{"x":{"type":"boolean","required":true}}},
		"a":{"type":"array","items":{"type":"array","items":{"type":"number"}}},
		"u":{"type":"string","required":null,"min":null,"pattern":null,"generated":null,"enum":null,"ref":null,"properties":null,"custom":"kept"}
	}}`)
	s := d.FieldDef("s")
	if !s.Required || *s.MinLength != 2 || *s.MaxLength != 5 || s.Pattern != "^a" || s.re == nil || s.Format != FormatURL || !s.Unique || !s.HasDefault || s.Default != nil {
		t.Fatalf("s = %+v", s)
	}
	n := d.FieldDef("n")
	if *n.Min != -1.5 || *n.Max != 10 || !n.HasEnum || !reflect.DeepEqual(n.Enum, []any{1.0, 2.0, "3", nil}) || n.Generated != GeneratedAutoincrement {
		t.Fatalf("n = %+v", n)
	}
	if r := d.FieldDef("r"); r.Ref != "users" || r.OnDelete != OnDeleteRestrict {
		t.Fatalf("r = %+v (onDelete defaults to restrict)", r)
	}
	if r := d.FieldDef("r2"); r.OnDelete != OnDeleteSetNull {
		t.Fatalf("r2 = %+v", r)
	}
	if o := d.FieldDef("o"); len(o.Properties) != 1 || o.Properties[0].Name != "x" || !o.Properties[0].Def.Required {
		t.Fatalf("o = %+v", o)
	}
	if a := d.FieldDef("a"); a.Items == nil || a.Items.Items == nil || a.Items.Items.Type != TypeNumber {
		t.Fatalf("a = %+v", a)
	}
	u := d.FieldDef("u")
	if u.Required || u.Min != nil || u.Pattern != "" || u.Generated != "" || u.HasEnum || u.Ref != "" || u.Properties != nil || u.HasDefault {
		t.Fatalf("null options must count as absent: %+v", u)
	}
}

func TestParseBucketDefErrors(t *testing.T) {
	t.Parallel()
	const k = `"k":{"type":"string"}`
	cases := []struct {
		name, bucket, config, want string
	}{
		{"config not object", "b", `[1]`, `Invalid definition for bucket "b": config must be a JSON object`},
		{"config null", "b", `null`, `Invalid definition for bucket "b": config must be a JSON object`},
		{"config invalid JSON", "b", `{"key":`, `Invalid definition for bucket "b": config must be a JSON object`},
		{"schema missing", "b", `{"key":"k"}`, `Invalid definition for bucket "b": "schema" is required and must be an object mapping field names to field definitions`},
		{"schema array", "b", `{"key":"k","schema":[]}`, `Invalid definition for bucket "b": "schema" is required and must be an object mapping field names to field definitions`},
		{"schema null", "b", `{"key":"k","schema":null}`, `Invalid definition for bucket "b": "schema" is required and must be an object mapping field names to field definitions`},
		{"key missing", "b", `{"schema":{` + k + `}}`, `Invalid definition for bucket "b": "key" is required and must be a string naming a schema field`},
		{"key number", "b", `{"key":1,"schema":{` + k + `}}`, `Invalid definition for bucket "b": "key" is required and must be a string naming a schema field`},
		{"key not in schema", "tickets", `{"key":"id","schema":{` + k + `}}`, `Key field "id" does not exist in schema for bucket "tickets"`},
		{"key not in empty schema", "b", `{"key":"id","schema":{}}`, `Key field "id" does not exist in schema for bucket "b"`},
		{"index not in schema", "tickets", `{"key":"k","schema":{` + k + `},"indexes":["k","zz"]}`, `Index field "zz" does not exist in schema for bucket "tickets"`},
		{"indexes not array", "b", `{"key":"k","schema":{` + k + `},"indexes":"k"}`, `Invalid definition for bucket "b": "indexes" must be an array of field names`},
		{"indexes not strings", "b", `{"key":"k","schema":{` + k + `},"indexes":[null]}`, `Invalid definition for bucket "b": "indexes" must be an array of field names`},
		{"key object", "b", `{"key":"k","schema":{"k":{"type":"object"}}}`, `Invalid definition for bucket "b": the key field "k" must be a string, number, boolean or date, not "object"`},
		{"key array", "b", `{"key":"k","schema":{"k":{"type":"array"}}}`, `Invalid definition for bucket "b": the key field "k" must be a string, number, boolean or date, not "array"`},
		{"key metadata", "b", `{"key":"_version","schema":{"_version":{"type":"number"}}}`, `Invalid definition for bucket "b": the key field cannot be the metadata field "_version"`},
		{"etsType", "b", `{"key":"k","schema":{` + k + `},"etsType":"hash"}`, `Invalid definition for bucket "b": "etsType" must be one of "set", "ordered_set", "bag", "duplicate_bag"`},
		{"persistent", "b", `{"key":"k","schema":{` + k + `},"persistent":"yes"}`, `Invalid definition for bucket "b": "persistent" must be a boolean`},
		{"maxSize zero", "b", `{"key":"k","schema":{` + k + `},"maxSize":0}`, `Invalid definition for bucket "b": "maxSize" must be a positive integer`},
		{"maxSize negative", "b", `{"key":"k","schema":{` + k + `},"maxSize":-3}`, `Invalid definition for bucket "b": "maxSize" must be a positive integer`},
		{"maxSize fraction", "b", `{"key":"k","schema":{` + k + `},"maxSize":1.5}`, `Invalid definition for bucket "b": "maxSize" must be a positive integer`},
		{"maxSize string", "b", `{"key":"k","schema":{` + k + `},"maxSize":"10"}`, `Invalid definition for bucket "b": "maxSize" must be a positive integer`},
		{"maxSize huge", "b", `{"key":"k","schema":{` + k + `},"maxSize":1e300}`, `Invalid definition for bucket "b": "maxSize" must be a positive integer`},
		{"ttl bad string", "b", `{"key":"k","schema":{` + k + `},"ttl":"5w"}`, `Invalid TTL format "5w". Expected a number (ms) or string like "30s", "5m", "1h", "7d".`},
		{"ttl zero", "b", `{"key":"k","schema":{` + k + `},"ttl":0}`, `TTL must be a positive finite number, got 0`},
		{"ttl zero string", "b", `{"key":"k","schema":{` + k + `},"ttl":"0s"}`, `TTL value must be positive, got "0s"`},
		{"ttl boolean", "b", `{"key":"k","schema":{` + k + `},"ttl":true}`, `Invalid TTL format "true". Expected a number (ms) or string like "30s", "5m", "1h", "7d".`},
		// Field definitions.
		{"field not object", "b", `{"key":"k","schema":{` + k + `,"f":"string"}}`, `Invalid definition of field "f" in bucket "b": the field definition must be an object`},
		{"type missing", "b", `{"key":"k","schema":{` + k + `,"f":{"required":true}}}`, `Invalid definition of field "f" in bucket "b": "type" is required and must be one of "string", "number", "boolean", "object", "array", "date"`},
		{"type null", "b", `{"key":"k","schema":{` + k + `,"f":{"type":null}}}`, `Invalid definition of field "f" in bucket "b": "type" is required and must be one of "string", "number", "boolean", "object", "array", "date"`},
		{"type unknown", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"integer"}}}`, `Invalid definition of field "f" in bucket "b": unknown type "integer" (expected "string", "number", "boolean", "object", "array" or "date")`},
		{"type of key unknown", "b", `{"key":"k","schema":{"k":{"type":"uuid"}}}`, `Invalid definition of field "k" in bucket "b": unknown type "uuid" (expected "string", "number", "boolean", "object", "array" or "date")`},
		{"required not bool", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","required":1}}}`, `Invalid definition of field "f" in bucket "b": "required" must be a boolean`},
		{"unique not bool", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","unique":"yes"}}}`, `Invalid definition of field "f" in bucket "b": "unique" must be a boolean`},
		{"generated unknown", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","generated":"ulid"}}}`, `Invalid definition of field "f" in bucket "b": "generated" must be one of "uuid", "cuid", "autoincrement", "timestamp", got "ulid"`},
		{"generated not string", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","generated":true}}}`, `Invalid definition of field "f" in bucket "b": "generated" must be one of "uuid", "cuid", "autoincrement", "timestamp", got true`},
		{"enum not array", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","enum":"a"}}}`, `Invalid definition of field "f" in bucket "b": "enum" must be a non-empty array of allowed values`},
		{"enum empty", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","enum":[]}}}`, `Invalid definition of field "f" in bucket "b": "enum" must be a non-empty array of allowed values`},
		{"min not number", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"number","min":"1"}}}`, `Invalid definition of field "f" in bucket "b": "min" must be a number`},
		{"max not number", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"number","max":[]}}}`, `Invalid definition of field "f" in bucket "b": "max" must be a number`},
		{"min on string", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","min":1}}}`, `Invalid definition of field "f" in bucket "b": "min"/"max" apply only to fields of type "number" or "date", not "string"`},
		{"minLength negative", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","minLength":-1}}}`, `Invalid definition of field "f" in bucket "b": "minLength" must be a non-negative integer`},
		{"maxLength fraction", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","maxLength":2.5}}}`, `Invalid definition of field "f" in bucket "b": "maxLength" must be a non-negative integer`},
		{"maxLength on number", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"number","maxLength":2}}}`, `Invalid definition of field "f" in bucket "b": "minLength"/"maxLength" apply only to fields of type "string" or "date", not "number"`},
		{"pattern not string", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":1}}}`, `Invalid definition of field "f" in bucket "b": "pattern" must be a string holding a regular expression`},
		{"pattern on boolean", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"boolean","pattern":"x"}}}`, `Invalid definition of field "f" in bucket "b": "pattern" applies only to fields of type "string" or "date", not "boolean"`},
		{"pattern lookahead", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"^(?=a)"}}}`, `Invalid definition of field "f" in bucket "b": pattern "^(?=a)" cannot be used: look-around assertions ((?=, (?!, (?<=, (?<!) are not supported by Go's RE2 regular expressions`},
		{"pattern lookbehind", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"(?<!a)b"}}}`, `Invalid definition of field "f" in bucket "b": pattern "(?<!a)b" cannot be used: look-around assertions ((?=, (?!, (?<=, (?<!) are not supported by Go's RE2 regular expressions`},
		{"pattern backreference", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"(a)\\1"}}}`, `Invalid definition of field "f" in bucket "b": pattern "(a)\\1" cannot be used: back-references (\1) are not supported by Go's RE2 regular expressions`},
		{"pattern named backreference", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"(?<x>a)\\k<x>"}}}`, `Invalid definition of field "f" in bucket "b": pattern "(?<x>a)\\k<x>" cannot be used: back-references (\k<name>) are not supported by Go's RE2 regular expressions`},
		{"pattern unbalanced", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"(a"}}}`, `Invalid definition of field "f" in bucket "b": pattern "(a" is not a regular expression Go's RE2 engine can compile: error parsing regexp: missing closing ): ` + "`(a`"},
		{"pattern open class", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"[a"}}}`, `Invalid definition of field "f" in bucket "b": pattern "[a" cannot be used: missing closing ]`},
		{"pattern trailing backslash", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","pattern":"a\\"}}}`, `Invalid definition of field "f" in bucket "b": pattern "a\\" cannot be used: it ends with "\"`},
		{"format unknown", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","format":"phone"}}}`, `Invalid definition of field "f" in bucket "b": "format" must be one of "email", "url", "iso-date", got "phone"`},
		{"format on number", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"number","format":"email"}}}`, `Invalid definition of field "f" in bucket "b": "format" applies only to fields of type "string" or "date", not "number"`},
		{"ref empty", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","ref":""}}}`, `Invalid definition of field "f" in bucket "b": "ref" must be the name of a bucket`},
		{"ref not string", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","ref":3}}}`, `Invalid definition of field "f" in bucket "b": "ref" must be the name of a bucket`},
		{"onDelete without ref", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","onDelete":"cascade"}}}`, `Invalid definition of field "f" in bucket "b": "onDelete" needs "ref"`},
		{"onDelete unknown", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","ref":"u","onDelete":"nullify"}}}`, `Invalid definition of field "f" in bucket "b": "onDelete" must be one of "restrict", "cascade", "set_null", got "nullify"`},
		{"ref set_null required", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","ref":"u","onDelete":"set_null","required":true}}}`, `Invalid definition of field "f" in bucket "b": a required field cannot have onDelete "set_null" (deleting the referenced record would set it to null)`},
		{"properties on string", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"string","properties":{}}}}`, `Invalid definition of field "f" in bucket "b": "properties" applies only to fields of type "object", not "string"`},
		{"properties not object", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"object","properties":[]}}}`, `Invalid definition of field "f" in bucket "b": "properties" must be an object mapping field names to field definitions`},
		{"items on object", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"object","items":{"type":"string"}}}}`, `Invalid definition of field "f" in bucket "b": "items" applies only to fields of type "array", not "object"`},
		{"items not object", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"array","items":"string"}}}`, `Invalid definition of field "f[]" in bucket "b": the field definition must be an object`},
		{"nested error path", "b", `{"key":"k","schema":{` + k + `,"address":{"type":"object","properties":{"city":{"type":"text"}}}}}`, `Invalid definition of field "address.city" in bucket "b": unknown type "text" (expected "string", "number", "boolean", "object", "array" or "date")`},
		{"items error path", "b", `{"key":"k","schema":{` + k + `,"tags":{"type":"array","items":{"type":"string","minLength":"x"}}}}`, `Invalid definition of field "tags[]" in bucket "b": "minLength" must be a non-negative integer`},
		{"nested set_null", "b", `{"key":"k","schema":{` + k + `,"o":{"type":"object","properties":{"u":{"type":"string","ref":"u","onDelete":"set_null","required":true}}}}}`, `Invalid definition of field "o.u" in bucket "b": a required field cannot have onDelete "set_null" (deleting the referenced record would set it to null)`},
		{"default undecodable", "b", `{"key":"k","schema":{` + k + `,"f":{"type":"number","default":1e400}}}`, `Invalid definition of field "f" in bucket "b": "default" cannot be decoded: json: cannot unmarshal number 1e400 into Go value of type float64`},
		// Bucket names.
		{"name empty", "", `{"key":"k","schema":{` + k + `}}`, `Invalid bucket name: must not be empty`},
		{"name dot", "a.b", `{"key":"k","schema":{` + k + `}}`, `Invalid bucket name "a.b": must not contain "."`},
		{"name control", "a\x00b", `{"key":"k","schema":{` + k + `}}`, `Invalid bucket name "a\x00b": must not contain control characters`},
		{"name newline", "a\nb", `{"key":"k","schema":{` + k + `}}`, `Invalid bucket name "a\nb": must not contain control characters`},
		{"name too long", strings.Repeat("x", 129), `{"key":"k","schema":{` + k + `}}`, `Invalid bucket name "` + strings.Repeat("x", 129) + `": longer than 128 bytes`},
		{"name invalid utf8", "a\xffb", `{"key":"k","schema":{` + k + `}}`, `Invalid bucket name "a\xffb": must be valid UTF-8`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := schDefErr(t, tc.bucket, tc.config); got != tc.want {
				t.Fatalf("message:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseBucketDefDepth(t *testing.T) {
	t.Parallel()
	nest := func(levels int) string {
		def := `{"type":"string"}`
		for i := 0; i < levels; i++ {
			if i%2 == 0 {
				def = `{"type":"object","properties":{"p":` + def + `}}`
			} else {
				def = `{"type":"array","items":` + def + `}`
			}
		}
		return `{"key":"k","schema":{"k":{"type":"string"},"deep":` + def + `}}`
	}
	schDef(t, "b", nest(MaxSchemaDepth))
	if msg := schDefErr(t, "b", nest(MaxSchemaDepth+1)); !strings.Contains(msg, "nested deeper than 32 levels") {
		t.Fatalf("message %q", msg)
	}
}

func TestBucketNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "tickets", "_system", "with space", "ünïcödé", "a-b_c:d/e", strings.Repeat("x", 128), "*"} {
		if err := ValidateBucketName(name); err != nil {
			t.Errorf("ValidateBucketName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "a.b", "a\tb", "a\x7fb", "a\u0085b", strings.Repeat("x", 129)} {
		if err := ValidateBucketName(name); err == nil {
			t.Errorf("ValidateBucketName(%q) = nil, want an error", name)
		}
	}
}

// STORE.md §23 #13 / COMPATIBILITY.md: the whole definition is validated
// before anything is registered, so an invalid ttl (or any other late
// problem) is reported without a half-built definition.
func TestStore23Row13ValidateFirst(t *testing.T) {
	t.Parallel()
	for _, cfg := range []string{
		`{"key":"k","schema":{"k":{"type":"string"}},"ttl":"1w"}`,
		`{"key":"k","schema":{"k":{"type":"string"}},"ttl":-5}`,
		`{"key":"k","schema":{"k":{"type":"string"}},"maxSize":0}`,
		`{"key":"k","schema":{"k":{"type":"string"},"z":{"type":"string","pattern":"(?=x)"}}}`,
	} {
		d, err := ParseBucketDef("b", json.RawMessage(cfg))
		var de *DefinitionError
		if d != nil || !errors.As(err, &de) {
			t.Errorf("ParseBucketDef(%s) = %v, %v; want nil and a *DefinitionError", cfg, d, err)
		}
	}
}

func TestMarshalConfigRoundTrip(t *testing.T) {
	t.Parallel()
	configs := []string{
		schOrdersConfig,
		`{"key":"k","schema":{"k":{"type":"number","generated":"autoincrement"}}}`,
		`{"schema":{"z":{"type":"string"},"a":{"type":"number"}},"key":"a","persistent":false,"etsType":"ordered_set","maxSize":10,"ttl":60000,"custom":{"x":[1,2]}}`,
		`{"key":"k","schema":{"k":{"type":"string","x-note":"<b>&"},"o":{"type":"object","properties":{"n":{"type":"array","items":{"type":"object","properties":{"v":{"type":"number","min":1}}}}}}},"indexes":[]}`,
		`{"key":"k","schema":{"k":{"type":"string"}},"ttl":null,"indexes":null}`,
		`{ "key" : "k" , "schema" : { "k" : { "type" : "string" , "pattern" : "^\\d+$" } } }`,
	}
	for _, cfg := range configs {
		d := schDef(t, "b", cfg)
		out := d.MarshalConfig()
		if !json.Valid(out) {
			t.Fatalf("MarshalConfig produced invalid JSON %s", out)
		}
		schJSONEqual(t, out, []byte(cfg))
		if keys, want := ObjectKeys(out), ObjectKeys([]byte(cfg)); !reflect.DeepEqual(keys, want) {
			t.Fatalf("member order changed: %v, want %v", keys, want)
		}
		d2, err := ParseStoredBucketDef("b", out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !schEqualDefs(d, d2) {
			t.Fatalf("round trip changed the definition:\n%+v\n%+v", schNormalize(d), schNormalize(d2))
		}
	}
	// Schema field order survives; duplicate keys are folded.
	d := schDef(t, "b", `{"key":"k","schema":{"z":{"type":"string"},"k":{"type":"string"},"a":{"type":"string"},"z":{"type":"number"}}}`)
	if got := string(d.MarshalConfig()); got != `{"key":"k","schema":{"z":{"type":"number"},"k":{"type":"string"},"a":{"type":"string"}}}` {
		t.Fatalf("MarshalConfig = %s", got)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	e := &ValidationError{Bucket: "tickets", Issues: []Issue{
		{Field: "title", Message: "Field is required", Code: IssueRequired},
		{Field: "priority", Message: "Maximum value is 5", Code: IssueMax},
	}}
	want := `Validation failed for bucket "tickets": title: Field is required; priority: Maximum value is 5`
	if e.Error() != want {
		t.Fatalf("Error() = %q, want %q", e.Error(), want)
	}
	b, _ := json.Marshal(e.Issues)
	if string(b) != `[{"field":"title","message":"Field is required","code":"required"},{"field":"priority","message":"Maximum value is 5","code":"max"}]` {
		t.Fatalf("issues JSON = %s", b)
	}
}

func TestObjectMembers(t *testing.T) {
	t.Parallel()
	in := " {\n\t\"a\\\"b\" : {\"x\":\"}\\\\\"} , \"c\":[1,\"]\",{}] ,\"d\":-1.5e3,\"e\":true,\"f\":null,\"\\u00e9\":\"\",\"a\\\"b\":0 } "
	members, ok := objectMembers(json.RawMessage(in))
	if !ok {
		t.Fatal("not split")
	}
	var got []string
	for _, m := range members {
		got = append(got, m.key+"="+string(m.raw))
	}
	want := []string{`a"b=0`, `c=[1,"]",{}]`, `d=-1.5e3`, `e=true`, `f=null`, `é=""`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("members %q, want %q", got, want)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{`, `{"a":1}x`, `{"a"}`} {
		if _, ok := objectMembers(json.RawMessage(bad)); ok {
			t.Errorf("objectMembers(%q) succeeded", bad)
		}
	}
	if m, ok := objectMembers(json.RawMessage(`{}`)); !ok || len(m) != 0 {
		t.Fatalf("{}: %v %v", m, ok)
	}
}
