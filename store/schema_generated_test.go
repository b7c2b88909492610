package store

import (
	"errors"
	"reflect"
	"regexp"
	"testing"
)

var (
	schUUIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	schCUIDRe = regexp.MustCompile(`^c[0-9a-f]{32}$`)
)

func TestGeneratedIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u, c := NewUUID(), NewCUID()
		if !schUUIDRe.MatchString(u) {
			t.Fatalf("NewUUID() = %q, not a lowercase v4 UUID", u)
		}
		if !schCUIDRe.MatchString(c) {
			t.Fatalf("NewCUID() = %q, want c + 32 lowercase hex", c)
		}
		if seen[u] || seen[c] {
			t.Fatalf("duplicate id %q / %q", u, c)
		}
		seen[u], seen[c] = true, true
	}
}

func TestPrepareInsertGenerated(t *testing.T) {
	t.Parallel()
	d := schDef(t, "b", `{"key":"id","schema":{
		"id":{"type":"number","generated":"autoincrement"},
		"u":{"type":"string","generated":"uuid"},
		"c":{"type":"string","generated":"cuid"},
		"ts":{"type":"number","generated":"timestamp"},
		"gd":{"type":"string","generated":"uuid","default":"never"}
	}}`)
	const now = 1718000000000
	rec, n, err := d.PrepareInsert(Record{}, 0, now)
	if err != nil || n != 1 {
		t.Fatalf("PrepareInsert: %v, counter %d", err, n)
	}
	if rec["id"] != 1.0 || !schUUIDRe.MatchString(rec["u"].(string)) || !schCUIDRe.MatchString(rec["c"].(string)) || rec["ts"] != float64(now) || !schUUIDRe.MatchString(rec["gd"].(string)) {
		t.Fatalf("generated values wrong: %v", rec)
	}
	if rec[FieldVersion] != 1.0 || rec[FieldCreatedAt] != float64(now) || rec[FieldUpdatedAt] != float64(now) {
		t.Fatalf("metadata wrong: %v", rec)
	}
	// Explicit values, null included, are kept; the counter still advances
	// by one and does not jump to the explicit value (STORE.md §3.4).
	rec, n, err = d.PrepareInsert(Record{"id": 100.0, "u": nil, "c": "mine", "ts": 5.0}, n, now)
	if err != nil || n != 2 || rec["id"] != 100.0 || rec["u"] != nil || rec["c"] != "mine" || rec["ts"] != 5.0 {
		t.Fatalf("explicit values: rec %v, counter %d, err %v", rec, n, err)
	}
	if _, ok := rec["u"]; !ok {
		t.Fatal("explicit null must stay present")
	}
	rec, n, _ = d.PrepareInsert(Record{}, n, now)
	if rec["id"] != 3.0 || n != 3 {
		t.Fatalf("third insert: id %v, counter %d, want 3", rec["id"], n)
	}
}

func TestPrepareInsertCounterOnFailure(t *testing.T) {
	t.Parallel()
	d := schDef(t, "b", `{"key":"id","schema":{"id":{"type":"number","generated":"autoincrement"},"name":{"type":"string","required":true}}}`)
	rec, n, err := d.PrepareInsert(Record{}, 41, 1)
	var ve *ValidationError
	if rec != nil || n != 42 || !errors.As(err, &ve) {
		t.Fatalf("failed insert: rec %v, counter %d, err %v; want nil, 42, *ValidationError", rec, n, err)
	}
	rec, n, err = d.PrepareInsert(Record{"name": "x"}, n, 1)
	if err != nil || n != 43 || rec["id"] != 43.0 {
		t.Fatalf("next insert: rec %v, counter %d, err %v; want id 43 (a gap)", rec, n, err)
	}
	// A bucket without autoincrement fields still counts attempts.
	d = schDef(t, "b", `{"key":"k","schema":{"k":{"type":"string"}}}`)
	if _, n, _ := d.PrepareInsert(Record{"k": "a"}, 7, 1); n != 8 {
		t.Fatalf("counter %d, want 8", n)
	}
}

func TestPrepareInsertDefaultsAndMetadata(t *testing.T) {
	t.Parallel()
	d := schDef(t, "b", `{"key":"k","schema":{
		"k":{"type":"string"},
		"n":{"type":"number","default":0},
		"s":{"type":"string","default":"new"},
		"z":{"type":"string","default":null},
		"o":{"type":"object","default":{"a":[1,{"b":2}]}},
		"l":{"type":"array","default":[]}
	}}`)
	data := Record{"k": "x", "s": "given", "extra": map[string]any{"keep": true}, FieldVersion: 9.0, FieldCreatedAt: 1.0, FieldUpdatedAt: 2.0, FieldExpiresAt: 99.0}
	rec, _, err := d.PrepareInsert(data, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{
		"k": "x", "n": 0.0, "s": "given", "z": nil, "o": map[string]any{"a": []any{1.0, map[string]any{"b": 2.0}}}, "l": []any{},
		"extra": map[string]any{"keep": true}, FieldVersion: 1.0, FieldCreatedAt: 1000.0, FieldUpdatedAt: 1000.0, FieldExpiresAt: 99.0,
	}
	if !reflect.DeepEqual(rec, want) {
		t.Fatalf("record\n got %v\nwant %v", rec, want)
	}
	// Defaults are copied: mutating one record's default leaves the next alone.
	rec["o"].(map[string]any)["a"].([]any)[1].(map[string]any)["b"] = "changed"
	rec2, _, _ := d.PrepareInsert(Record{"k": "y"}, 0, 1000)
	if rec2["o"].(map[string]any)["a"].([]any)[1].(map[string]any)["b"] != 2.0 {
		t.Fatal("default shared between records")
	}
	// The caller's data is neither modified nor shared.
	if data[FieldVersion] != 9.0 || len(data) != 7 {
		t.Fatalf("caller data modified: %v", data)
	}
	rec["extra"].(map[string]any)["keep"] = false
	if data["extra"].(map[string]any)["keep"] != true {
		t.Fatal("record shares nested values with the caller's data")
	}
	// Nil data is an empty record.
	if _, _, err := d.PrepareInsert(nil, 0, 1); err == nil {
		t.Fatal("nil data has no key and must fail")
	}
}

func TestPrepareInsertKey(t *testing.T) {
	t.Parallel()
	keyRequired := []Issue{{Field: "id", Message: "Field is required", Code: IssueRequired}}
	cases := []struct {
		name, config string
		data         Record
		want         []Issue
	}{
		{"absent key", `{"key":"id","schema":{"id":{"type":"string"}}}`, Record{}, keyRequired},
		{"null key", `{"key":"id","schema":{"id":{"type":"string"}}}`, Record{"id": nil}, keyRequired},
		{"null generated key kept", `{"key":"id","schema":{"id":{"type":"string","generated":"uuid"}}}`, Record{"id": nil}, keyRequired},
		{"null default key", `{"key":"id","schema":{"id":{"type":"string","default":null}}}`, Record{}, keyRequired},
		{"default key", `{"key":"id","schema":{"id":{"type":"string","default":"x"}}}`, Record{}, nil},
		{"key wrong type", `{"key":"id","schema":{"id":{"type":"number"}}}`, Record{"id": "1"}, []Issue{{Field: "id", Message: `Expected type "number", got string`, Code: IssueType}}},
		{"key object in date field", `{"key":"id","schema":{"id":{"type":"date"}}}`, Record{"id": map[string]any{}}, []Issue{{Field: "id", Message: `Expected type "date", got object`, Code: IssueType}}},
		{"boolean key", `{"key":"id","schema":{"id":{"type":"boolean"}}}`, Record{"id": false}, nil},
		{"key with other issues", `{"key":"id","schema":{"a":{"type":"string","required":true},"id":{"type":"string"}}}`, Record{}, []Issue{
			{Field: "a", Message: "Field is required", Code: IssueRequired}, keyRequired[0]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := schDef(t, "b", tc.config)
			rec, _, err := d.PrepareInsert(tc.data, 0, 1)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ve *ValidationError
			if rec != nil || !errors.As(err, &ve) || ve.Bucket != "b" || !reflect.DeepEqual(ve.Issues, tc.want) {
				t.Fatalf("got rec %v err %#v, want issues %+v", rec, err, tc.want)
			}
		})
	}
}
