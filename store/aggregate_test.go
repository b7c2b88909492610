package store

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func aggRecs(t *testing.T, s string) []Record {
	t.Helper()
	var out []Record
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAggregates(t *testing.T) {
	x, y := 0.1, 0.2 // runtime values: constant folding would be exact
	type want struct {
		sum, avg float64
		min, max float64
		minOK    bool
		maxOK    bool
	}
	cases := []struct {
		name string
		recs string
		want want
	}{
		{"no records", `[]`, want{}},
		{"field absent everywhere", `[{"b":1},{"b":2}]`, want{}},
		{"only non-numeric", `[{"a":"5"},{"a":null},{"a":true},{"a":[1]},{"a":{"x":1}}]`, want{}},
		{"single", `[{"a":4}]`, want{4, 4, 4, 4, true, true}},
		{"mixed", `[{"a":1},{"a":"100"},{},{"a":null},{"a":5},{"a":-3}]`, want{3, 1, -3, 5, true, true}},
		{"avg over numeric count", `[{"a":2},{"a":"x"},{"a":4},{}]`, want{6, 3, 2, 4, true, true}},
		{"fractions", `[{"a":0.1},{"a":0.2}]`, want{x + y, (x + y) / 2, 0.1, 0.2, true, true}},
		{"zero values", `[{"a":0},{"a":-0}]`, want{0, 0, 0, 0, true, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := aggRecs(t, tc.recs)
			if got := Sum(recs, "a"); got != tc.want.sum {
				t.Errorf("Sum = %v, want %v", got, tc.want.sum)
			}
			if got := Avg(recs, "a"); got != tc.want.avg {
				t.Errorf("Avg = %v, want %v", got, tc.want.avg)
			}
			if got, ok := Min(recs, "a"); got != tc.want.min || ok != tc.want.minOK {
				t.Errorf("Min = %v,%v want %v,%v", got, ok, tc.want.min, tc.want.minOK)
			}
			if got, ok := Max(recs, "a"); got != tc.want.max || ok != tc.want.maxOK {
				t.Errorf("Max = %v,%v want %v,%v", got, ok, tc.want.max, tc.want.maxOK)
			}
			if got, ok := Aggregate(recs, "count", "ignored"); got != float64(len(recs)) || !ok {
				t.Errorf("count = %v", got)
			}
			if got, ok := Aggregate(recs, "sum", "a"); got != tc.want.sum || !ok {
				t.Errorf("Aggregate sum = %v", got)
			}
			if got, ok := Aggregate(recs, "avg", "a"); got != tc.want.avg || !ok {
				t.Errorf("Aggregate avg = %v", got)
			}
			if got, ok := Aggregate(recs, "min", "a"); got != tc.want.min || ok != tc.want.minOK {
				t.Errorf("Aggregate min = %v,%v", got, ok)
			}
			if got, ok := Aggregate(recs, "max", "a"); got != tc.want.max || ok != tc.want.maxOK {
				t.Errorf("Aggregate max = %v,%v", got, ok)
			}
			if _, ok := Aggregate(recs, "median", "a"); ok {
				t.Error("unknown function has a value")
			}
		})
	}
	// Sums keep record order (bit-identical to the reference).
	big, one := 1e16, 1.0
	recs := []Record{{"a": big}, {"a": one}, {"a": -big}}
	if got := Sum(recs, "a"); got != (big+one)-big || got != 0 {
		t.Errorf("order-dependent sum %v", got)
	}
	if got, _ := Max([]Record{{"a": math.Inf(-1)}}, "a"); !math.IsInf(got, -1) {
		t.Errorf("Max of -Inf = %v", got)
	}
}

func TestGroupBy(t *testing.T) {
	type group = map[string]any
	g := func(key map[string]any, value float64) group { return group{"key": key, "value": value} }
	recs := aggRecs(t, `[
		{"k":1,"v":10},
		{"k":"1","v":5},
		{"k":null,"v":1},
		{"v":2},
		{"k":"null","v":"x"},
		{"k":true,"v":7},
		{"k":"true"},
		{"k":2.5,"v":3},
		{"k":[1,2],"v":1},
		{"k":"1,2","v":1},
		{"k":{"a":1},"v":1},
		{"k":{"b":2},"v":1}
	]`)
	cases := []struct {
		fn   string
		want []group
	}{
		{"count", []group{
			g(map[string]any{"k": 1.0}, 2),
			g(map[string]any{"k": nil}, 3),
			g(map[string]any{"k": true}, 2),
			g(map[string]any{"k": 2.5}, 1),
			g(map[string]any{"k": []any{1.0, 2.0}}, 2),
			g(map[string]any{"k": map[string]any{"a": 1.0}}, 2),
		}},
		{"sum", []group{
			g(map[string]any{"k": 1.0}, 15),
			g(map[string]any{"k": nil}, 3),
			g(map[string]any{"k": true}, 7),
			g(map[string]any{"k": 2.5}, 3),
			g(map[string]any{"k": []any{1.0, 2.0}}, 2),
			g(map[string]any{"k": map[string]any{"a": 1.0}}, 2),
		}},
		{"avg", []group{
			g(map[string]any{"k": 1.0}, 7.5),
			g(map[string]any{"k": nil}, 1.5),
			g(map[string]any{"k": true}, 7),
			g(map[string]any{"k": 2.5}, 3),
			g(map[string]any{"k": []any{1.0, 2.0}}, 1),
			g(map[string]any{"k": map[string]any{"a": 1.0}}, 1),
		}},
		{"min", []group{
			g(map[string]any{"k": 1.0}, 5),
			g(map[string]any{"k": nil}, 1),
			g(map[string]any{"k": true}, 7),
			g(map[string]any{"k": 2.5}, 3),
			g(map[string]any{"k": []any{1.0, 2.0}}, 1),
			g(map[string]any{"k": map[string]any{"a": 1.0}}, 1),
		}},
		{"max", []group{
			g(map[string]any{"k": 1.0}, 10),
			g(map[string]any{"k": nil}, 2),
			g(map[string]any{"k": true}, 7),
			g(map[string]any{"k": 2.5}, 3),
			g(map[string]any{"k": []any{1.0, 2.0}}, 1),
			g(map[string]any{"k": map[string]any{"a": 1.0}}, 1),
		}},
		{"median", []group{
			g(map[string]any{"k": 1.0}, 0),
			g(map[string]any{"k": nil}, 0),
			g(map[string]any{"k": true}, 0),
			g(map[string]any{"k": 2.5}, 0),
			g(map[string]any{"k": []any{1.0, 2.0}}, 0),
			g(map[string]any{"k": map[string]any{"a": 1.0}}, 0),
		}},
	}
	for _, tc := range cases {
		got := GroupBy(recs, []string{"k"}, tc.fn, "v")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.fn, got, tc.want)
		}
	}

	// absent in the group's first record: the key entry is omitted
	got := GroupBy(aggRecs(t, `[{"v":1},{"k":null,"v":2},{"k":"null","v":3}]`), []string{"k"}, "sum", "v")
	want := []group{g(map[string]any{}, 6)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("absent first: got %v want %v", got, want)
	}

	// min/max of a group without numbers is 0, not absent
	got = GroupBy(aggRecs(t, `[{"k":"a","v":"x"},{"k":"b","v":-2}]`), []string{"k"}, "min", "v")
	want = []group{g(map[string]any{"k": "a"}, 0), g(map[string]any{"k": "b"}, -2)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty min: got %v want %v", got, want)
	}

	// several fields, order of first appearance
	multi := aggRecs(t, `[
		{"s":"open","p":1},{"s":"closed","p":1},{"s":"open","p":"1"},{"s":"open","p":2},{"s":"open"}
	]`)
	got = GroupBy(multi, []string{"s", "p"}, "count", "")
	want = []group{
		g(map[string]any{"s": "open", "p": 1.0}, 2),
		g(map[string]any{"s": "closed", "p": 1.0}, 1),
		g(map[string]any{"s": "open", "p": 2.0}, 1),
		g(map[string]any{"s": "open"}, 1),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("multi: got %v want %v", got, want)
	}

	// no records: an empty, non-nil list
	if got := GroupBy(nil, []string{"k"}, "count", ""); got == nil || len(got) != 0 {
		t.Errorf("empty input: %#v", got)
	}
	// no group fields: a single group
	got = GroupBy(multi, nil, "count", "")
	if !reflect.DeepEqual(got, []group{g(map[string]any{}, 5)}) {
		t.Errorf("no fields: %v", got)
	}

	// keys are copies
	src := aggRecs(t, `[{"k":{"a":1}}]`)
	got = GroupBy(src, []string{"k"}, "count", "")
	got[0]["key"].(map[string]any)["k"].(map[string]any)["a"] = 2.0
	if src[0]["k"].(map[string]any)["a"] != 1.0 {
		t.Error("GroupBy key shares the record's object")
	}
}
