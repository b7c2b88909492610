package procedures

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noex-go/noex/store"
)

// TestCalcTotalExample is the example of PROTOCOL.md §7.2.5.
func TestProcedureCalcTotalExample(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "items", "orders")
	ctx := t.Context()
	for _, it := range []map[string]any{{"id": "i1", "orderId": "o-1", "price": 100.0}, {"id": "i2", "orderId": "o-1", "price": 50.0}, {"id": "i3", "orderId": "o-2", "price": 7.0}} {
		_, _ = h.st.Insert(ctx, "items", it)
	}
	_, _ = h.st.Insert(ctx, "orders", map[string]any{"id": "o-1"})
	def := `{"name":"calc-total","input":{"orderId":{"type":"string"}},"steps":[
		{"action":"store.where","bucket":"items","filter":{"orderId":"{{ input.orderId }}"},"as":"items"},
		{"action":"aggregate","source":"items","field":"price","op":"sum","as":"total"},
		{"action":"if","condition":{"ref":"total","operator":"gte","value":100},
		 "then":[{"action":"store.update","bucket":"orders","key":"{{ input.orderId }}","data":{"total":"{{ total }}","status":"big"}}],
		 "else":[{"action":"store.update","bucket":"orders","key":"{{ input.orderId }}","data":{"total":"{{ total }}"}}]},
		{"action":"return","value":{"order":"{{ input.orderId }}","label":"Total: {{ total }}"}}]}`
	got, err := h.call(def, `{"orderId":"o-1"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"success":true,"result":{"order":"o-1","label":"Total: 150"},"results":{"items":[
		{"id":"i1","orderId":"o-1","price":100,"_version":1},{"id":"i2","orderId":"o-1","price":50,"_version":1}],"total":150}}`
	if canon(t, got) != canon(t, want) {
		t.Fatalf("got %s", got)
	}
	if o := h.st.records("orders")[0]; o["total"] != 150.0 || o["status"] != "big" {
		t.Fatalf("order %v", o)
	}
	if !strings.Contains(got, `"results":{"items":`) {
		t.Fatalf("results out of order: %s", got)
	}
}

func TestProcedureStoreSteps(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "b")
	def := `{"name":"p","steps":[
		{"action":"store.insert","bucket":"b","data":{"id":"{{ input.id }}","n":"{{ input.n }}","gone":"{{ input.nope }}"},"as":"ins"},
		{"action":"store.insert","bucket":"b","data":{"id":"k2","n":2}},
		{"action":"store.get","bucket":"b","key":"{{ input.id }}","as":"got"},
		{"action":"store.get","bucket":"b","key":"missing","as":"miss"},
		{"action":"store.update","bucket":"b","key":"k2","data":{"n":3},"as":"upd"},
		{"action":"store.update","bucket":"b","key":"k2","data":{"n":4}},
		{"action":"store.where","bucket":"b","filter":{"n":4},"as":"w"},
		{"action":"store.where","bucket":"b","filter":{"n":99},"as":"none"},
		{"action":"store.findOne","bucket":"b","filter":{"id":"{{ input.id }}"},"as":"one"},
		{"action":"store.findOne","bucket":"b","filter":{"id":"zz"},"as":"noone"},
		{"action":"store.count","bucket":"b","as":"all"},
		{"action":"store.count","bucket":"b","filter":{"gone":"{{ input.nope }}"},"as":"lacking"},
		{"action":"store.delete","bucket":"b","key":"k2"},
		{"action":"store.delete","bucket":"b","key":"never"},
		{"action":"store.count","bucket":"b","filter":{},"as":"after"}]}`
	got, err := h.call(def, `{"id":7,"n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"success":true,"results":{"ins":{"id":7,"n":1,"_version":1},"got":{"id":7,"n":1,"_version":1},"miss":null,
		"upd":{"id":"k2","n":3,"_version":2},"w":[{"id":"k2","n":4,"_version":3}],"none":[],"one":{"id":7,"n":1,"_version":1},
		"noone":null,"all":2,"lacking":2,"after":1}}`
	if canon(t, got) != canon(t, want) {
		t.Fatalf("got  %s\nwant %s", canon(t, got), canon(t, want))
	}
	// Results come in order of first storage.
	if !strings.HasPrefix(got, `{"success":true,"results":{"ins":`) || !strings.HasSuffix(got, `"lacking":2,"after":1}}`) {
		t.Fatalf("order: %s", got)
	}
}

func TestProcedureStoreStepFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, steps, path, action, msg string
	}{
		{"unknown bucket", `{"action":"store.get","bucket":"nope","key":"k","as":"x"}`, "steps[0]", "store.get", `Bucket "nope" is not defined`},
		{"missing record", `{"action":"store.update","bucket":"b","key":"k","data":{}}`, "steps[0]", "store.update", `Record with key "k" not found in bucket "b"`},
		{"in a branch", `{"action":"if","condition":{"ref":"input.x","operator":"not_exists"},"then":[{"action":"return","value":0}],
			"else":[{"action":"store.insert","bucket":"b","data":{"id":"a"}},{"action":"store.insert","bucket":"b","data":{"id":"a"}}]}`,
			"steps[0].else[1]", "store.insert", `Record with key "a" already exists in bucket "b"`},
	}
	for _, c := range cases {
		h := newHarness(t, "b")
		_, err := h.call(`{"name":"p","steps":[`+c.steps+`,{"action":"store.insert","bucket":"b","data":{"id":"after"}}]}`, `{"x":1}`)
		se := stepErr(t, err)
		if se.Path != c.path || se.Action != c.action || err.Error() != c.msg {
			t.Errorf("%s: %s %s %q", c.name, se.Path, se.Action, err)
		}
		for _, r := range h.st.records("b") {
			if r["id"] == "after" {
				t.Errorf("%s: a step after the failure ran", c.name)
			}
		}
	}
}

func TestProcedureRulesSteps(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.rules.facts["seen"] = map[string]any{"v": 1.0}
	def := `{"name":"p","steps":[
		{"action":"rules.emit","topic":"order.{{ input.id }}","data":{"id":"{{ input.id }}","x":"{{ input.nope }}"}},
		{"action":"rules.emit","topic":"{{ input.topic }}"},
		{"action":"rules.setFact","key":"count:{{ input.id }}","value":"{{ input.n }}"},
		{"action":"rules.setFact","key":"nothing","value":"{{ input.nope }}"},
		{"action":"rules.getFact","key":"seen","as":"seen"},
		{"action":"rules.getFact","key":"count:{{ input.id }}","as":"count"},
		{"action":"rules.getFact","key":"unknown","as":"unknown"}]}`
	got, err := h.call(def, `{"id":"o1","n":3,"topic":"plain"}`)
	if err != nil {
		t.Fatal(err)
	}
	if canon(t, got) != canon(t, `{"success":true,"results":{"seen":{"v":1},"count":3,"unknown":null}}`) {
		t.Fatalf("got %s", got)
	}
	if fmt.Sprint(h.rules.emitted) != `[order.o1 {"id":"o1"} plain {}]` {
		t.Fatalf("emitted %q", h.rules.emitted)
	}
	if v, ok := h.rules.facts["nothing"]; !ok || v != nil {
		t.Fatalf("fact of an absent value: %v %v", v, ok)
	}
	// Topic and key must resolve to text.
	_, err = h.call(`{"name":"p","steps":[{"action":"rules.emit","topic":"{{ input.o }}"}]}`, `{"o":{}}`)
	if se := stepErr(t, err); err.Error() != `rules.emit: "topic" must resolve to a non-empty string` || se.Path != "steps[0]" {
		t.Fatalf("object topic: %v", err)
	}
	if _, err := h.call(`{"name":"p","steps":[{"action":"rules.setFact","key":"{{ input.n }}","value":1}]}`, `{"n":5}`); err != nil || h.rules.facts["5"] != 1.0 {
		t.Fatalf("numeric key: %v %v", err, h.rules.facts)
	}
	// Without an engine every rules step fails.
	for _, step := range []string{`{"action":"rules.emit","topic":"t"}`, `{"action":"rules.setFact","key":"k","value":1}`, `{"action":"rules.getFact","key":"k","as":"v"}`} {
		h := newHarness(t)
		env := h.env()
		env.Rules = nil
		res, err := h.runner.Call(t.Context(), mustParse(t, `{"name":"p","steps":[`+step+`]}`), nil, env)
		se := stepErr(t, err)
		if res != nil || !strings.HasSuffix(err.Error(), ": rule engine is not configured") || !strings.HasPrefix(err.Error(), se.Action) {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// An engine failure stops the call.
	h.rules.fail = errors.New("engine stopped")
	if _, err := h.call(`{"name":"p","steps":[{"action":"rules.emit","topic":"t"}]}`, ""); err == nil || err.Error() != "engine stopped" {
		t.Fatalf("engine failure: %v", err)
	}
}

func TestProcedureAggregate(t *testing.T) {
	t.Parallel()
	items := []any{map[string]any{"p": 10.0}, map[string]any{"p": "20"}, "x", nil, map[string]any{"q": 1.0}, map[string]any{"p": -4.0}}
	cases := []struct {
		src  []any
		op   string
		want float64
	}{
		{items, "count", 6},
		{items, "sum", 6},
		{items, "avg", 1}, // non-numeric elements still count in the denominator
		{items, "min", -4},
		{items, "max", 10},
		{nil, "avg", 0},
		{nil, "sum", 0},
		{nil, "count", 0},
		{[]any{"a", map[string]any{}}, "min", 0},
		{[]any{"a", map[string]any{}}, "max", 0},
		{[]any{map[string]any{"p": -3.0}, map[string]any{"p": -1.0}}, "max", -1},
	}
	for _, c := range cases {
		if got := aggregate(c.src, c.op, "p"); got != c.want || math.Signbit(got) != math.Signbit(c.want) {
			t.Errorf("%s over %v = %v, want %v", c.op, c.src, got, c.want)
		}
	}
	h := newHarness(t)
	_, err := h.call(`{"name":"p","steps":[{"action":"rules.getFact","key":"k","as":"one"},
		{"action":"aggregate","source":"one","op":"count","as":"n"}]}`, "")
	if se := stepErr(t, err); err.Error() != `aggregate: source "one" is not an array` || se.Path != "steps[1]" || se.Action != "aggregate" {
		t.Fatalf("non-array source: %v", err)
	}
	_, err = h.call(`{"name":"p","steps":[{"action":"aggregate","source":"never","op":"sum","field":"p","as":"n"}]}`, "")
	if err == nil || err.Error() != `aggregate: source "never" is not an array` {
		t.Fatalf("missing source: %v", err)
	}
}

func TestProcedureTransform(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "b")
	ctx := t.Context()
	for _, r := range []map[string]any{{"id": "a", "kind": "x", "n": 1.0}, {"id": "b", "kind": "y", "n": 2.0}, {"id": "c", "kind": "x"}} {
		_, _ = h.st.Insert(ctx, "b", r)
	}
	def := `{"name":"p","steps":[
		{"action":"store.where","bucket":"b","filter":{},"as":"all"},
		{"action":"store.get","bucket":"b","key":"a","as":"one"},
		{"action":"transform","source":"all","operation":"pluck","args":"n","as":"ns"},
		{"action":"transform","source":"all","operation":"filter","args":{"kind":"{{ input.kind }}"},"as":"xs"},
		{"action":"transform","source":"all","operation":"filter","args":{"n":"{{ input.nope }}"},"as":"without"},
		{"action":"transform","source":"all","operation":"filter","args":{},"as":"every"},
		{"action":"transform","source":"xs","operation":"map","args":{"tag":"{{ input.kind }}!","n":0},"as":"tagged"},
		{"action":"transform","source":"one","operation":"pick","args":["id","n","absent"],"as":"picked"},
		{"action":"transform","source":"ns","operation":"pluck","args":"x","as":"nulls"}]}`
	got, err := h.call(def, `{"kind":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"ns":      `[1,2,null]`,
		"xs":      `[{"_version":1,"id":"a","kind":"x","n":1},{"_version":1,"id":"c","kind":"x"}]`,
		"without": `[{"_version":1,"id":"c","kind":"x"}]`,
		"every":   `[{"_version":1,"id":"a","kind":"x","n":1},{"_version":1,"id":"b","kind":"y","n":2},{"_version":1,"id":"c","kind":"x"}]`,
		"tagged":  `[{"_version":1,"id":"a","kind":"x","n":0,"tag":"x!"},{"_version":1,"id":"c","kind":"x","n":0,"tag":"x!"}]`,
		"picked":  `{"id":"a","n":1}`,
		"nulls":   `[null,null,null]`,
	} {
		if !strings.Contains(got, `"`+name+`":`+want) {
			t.Errorf("%s: want %s in %s", name, want, got)
		}
	}
	// map leaves non-objects alone; pluck gives null for them.
	arr := []any{1.0, map[string]any{"a": 1.0}, []any{"z"}}
	if v, _ := transform("map", "s", arr, map[string]any{"b": 2.0}); fmt.Sprint(v) != "[1 map[a:1 b:2] [z]]" {
		t.Fatalf("map %v", v)
	}
	if v, _ := transform("pluck", "s", arr, "a"); fmt.Sprint(v) != "[<nil> 1 <nil>]" {
		t.Fatalf("pluck %v", v)
	}
	if v, _ := transform("pluck", "s", arr, "length"); fmt.Sprint(v) != "[<nil> <nil> 1]" {
		t.Fatalf("pluck length %v", v)
	}
	// Wrong source shapes.
	for _, c := range []struct {
		op   string
		src  any
		args any
		msg  string
	}{
		{"pluck", map[string]any{}, "a", `transform.pluck: source "s" is not an array`},
		{"filter", "x", map[string]any{}, `transform.filter: source "s" is not an array`},
		{"map", nil, map[string]any{}, `transform.map: source "s" is not an array`},
		{"map", Absent, map[string]any{}, `transform.map: source "s" is not an array`},
		{"pick", []any{}, []any{"a"}, `transform.pick: source "s" is not an object`},
		{"pick", map[string]any{}, "a", `transform.pick: "args" must be an array of field names`},
		{"filter", []any{}, "a", `transform.filter: "args" must be an object`},
		{"map", []any{}, []any{}, `transform.map: "args" must be an object`},
	} {
		if _, err := transform(c.op, "s", c.src, c.args); err == nil || err.Error() != c.msg {
			t.Errorf("%s over %v: %v, want %s", c.op, c.src, err, c.msg)
		}
	}
}

func TestProcedureConditions(t *testing.T) {
	t.Parallel()
	obj := map[string]any{"a": 1.0}
	arr := []any{1.0}
	cases := []struct {
		op            string
		actual, value any
		want          bool
	}{
		{"eq", 1.0, 1.0, true},
		{"eq", 1.0, "1", false},
		{"eq", "a", "a", true},
		{"eq", nil, nil, true},
		{"eq", nil, Absent, false},
		{"eq", Absent, Absent, true},
		{"eq", true, true, true},
		{"eq", obj, obj, true}, // the very same stored value
		{"eq", obj, map[string]any{"a": 1.0}, false},
		{"eq", arr, arr, true},
		{"eq", arr, []any{1.0}, false},
		{"neq", 1.0, 2.0, true},
		{"neq", Absent, Absent, false},
		{"gt", 2.0, 1.0, true},
		{"gt", 1.0, 1.0, false},
		{"gte", 1.0, 1.0, true},
		{"lt", "a", "b", true},
		{"lt", "B", "a", true}, // code units
		{"lte", "b", "b", true},
		{"gt", Absent, 1.0, false},
		{"lt", nil, 1.0, false},
		{"lt", 1.0, nil, false},
		{"gte", 1.0, Absent, false},
		{"gt", "10", 9.0, true},   // JavaScript coercion
		{"gt", "abc", 1.0, false}, // NaN
		{"gt", true, 0.0, true},
		{"lt", "", 1.0, true},
		{"gt", []any{5.0}, "10", true}, // "5" > "10" as strings
		{"exists", 0.0, nil, true},
		{"exists", "", nil, true},
		{"exists", nil, nil, false},
		{"exists", Absent, nil, false},
		{"not_exists", nil, nil, true},
		{"not_exists", Absent, nil, true},
		{"not_exists", false, nil, false},
	}
	for _, c := range cases {
		if got := evalCondition(c.op, c.actual, c.value); got != c.want {
			t.Errorf("%v %s %v = %v, want %v", c.actual, c.op, c.value, got, c.want)
		}
	}
	for s, want := range map[string]float64{" 12 ": 12, "0x1f": 31, "1e3": 1000, "Infinity": math.Inf(1), "-5.5": -5.5} {
		if got := toNumber(s); got != want {
			t.Errorf("Number(%q) = %v", s, got)
		}
	}
	for _, s := range []string{"1_000", "inf", "NaN", "0x", "12px"} {
		if got := toNumber(s); !math.IsNaN(got) {
			t.Errorf("Number(%q) = %v, want NaN", s, got)
		}
	}
	// Branches run as chosen; a condition value may hold placeholders;
	// results from branches that ran are kept.
	h := newHarness(t)
	def := `{"name":"p","steps":[
		{"action":"rules.getFact","key":"limit","as":"limit"},
		{"action":"if","condition":{"ref":"input.n","operator":"gt","value":"{{ limit }}"},
		 "then":[{"action":"rules.getFact","key":"hi","as":"branch"}],
		 "else":[{"action":"rules.getFact","key":"lo","as":"branch"},{"action":"rules.getFact","key":"lo","as":"elseOnly"}]},
		{"action":"if","condition":{"ref":"branch","operator":"eq","value":"{{ branch }}"},"then":[{"action":"return","value":"same"}]},
		{"action":"return","value":"not reached"}]}`
	h.rules.facts = map[string]any{"limit": 10.0, "hi": "HI", "lo": "LO"}
	if got, err := h.call(def, `{"n":11}`); err != nil || canon(t, got) != canon(t, `{"success":true,"result":"same","results":{"limit":10,"branch":"HI"}}`) {
		t.Fatalf("then: %s %v", got, err)
	}
	if got, err := h.call(def, `{"n":3}`); err != nil || got != `{"success":true,"result":"same","results":{"limit":10,"branch":"LO","elseOnly":"LO"}}` {
		t.Fatalf("else: %s %v", got, err)
	}
}

func TestProcedureReturn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "b")
	cases := map[string]string{
		// return stops the whole procedure, from inside a branch too
		`[{"action":"if","condition":{"ref":"input.x","operator":"exists"},"then":[{"action":"return","value":{"a":"{{ input.x }}","b":"{{ input.none }}"}}]},{"action":"store.insert","bucket":"b","data":{}}]`: `{"success":true,"result":{"a":1},"results":{}}`,
		`[{"action":"return","value":null}]`:                   `{"success":true,"result":null,"results":{}}`,
		`[{"action":"return","value":"{{ input.none }}"}]`:     `{"success":true,"results":{}}`,
		`[{"action":"return","value":[1,"{{ input.none }}"]}]`: `{"success":true,"result":[1,null],"results":{}}`,
		`[{"action":"store.count","bucket":"b","as":"n"}]`:     `{"success":true,"results":{"n":0}}`,
	}
	for steps, want := range cases {
		if got, err := h.call(`{"name":"p","steps":`+steps+`}`, `{"x":1}`); err != nil || got != want {
			t.Errorf("%s → %s %v, want %s", steps, got, err, want)
		}
	}
	if n := len(h.st.records("b")); n != 0 {
		t.Fatalf("a step after return ran: %d records", n)
	}
}

// TestTransactionIsAtomic: with "transaction": true, store steps run in one
// Tx that commits at the end or not at all, and rules side effects wait
// for the commit.
func TestProcedureTransactionIsAtomic(t *testing.T) {
	t.Parallel()
	def := func(last string) string {
		return `{"name":"p","transaction":true,"steps":[
			{"action":"store.insert","bucket":"b","data":{"id":"a"}},
			{"action":"rules.emit","topic":"inserted"},
			{"action":"rules.setFact","key":"f","value":1},
			{"action":"store.count","bucket":"b","as":"seen"},
			{"action":"rules.getFact","key":"f","as":"fact"},` + last + `]}`
	}
	// The last step fails: nothing written, nothing emitted.
	h := newHarness(t, "b")
	_, err := h.call(def(`{"action":"store.get","bucket":"nope","key":"k","as":"x"}`), "")
	if se := stepErr(t, err); se.Path != "steps[5]" {
		t.Fatalf("error %v", err)
	}
	if len(h.st.records("b")) != 0 || len(h.rules.emitted) != 0 || len(h.rules.facts) != 0 {
		t.Fatalf("side effects of a failed transaction: %v %v %v", h.st.records("b"), h.rules.emitted, h.rules.facts)
	}
	if len(h.txs) != 1 || !h.txs[0].rolled || h.txs[0].committed {
		t.Fatalf("tx %+v", h.txs)
	}
	// Success: reads saw the transaction's own write; effects follow the
	// commit (the fact was not yet set when read inside).
	h = newHarness(t, "b")
	got, err := h.call(def(`{"action":"return","value":"{{ seen }}"}`), "")
	if err != nil || got != `{"success":true,"result":1,"results":{"seen":1,"fact":null}}` {
		t.Fatalf("got %s %v", got, err)
	}
	if len(h.st.records("b")) != 1 || fmt.Sprint(h.rules.emitted) != "[inserted {}]" || h.rules.facts["f"] != 1.0 || !h.txs[0].committed {
		t.Fatalf("after commit: %v %v %v", h.st.records("b"), h.rules.emitted, h.rules.facts)
	}
	// A failed commit: no effects, the commit's error.
	h = newHarness(t, "b")
	boom := errors.New("conflict")
	env := h.env()
	env.Begin = func() Tx { tx := h.st.begin(); tx.commitErr = boom; return tx }
	if _, err := h.runner.Call(t.Context(), mustParse(t, def(`{"action":"return","value":1}`)), nil, env); !errors.Is(err, boom) {
		t.Fatalf("commit failure: %v", err)
	}
	if len(h.rules.emitted) != 0 || len(h.st.records("b")) != 0 {
		t.Fatal("effects of a failed commit")
	}
	// A deferred effect that fails after the commit names its step.
	h = newHarness(t, "b")
	h.rules.fail = errors.New("engine stopped")
	_, err = h.call(def(`{"action":"return","value":1}`), "")
	if se := stepErr(t, err); se.Path != "steps[1]" || se.Action != "rules.emit" || len(h.st.records("b")) != 1 {
		t.Fatalf("deferred failure: %v", err)
	}
	// Without the flag, earlier writes stay when a later step fails.
	h = newHarness(t, "b")
	_, err = h.call(strings.Replace(def(`{"action":"store.get","bucket":"nope","key":"k","as":"x"}`), `"transaction":true,`, "", 1), "")
	if err == nil || len(h.st.records("b")) != 1 || len(h.rules.emitted) != 1 || len(h.txs) != 0 {
		t.Fatalf("non-transactional: %v %v %v", err, h.st.records("b"), h.rules.emitted)
	}
}

// fakeTimer is an AfterFunc whose timer fires when the test says so.
type fakeTimer struct {
	mu      sync.Mutex
	armed   []time.Duration
	fire    func()
	stopped bool
}

func (f *fakeTimer) after(d time.Duration, fn func()) func() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = append(f.armed, d)
	f.fire = fn
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.stopped = true
		return true
	}
}

func (f *fakeTimer) trigger() {
	f.mu.Lock()
	fn := f.fire
	f.mu.Unlock()
	fn()
}

func TestProcedureTimeout(t *testing.T) {
	t.Parallel()
	steps := `"steps":[{"action":"store.insert","bucket":"b","data":{"id":"1"}},
		{"action":"store.insert","bucket":"fire","data":{"id":"2"}},
		{"action":"store.insert","bucket":"b","data":{"id":"3"}}]`
	for _, tx := range []bool{false, true} {
		h := newHarness(t, "b", "fire")
		ft := &fakeTimer{}
		h.runner = Runner{DefaultTimeout: 5 * time.Second, AfterFunc: ft.after}
		// The timer fires while step 1 runs: step 2 never starts.
		h.st.onOp = func(op, bucket string) {
			if bucket == "fire" {
				ft.trigger()
			}
		}
		def := fmt.Sprintf(`{"name":"slow","transaction":%v,%s}`, tx, steps)
		_, err := h.call(def, "")
		var te *TimeoutError
		if !errors.As(err, &te) || err.Error() != `Procedure "slow" timed out after 5000ms` {
			t.Fatalf("tx=%v: %v", tx, err)
		}
		if fmt.Sprint(ft.armed) != "[5s]" || !ft.stopped {
			t.Fatalf("timer %v stopped=%v", ft.armed, ft.stopped)
		}
		var ids []any
		for _, b := range []string{"b", "fire"} {
			for _, r := range h.st.records(b) {
				ids = append(ids, r["id"])
			}
		}
		want := "[1 2]" // without a transaction, writes already done stay
		if tx {
			want = "[]" // discarded
		}
		if fmt.Sprint(ids) != want {
			t.Fatalf("tx=%v: records %v, want %s", tx, ids, want)
		}
	}
	// A definition's timeoutMs wins over the default, fractional ms too.
	h := newHarness(t, "b")
	ft := &fakeTimer{}
	h.runner = Runner{AfterFunc: ft.after}
	if _, err := h.call(`{"name":"p","timeoutMs":1.5,"steps":[{"action":"return","value":1}]}`, ""); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ft.armed) != "[1.5ms]" {
		t.Fatalf("armed %v", ft.armed)
	}
	h.runner = Runner{}
	if d, ms := mustParse(t, `{"name":"p","steps":[{"action":"return","value":1}]}`).timeout(DefaultTimeout); d != 30*time.Second || ms != 30000 {
		t.Fatalf("default timeout %v %v", d, ms)
	}
	// The real timer: a slow step, a short timeout.
	h.st.onOp = func(op, bucket string) { time.Sleep(30 * time.Millisecond) }
	_, err := h.call(`{"name":"real","timeoutMs":5,"steps":[{"action":"store.count","bucket":"b","as":"n"},{"action":"store.count","bucket":"b","as":"m"}]}`, "")
	if err == nil || err.Error() != `Procedure "real" timed out after 5ms` {
		t.Fatalf("real timer: %v", err)
	}
	// A caller's cancellation is not a timeout.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h.st.onOp = nil
	_, err = h.runner.Call(ctx, mustParse(t, `{"name":"p","steps":[{"action":"return","value":1}]}`), nil, h.env())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestProcedureAuthorizeEveryStep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "b", "secret")
	var asked []string
	denied := errors.New("FORBIDDEN")
	h.authz = func(op, resource string) error {
		asked = append(asked, op+" "+resource)
		if resource == "secret" || resource == "topic.secret" {
			return denied
		}
		return nil
	}
	def := `{"name":"p","steps":[
		{"action":"store.insert","bucket":"b","data":{"id":"1"}},
		{"action":"store.get","bucket":"b","key":"1","as":"g"},
		{"action":"store.where","bucket":"b","filter":{},"as":"w"},
		{"action":"store.findOne","bucket":"b","filter":{},"as":"f"},
		{"action":"store.count","bucket":"b","as":"c"},
		{"action":"store.update","bucket":"b","key":"1","data":{}},
		{"action":"store.delete","bucket":"b","key":"1"},
		{"action":"rules.emit","topic":"topic.{{ input.t }}"},
		{"action":"rules.setFact","key":"k:{{ input.t }}","value":1},
		{"action":"rules.getFact","key":"k","as":"k"},
		{"action":"aggregate","source":"w","op":"count","as":"n"},
		{"action":"transform","source":"w","operation":"pluck","args":"id","as":"ids"},
		{"action":"if","condition":{"ref":"n","operator":"exists"},"then":[{"action":"store.insert","bucket":"{{ input.t }}","data":{}}]}]}`
	_, err := h.call(def, `{"t":"open"}`)
	if se := stepErr(t, err); se.Path != "steps[12].then[0]" {
		t.Fatalf("error %v", err) // the bucket is not a template: "{{ input.t }}" is unknown
	}
	want := "[store.insert b store.get b store.where b store.findOne b store.count b store.update b store.delete b rules.emit topic.open rules.setFact k:open rules.getFact k store.insert {{ input.t }}]"
	if fmt.Sprint(asked) != want {
		t.Fatalf("checks\n got %v\nwant %s", asked, want)
	}
	// A denial stops the call before the step runs.
	asked = nil
	_, err = h.call(`{"name":"p","steps":[{"action":"rules.emit","topic":"topic.{{ input.t }}"},{"action":"store.insert","bucket":"b","data":{"id":"x"}}]}`, `{"t":"secret"}`)
	if se := stepErr(t, err); !errors.Is(err, denied) || se.Action != "rules.emit" || len(h.rules.emitted) != 1 {
		t.Fatalf("denied emit: %v (emitted %v)", err, h.rules.emitted)
	}
	_, err = h.call(`{"name":"p","steps":[{"action":"store.insert","bucket":"secret","data":{"id":"x"}}]}`, "")
	if !errors.Is(err, denied) || len(h.st.records("secret")) != 0 {
		t.Fatalf("denied insert: %v", err)
	}
}

func TestProcedureResultJSON(t *testing.T) {
	t.Parallel()
	r := &Result{}
	r.Results.Set("z", 1.0)
	r.Results.Set("a", map[string]any{"x": Absent, "y": math.Inf(1)})
	r.Results.Set("z", 2.0) // keeps its place
	b, err := r.AppendJSON(nil)
	if err != nil || string(b) != `{"success":true,"results":{"z":2,"a":{"y":null}}}` {
		t.Fatalf("%s %v", b, err)
	}
	r.Returned, r.Value = true, store.Absent
	if b, _ := r.MarshalJSON(); string(b) != `{"success":true,"results":{"z":2,"a":{"y":null}}}` {
		t.Fatalf("absent result: %s", b)
	}
	if fmt.Sprint(r.Results.Names()) != "[z a]" {
		t.Fatal(r.Results.Names())
	}
}
