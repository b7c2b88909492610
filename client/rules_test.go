package client

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestRulesFacts(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	r := c.Rules()

	f := must[Fact](t)(r.SetFact(ctx, "user:1:name", "Ann"))
	if f.Key != "user:1:name" || f.Version != 1 || f.Source != "api" {
		t.Fatalf("fact %+v", f)
	}
	f = must[Fact](t)(r.SetFact(ctx, "user:1:name", "Anna"))
	var v string
	if check(t, f.Decode(&v)); v != "Anna" || f.Version != 2 {
		t.Fatalf("fact %+v", f)
	}
	must[Fact](t)(r.SetFact(ctx, "user:2:age", 41))
	must[Fact](t)(r.SetFact(ctx, "user:3:name", nil))

	if name := must[string](t)(As[string](r.GetFact(ctx, "user:1:name"))); name != "Anna" {
		t.Fatalf("GetFact = %q", name)
	}
	if age := must[int](t)(As[int](r.GetFact(ctx, "user:2:age"))); age != 41 {
		t.Fatalf("GetFact = %d", age)
	}
	if raw := must[json.RawMessage](t)(r.GetFact(ctx, "nope")); string(raw) != "null" {
		t.Fatalf("GetFact missing = %s", raw)
	}
	if fs := must[[]Fact](t)(r.QueryFacts(ctx, "user:*:name")); len(fs) != 2 || fs[1].Key != "user:3:name" {
		t.Fatalf("QueryFacts %+v", fs)
	}
	if ok := must[bool](t)(r.DeleteFact(ctx, "user:3:name")); !ok {
		t.Fatal("DeleteFact existing = false")
	}
	if ok := must[bool](t)(r.DeleteFact(ctx, "user:3:name")); ok {
		t.Fatal("DeleteFact missing = true")
	}
	if fs := must[[]Fact](t)(r.AllFacts(ctx)); len(fs) != 2 {
		t.Fatalf("AllFacts %+v", fs)
	}
	_, err := r.SetFact(ctx, "", 1)
	wantCode(t, err, CodeValidation)
}

var bigOrder = Rule{
	ID: "big-order", Name: "Big order", Priority: 10, Tags: []string{"orders"},
	Trigger: map[string]any{"type": "event", "topic": "order.created"},
	Conditions: []any{map[string]any{
		"source": map[string]any{"type": "event", "field": "total"}, "operator": "gt", "value": 100}},
	Actions: []any{map[string]any{"type": "emit_event", "topic": "alert.big-order",
		"data": map[string]any{"total": map[string]any{"ref": "event.total"}}}},
}

func TestRulesAdministration(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	r := c.Rules()

	info := must[RuleInfo](t)(r.RegisterRule(ctx, bigOrder))
	if info.ID != "big-order" || info.Version == 0 || info.CreatedAt == 0 {
		t.Fatalf("RegisterRule %+v", info)
	}
	_, err := r.RegisterRule(ctx, bigOrder)
	wantCode(t, err, CodeAlreadyExists)
	_, err = r.RegisterRule(ctx, Rule{ID: "bad", Name: "x"})
	e := wantCode(t, err, CodeValidation)
	var issues []RuleIssue
	if check(t, e.DecodeDetails(&issues)); len(issues) == 0 || issues[0].Path != "trigger" {
		t.Fatalf("issues %+v", issues)
	}

	rules := must[[]RuleSummary](t)(r.GetRules(ctx))
	if len(rules) != 1 || rules[0].ID != "big-order" || !rules[0].Enabled || !slices.Equal(rules[0].Tags, []string{"orders"}) {
		t.Fatalf("GetRules %+v", rules)
	}
	full := must[Rule](t)(r.GetRule(ctx, "big-order"))
	if full.Name != "Big order" || full.Trigger == nil || len(full.Actions) != 1 || full.Enabled == nil || !*full.Enabled {
		t.Fatalf("GetRule %+v", full)
	}
	upd := must[RuleInfo](t)(r.UpdateRule(ctx, "big-order", map[string]any{"priority": 5}))
	if upd.Version <= info.Version {
		t.Fatalf("UpdateRule %+v", upd)
	}
	_, err = r.UpdateRule(ctx, "nope", map[string]any{"priority": 5})
	wantCode(t, err, CodeNotFound)

	check(t, r.DisableRule(ctx, "big-order"))
	if full = must[Rule](t)(r.GetRule(ctx, "big-order")); *full.Enabled || full.Priority != 5 {
		t.Fatalf("after disable %+v", full)
	}
	check(t, r.EnableRule(ctx, "big-order"))
	wantCode(t, r.EnableRule(ctx, "nope"), CodeNotFound)

	val := must[RuleValidation](t)(r.ValidateRule(ctx, map[string]any{"id": "q"}))
	if val.Valid || len(val.Errors) != 2 || val.Warnings == nil {
		t.Fatalf("ValidateRule %+v", val)
	}
	if val = must[RuleValidation](t)(r.ValidateRule(ctx, bigOrder)); !val.Valid {
		t.Fatalf("ValidateRule valid %+v", val)
	}

	stats := must[RulesStats](t)(r.Stats(ctx))
	if stats.RulesCount != 1 {
		t.Fatalf("stats %+v", stats)
	}
	check(t, r.UnregisterRule(ctx, "big-order"))
	wantCode(t, r.UnregisterRule(ctx, "big-order"), CodeNotFound)
	_, err = r.GetRule(ctx, "big-order")
	wantCode(t, err, CodeNotFound)
}

func TestRulesSubscription(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	r := c.Rules()
	must[RuleInfo](t)(r.RegisterRule(ctx, bigOrder))

	alerts := make(chan Event, 8)
	alertSub := must[*Subscription](t)(r.Subscribe(ctx, "alert.*", OnEvent(func(ev Event) { alerts <- ev })))
	if alertSub.Pattern() != "alert.*" {
		t.Fatal(alertSub.Pattern())
	}
	orders := must[*Subscription](t)(r.Subscribe(ctx, "order.*"))

	ev := must[Event](t)(r.Emit(ctx, "order.created", map[string]any{"total": 50}))
	if ev.Topic != "order.created" || ev.ID == "" || ev.Source != "api" {
		t.Fatalf("Emit %+v", ev)
	}
	ev = must[Event](t)(r.EmitCorrelated(ctx, "order.created", map[string]any{"total": 150}, "corr-1", "evt-0"))
	if ev.CorrelationID != "corr-1" || ev.CausationID != "evt-0" {
		t.Fatalf("EmitCorrelated %+v", ev)
	}
	must[Event](t)(r.Emit(ctx, "order.cancelled", nil))

	for i, want := range []string{"order.created", "order.created", "order.cancelled"} {
		u := next(t, orders)
		got, err := u.Event()
		if err != nil || u.Kind != UpdateChange || got.Topic != want {
			t.Fatalf("order event %d: %+v %v", i, got, err)
		}
	}
	select {
	case a := <-alerts:
		var d struct{ Total float64 }
		if check(t, a.Decode(&d)); a.Topic != "alert.big-order" || d.Total != 150 || a.CorrelationID != "corr-1" {
			t.Fatalf("alert %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert")
	}
	select {
	case a := <-alerts:
		t.Fatalf("second alert %+v", a)
	case <-time.After(50 * time.Millisecond):
	}

	check(t, orders.Unsubscribe(ctx))
	must[Event](t)(r.Emit(ctx, "order.created", map[string]any{"total": 1}))
	if _, ok := <-orders.Updates(); ok {
		t.Fatal("event after Unsubscribe")
	}
}

// A consumer that falls behind loses the oldest events beyond EventBuffer
// and is told how many.
func TestEventBufferOverflow(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	var (
		mu      sync.Mutex
		dropped int64
	)
	c := dial(t, ts.url, &Config{EventBuffer: 2, OnEventsDropped: func(_ *Subscription, n int64) {
		mu.Lock()
		dropped += n
		mu.Unlock()
	}})
	ctx := testCtx(t)
	release := make(chan struct{})
	var got []float64
	gotAll := make(chan struct{})
	sub := must[*Subscription](t)(c.Rules().Subscribe(ctx, "tick", OnEvent(func(ev Event) {
		<-release
		var d struct{ N float64 }
		_ = ev.Decode(&d)
		got = append(got, d.N)
		if d.N == 9 {
			close(gotAll)
		}
	})))
	for i := range 10 {
		must[Event](t)(c.Rules().Emit(ctx, "tick", map[string]any{"N": i}))
	}
	close(release)
	select {
	case <-gotAll:
	case <-time.After(5 * time.Second):
		t.Fatal("last event not delivered")
	}
	eventually(t, "drops reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return dropped > 0 && int(dropped)+len(got) == 10
	})
	check(t, sub.Unsubscribe(ctx))
}
