package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestPrepareUpdate(t *testing.T) {
	t.Parallel()
	d := schDef(t, "tickets", `{"key":"id","schema":{
		"id":{"type":"string"},
		"n":{"type":"number","generated":"autoincrement"},
		"title":{"type":"string","required":true},
		"note":{"type":"string"},
		"meta":{"type":"object","properties":{"a":{"type":"number"}}}
	}}`)
	old := Record{"id": "t1", "n": 1.0, "title": "old", "note": "x", "meta": map[string]any{"a": 1.0, "b": 2.0}, "free": "kept",
		FieldVersion: 3.0, FieldCreatedAt: 100.0, FieldUpdatedAt: 200.0, FieldExpiresAt: 900.0}
	oldCopy := CloneValue(old)

	changes := Record{"id": "hijack", "n": 99.0, FieldVersion: 50.0, FieldCreatedAt: 1.0, FieldUpdatedAt: 2.0,
		"title": "new", "note": nil, "meta": map[string]any{"a": 5.0}, "added": true, FieldExpiresAt: 1000.0}
	rec, err := d.PrepareUpdate(old, changes, 300)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{"id": "t1", "n": 1.0, "title": "new", "note": nil, "meta": map[string]any{"a": 5.0}, "free": "kept", "added": true,
		FieldVersion: 4.0, FieldCreatedAt: 100.0, FieldUpdatedAt: 300.0, FieldExpiresAt: 1000.0}
	if !reflect.DeepEqual(rec, want) {
		t.Fatalf("merged\n got %v\nwant %v", rec, want)
	}
	if !DeepEqual(old, oldCopy) {
		t.Fatal("old record modified")
	}
	if _, ok := rec["note"]; !ok {
		t.Fatal("null must be stored, not removed")
	}
	// Updates that change nothing still bump the version.
	rec2, err := d.PrepareUpdate(rec, Record{}, 400)
	if err != nil || rec2[FieldVersion] != 5.0 || rec2[FieldUpdatedAt] != 400.0 {
		t.Fatalf("empty update: %v %v", rec2, err)
	}
	// Validation failures change nothing.
	_, err = d.PrepareUpdate(rec, Record{"title": nil, "meta": map[string]any{"a": "x"}}, 500)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Bucket != "tickets" || !reflect.DeepEqual(ve.Issues, []Issue{
		{Field: "title", Message: "Field is required", Code: IssueRequired},
		{Field: "meta.a", Message: `Expected type "number", got string`, Code: IssueType},
	}) {
		t.Fatalf("err %v", err)
	}
	if rec["title"] != "new" {
		t.Fatal("failed update modified the record")
	}
	// Changes are copied: mutating them afterwards does not reach the record.
	ch := Record{"meta": map[string]any{"a": 1.0}}
	rec3, _ := d.PrepareUpdate(rec, ch, 600)
	ch["meta"].(map[string]any)["a"] = 2.0
	if rec3["meta"].(map[string]any)["a"] != 1.0 {
		t.Fatal("record shares nested values with the change set")
	}
}

func TestPrepareUpdateOldRecordInvalidAfterAddFields(t *testing.T) {
	t.Parallel()
	// STORE.md §17.1: a new required field is missing on old records, so
	// their next update fails until the field is supplied.
	d := schDef(t, "b", `{"key":"k","schema":{"k":{"type":"string"}}}`)
	d2, err := d.ApplyUpdate(json.RawMessage(`{"addFields":{"owner":{"type":"string","required":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	old := Record{"k": "a", FieldVersion: 1.0}
	if _, err := d2.PrepareUpdate(old, Record{"x": 1.0}, 1); err == nil {
		t.Fatal("update without the new required field must fail")
	}
	if rec, err := d2.PrepareUpdate(old, Record{"owner": "me"}, 1); err != nil || rec["owner"] != "me" {
		t.Fatalf("update supplying it: %v %v", rec, err)
	}
}

func TestApplyUpdate(t *testing.T) {
	t.Parallel()
	base := `{"key":"id","schema":{"id":{"type":"string","generated":"uuid"},"customer":{"type":"string","required":true},"status":{"type":"string"}},"indexes":["customer"],"ttl":"7d"}`
	d := schDef(t, "orders", base)

	// PROTOCOL.md §4.4/§4.5 example.
	d2, err := d.ApplyUpdate(json.RawMessage(`{"addFields":{"note":{"type":"string"}},"addIndexes":["status","customer"],"ttl":null}`))
	if err != nil {
		t.Fatal(err)
	}
	schJSONEqual(t, d2.MarshalConfig(), []byte(`{"key":"id","schema":{"id":{"type":"string","generated":"uuid"},"customer":{"type":"string","required":true},"status":{"type":"string"},"note":{"type":"string"}},"indexes":["customer","status"]}`))
	if d2.TTL != 0 || d2.FieldDef("note") == nil || !reflect.DeepEqual(d2.Indexes, []string{"customer", "status"}) {
		t.Fatalf("merged definition %+v", d2)
	}
	// d is untouched.
	schJSONEqual(t, d.MarshalConfig(), []byte(base))
	if d.TTL != 7*86_400_000 || d.FieldDef("note") != nil || len(d.Indexes) != 1 || len(d.Fields) != 3 {
		t.Fatalf("original definition changed: %+v", d)
	}
	// The merged definition survives a round trip.
	if d3, err := ParseStoredBucketDef("orders", d2.MarshalConfig()); err != nil || !schEqualDefs(d2, d3) {
		t.Fatalf("round trip: %v", err)
	}

	// {} changes nothing.
	same, err := d.ApplyUpdate(json.RawMessage(`{}`))
	if err != nil || !schEqualDefs(d, same) {
		t.Fatalf("{}: %v", err)
	}
	// ttl set, index on a field added in the same update, unknown keys ignored.
	d4, err := d.ApplyUpdate(json.RawMessage(`{"ttl":1500,"addFields":{"tags":{"type":"array","items":{"type":"string"}}},"addIndexes":["tags"],"other":1}`))
	if err != nil || d4.TTL != 1500 || !reflect.DeepEqual(d4.Indexes, []string{"customer", "tags"}) {
		t.Fatalf("update: %+v %v", d4, err)
	}
	schJSONEqual(t, d4.MarshalConfig(), []byte(`{"key":"id","schema":{"id":{"type":"string","generated":"uuid"},"customer":{"type":"string","required":true},"status":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},"indexes":["customer","tags"],"ttl":1500}`))
	// Adding ttl and indexes to a definition without them appends the members.
	plain := schDef(t, "p", `{"key":"k","schema":{"k":{"type":"string"}}}`)
	p2, err := plain.ApplyUpdate(json.RawMessage(`{"addIndexes":["k"],"ttl":"1h"}`))
	if err != nil || p2.TTL != 3_600_000 {
		t.Fatalf("update: %+v %v", p2, err)
	}
	if got := string(p2.MarshalConfig()); got != `{"key":"k","schema":{"k":{"type":"string"}},"indexes":["k"],"ttl":"1h"}` {
		t.Fatalf("MarshalConfig = %s", got)
	}
	// Removing a ttl that is not set is fine; re-adding an index changes nothing.
	p3, err := plain.ApplyUpdate(json.RawMessage(`{"ttl":null,"addIndexes":[]}`))
	if err != nil || string(p3.MarshalConfig()) != `{"key":"k","schema":{"k":{"type":"string"}}}` {
		t.Fatalf("update: %s %v", p3.MarshalConfig(), err)
	}
	// Unique fields added later are indexed.
	p4, err := plain.ApplyUpdate(json.RawMessage(`{"addFields":{"email":{"type":"string","unique":true}}}`))
	if err != nil || !reflect.DeepEqual(p4.IndexedFields(), []IndexSpec{{Field: "email", Unique: true}}) {
		t.Fatalf("IndexedFields %+v %v", p4.IndexedFields(), err)
	}
}

func TestApplyUpdateErrors(t *testing.T) {
	t.Parallel()
	d := schDef(t, "orders", `{"key":"id","schema":{"id":{"type":"string"},"status":{"type":"string"}},"ttl":"7d"}`)
	cases := []struct {
		name, updates, want string
	}{
		{"not object", `[]`, `Invalid update for bucket "orders": updates must be a JSON object`},
		{"null", `null`, `Invalid update for bucket "orders": updates must be a JSON object`},
		{"field exists", `{"addFields":{"status":{"type":"number"}}}`, `Field "status" already exists in bucket "orders"`},
		{"key exists", `{"addFields":{"id":{"type":"string"}}}`, `Field "id" already exists in bucket "orders"`},
		{"addFields not object", `{"addFields":["x"]}`, `Invalid update for bucket "orders": "addFields" must be an object mapping field names to field definitions`},
		{"bad field", `{"addFields":{"x":{"type":"int"}}}`, `Invalid definition of field "x" in bucket "orders": unknown type "int" (expected "string", "number", "boolean", "object", "array" or "date")`},
		{"set_null required", `{"addFields":{"x":{"type":"string","ref":"u","onDelete":"set_null","required":true}}}`, `Invalid definition of field "x" in bucket "orders": a required field cannot have onDelete "set_null" (deleting the referenced record would set it to null)`},
		{"index unknown", `{"addIndexes":["nope"]}`, `Index field "nope" does not exist in schema for bucket "orders"`},
		{"addIndexes not array", `{"addIndexes":"status"}`, `Invalid update for bucket "orders": "addIndexes" must be an array of field names`},
		{"addIndexes not strings", `{"addIndexes":[1]}`, `Invalid update for bucket "orders": "addIndexes" must be an array of field names`},
		{"ttl invalid", `{"ttl":"10ms"}`, `Invalid TTL format "10ms". Expected a number (ms) or string like "30s", "5m", "1h", "7d".`},
		{"ttl negative", `{"ttl":-1}`, `TTL must be a positive finite number, got -1`},
		{"ttl zero string", `{"ttl":"0.0d"}`, `TTL value must be positive, got "0.0d"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nd, err := d.ApplyUpdate(json.RawMessage(tc.updates))
			var de *DefinitionError
			if nd != nil || !errors.As(err, &de) || de.Message != tc.want {
				t.Fatalf("got %v, %v; want message %q", nd, err, tc.want)
			}
		})
	}
	// A failed update leaves the definition as it was.
	if d.TTL != 7*86_400_000 || len(d.Fields) != 2 {
		t.Fatalf("definition changed by failed updates: %+v", d)
	}
}
