package store

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestPlaceholderName(t *testing.T) {
	cases := map[string]string{
		"{{params.a}}":                "a",
		"{{ params.a }}":              "a",
		"{{  params.who   }}":         "who",
		"{{\tparams.a\n}}":            "a",
		"{{\u00a0params.a\u3000}}":    "a",
		"{{\ufeffparams.a\u2028}}":    "a",
		"{{ params._1 }}":             "_1",
		"{{ params.A9_z }}":           "A9_z",
		"{{ params.a-b }}":            "",
		"{{ params. a }}":             "",
		"{{ params .a }}":             "",
		"x{{ params.a }}":             "",
		"{{ params.a }}x":             "",
		"{{ params.a }} ":             "",
		" {{ params.a }}":             "",
		"{{ params.}}":                "",
		"{{ param.a }}":               "",
		"{{ Params.a }}":              "",
		"{{ params.a.b }}":            "",
		"{{ params.ü }}":              "",
		"{{{ params.a }}}":            "",
		"{ params.a }":                "",
		"{{ params.a }":               "",
		"{{}}":                        "",
		"":                            "",
		"{{ params.a }} {{params.b}}": "",
	}
	for in, want := range cases {
		got, ok := placeholderName(in)
		if got != want || ok != (want != "") {
			t.Errorf("placeholderName(%q) = %q,%v want %q", in, got, ok, want)
		}
	}
}

func TestInterpolate(t *testing.T) {
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(`{
		"n": "{{ params.num }}",
		"s": "{{params.str}}",
		"o": "{{ params.obj }}",
		"z": "{{ params.nul }}",
		"m": "{{ params.missing }}",
		"text": "hello {{ params.num }}",
		"{{ params.str }}": 1,
		"ops": {"$in": ["{{ params.num }}", "{{ params.missing }}", "x"]},
		"$or": [{"a": "{{ params.arr }}"}, {"b": {"$gte": "{{ params.num }}"}}]
	}`), &tmpl); err != nil {
		t.Fatal(err)
	}
	params := map[string]any{
		"num": 3.0, "str": "dana", "obj": map[string]any{"$gt": 1.0}, "nul": nil, "arr": []any{1.0},
	}
	before, _ := json.Marshal(tmpl)
	got := Interpolate(tmpl, params).(map[string]any)
	after, _ := json.Marshal(tmpl)
	if string(before) != string(after) {
		t.Fatal("Interpolate modified its input")
	}
	want := map[string]any{
		"n":                3.0,
		"s":                "dana",
		"o":                map[string]any{"$gt": 1.0},
		"z":                nil,
		"m":                Absent,
		"text":             "hello {{ params.num }}",
		"{{ params.str }}": 1.0,
		"ops":              map[string]any{"$in": []any{3.0, Absent, "x"}},
		"$or":              []any{map[string]any{"a": []any{1.0}}, map[string]any{"b": map[string]any{"$gte": 3.0}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if !IsAbsent(got["m"]) || IsAbsent(got["z"]) {
		t.Error("missing must be Absent, null must stay null")
	}
	// nil params: every placeholder is absent
	if v := Interpolate("{{ params.x }}", nil); !IsAbsent(v) {
		t.Errorf("nil params: %v", v)
	}
	// parameter values are not interpolated again
	if v := Interpolate("{{ params.x }}", map[string]any{"x": "{{ params.y }}", "y": 1.0}); v != "{{ params.y }}" {
		t.Errorf("re-interpolated: %v", v)
	}
	b, _ := json.Marshal(map[string]any{"a": Absent})
	if string(b) != `{"a":null}` {
		t.Errorf("Absent marshals as %s", b)
	}
}

func TestCompileQueryFilter(t *testing.T) {
	recs := []Record{
		{"id": 1.0, "assignee": "dana", "p": 5.0},
		{"id": 2.0, "assignee": nil, "p": 1.0},
		{"id": 3.0, "p": 3.0},
		{"id": 4.0, "assignee": "eve"},
	}
	cases := []struct {
		name   string
		filter string
		params map[string]any
		want   []any
	}{
		{"param value", `{"assignee":"{{ params.who }}"}`, map[string]any{"who": "dana"}, []any{1.0}},
		{"param keeps type", `{"p":"{{ params.p }}"}`, map[string]any{"p": 3.0}, []any{3.0}},
		{"param string vs number", `{"p":"{{ params.p }}"}`, map[string]any{"p": "3"}, []any{}},
		{"missing param matches absent only", `{"assignee":"{{ params.who }}"}`, nil, []any{3.0}},
		{"null param matches null only", `{"assignee":"{{ params.who }}"}`, map[string]any{"who": nil}, []any{2.0}},
		{"missing operand is inactive", `{"p":{"$gte":"{{ params.min }}"}}`, map[string]any{}, []any{1.0, 2.0, 3.0, 4.0}},
		{"operand param", `{"p":{"$gte":"{{ params.min }}"}}`, map[string]any{"min": 3.0}, []any{1.0, 3.0}},
		{"spec example", `{"assignee":"{{ params.who }}","p":{"$gte":"{{ params.minPrio }}"}}`, map[string]any{"who": "dana", "minPrio": 3.0}, []any{1.0}},
		{"absent inside $in matches absent", `{"assignee":{"$in":["{{ params.x }}","eve"]}}`, nil, []any{3.0, 4.0}},
		{"absent inside $nin excludes absent", `{"assignee":{"$nin":["{{ params.x }}"]}}`, nil, []any{1.0, 2.0, 4.0}},
		{"absent $between bound never matches", `{"p":{"$between":["{{ params.lo }}",10]}}`, nil, []any{}},
		{"missing $or is skipped", `{"$or":"{{ params.conds }}","p":{"$exists":true}}`, nil, []any{1.0, 2.0, 3.0}},
		{"$or from a parameter", `{"$or":"{{ params.conds }}"}`, map[string]any{"conds": []any{map[string]any{"id": 2.0}, map[string]any{"id": 4.0}}}, []any{2.0, 4.0}},
		{"operator object from a parameter", `{"p":"{{ params.cond }}"}`, map[string]any{"cond": map[string]any{"$lt": 3.0}}, []any{2.0}},
		{"text around placeholder is literal", `{"assignee":"x{{ params.who }}"}`, map[string]any{"who": "dana"}, []any{}},
		{"keys are not interpolated", `{"{{ params.f }}":"dana"}`, map[string]any{"f": "assignee"}, []any{}},
		{"empty", ``, nil, []any{1.0, 2.0, 3.0, 4.0}},
	}
	for _, tc := range cases {
		f, err := CompileQueryFilter(json.RawMessage(tc.filter), tc.params)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := ordIDs(FilterRecords(recs, f)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}

	// A filter whose only key became absent is still not empty (where, not all).
	f, err := CompileQueryFilter(json.RawMessage(`{"assignee":"{{ params.who }}"}`), nil)
	if err != nil || f.IsEmpty() {
		t.Errorf("absent-only filter: empty=%v err=%v", f.IsEmpty(), err)
	}
	// An absent plain value is not an index candidate.
	if _, _, ok := f.IndexCandidate(func(string) bool { return true }); ok {
		t.Error("absent value offered to the index")
	}
	// Document order is kept for the index choice.
	f, _ = CompileQueryFilter(json.RawMessage(`{"b":"{{ params.x }}","a":1}`), map[string]any{"x": "v"})
	if field, value, _ := f.IndexCandidate(func(string) bool { return true }); field != "b" || value != "v" {
		t.Errorf("candidate %s=%v", field, value)
	}

	// Interpolated values are checked like any filter.
	for _, tc := range []struct {
		filter string
		params map[string]any
	}{
		{`{"a":{"$in":"{{ params.list }}"}}`, map[string]any{"list": "x"}},
		{`{"$and":"{{ params.c }}"}`, map[string]any{"c": 1.0}},
		{`{"$or":["{{ params.c }}"]}`, nil},
		{`{"a":"{{ params.c }}"}`, map[string]any{"c": map[string]any{"$regex": "x"}}},
		{`{"a":{"$regex":"{{ params.c }}"}}`, nil},
		{`[]`, nil},
		{`{`, nil},
	} {
		_, err := CompileQueryFilter(json.RawMessage(tc.filter), tc.params)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("%s with %v: got %v, want *FilterError", tc.filter, tc.params, err)
		}
	}
}

func TestValidateQueryFilter(t *testing.T) {
	ok := []string{
		``, `{}`,
		`{"a":"{{ params.x }}"}`,
		`{"a":{"$in":"{{ params.list }}"}}`,
		`{"a":{"$between":"{{ params.range }}"}}`,
		`{"a":{"$between":["{{ params.lo }}","{{ params.hi }}"]}}`,
		`{"a":{"$exists":"{{ params.e }}","$contains":"{{ params.s }}"}}`,
		`{"$or":"{{ params.x }}"}`,
		`{"$or":["{{ params.x }}",{"a":1}]}`,
		`{"a":{"$gte":"{{ params.min }}"}}`,
	}
	for _, s := range ok {
		if err := ValidateQueryFilter(json.RawMessage(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		`{"a":{"$regex":"{{ params.x }}"}}`,
		`{"$nor":"{{ params.x }}"}`,
		`{"a":{"$in":5}}`,
		`{"a":{"$exists":"yes"}}`,
		`{"$or":[1]}`,
		`[]`,
		`{`,
	}
	for _, s := range bad {
		var fe *FilterError
		if err := ValidateQueryFilter(json.RawMessage(s)); !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want *FilterError", s, err)
		}
	}
}

func TestQueryShapeApply(t *testing.T) {
	var recs []Record
	if err := json.Unmarshal([]byte(`[
		{"ticketNo":1,"assignee":"dana","priority":3,"_version":1},
		{"ticketNo":2,"assignee":"eve","priority":5,"_version":1},
		{"ticketNo":3,"assignee":"dana","priority":4,"_version":2},
		{"ticketNo":8,"assignee":"dana","priority":5,"_version":1},
		{"ticketNo":5,"assignee":"dana","priority":2,"_version":1},
		{"ticketNo":4,"assignee":"dana","priority":5,"_version":3}
	]`), &recs); err != nil {
		t.Fatal(err)
	}
	orig := append([]Record(nil), recs...)

	f, err := CompileQueryFilter(json.RawMessage(`{"assignee":"{{ params.who }}","priority":{"$gte":"{{ params.minPrio }}"}}`),
		map[string]any{"who": "dana", "minPrio": 3.0})
	if err != nil {
		t.Fatal(err)
	}
	selected := FilterRecords(recs, f)
	sortKeys, err := ParseSort(json.RawMessage(`{"priority":"desc","ticketNo":"asc"}`))
	if err != nil {
		t.Fatal(err)
	}
	two := 2.0
	shape := QueryShape{Sort: sortKeys, Limit: &two, Fields: []string{"ticketNo", "priority"}}
	got, ok := shape.Apply(selected)
	want := []Record{{"ticketNo": 4.0, "priority": 5.0}, {"ticketNo": 8.0, "priority": 5.0}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("spec example: got %v want %v", got, want)
	}
	if !reflect.DeepEqual(recs, orig) {
		t.Error("Apply reordered the caller's records")
	}

	// offset before limit; no projection keeps whole records
	one := 1.0
	got, _ = (&QueryShape{Sort: sortKeys, Offset: 1, Limit: &one}).Apply(selected)
	if r := got.([]Record); len(r) != 1 || r[0]["ticketNo"] != 8.0 || r[0]["_version"] != 1.0 {
		t.Errorf("offset+limit: %v", got)
	}
	// limit 0 and negative limits follow slice semantics
	zero, minus := 0.0, -1.0
	if got, _ := (&QueryShape{Limit: &zero}).Apply(recs); len(got.([]Record)) != 0 {
		t.Errorf("limit 0: %v", got)
	}
	if got, _ := (&QueryShape{Limit: &minus}).Apply(recs); len(got.([]Record)) != 5 {
		t.Errorf("limit -1: %v", got)
	}
	// no records: an empty, non-nil list
	if got, _ := (&QueryShape{}).Apply(nil); got == nil || got.([]Record) == nil {
		t.Errorf("empty: %#v", got)
	}

	// aggregates ignore sort/offset/limit/fields
	aggCases := []struct {
		agg  QueryAggregate
		want any
		ok   bool
	}{
		{QueryAggregate{Function: "count"}, 4.0, true},
		{QueryAggregate{Function: "sum", Field: "priority"}, 17.0, true},
		{QueryAggregate{Function: "avg", Field: "priority"}, 4.25, true},
		{QueryAggregate{Function: "min", Field: "priority"}, 3.0, true},
		{QueryAggregate{Function: "max", Field: "priority"}, 5.0, true},
		{QueryAggregate{Function: "min", Field: "nothing"}, nil, false},
		{QueryAggregate{Function: "median", Field: "priority"}, nil, false},
		{QueryAggregate{Function: "sum", Field: "priority", GroupBy: []string{"priority"}},
			[]map[string]any{
				{"key": map[string]any{"priority": 3.0}, "value": 3.0},
				{"key": map[string]any{"priority": 4.0}, "value": 4.0},
				{"key": map[string]any{"priority": 5.0}, "value": 10.0},
			}, true},
	}
	for _, tc := range aggCases {
		agg := tc.agg
		shape := QueryShape{Sort: sortKeys, Offset: 2, Limit: &one, Fields: []string{"x"}, Aggregate: &agg}
		got, ok := shape.Apply(selected)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %v,%v want %v,%v", tc.agg, got, ok, tc.want, tc.ok)
		}
	}
}
