package store

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func filtRec(t testing.TB, s string) Record {
	t.Helper()
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("bad record %s: %v", s, err)
	}
	return r
}

func filtCompile(t testing.TB, s string) *Filter {
	t.Helper()
	f, err := CompileFilter(json.RawMessage(s))
	if err != nil {
		t.Fatalf("CompileFilter(%s): %v", s, err)
	}
	return f
}

func TestFilterMatch(t *testing.T) {
	long := strings.Repeat("x", 40)
	cases := []struct {
		name   string
		filter string
		rec    string
		want   bool
	}{
		// empty filter and logical AND
		{"empty matches empty record", `{}`, `{}`, true},
		{"empty matches any record", `{}`, `{"a":1}`, true},
		{"and of entries: both", `{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, true},
		{"and of entries: one fails", `{"a":1,"b":"x"}`, `{"a":1,"b":"y"}`, false},

		// plain values: strict equality
		{"plain number", `{"a":1}`, `{"a":1}`, true},
		{"plain number vs float form", `{"a":1.0}`, `{"a":1}`, true},
		{"plain number vs string", `{"a":1}`, `{"a":"1"}`, false},
		{"plain string vs number", `{"a":"1"}`, `{"a":1}`, false},
		{"plain absent field", `{"a":1}`, `{}`, false},
		{"plain bool", `{"a":true}`, `{"a":true}`, true},
		{"plain bool mismatch", `{"a":true}`, `{"a":false}`, false},
		{"plain null matches null", `{"a":null}`, `{"a":null}`, true},
		{"plain null not absent", `{"a":null}`, `{}`, false},
		{"plain null not zero", `{"a":null}`, `{"a":0}`, false},
		{"plain empty object never equal", `{"a":{}}`, `{"a":{}}`, false},
		{"plain array never equal", `{"a":[1]}`, `{"a":[1]}`, false},
		{"mixed keys object is plain", `{"a":{"b":1,"$gt":0}}`, `{"a":5}`, false},
		{"mixed keys object is plain 2", `{"a":{"$gt":0,"b":1}}`, `{"a":{"$gt":0,"b":1}}`, false},
		{"no dot paths", `{"a.b":1}`, `{"a":{"b":1}}`, false},
		{"dotted field name is literal", `{"a.b":1}`, `{"a.b":1}`, true},
		{"metadata field", `{"_version":{"$gt":1}}`, `{"_version":2}`, true},
		{"metadata field plain", `{"_version":1}`, `{"_version":2}`, false},

		// $eq
		{"$eq number", `{"a":{"$eq":1}}`, `{"a":1}`, true},
		{"$eq string mismatch", `{"a":{"$eq":"1"}}`, `{"a":1}`, false},
		{"$eq null matches null", `{"a":{"$eq":null}}`, `{"a":null}`, true},
		{"$eq null not absent", `{"a":{"$eq":null}}`, `{}`, false},
		{"$eq absent field", `{"a":{"$eq":"x"}}`, `{}`, false},
		{"$eq object never", `{"a":{"$eq":{}}}`, `{"a":{}}`, false},
		{"$eq array never", `{"a":{"$eq":[1]}}`, `{"a":[1]}`, false},

		// $neq
		{"$neq absent matches", `{"a":{"$neq":1}}`, `{}`, true},
		{"$neq equal value", `{"a":{"$neq":1}}`, `{"a":1}`, false},
		{"$neq other type", `{"a":{"$neq":1}}`, `{"a":"1"}`, true},
		{"$neq null vs null", `{"a":{"$neq":null}}`, `{"a":null}`, false},
		{"$neq null vs absent", `{"a":{"$neq":null}}`, `{}`, true},
		{"$neq object always", `{"a":{"$neq":{}}}`, `{"a":{}}`, true},

		// relational, numbers
		{"$gt true", `{"a":{"$gt":1}}`, `{"a":2}`, true},
		{"$gt equal", `{"a":{"$gt":1}}`, `{"a":1}`, false},
		{"$gte equal", `{"a":{"$gte":1}}`, `{"a":1}`, true},
		{"$lt true", `{"a":{"$lt":1}}`, `{"a":0.5}`, true},
		{"$lt equal", `{"a":{"$lt":1}}`, `{"a":1}`, false},
		{"$lte equal", `{"a":{"$lte":1}}`, `{"a":1}`, true},
		{"$lte greater", `{"a":{"$lte":1}}`, `{"a":1.5}`, false},
		{"$gt negative", `{"a":{"$gt":-5}}`, `{"a":-4}`, true},
		{"$gt absent", `{"a":{"$gt":0}}`, `{}`, false},
		{"$lt absent", `{"a":{"$lt":0}}`, `{}`, false},
		{"$gt stored null", `{"a":{"$gte":0}}`, `{"a":null}`, false},
		{"$lte stored null", `{"a":{"$lte":0}}`, `{"a":null}`, false},
		{"$gt numeric string stored", `{"a":{"$gt":1}}`, `{"a":"2"}`, false},
		{"$gt numeric string operand", `{"a":{"$gt":"1"}}`, `{"a":2}`, false},
		{"$gt null operand", `{"a":{"$gt":null}}`, `{"a":1}`, false},
		{"$lt null operand", `{"a":{"$lt":null}}`, `{"a":-1}`, false},
		{"$gte null operand vs null", `{"a":{"$gte":null}}`, `{"a":null}`, false},
		{"$gt bool operand", `{"a":{"$gt":false}}`, `{"a":true}`, false},
		{"$gt object operand", `{"a":{"$gt":{}}}`, `{"a":{}}`, false},
		{"$gt array operand", `{"a":{"$lt":[5]}}`, `{"a":1}`, false},
		{"$gt stored bool", `{"a":{"$gt":0}}`, `{"a":true}`, false},
		{"range both", `{"a":{"$gte":2,"$lt":5}}`, `{"a":4}`, true},
		{"range upper fail", `{"a":{"$gte":2,"$lt":5}}`, `{"a":5}`, false},
		{"range lower fail", `{"a":{"$gte":2,"$lt":5}}`, `{"a":1}`, false},

		// relational, strings (UTF-16 code units)
		{"$gt string", `{"a":{"$gt":"b"}}`, `{"a":"c"}`, true},
		{"$gt string prefix", `{"a":{"$gt":"ab"}}`, `{"a":"abc"}`, true},
		{"$lt string case", `{"a":{"$lt":"a"}}`, `{"a":"B"}`, true},
		{"$lte string equal", `{"a":{"$lte":"abc"}}`, `{"a":"abc"}`, true},
		{"$gt utf16 surrogate below BMP-high", `{"a":{"$gt":"😀"}}`, `{"a":"｡"}`, true},
		{"$lt utf16 surrogate", `{"a":{"$lt":"｡"}}`, `{"a":"😀"}`, true},
		{"$gt string vs number stored", `{"a":{"$gt":"0"}}`, `{"a":5}`, false},

		// $in / $nin
		{"$in hit", `{"a":{"$in":["x","y"]}}`, `{"a":"y"}`, true},
		{"$in miss", `{"a":{"$in":["x","y"]}}`, `{"a":"z"}`, false},
		{"$in empty", `{"a":{"$in":[]}}`, `{"a":"z"}`, false},
		{"$in empty absent", `{"a":{"$in":[]}}`, `{}`, false},
		{"$in strict types", `{"a":{"$in":[1]}}`, `{"a":"1"}`, false},
		{"$in null matches null", `{"a":{"$in":[null]}}`, `{"a":null}`, true},
		{"$in null not absent", `{"a":{"$in":[null]}}`, `{}`, false},
		{"$in absent", `{"a":{"$in":["x"]}}`, `{}`, false},
		{"$in object never", `{"a":{"$in":[{}]}}`, `{"a":{}}`, false},
		{"$in stored array never", `{"a":{"$in":[[1]]}}`, `{"a":[1]}`, false},
		{"$in bool", `{"a":{"$in":[false]}}`, `{"a":false}`, true},
		{"$in large hit", `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12,"x",null,true]}}`, `{"a":12}`, true},
		{"$in large string", `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12,"x",null,true]}}`, `{"a":"x"}`, true},
		{"$in large null", `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12,"x",null,true]}}`, `{"a":null}`, true},
		{"$in large miss type", `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12,"x",null,true]}}`, `{"a":"12"}`, false},
		{"$in large negative zero", `{"a":{"$in":[-0,1,2,3,4,5,6,7,8,9,10,11,12]}}`, `{"a":0}`, true},
		{"$in large object", `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12,{}]}}`, `{"a":{}}`, false},
		{"$in large absent", `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12]}}`, `{}`, false},
		{"$nin hit excluded", `{"a":{"$nin":["x"]}}`, `{"a":"x"}`, false},
		{"$nin miss", `{"a":{"$nin":["x"]}}`, `{"a":"y"}`, true},
		{"$nin absent matches", `{"a":{"$nin":["x"]}}`, `{}`, true},
		{"$nin empty matches all", `{"a":{"$nin":[]}}`, `{"a":1}`, true},
		{"$nin empty absent", `{"a":{"$nin":[]}}`, `{}`, true},
		{"$nin null excludes null", `{"a":{"$nin":[null]}}`, `{"a":null}`, false},
		{"$nin null keeps absent", `{"a":{"$nin":[null]}}`, `{}`, true},
		{"$nin strict types", `{"a":{"$nin":[1]}}`, `{"a":"1"}`, true},

		// $contains / $startsWith / $endsWith
		{"$contains case-insensitive", `{"a":{"$contains":"urgent"}}`, `{"a":"URGENT fix"}`, true},
		{"$contains operand upper", `{"a":{"$contains":"UrG"}}`, `{"a":"is urgent"}`, true},
		{"$contains miss", `{"a":{"$contains":"xyz"}}`, `{"a":"is urgent"}`, false},
		{"$contains empty operand", `{"a":{"$contains":""}}`, `{"a":"abc"}`, true},
		{"$contains empty operand empty string", `{"a":{"$contains":""}}`, `{"a":""}`, true},
		{"$contains empty operand non-string", `{"a":{"$contains":""}}`, `{"a":1}`, false},
		{"$contains number never", `{"a":{"$contains":"5"}}`, `{"a":5}`, false},
		{"$contains array never", `{"a":{"$contains":"x"}}`, `{"a":["x"]}`, false},
		{"$contains absent", `{"a":{"$contains":"x"}}`, `{}`, false},
		{"$contains null", `{"a":{"$contains":"null"}}`, `{"a":null}`, false},
		{"$contains non-ASCII", `{"a":{"$contains":"éco"}}`, `{"a":"L'ÉCOLE"}`, true},
		{"$contains non-ASCII operand upper", `{"a":{"$contains":"ÉCO"}}`, `{"a":"école"}`, true},
		{"$contains greek final sigma", `{"a":{"$contains":"οδος"}}`, `{"a":"ΟΔΟΣ"}`, true},
		{"$contains greek medial sigma", `{"a":{"$contains":"σα"}}`, `{"a":"ΑΣΑ"}`, true},
		{"$contains dotted I", `{"a":{"$contains":"i̇stanbul"}}`, `{"a":"İSTANBUL"}`, true},
		{"$contains dotted I plain i", `{"a":{"$contains":"istanbul"}}`, `{"a":"İSTANBUL"}`, false},
		{"$contains kelvin", `{"a":{"$contains":"k"}}`, `{"a":"5 K"}`, true},
		{"$contains long operand", `{"a":{"$contains":"` + long + `"}}`, `{"a":"ab` + strings.ToUpper(long) + `cd"}`, true},
		{"$contains long operand miss", `{"a":{"$contains":"` + long + `y"}}`, `{"a":"ab` + strings.ToUpper(long) + `cd"}`, false},
		{"$contains longer than value", `{"a":{"$contains":"abcd"}}`, `{"a":"abc"}`, false},
		{"$startsWith hit", `{"a":{"$startsWith":"Ab"}}`, `{"a":"Abc"}`, true},
		{"$startsWith case-sensitive", `{"a":{"$startsWith":"ab"}}`, `{"a":"Abc"}`, false},
		{"$startsWith non-string", `{"a":{"$startsWith":"1"}}`, `{"a":12}`, false},
		{"$startsWith empty", `{"a":{"$startsWith":""}}`, `{"a":"x"}`, true},
		{"$endsWith hit", `{"a":{"$endsWith":"Bc"}}`, `{"a":"aBc"}`, true},
		{"$endsWith case-sensitive", `{"a":{"$endsWith":"bc"}}`, `{"a":"aBc"}`, false},
		{"$endsWith absent", `{"a":{"$endsWith":"c"}}`, `{}`, false},
		{"$endsWith array", `{"a":{"$endsWith":"c"}}`, `{"a":["c"]}`, false},

		// $exists
		{"$exists true present", `{"a":{"$exists":true}}`, `{"a":0}`, true},
		{"$exists true null", `{"a":{"$exists":true}}`, `{"a":null}`, false},
		{"$exists true absent", `{"a":{"$exists":true}}`, `{}`, false},
		{"$exists false absent", `{"a":{"$exists":false}}`, `{}`, true},
		{"$exists false null", `{"a":{"$exists":false}}`, `{"a":null}`, true},
		{"$exists false present", `{"a":{"$exists":false}}`, `{"a":""}`, false},

		// $between
		{"$between inside", `{"a":{"$between":[1,3]}}`, `{"a":2}`, true},
		{"$between low inclusive", `{"a":{"$between":[1,3]}}`, `{"a":1}`, true},
		{"$between high inclusive", `{"a":{"$between":[1,3]}}`, `{"a":3}`, true},
		{"$between below", `{"a":{"$between":[1,3]}}`, `{"a":0.9}`, false},
		{"$between above", `{"a":{"$between":[1,3]}}`, `{"a":3.1}`, false},
		{"$between reversed", `{"a":{"$between":[3,1]}}`, `{"a":2}`, false},
		{"$between strings", `{"a":{"$between":["b","d"]}}`, `{"a":"c"}`, true},
		{"$between string type mismatch", `{"a":{"$between":["1","3"]}}`, `{"a":2}`, false},
		{"$between mixed bounds", `{"a":{"$between":[1,"z"]}}`, `{"a":2}`, false},
		{"$between null bound", `{"a":{"$between":[null,3]}}`, `{"a":2}`, false},
		{"$between stored null", `{"a":{"$between":[0,3]}}`, `{"a":null}`, false},
		{"$between absent", `{"a":{"$between":[0,3]}}`, `{}`, false},

		// several operators and fields
		{"ops all hold", `{"a":{"$exists":true,"$neq":3,"$in":[1,2,3]}}`, `{"a":2}`, true},
		{"ops one fails", `{"a":{"$exists":true,"$neq":2,"$in":[1,2,3]}}`, `{"a":2}`, false},

		// $and / $or
		{"$or empty matches nothing", `{"$or":[]}`, `{"a":1}`, false},
		{"$and empty matches everything", `{"$and":[]}`, `{"a":1}`, true},
		{"$or first", `{"$or":[{"a":1},{"b":2}]}`, `{"a":1}`, true},
		{"$or second", `{"$or":[{"a":1},{"b":2}]}`, `{"b":2}`, true},
		{"$or none", `{"$or":[{"a":1},{"b":2}]}`, `{"a":2,"b":1}`, false},
		{"$or empty subfilter", `{"$or":[{}]}`, `{}`, true},
		{"$and both", `{"$and":[{"a":{"$gt":1}},{"a":{"$lt":3}}]}`, `{"a":2}`, true},
		{"$and one", `{"$and":[{"a":{"$gt":1}},{"a":{"$lt":3}}]}`, `{"a":3}`, false},
		{"$and with fields", `{"b":1,"$and":[{"a":1}]}`, `{"a":1,"b":2}`, false},
		{"$or and $and together", `{"$or":[{"a":1},{"a":2}],"$and":[{"b":{"$exists":true}}]}`, `{"a":2,"b":0}`, true},
		{"$or and $and together fail", `{"$or":[{"a":1},{"a":2}],"$and":[{"b":{"$exists":true}}]}`, `{"a":2}`, false},
		{"nested", `{"$or":[{"$and":[{"a":1},{"b":1}]},{"$or":[{"c":{"$in":[5]}}]}]}`, `{"c":5}`, true},
		{"nested fail", `{"$or":[{"$and":[{"a":1},{"b":1}]},{"$or":[{"c":{"$in":[5]}}]}]}`, `{"a":1,"c":4}`, false},
		{"duplicate key last wins", `{"a":1,"a":2}`, `{"a":2}`, true},
		{"duplicate key last wins 2", `{"a":1,"a":2}`, `{"a":1}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filtCompile(t, tc.filter)
			rec := filtRec(t, tc.rec)
			if got := f.Match(rec); got != tc.want {
				t.Fatalf("filter %s record %s: got %v want %v", tc.filter, tc.rec, got, tc.want)
			}
			// the decoded form compiles to the same predicate
			var m map[string]any
			if err := json.Unmarshal([]byte(tc.filter), &m); err != nil {
				t.Fatal(err)
			}
			g, err := CompileFilterValue(m)
			if err != nil {
				t.Fatalf("CompileFilterValue: %v", err)
			}
			if got := g.Match(rec); got != tc.want {
				t.Fatalf("CompileFilterValue: filter %s record %s: got %v want %v", tc.filter, tc.rec, got, tc.want)
			}
		})
	}
}

func TestFilterSpecExample(t *testing.T) {
	f := filtCompile(t, `{
  "state": { "$in": ["open", "blocked"] },
  "priority": { "$gte": 2, "$lt": 5 },
  "$or": [
    { "assignee": { "$exists": false } },
    { "title": { "$contains": "urgent" } }
  ]
}`)
	cases := []struct {
		rec  string
		want bool
	}{
		{`{"state":"open","priority":2}`, true},
		{`{"state":"blocked","priority":4.5,"assignee":null}`, true},
		{`{"state":"open","priority":3,"assignee":"dana","title":"URGENT: fix"}`, true},
		{`{"state":"open","priority":3,"assignee":"dana","title":"later"}`, false},
		{`{"state":"closed","priority":3}`, false},
		{`{"state":"open","priority":5}`, false},
		{`{"state":"open","priority":"3"}`, false},
		{`{"state":"open"}`, false},
		{`{"priority":3}`, false},
	}
	for _, tc := range cases {
		if got := f.Match(filtRec(t, tc.rec)); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.rec, got, tc.want)
		}
	}
	if f.IsEmpty() {
		t.Error("example filter reported empty")
	}
}

func TestFilterCompileErrors(t *testing.T) {
	cases := []struct {
		filter string
		msg    string // exact message, or "" to only require a *FilterError
	}{
		{`[]`, "Invalid filter: expected object"},
		{`null`, "Invalid filter: expected object"},
		{`1`, "Invalid filter: expected object"},
		{`"x"`, "Invalid filter: expected object"},
		{`{`, ""},
		{``, ""},
		{`{} {}`, ""},
		{`{"a":1,}`, ""},
		{`{"a" 1}`, ""},
		{`{"a":1e400}`, ""},
		{`{"a":{"$regex":"x"}}`, `Unknown filter operator "$regex"`},
		{`{"a":{"$gt":1,"$foo":2}}`, `Unknown filter operator "$foo"`},
		{`{"a":{"$ne":1}}`, `Unknown filter operator "$ne"`},
		{`{"$foo":1}`, `Unknown filter operator "$foo"`},
		{`{"$":1}`, `Unknown filter operator "$"`},
		{`{"$or":[{"a":{"$bad":1}}]}`, `Unknown filter operator "$bad"`},
		{`{"$and":[{"$nor":[]}]}`, `Unknown filter operator "$nor"`},
		{`{"$and":{}}`, `Invalid filter: "$and" expects an array of filter objects`},
		{`{"$and":[1]}`, `Invalid filter: "$and" expects an array of filter objects`},
		{`{"$and":null}`, `Invalid filter: "$and" expects an array of filter objects`},
		{`{"$or":"x"}`, `Invalid filter: "$or" expects an array of filter objects`},
		{`{"$or":[[]]}`, `Invalid filter: "$or" expects an array of filter objects`},
		{`{"$or":[null]}`, `Invalid filter: "$or" expects an array of filter objects`},
		{`{"$or":[{},"x"]}`, `Invalid filter: "$or" expects an array of filter objects`},
		{`{"a":{"$in":"x"}}`, `Invalid filter: "$in" for field "a" expects an array`},
		{`{"a":{"$in":null}}`, `Invalid filter: "$in" for field "a" expects an array`},
		{`{"a":{"$nin":{}}}`, `Invalid filter: "$nin" for field "a" expects an array`},
		{`{"a":{"$between":[1]}}`, `Invalid filter: "$between" for field "a" expects an array [low, high]`},
		{`{"a":{"$between":[1,2,3]}}`, `Invalid filter: "$between" for field "a" expects an array [low, high]`},
		{`{"a":{"$between":"x"}}`, `Invalid filter: "$between" for field "a" expects an array [low, high]`},
		{`{"a":{"$between":null}}`, `Invalid filter: "$between" for field "a" expects an array [low, high]`},
		{`{"a":{"$exists":1}}`, `Invalid filter: "$exists" for field "a" expects a boolean`},
		{`{"a":{"$exists":null}}`, `Invalid filter: "$exists" for field "a" expects a boolean`},
		{`{"a":{"$exists":"true"}}`, `Invalid filter: "$exists" for field "a" expects a boolean`},
		{`{"a":{"$contains":1}}`, `Invalid filter: "$contains" for field "a" expects a string`},
		{`{"a":{"$contains":null}}`, `Invalid filter: "$contains" for field "a" expects a string`},
		{`{"a":{"$startsWith":[]}}`, `Invalid filter: "$startsWith" for field "a" expects a string`},
		{`{"a":{"$endsWith":{}}}`, `Invalid filter: "$endsWith" for field "a" expects a string`},
	}
	for _, tc := range cases {
		_, err := CompileFilter(json.RawMessage(tc.filter))
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("%s: want *FilterError, got %v", tc.filter, err)
			continue
		}
		if tc.msg != "" && fe.Message != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.filter, fe.Message, tc.msg)
		}
		if fe.Error() != fe.Message {
			t.Errorf("Error() %q differs from Message", fe.Error())
		}
	}
	// same checks for decoded filters
	for _, s := range []string{`{"a":{"$regex":"x"}}`, `{"$foo":1}`, `{"$or":{}}`, `{"a":{"$in":1}}`} {
		var m map[string]any
		_ = json.Unmarshal([]byte(s), &m)
		if _, err := CompileFilterValue(m); err == nil {
			t.Errorf("CompileFilterValue(%s) accepted", s)
		}
	}
}

func TestFilterAcceptedOddOperands(t *testing.T) {
	// Relational operands that are not number/string compile but never match.
	for _, s := range []string{
		`{"a":{"$gt":true}}`, `{"a":{"$gte":null}}`, `{"a":{"$lt":{}}}`, `{"a":{"$lte":[1]}}`,
		`{"a":{"$between":[null,{}]}}`, `{"a":{"$between":[true,false]}}`,
	} {
		f := filtCompile(t, s)
		for _, r := range []string{`{}`, `{"a":null}`, `{"a":true}`, `{"a":false}`, `{"a":0}`, `{"a":"x"}`, `{"a":{}}`, `{"a":[1]}`} {
			if f.Match(filtRec(t, r)) {
				t.Errorf("%s matched %s", s, r)
			}
		}
	}
	// Operands of $eq/$neq/$in may be anything.
	for _, s := range []string{`{"a":{"$eq":[1]}}`, `{"a":{"$neq":{"x":1}}}`, `{"a":{"$in":[[1],{"$gt":1}]}}`} {
		filtCompile(t, s)
	}
	// A nil filter matches everything and is empty.
	var f *Filter
	if !f.Match(Record{"a": 1.0}) || !f.IsEmpty() {
		t.Error("nil filter")
	}
	if _, _, ok := f.IndexCandidate(func(string) bool { return true }); ok {
		t.Error("nil filter has an index candidate")
	}
	g, err := CompileFilterValue(nil)
	if err != nil || !g.IsEmpty() || !g.Match(Record{}) {
		t.Error("CompileFilterValue(nil)")
	}
}

func TestFilterIsEmpty(t *testing.T) {
	for s, want := range map[string]bool{
		`{}`: true, `{"a":1}`: false, `{"$and":[]}`: false, `{"$or":[{}]}`: false,
	} {
		if got := filtCompile(t, s).IsEmpty(); got != want {
			t.Errorf("%s: IsEmpty %v", s, got)
		}
	}
}

func TestFilterIndexCandidate(t *testing.T) {
	all := func(string) bool { return true }
	only := func(fields ...string) func(string) bool {
		return func(f string) bool {
			for _, x := range fields {
				if x == f {
					return true
				}
			}
			return false
		}
	}
	cases := []struct {
		filter  string
		indexed func(string) bool
		field   string
		value   any
		ok      bool
	}{
		{`{}`, all, "", nil, false},
		{`{"b":1,"a":2}`, all, "b", 1.0, true},
		{`{"a":2,"b":1}`, all, "a", 2.0, true},
		{`{"b":1,"a":"x"}`, only("a"), "a", "x", true},
		{`{"a":{"$eq":1},"b":true}`, all, "b", true, true},
		{`{"a":null,"b":"x"}`, all, "b", "x", true},
		{`{"a":null}`, all, "", nil, false},
		{`{"a":{},"b":[1],"c":{"x":1,"$gt":1}}`, all, "", nil, false},
		{`{"$or":[{"a":1}],"$and":[{"a":1}]}`, all, "", nil, false},
		{`{"a":1}`, only("b"), "", nil, false},
		{`{"z":0,"a":1}`, only("a", "z"), "z", 0.0, true},
	}
	for _, tc := range cases {
		field, value, ok := filtCompile(t, tc.filter).IndexCandidate(tc.indexed)
		if field != tc.field || !StrictEqual(value, tc.value) && !(value == nil && tc.value == nil) || ok != tc.ok {
			t.Errorf("%s: got (%q, %v, %v) want (%q, %v, %v)", tc.filter, field, value, ok, tc.field, tc.value, tc.ok)
		}
	}
	// Decoded filters offer their keys in sorted order.
	f, err := CompileFilterValue(map[string]any{"b": 1.0, "a": 2.0})
	if err != nil {
		t.Fatal(err)
	}
	if field, _, _ := f.IndexCandidate(all); field != "a" {
		t.Errorf("CompileFilterValue candidate %q, want a", field)
	}
}

func TestFilterConcurrentMatch(t *testing.T) {
	f := filtCompile(t, `{"a":{"$in":[0,1,2,3,4,5,6,7,8,9,10,11,12]},"b":{"$contains":"X"},"$or":[{"c":1},{"d":{"$exists":false}}]}`)
	rec := filtRec(t, `{"a":3,"b":"xyz","c":1}`)
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && f.Match(rec)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent Match failed")
		}
	}
}

func TestJSLower(t *testing.T) {
	cases := map[string]string{
		"":          "",
		"ABC def":   "abc def",
		"ÉCOLE":     "école",
		"ΟΔΟΣ":      "οδος",
		"ΟΔΟΣ ΚΑΙ":  "οδος και",
		"ΑΣΑ":       "ασα",
		"Σ":         "σ",
		" Σ":        " σ",
		"ΑΣ.":       "ας.",
		"Α'Σ":       "α'ς",
		"ΑΣ'Α":      "ασ'α",
		"İ":         "i\u0307",
		"İSTANBUL":  "i\u0307stanbul",
		"Straße":    "straße",
		"ǅ":         "ǆ",
		"\u212a":    "k",
		"😀ABC":      "😀abc",
		"\xffA\xfe": "\uFFFDa\uFFFD",
	}
	for in, want := range cases {
		if got := jsLower(in); got != want {
			t.Errorf("jsLower(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainsFoldASCII(t *testing.T) {
	long := strings.Repeat("ab", 40)
	cases := []struct {
		s, sub string
		want   bool
	}{
		{"Hello", "", true},
		{"", "a", false},
		{"Hello", "hello", true},
		{"Hello", "ello", true},
		{"HeLLo", "llo", true},
		{"Hello", "lo!", false},
		{"aaab", "aab", true},
		{"xx" + strings.ToUpper(long) + "yy", long, true},
		{"xx" + strings.ToUpper(long) + "yy", long + "z", false},
	}
	for _, tc := range cases {
		if got := containsFoldASCII(tc.s, tc.sub); got != tc.want {
			t.Errorf("containsFoldASCII(%q, %q) = %v", tc.s, tc.sub, got)
		}
	}
}

func TestDecodeOrdered(t *testing.T) {
	v, err := decodeOrdered([]byte(`{"b":1,"a":{"d":[1,{"y":null,"x":true}],"c":"s"},"b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	obj := v.(*jsonObject)
	if strings.Join(obj.keys, ",") != "b,a" || obj.vals["b"] != 2.0 {
		t.Fatalf("top level %v %v", obj.keys, obj.vals)
	}
	inner := obj.vals["a"].(*jsonObject)
	if strings.Join(inner.keys, ",") != "d,c" {
		t.Fatalf("inner keys %v", inner.keys)
	}
	deep := inner.vals["d"].([]any)[1].(*jsonObject)
	if strings.Join(deep.keys, ",") != "y,x" || deep.vals["y"] != nil || deep.vals["x"] != true {
		t.Fatalf("deep %v %v", deep.keys, deep.vals)
	}
	for _, bad := range []string{``, `{`, `[1,]`, `{"a":1}x`, `{"a":}`, `{1:2}`, `nul`} {
		if _, err := decodeOrdered([]byte(bad)); err == nil {
			t.Errorf("decodeOrdered(%q) accepted", bad)
		}
	}
	deepJSON := strings.Repeat("[", maxFilterDepth+2) + strings.Repeat("]", maxFilterDepth+2)
	if _, err := decodeOrdered([]byte(deepJSON)); err == nil {
		t.Error("excessive nesting accepted")
	}
}

var filtBenchSink bool

func BenchmarkMatchSimpleEquality(b *testing.B) {
	f := filtCompile(b, `{"status":"open"}`)
	rec := filtRec(b, `{"id":"t-1","status":"open","priority":3,"title":"Fix login","assignee":"dana","_version":1,"_createdAt":1735689600000,"_updatedAt":1735689600000}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		filtBenchSink = f.Match(rec)
	}
	if !filtBenchSink {
		b.Fatal("no match")
	}
}

func BenchmarkMatchComplex(b *testing.B) {
	f := filtCompile(b, `{
  "state": { "$in": ["open", "blocked"] },
  "priority": { "$gte": 2, "$lt": 5 },
  "$or": [
    { "assignee": { "$exists": false } },
    { "title": { "$contains": "urgent" } }
  ]
}`)
	rec := filtRec(b, `{"id":"t-1","state":"blocked","priority":3,"title":"Login is broken, URGENT","assignee":"dana","_version":1,"_createdAt":1735689600000,"_updatedAt":1735689600000}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		filtBenchSink = f.Match(rec)
	}
	if !filtBenchSink {
		b.Fatal("no match")
	}
}
