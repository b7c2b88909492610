package store

import (
	"encoding/json"
	"testing"
)

// FuzzFilter: CompileFilter never panics on any input; when it compiles,
// the input was valid JSON, Match never panics and is deterministic, the
// decoded form compiles to the same predicate, and an index candidate is
// consistent with Match. CompileQueryFilter and ValidateQueryFilter get
// the same input.
func FuzzFilter(f *testing.F) {
	seeds := [][2]string{
		{`{}`, `{}`},
		{`{"a":1}`, `{"a":1}`},
		{`{"a":null,"b":{"$eq":null}}`, `{"a":null,"b":null}`},
		{`{"state":{"$in":["open","blocked"]},"priority":{"$gte":2,"$lt":5},"$or":[{"assignee":{"$exists":false}},{"title":{"$contains":"urgent"}}]}`,
			`{"state":"open","priority":3,"title":"URGENT"}`},
		{`{"a":{"$between":[1,"z"]},"b":{"$nin":[]}}`, `{"a":2}`},
		{`{"a":{"$regex":"x"}}`, `{"a":"x"}`},
		{`{"$and":[{"$or":[]}],"x":{"a":1,"$gt":2}}`, `{"x":{}}`},
		{`{"a":{"$contains":"ΟΔΟΣ"},"b":{"$startsWith":"İ"}}`, `{"a":"οδος","b":"İx"}`},
		{`{"a":"{{ params.p }}","b":{"$in":["{{params.q}}",1]}}`, `{"b":1}`},
		{`{"a":{"$gt":"😀","$lte":"\uffff"}}`, `{"a":"｡"}`},
		{`{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12,null,"x",true]}}`, `{"a":true}`},
		{`[1,2]`, `{}`},
		{`{"a":1,"a":{"$exists":true}}`, `{"a":0}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	params := map[string]any{"p": "x", "q": 1.0, "r": map[string]any{"$gt": 1.0}}
	f.Fuzz(func(t *testing.T, filterJSON, recordJSON []byte) {
		filt, err := CompileFilter(filterJSON)
		qf, qerr := CompileQueryFilter(filterJSON, params)
		verr := ValidateQueryFilter(filterJSON)
		_ = verr
		var rec Record
		if json.Unmarshal(recordJSON, &rec) != nil {
			rec = Record{"a": 1.0, "b": "x", "c": nil}
		}
		if qerr == nil && qf.Match(rec) != qf.Match(rec) {
			t.Fatal("query filter Match not deterministic")
		}
		if err != nil {
			if _, ok := err.(*FilterError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if !json.Valid(filterJSON) {
			t.Fatalf("compiled invalid JSON %q", filterJSON)
		}
		got := filt.Match(rec)
		if filt.Match(rec) != got {
			t.Fatal("Match not deterministic")
		}
		var m map[string]any
		if err := json.Unmarshal(filterJSON, &m); err != nil {
			t.Fatalf("compiled %q but json.Unmarshal fails: %v", filterJSON, err)
		}
		g, err := CompileFilterValue(m)
		if err != nil {
			t.Fatalf("CompileFilter accepted %q, CompileFilterValue rejects: %v", filterJSON, err)
		}
		if g.Match(rec) != got {
			t.Fatalf("decoded filter disagrees on %q / %q", filterJSON, recordJSON)
		}
		if field, value, ok := filt.IndexCandidate(func(string) bool { return true }); ok {
			if !IsScalar(value) {
				t.Fatalf("non-scalar index value %#v", value)
			}
			if got {
				if v, present := rec[field]; !present || !StrictEqual(v, value) {
					t.Fatalf("index candidate %s=%v disagrees with matching record", field, value)
				}
			}
		}
		if filt.IsEmpty() && !got {
			t.Fatal("empty filter did not match")
		}
	})
}
