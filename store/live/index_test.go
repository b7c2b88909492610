package live

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/noex-go/noex/store"
)

// checkIndex verifies the positions the engine keeps: every subscription
// and every indexed instance is where its index says.
func checkIndex(t *testing.T, e *Engine) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, q := range e.queries {
		indexed := 0
		for key, inst := range q.instances {
			if inst.key != key {
				t.Fatalf("instance under %q has key %q", key, inst.key)
			}
			if len(inst.subs) == 0 {
				t.Fatalf("instance %q without subscribers", key)
			}
			for i, s := range inst.subs {
				if int(s.idx) != i || s.inst != inst {
					t.Fatalf("subscription at %d says %d", i, s.idx)
				}
			}
			n += len(inst.subs)
		}
		if q.byValue == nil {
			continue
		}
		check := func(list []*instance, kind eqKind, v any) {
			if len(list) == 0 && list != nil {
				t.Fatal("empty list kept")
			}
			for i, inst := range list {
				if int(inst.eqIdx) != i || inst.eqKind != kind || q.instances[inst.key] != inst || (kind == eqValue && inst.eqVal != v) {
					t.Fatalf("instance %q at %d: idx %d kind %d", inst.key, i, inst.eqIdx, inst.eqKind)
				}
				indexed++
			}
		}
		for v, list := range q.byValue {
			if len(list) == 0 {
				t.Fatalf("empty list for %v kept", v)
			}
			check(list, eqValue, v)
		}
		check(q.absent, eqAbsent, nil)
		check(q.other, eqOther, nil)
		if indexed != len(q.instances) {
			t.Fatalf("%d instances indexed of %d", indexed, len(q.instances))
		}
	}
	if n != e.subs {
		t.Fatalf("%d subscriptions listed, %d counted", n, e.subs)
	}
}

// TestSwapRemoveKeepsIndex subscribes and cancels in an order that moves
// entries around, and checks deliveries still reach exactly the remaining
// subscribers.
func TestSwapRemoveKeepsIndex(t *testing.T) {
	st, e := setup(t, nil)
	if err := e.DefineDeclarative("mine", json.RawMessage(`{"bucket":"items","filter":{"owner":"{{ params.owner }}"},"fields":["id"]}`)); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		s *Subscription
		k *sink
	}
	var all []entry
	// Instances of owner "a" differing by another parameter (one list in
	// byValue), several subscribers each; absent and object parameters.
	params := []any{
		map[string]any{"owner": "a", "x": float64(1)},
		map[string]any{"owner": "a", "x": float64(2)},
		map[string]any{"owner": "a", "x": float64(3)},
		map[string]any{"owner": "b"},
		nil,
		map[string]any{"x": float64(1)},
		map[string]any{"owner": map[string]any{"$in": []any{"a", "b"}}},
		map[string]any{"owner": map[string]any{"$in": []any{"a"}}},
	}
	for round := 0; round < 3; round++ {
		for _, p := range params {
			s, k, _ := sub(t, e, "mine", p)
			all = append(all, entry{s, k})
		}
	}
	checkIndex(t, e)
	// Cancel every instance's first subscriber, then the middle ones of
	// some: entries move from the end into the holes.
	for _, i := range []int{0, 3, 5, 6, 12, 9, 23, 17} {
		if !e.Cancel(all[i].s) {
			t.Fatalf("cancel %d", i)
		}
		all[i].s = nil
		checkIndex(t, e)
	}
	if _, err := st.Insert("items", store.Record{"id": "1", "owner": "a"}); err != nil {
		t.Fatal(err)
	}
	for i, en := range all {
		p := params[i%len(params)]
		m, _ := p.(map[string]any)
		wants := false
		switch o := m["owner"].(type) {
		case string:
			wants = o == "a"
		case map[string]any:
			wants = true
		}
		if en.s == nil || !wants {
			en.k.none(t, 0)
			continue
		}
		if got := en.k.next(t); got != `[{"id":"1"}]` {
			t.Fatalf("subscriber %d (%v) got %s", i, p, got)
		}
	}
	for _, en := range all {
		if en.s != nil {
			e.Cancel(en.s)
			checkIndex(t, e)
		}
	}
	e.mu.Lock()
	q := e.queries["mine"]
	left := len(q.instances) + len(q.byValue) + len(q.absent) + len(q.other)
	e.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d entries left", left)
	}
	for _, en := range all {
		en.k.none(t, 10*time.Millisecond)
	}
}

// TestOnChangeCountsDistinctInstances: an update whose old and new record
// both match an instance wakes it once, and a Go-function instance that
// depends on both the bucket and the record is counted once.
func TestOnChangeCountsDistinctInstances(t *testing.T) {
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	woken := make(chan int, 100)
	e, err := New(st, Options{OnChange: func(n int) { woken <- n }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); _ = st.Close() })
	if err := st.DefineBucket("items", json.RawMessage(`{"key":"id","schema":{"id":{"type":"string"},"owner":{"type":"string"},"n":{"type":"number"}}}`)); err != nil {
		t.Fatal(err)
	}
	next := func() int {
		t.Helper()
		select {
		case n := <-woken:
			return n
		case <-time.After(5 * time.Second):
			t.Fatal("no change reported")
			return 0
		}
	}
	if err := e.DefineDeclarative("mine", json.RawMessage(`{"bucket":"items","filter":{"owner":"{{ params.owner }}"}}`)); err != nil {
		t.Fatal(err)
	}
	_, _, _ = sub(t, e, "mine", map[string]any{"owner": "a"})
	_, _, _ = sub(t, e, "mine", map[string]any{"owner": "a"}) // same instance
	_, _, _ = sub(t, e, "mine", map[string]any{"owner": "b"})
	_, _, _ = sub(t, e, "mine", nil)
	if _, err := st.Insert("items", store.Record{"id": "1", "owner": "a"}); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 1 {
		t.Fatalf("insert woke %d", n)
	}
	if _, err := st.Update("items", "1", store.Record{"n": float64(1)}); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 1 {
		t.Fatalf("update within owner a woke %d", n)
	}
	if _, err := st.Update("items", "1", store.Record{"owner": "b"}); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 2 {
		t.Fatalf("update from a to b woke %d", n)
	}
	if err := e.DefineQuery("both", func(ctx *store.QueryContext, _ any) (any, error) {
		if _, err := ctx.Get("items", "1"); err != nil {
			return nil, err
		}
		return ctx.Count("items", nil)
	}); err != nil {
		t.Fatal(err)
	}
	_, _, _ = sub(t, e, "both", nil)
	if _, err := st.Update("items", "1", store.Record{"n": float64(2)}); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 2 { // the b instance and the Go-function one
		t.Fatalf("update woke %d", n)
	}
}

// TestDeclarativeMatchesCompiledFilter: evaluating a query (its filter
// decoded once, compiled with shared parts or precompiled when it has no
// placeholder) counts what the filter compiled from its JSON selects.
func TestDeclarativeMatchesCompiledFilter(t *testing.T) {
	st, _ := setup(t, nil)
	for i := 0; i < 30; i++ {
		rec := store.Record{"id": fmt.Sprint(i), "n": float64(i % 7)}
		if i%3 != 0 {
			rec["owner"] = fmt.Sprint("o", i%4)
		}
		if _, err := st.Insert("items", rec); err != nil {
			t.Fatal(err)
		}
	}
	filters := []string{
		`{"owner":"o1"}`,
		`{"n":{"$gte":3},"$or":[{"owner":"o1"},{"owner":{"$exists":false}}]}`,
		`{"owner":"{{ params.owner }}","n":{"$lt":"{{params.max}}"}}`,
		`{"$or":[{"owner":"{{ params.owner }}"},{"n":{"$in":["{{ params.n }}",6]}}],"id":{"$neq":"3"}}`,
		`{"n":{"$between":["{{ params.lo }}","{{ params.hi }}"]},"owner":{"$startsWith":"o"}}`,
		`{"$and":[{"owner":"{{ params.owner }}"},{"n":1}]}`,
	}
	params := []map[string]any{
		nil,
		{"owner": "o1", "max": float64(4), "n": float64(2), "lo": float64(1), "hi": float64(5)},
		{"owner": "o2"},
		{"owner": map[string]any{"$in": []any{"o1", "o3"}}, "n": nil, "lo": float64(0), "hi": float64(9)},
	}
	for _, f := range filters {
		decl, err := store.ParseDeclarativeQuery(json.RawMessage(`{"bucket":"items","filter":` + f + `,"aggregate":{"function":"count"}}`))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range params {
			for rep := 0; rep < 2; rep++ { // the cached template must not change
				data, _, err := st.RunDeclarative(decl, p)
				cf, cerr := store.CompileQueryFilter(json.RawMessage(f), p)
				if (err == nil) != (cerr == nil) {
					t.Fatalf("%s %v: %v vs %v", f, p, err, cerr)
				}
				if err != nil {
					continue
				}
				want, err := st.Count("items", cf)
				if err != nil {
					t.Fatal(err)
				}
				if string(data) != fmt.Sprint(want) {
					t.Fatalf("%s %v: got %s want %d", f, p, data, want)
				}
			}
		}
	}
}
