package rules

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

// evalCond compiles one condition on event field "v" and evaluates it
// against the trigger data.
func evalCond(t *testing.T, e *Engine, op, value, data string) bool {
	t.Helper()
	c := `{"source":{"type":"event","field":"v"},"operator":"` + op + `"`
	if value != "" {
		c += `,"value":` + value
	}
	c += "}"
	cond, err := compileCondition(obj(t, c))
	if err != nil {
		t.Fatalf("compile %s: %v", c, err)
	}
	x := &execCtx{e: e, ctx: context.Background(), rule: &compiledRule{id: "t"}, data: obj(t, data)}
	ok, err := x.evalCondition(cond)
	if err != nil {
		t.Fatalf("eval %s: %v", c, err)
	}
	return ok
}

func TestOperators(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, Options{}).Engine
	cases := []struct {
		op, value, data string
		want            bool
	}{
		// eq / neq: strict equality; objects never equal.
		{"eq", `1`, `{"v":1}`, true},
		{"eq", `1`, `{"v":"1"}`, false},
		{"eq", `"a"`, `{"v":"a"}`, true},
		{"eq", `true`, `{"v":true}`, true},
		{"eq", `null`, `{"v":null}`, true},
		{"eq", `null`, `{}`, false},
		{"eq", `{"a":1}`, `{"v":{"a":1}}`, false},
		{"eq", `[1]`, `{"v":[1]}`, false},
		{"eq", `{"ref":"event.missing"}`, `{}`, true}, // undefined === undefined
		{"neq", `1`, `{"v":2}`, true},
		{"neq", `1`, `{"v":1}`, false},
		{"neq", `{"a":1}`, `{"v":{"a":1}}`, true},
		{"neq", `null`, `{}`, true},
		// gt/gte/lt/lte: numbers only.
		{"gt", `5`, `{"v":6}`, true},
		{"gt", `5`, `{"v":5}`, false},
		{"gte", `5`, `{"v":5}`, true},
		{"lt", `5`, `{"v":4.5}`, true},
		{"lte", `5`, `{"v":5}`, true},
		{"lte", `5`, `{"v":6}`, false},
		{"gt", `"a"`, `{"v":"b"}`, false}, // strings do not compare
		{"gt", `5`, `{"v":"6"}`, false},
		{"lt", `5`, `{}`, false},
		{"gte", `null`, `{"v":0}`, false},
		// in / not_in.
		{"in", `["CZ","SK"]`, `{"v":"CZ"}`, true},
		{"in", `["CZ","SK"]`, `{"v":"PL"}`, false},
		{"in", `[1,2]`, `{"v":2}`, true},
		{"in", `"CZ"`, `{"v":"CZ"}`, false}, // not an array
		{"in", `[{"a":1}]`, `{"v":{"a":1}}`, false},
		{"in", `[null]`, `{}`, false},
		{"not_in", `["CZ"]`, `{"v":"PL"}`, true},
		{"not_in", `["CZ"]`, `{"v":"CZ"}`, false},
		{"not_in", `"CZ"`, `{"v":"PL"}`, false}, // not an array → false
		// contains / not_contains.
		{"contains", `"ell"`, `{"v":"hello"}`, true},
		{"contains", `"ELL"`, `{"v":"hello"}`, false}, // case-sensitive
		{"contains", `1`, `{"v":"a1"}`, false},        // needle not a string
		{"contains", `"b"`, `{"v":["a","b"]}`, true},
		{"contains", `2`, `{"v":[1,2]}`, true},
		{"contains", `"x"`, `{"v":["a"]}`, false},
		{"contains", `"a"`, `{"v":{"a":1}}`, false},
		{"contains", `"a"`, `{}`, false},
		{"not_contains", `"x"`, `{"v":"hello"}`, true},
		{"not_contains", `"ell"`, `{"v":"hello"}`, false},
		{"not_contains", `1`, `{"v":"a1"}`, true}, // string v, non-string c
		{"not_contains", `"b"`, `{"v":["a","b"]}`, false},
		{"not_contains", `"x"`, `{"v":["a"]}`, true},
		{"not_contains", `"a"`, `{"v":5}`, true}, // any other v → true
		{"not_contains", `"a"`, `{}`, true},
		{"not_contains", `"a"`, `{"v":null}`, true},
		// matches: JavaScript regex without flags, search semantics.
		{"matches", `"^ab+c$"`, `{"v":"abbc"}`, true},
		{"matches", `"b+"`, `{"v":"abbc"}`, true},
		{"matches", `"^B"`, `{"v":"bc"}`, false},
		{"matches", `"\\d{3}"`, `{"v":"a123"}`, true},
		{"matches", `"\\u0041"`, `{"v":"xAx"}`, true}, // \uXXXX translated
		{"matches", `"("`, `{"v":"("}`, false},        // invalid → false
		{"matches", `"(?=a)a"`, `{"v":"a"}`, false},   // lookahead: RE2 rejects → false
		{"matches", `"1"`, `{"v":1}`, false},          // v not a string
		{"matches", `1`, `{"v":"1"}`, false},          // pattern not a string
		{"matches", `{"ref":"event.p"}`, `{"v":"abc","p":"^a"}`, true},
		{"matches", `{"ref":"event.p"}`, `{"v":"abc","p":"["}`, false},
		// exists / not_exists: value not required.
		{"exists", ``, `{"v":0}`, true},
		{"exists", ``, `{"v":false}`, true},
		{"exists", ``, `{"v":""}`, true},
		{"exists", ``, `{"v":null}`, false},
		{"exists", ``, `{}`, false},
		{"not_exists", ``, `{}`, true},
		{"not_exists", ``, `{"v":null}`, true},
		{"not_exists", ``, `{"v":1}`, false},
	}
	for _, c := range cases {
		if got := evalCond(t, e, c.op, c.value, c.data); got != c.want {
			t.Errorf("%s value=%s data=%s: got %v, want %v", c.op, c.value, c.data, got, c.want)
		}
	}
}

func TestInTreatsNaNAsEqual(t *testing.T) {
	t.Parallel()
	if !includes([]any{math.NaN()}, math.NaN()) {
		t.Fatal("in: NaN should equal NaN (SameValueZero)")
	}
	if strictEqual(math.NaN(), math.NaN()) {
		t.Fatal("eq: NaN === NaN must be false")
	}
}

func TestStrictEqualNumberTypes(t *testing.T) {
	t.Parallel()
	if !strictEqual(1, float64(1)) || !strictEqual(json.Number("2"), int64(2)) {
		t.Fatal("numbers of different Go types must compare by value")
	}
	m := map[string]any{"a": 1.0}
	if !strictEqual(m, m) {
		t.Fatal("an object equals itself")
	}
	s := []any{1.0}
	if !strictEqual(s, s) || strictEqual(s, []any{1.0}) {
		t.Fatal("an array equals only itself")
	}
}

func TestConditionSources(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.setFact("customer:7:tier", "gold")
	te.setFact("customer:8:tier", "silver")
	x := &execCtx{e: te.Engine, ctx: context.Background(), rule: &compiledRule{id: "t"},
		data:    obj(t, `{"customerId":7,"items":[{"sku":"A1"}],"customer":{"country":"CZ"}}`),
		vars:    map[string]any{"item": obj(t, `{"qty":3}`), "n": 2.0},
		lookups: map[string]any{"credit": obj(t, `{"score":720}`), "flag": true},
	}
	cases := []struct {
		cond string
		want bool
	}{
		{`{"source":{"type":"event","field":"customer.country"},"operator":"in","value":["CZ","SK"]}`, true},
		{`{"source":{"type":"event","field":"items.0.sku"},"operator":"eq","value":"A1"}`, true},
		{`{"source":{"type":"event","field":"items.length"},"operator":"eq","value":1}`, true},
		{`{"source":{"type":"event","field":"items.01.sku"},"operator":"not_exists"}`, true},
		{`{"source":{"type":"event","field":"customer.country.x"},"operator":"not_exists"}`, true},
		{`{"source":{"type":"fact","pattern":"customer:${event.customerId}:tier"},"operator":"eq","value":"gold"}`, true},
		{`{"source":{"type":"fact","pattern":"customer:*:tier"},"operator":"eq","value":"gold"}`, true}, // first match
		{`{"source":{"type":"fact","pattern":"customer:9:tier"},"operator":"not_exists"}`, true},
		{`{"source":{"type":"context","key":"item.qty"},"operator":"gte","value":3}`, true},
		{`{"source":{"type":"context","key":"n"},"operator":"eq","value":2}`, true},
		{`{"source":{"type":"context","key":"nope"},"operator":"not_exists"}`, true},
		{`{"source":{"type":"lookup","name":"credit","field":"score"},"operator":"gt","value":700}`, true},
		{`{"source":{"type":"lookup","name":"flag"},"operator":"eq","value":true}`, true},
		{`{"source":{"type":"lookup","name":"missing"},"operator":"not_exists"}`, true},
		{`{"source":{"type":"baseline","metric":"m","comparison":"above"},"operator":"not_exists"}`, true},
		// Comparison value references (§7.3).
		{`{"source":{"type":"event","field":"customerId"},"operator":"eq","value":{"ref":"event.customerId"}}`, true},
		{`{"source":{"type":"event","field":"customerId"},"operator":"eq","value":{"ref":"trigger.customerId"}}`, true},
		{`{"source":{"type":"fact","pattern":"customer:7:tier"},"operator":"eq","value":{"ref":"fact.customer:${event.customerId}:tier"}}`, true},
		{`{"source":{"type":"context","key":"n"},"operator":"eq","value":{"ref":"var.n"}}`, true},
		{`{"source":{"type":"context","key":"item"},"operator":"eq","value":{"ref":"var.item.qty"}}`, true}, // only the first segment
		{`{"source":{"type":"lookup","name":"credit","field":"score"},"operator":"eq","value":{"ref":"lookup.credit.score"}}`, true},
		{`{"source":{"type":"event","field":"customerId"},"operator":"eq","value":{"ref":"baseline.m"}}`, false},
		{`{"source":{"type":"event","field":"nope"},"operator":"eq","value":{"ref":"baseline.m"}}`, true}, // absent both
		// An unknown prefix leaves the {"ref"} object as the literal.
		{`{"source":{"type":"event","field":"customerId"},"operator":"eq","value":{"ref":"matched.0.customerId"}}`, false},
		{`{"source":{"type":"event","field":"customerId"},"operator":"neq","value":{"ref":"bogus.x"}}`, true},
	}
	for _, c := range cases {
		cond, err := compileCondition(obj(t, c.cond))
		if err != nil {
			t.Fatalf("compile %s: %v", c.cond, err)
		}
		got, err := x.evalCondition(cond)
		if err != nil {
			t.Fatalf("eval %s: %v", c.cond, err)
		}
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.cond, got, c.want)
		}
	}
	// An unknown prefix inside a fact pattern's interpolation is an error.
	cond, _ := compileCondition(obj(t, `{"source":{"type":"fact","pattern":"x:${nope.a}"},"operator":"exists"}`))
	if _, err := x.evalCondition(cond); err == nil || err.Error() != "Unknown reference source: nope" {
		t.Fatalf("want unknown reference error, got %v", err)
	}
}

func TestConditionsStopAtFirstFalse(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	conds, err := compileConditions(val(t, `[
		{"source":{"type":"event","field":"a"},"operator":"eq","value":1},
		{"source":{"type":"fact","pattern":"x:${bad.ref}"},"operator":"exists"}]`))
	if err != nil {
		t.Fatal(err)
	}
	x := &execCtx{e: te.Engine, ctx: context.Background(), rule: &compiledRule{id: "t"}, data: obj(t, `{"a":2}`)}
	ok, err := x.evalConditions(conds)
	if ok || err != nil {
		t.Fatalf("first condition is false: evaluation must stop before the failing one (ok=%v err=%v)", ok, err)
	}
	x.data = obj(t, `{"a":1}`)
	if _, err := x.evalConditions(conds); err == nil {
		t.Fatal("second condition should fail")
	}
	if ok, _ := x.evalConditions(nil); !ok {
		t.Fatal("no conditions is always true")
	}
}
