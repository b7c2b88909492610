package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"testing"
)

// schFuzzSchema exercises every option, nesting and format.
const schFuzzSchema = `{"key":"id","schema":{
	"id":{"type":"string","generated":"uuid"},
	"seq":{"type":"number","generated":"autoincrement"},
	"title":{"type":"string","required":true,"minLength":1,"maxLength":20,"pattern":"^[\\w\\s]+$"},
	"email":{"type":"string","format":"email","unique":true},
	"site":{"type":"string","format":"url"},
	"day":{"type":"date","format":"iso-date","min":0,"max":1e13},
	"state":{"type":"string","enum":["open","closed",1,null,true],"default":"open"},
	"n":{"type":"number","min":-5,"max":5.5},
	"flag":{"type":"boolean"},
	"owner":{"type":"string","ref":"users","onDelete":"set_null"},
	"address":{"type":"object","properties":{
		"city":{"type":"string","required":true},
		"geo":{"type":"object","properties":{"lat":{"type":"number","min":-90,"max":90}}}
	}},
	"tags":{"type":"array","items":{"type":"string","minLength":2,"pattern":"^[a-z]"}},
	"contacts":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string","required":true},"mail":{"type":"string","format":"email"}}}},
	"matrix":{"type":"array","items":{"type":"array","items":{"type":"number","max":9}}},
	"blob":{"type":"object"},
	"list":{"type":"array"}
},"indexes":["state"]}`

// schDeclaredPaths collects issue paths a schema can produce, with array
// indexes written as [].
func schDeclaredPaths(prefix string, fields []Field, into map[string]bool) {
	for _, f := range fields {
		p := f.Name
		if prefix != "" {
			p = prefix + "." + f.Name
		}
		schDeclaredDefPaths(p, f.Def, into)
	}
}

func schDeclaredDefPaths(p string, fd *FieldDef, into map[string]bool) {
	into[p] = true
	schDeclaredPaths(p, fd.Properties, into)
	if fd.Items != nil {
		schDeclaredDefPaths(p+"[]", fd.Items, into)
	}
}

var schIndexRe = regexp.MustCompile(`\[\d+\]`)

var schIssueCodes = map[string]bool{
	IssueRequired: true, IssueType: true, IssueEnum: true, IssueMinLength: true, IssueMaxLength: true,
	IssuePattern: true, IssueFormat: true, IssueMin: true, IssueMax: true,
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"id":"a","title":"hello world","email":"a@b.c","site":"https://x.y","day":"2024-02-29","n":1,"flag":true}`,
		`{"title":"","email":"bad","site":"nope","day":"2024-02-30","state":"x","n":9,"flag":"no"}`,
		`{"address":{"geo":{"lat":100}},"tags":["ab","c",1,null],"contacts":[{"mail":"x"},null,3],"matrix":[[1,10],[null],"x"]}`,
		`{"id":null,"seq":"1","title":null,"address":null,"tags":{},"blob":[],"list":{}}`,
		`{"day":1e300,"n":-1e-300,"title":"\u00e9\ud83d\ude00","state":1,"_version":"x"}`,
		`[]`, `null`, `"x"`,
	} {
		f.Add(s)
	}
	d := schDef(f, "fuzz", schFuzzSchema)
	declared := map[string]bool{}
	schDeclaredPaths("", d.Fields, declared)
	f.Fuzz(func(t *testing.T, doc string) {
		v, err := DecodeJSON([]byte(doc))
		if err != nil {
			return
		}
		rec, ok := v.(map[string]any)
		if !ok {
			return
		}
		issues := d.Validate(rec)
		for _, is := range issues {
			if !declared[schIndexRe.ReplaceAllString(is.Field, "[]")] {
				t.Fatalf("issue on undeclared path %q: %+v", is.Field, is)
			}
			if !schIssueCodes[is.Code] || is.Message == "" {
				t.Fatalf("bad issue %+v", is)
			}
		}
		// The pipelines never panic, agree with Validate and keep the
		// caller's record intact.
		before := CloneValue(rec)
		out, n, err := d.PrepareInsert(rec, 5, 1000)
		if n != 6 {
			t.Fatalf("counter %d, want 6", n)
		}
		var ve *ValidationError
		if err != nil && (!errors.As(err, &ve) || len(ve.Issues) == 0) {
			t.Fatalf("PrepareInsert error %v", err)
		}
		if err == nil && d.Validate(out) != nil {
			t.Fatalf("PrepareInsert returned an invalid record %v", out)
		}
		if _, err := d.PrepareUpdate(rec, rec, 2000); err != nil && !errors.As(err, &ve) {
			t.Fatalf("PrepareUpdate error %v", err)
		}
		if !DeepEqual(before, rec) {
			t.Fatal("pipeline modified the caller's record")
		}
	})
}

func FuzzParseBucketDef(f *testing.F) {
	for _, s := range []string{
		schFuzzSchema,
		schOrdersConfig,
		`{"key":"k","schema":{"k":{"type":"string"}}}`,
		`{"key":"k","schema":{"k":{"type":"number","generated":"autoincrement"}},"etsType":"ordered_set","persistent":false,"maxSize":5,"ttl":"1.5h"}`,
		`{"key":"k","schema":{"k":{"type":"string","pattern":"[\\s\\S]+.\\u0041\\x41\\cA[^]"}},"indexes":["k","k"],"extra":{"a":[1,null]}}`,
		`{"key":"k","schema":{"k":{"type":"date","enum":[1,"1",null,{},[]],"default":{"x":1}},"o":{"type":"object","properties":{"p":{"type":"array","items":{"type":"object"}}}}}}`,
		`{"key":"k","schema":{"k":{"type":"string"},"k":{"type":"number"}},"key":"k","ttl":null}`,
		`{"key":"x","schema":{}}`, `{}`, `[]`, `null`, `{"key":"k","schema":{"k":{"type":"string","ref":"u","onDelete":"set_null","required":true}}}`,
	} {
		f.Add(s, `{"addFields":{"z":{"type":"string","unique":true}},"addIndexes":["z"],"ttl":null}`)
	}
	f.Add(`{"key":"k","schema":{"k":{"type":"string"}}}`, `{"ttl":"2d","addIndexes":["k"]}`)
	f.Add(`{"key":"k","schema":{"k":{"type":"string"}},"indexes":null}`, `{"addFields":{"k":{"type":"string"}}}`)
	f.Fuzz(func(t *testing.T, config, updates string) {
		d, err := ParseBucketDef("fuzz", json.RawMessage(config))
		if err != nil {
			var de *DefinitionError
			if d != nil || !errors.As(err, &de) || de.Message == "" {
				t.Fatalf("error %T %v with definition %v", err, err, d)
			}
			return
		}
		schFuzzRoundTrip(t, d)
		if d.FieldDef(d.Key) == nil {
			t.Fatalf("key %q not declared", d.Key)
		}
		d2, err := d.ApplyUpdate(json.RawMessage(updates))
		if err != nil {
			var de *DefinitionError
			if d2 != nil || !errors.As(err, &de) {
				t.Fatalf("ApplyUpdate error %T %v", err, err)
			}
			return
		}
		schFuzzRoundTrip(t, d2)
		// The original is unchanged by the update.
		if !bytes.Equal(d.MarshalConfig(), schDefMust(t, d.MarshalConfig()).MarshalConfig()) {
			t.Fatal("ApplyUpdate changed the original definition")
		}
	})
}

// schFuzzRoundTrip checks that a definition marshals and re-parses to an
// equal definition, and that marshalling is a fixed point.
func schFuzzRoundTrip(t *testing.T, d *BucketDef) {
	t.Helper()
	out := d.MarshalConfig()
	if !json.Valid(out) {
		t.Fatalf("MarshalConfig produced invalid JSON %q", out)
	}
	d2 := schDefMust(t, out)
	if !schEqualDefs(d, d2) {
		t.Fatalf("round trip changed the definition:\n%s\n%s", out, d2.MarshalConfig())
	}
	_ = d.IndexedFields()
}

func schDefMust(t *testing.T, config json.RawMessage) *BucketDef {
	t.Helper()
	d, err := ParseStoredBucketDef("fuzz", config)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", config, err)
	}
	return d
}
