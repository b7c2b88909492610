package rules

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestActionSetAndDeleteFact(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("set", eventTrigger("order.created"), "", `[
		{"type":"set_fact","key":"order:${event.orderId}:total","value":{"ref":"event.total"}},
		{"type":"set_fact","key":"order:${event.orderId}:lit","value":{"nested":{"ref":"event.total"}}},
		{"type":"set_fact","key":"order:${event.orderId}:missing","value":{"ref":"event.nope"}},
		{"type":"delete_fact","key":"stale:${event.orderId}"},
		{"type":"delete_fact","key":"never-existed"}]`))
	// A fact rule must NOT be triggered by set_fact actions.
	te.register(rule("fact-rule", `{"type":"fact","pattern":"order:*:total"}`, "", `[{"type":"set_fact","key":"fact-rule-ran","value":true}]`))
	te.setFact("stale:7", "x")
	te.emit("order.created", `{"orderId":7,"total":120}`)
	f, ok := te.GetFactFull("order:7:total")
	if !ok || f.Value != 120.0 || f.Source != "rule" || f.Version != 1 {
		t.Fatalf("set_fact: %+v", f)
	}
	if got := jsonString(te.fact("order:7:lit")); got != `{"nested":{"ref":"event.total"}}` {
		t.Fatalf("nested refs are not resolved: %s", got)
	}
	if v, ok := te.GetFact("order:7:missing"); !ok || v != nil {
		t.Fatalf("absent value is stored as null: %v %v", v, ok)
	}
	if _, ok := te.GetFact("stale:7"); ok {
		t.Fatal("delete_fact")
	}
	if _, ok := te.GetFact("fact-rule-ran"); ok {
		t.Fatal("set_fact must not trigger fact rules")
	}
	if s := te.Stats(); s.ActionsFailed != 0 || s.RulesExecuted != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestActionEmitEvent(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("*", rec.add)
	te.register(rule("fwd", eventTrigger("order.created"), "", `[
		{"type":"emit_event","topic":"order.${event.kind}","data":{"orderId":{"ref":"event.orderId"},"rate":0.1,"gone":{"ref":"event.nope"},"first":{"ref":"matched.0.orderId"}}}]`))
	ev, err := te.EmitCorrelated(context.Background(), "order.created", obj(t, `{"orderId":"o-1","kind":"discounted"}`), "corr-1", "cause-0")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source != "api" || ev.CorrelationID != "corr-1" || ev.CausationID != "cause-0" {
		t.Fatalf("api event %+v", ev)
	}
	if len(rec.events) != 2 {
		t.Fatalf("events %v", rec.topics())
	}
	out := rec.events[1]
	if out.Topic != "order.discounted" || out.Source != "rule" || out.CorrelationID != "corr-1" || out.CausationID != "" {
		t.Fatalf("rule event %+v", out)
	}
	if got := jsonString(out.Data); got != `{"first":"o-1","orderId":"o-1","rate":0.1}` {
		t.Fatalf("data %s", got)
	}
	if te.Stats().EventsProcessed != 2 {
		t.Fatal("both events counted")
	}
}

func TestActionTimers(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("order.*", rec.add)
	te.register(rule("arm", eventTrigger("order.created"), "", `[
		{"type":"set_timer","timer":{"name":"pay:${event.orderId}","duration":"15m",
			"onExpire":{"topic":"order.${event.next}","data":{"orderId":{"ref":"event.orderId"}}}}}]`))
	te.register(rule("disarm", eventTrigger("order.paid"), "", `[{"type":"cancel_timer","name":"pay:${event.orderId}"},{"type":"cancel_timer","name":"none"}]`))
	_, _ = te.EmitCorrelated(context.Background(), "order.created", obj(t, `{"orderId":"o1","next":"timeout"}`), "c1", "")
	te.emit("order.created", `{"orderId":"o2","next":"timeout"}`)
	tm, ok := te.GetTimer("pay:o1")
	if !ok || tm.ExpiresAt != te.clock.Now().Add(15*time.Minute).UnixMilli() || tm.CorrelationID != "c1" || tm.OnExpire.Topic != "order.timeout" {
		t.Fatalf("timer %+v", tm)
	}
	te.emit("order.paid", `{"orderId":"o2"}`)
	if _, ok := te.GetTimer("pay:o2"); ok {
		t.Fatal("cancel_timer")
	}
	te.clock.Advance(15 * time.Minute)
	got := rec.topics()
	if !reflect.DeepEqual(got, []string{"order.created", "order.created", "order.paid", "order.timeout"}) {
		t.Fatalf("events %v", got)
	}
	last := rec.events[3]
	if last.Source != "timer" || last.CausationID != tm.ID || last.CorrelationID != "c1" || last.Data["orderId"] != "o1" {
		t.Fatalf("timer event %+v", last)
	}
	if len(te.Timers()) != 0 || te.Stats().TimersCount != 0 {
		t.Fatal("one-shot timer removed after firing")
	}
	// An unknown reference in the name fails the action.
	te.register(rule("bad", eventTrigger("bad"), "", `[{"type":"set_timer","timer":{"name":"${x.y}","duration":"1s","onExpire":{"topic":"t","data":{}}}}]`))
	te.emit("bad", "")
	if te.Stats().ActionsFailed != 1 || !strings.Contains(te.logs.String(), "Unknown reference source: x") {
		t.Fatalf("bad duration: %+v\n%s", te.Stats(), te.logs.String())
	}
}

func TestActionCallService(t *testing.T) {
	t.Parallel()
	var got [][]any
	te := newTestEngine(t, Options{Services: map[string]Service{
		"mail": {
			"send": func(ctx context.Context, args []any) (any, error) { got = append(got, args); return "ok", nil },
			"fail": func(ctx context.Context, args []any) (any, error) { return nil, errors.New("smtp down") },
			"boom": func(ctx context.Context, args []any) (any, error) { panic("kaboom") },
		},
	}})
	te.register(rule("r", eventTrigger("go"), "", `[
		{"type":"call_service","service":"mail","method":"send","args":[{"ref":"event.to"},"lit",{"ref":"event.nope"},{"x":{"ref":"event.to"}}]},
		{"type":"call_service","service":"nope","method":"send"},
		{"type":"call_service","service":"mail","method":"nope"},
		{"type":"call_service","service":"mail","method":"fail"},
		{"type":"call_service","service":"mail","method":"boom"},
		{"type":"call_service","service":"mail","method":"send"}]`))
	te.emit("go", `{"to":"a@b"}`)
	if len(got) != 2 || jsonString(got[0]) != `["a@b","lit",null,{"x":{"ref":"event.to"}}]` || len(got[1]) != 0 {
		t.Fatalf("calls %s", jsonString(got))
	}
	logs := te.logs.String()
	for _, msg := range []string{"Service not found: nope", "Method not found: mail.nope", "smtp down", "service mail.boom panicked: kaboom"} {
		if !strings.Contains(logs, msg) {
			t.Errorf("log lacks %q", msg)
		}
	}
	if s := te.Stats(); s.ActionsFailed != 4 || s.RulesExecuted != 1 {
		t.Fatalf("failing actions are counted and do not stop the rule: %+v", s)
	}
	// SetService adds one later.
	_ = te.SetService(context.Background(), "late", Service{"m": func(context.Context, []any) (any, error) { return nil, nil }})
	te.register(rule("r2", eventTrigger("late"), "", `[{"type":"call_service","service":"late","method":"m"}]`))
	te.emit("late", "")
	if te.Stats().ActionsFailed != 4 {
		t.Fatal("late service")
	}
}

func TestActionLog(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("r", eventTrigger("go"), "", `[
		{"type":"log","level":"warn","message":"order ${event.id} is late"},
		{"type":"log","level":"debug","message":"dbg"},
		{"type":"log","level":"error","message":"${oops.x}"}]`))
	te.emit("go", `{"id":42}`)
	logs := te.logs.String()
	if !strings.Contains(logs, `level=WARN msg="order 42 is late" rule=r`) || !strings.Contains(logs, "level=DEBUG msg=dbg") {
		t.Fatalf("logs:\n%s", logs)
	}
	if te.Stats().ActionsFailed != 1 {
		t.Fatal("unknown reference in a log message fails the action")
	}
}

func TestActionConditional(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("r", eventTrigger("go"), "", `[
		{"type":"conditional",
		 "conditions":[{"source":{"type":"event","field":"n"},"operator":"gt","value":10}],
		 "then":[{"type":"set_fact","key":"branch","value":"then"},{"type":"delete_fact","key":"${bad.x}"},{"type":"set_fact","key":"after","value":1}],
		 "else":[{"type":"set_fact","key":"branch","value":"else"}]},
		{"type":"conditional",
		 "conditions":[{"source":{"type":"event","field":"n"},"operator":"lt","value":0}],
		 "then":[{"type":"set_fact","key":"neg","value":true}]}]`))
	te.emit("go", `{"n":11}`)
	if te.fact("branch") != "then" || te.fact("after") != 1.0 {
		t.Fatal("then branch; a failing nested action does not stop the branch")
	}
	te.emit("go", `{"n":5}`)
	if te.fact("branch") != "else" {
		t.Fatal("else branch")
	}
	if _, ok := te.GetFact("neg"); ok {
		t.Fatal("no else: nothing runs")
	}
	if te.Stats().ActionsFailed != 1 {
		t.Fatalf("nested failure counted once: %+v", te.Stats())
	}
}

func TestActionForEach(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("r", eventTrigger("go"), "", `[
		{"type":"for_each","collection":{"ref":"event.items"},"as":"item","actions":[
			{"type":"set_fact","key":"item:${var.item_index}:${var.item.sku}","value":{"ref":"var.item.qty"}},
			{"type":"conditional","conditions":[{"source":{"type":"context","key":"item.qty"},"operator":"gt","value":1}],
			 "then":[{"type":"set_fact","key":"multi:${var.item.sku}","value":true}]}]},
		{"type":"set_fact","key":"after","value":{"ref":"var.item"}},
		{"type":"for_each","collection":[1,2,3,4],"as":"n","maxIterations":2,"actions":[{"type":"set_fact","key":"n:${var.n}","value":1}]},
		{"type":"for_each","collection":{"ref":"event.notalist"},"as":"x","actions":[{"type":"set_fact","key":"never","value":1}]}]`))
	te.emit("go", `{"items":[{"sku":"A","qty":1},{"sku":"B","qty":3}],"notalist":"x"}`)
	if te.fact("item:0:A") != 1.0 || te.fact("item:1:B") != 3.0 || te.fact("multi:B") != true {
		t.Fatalf("facts %s", jsonString(te.GetAllFacts()))
	}
	if _, ok := te.GetFact("multi:A"); ok {
		t.Fatal("context condition")
	}
	if v, ok := te.GetFact("after"); !ok || v != nil {
		t.Fatal("loop variables are removed afterwards")
	}
	if _, ok := te.GetFact("n:3"); ok || te.fact("n:2") != 1.0 {
		t.Fatal("maxIterations")
	}
	if _, ok := te.GetFact("never"); ok || te.Stats().ActionsFailed != 1 {
		t.Fatal("a non-array collection fails the action")
	}
}

func TestActionTryCatch(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{Services: map[string]Service{"s": {"fail": func(context.Context, []any) (any, error) {
		return nil, errors.New("nope")
	}}}})
	te.register(rule("r", eventTrigger("go"), "", `[
		{"type":"try_catch",
		 "try":[{"type":"set_fact","key":"t1","value":1},{"type":"call_service","service":"s","method":"fail"},{"type":"set_fact","key":"t2","value":1}],
		 "catch":{"as":"err","actions":[{"type":"set_fact","key":"caught","value":{"ref":"var.err.message"}}]},
		 "finally":[{"type":"set_fact","key":"fin","value":1}]},
		{"type":"try_catch","try":[{"type":"set_fact","key":"ok","value":1}],
		 "catch":{"actions":[{"type":"set_fact","key":"wrongly-caught","value":1}]},"finally":[{"type":"set_fact","key":"fin2","value":1}]},
		{"type":"try_catch","try":[{"type":"call_service","service":"s","method":"fail"}],"finally":[{"type":"set_fact","key":"fin3","value":1}]},
		{"type":"set_fact","key":"next","value":1}]`))
	te.emit("go", "")
	want := map[string]any{"t1": 1.0, "caught": "nope", "fin": 1.0, "ok": 1.0, "fin2": 1.0, "fin3": 1.0, "next": 1.0}
	for k, v := range want {
		if te.fact(k) != v {
			t.Errorf("fact %s = %v, want %v", k, te.fact(k), v)
		}
	}
	for _, k := range []string{"t2", "wrongly-caught"} {
		if _, ok := te.GetFact(k); ok {
			t.Errorf("fact %s must not be set", k)
		}
	}
	if te.Stats().ActionsFailed != 0 {
		t.Fatal("caught failures are handled: try_catch never fails")
	}
}

func TestFailingActionDoesNotStopRule(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("r", eventTrigger("go"), "", `[
		{"type":"set_fact","key":"a","value":1},
		{"type":"emit_event","topic":"${unknown.x}","data":{}},
		{"type":"set_fact","key":"b","value":{"ref":"nope.x"}},
		{"type":"set_fact","key":"c","value":1}]`))
	te.emit("go", "")
	if te.fact("a") != 1.0 || te.fact("c") != 1.0 {
		t.Fatal("actions after a failure must run")
	}
	s := te.Stats()
	if s.ActionsFailed != 2 || s.RulesExecuted != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := strings.Count(te.logs.String(), "action failed"); n != 2 {
		t.Fatalf("each failure logged: %d\n%s", n, te.logs.String())
	}
}

func TestLoopIsCutOff(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("ping", rec.add)
	// Direct loop: the rule re-emits its own trigger.
	te.register(rule("loop", eventTrigger("ping"), "", `[
		{"type":"set_fact","key":"count","value":{"ref":"event.n"}},
		{"type":"emit_event","topic":"ping","data":{"n":{"ref":"event.n"}}}]`))
	done := make(chan struct{})
	go func() {
		te.emit("ping", `{"n":1}`)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a self-triggering rule hung")
	}
	s := te.Stats()
	if s.RulesExecuted != 10 || s.EventsProcessed != 11 || s.DepthCutoffs != 1 || rec.len() != 11 {
		t.Fatalf("depth 10: %+v, pushes %d", s, rec.len())
	}
	if !strings.Contains(te.logs.String(), "forward-chaining depth limit reached") {
		t.Fatal("the cut-off is logged")
	}
}

func TestChainCutOffThroughOtherRules(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{MaxForwardDepth: 4})
	te.register(rule("a", eventTrigger("a"), "", `[{"type":"emit_event","topic":"b","data":{}}]`))
	te.register(rule("b", eventTrigger("b"), "", `[{"type":"emit_event","topic":"c","data":{}}]`))
	te.register(rule("c", eventTrigger("c"), "", `[{"type":"emit_event","topic":"a","data":{}}]`))
	te.emit("a", "")
	if s := te.Stats(); s.RulesExecuted != 4 || s.DepthCutoffs != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestLoopThroughServiceIsCutOff(t *testing.T) {
	t.Parallel()
	var te *testEngine
	calls := 0
	te = newTestEngine(t, Options{Services: map[string]Service{"svc": {
		// A service that emits back into the engine with its context runs
		// inline (no deadlock) and counts toward the depth limit.
		"emit": func(ctx context.Context, args []any) (any, error) {
			calls++
			_, err := te.Emit(ctx, "again", nil)
			return nil, err
		},
	}}})
	te.register(rule("r", eventTrigger("again"), "", `[{"type":"call_service","service":"svc","method":"emit"}]`))
	te.emit("again", "")
	if calls != 10 || te.Stats().DepthCutoffs != 1 {
		t.Fatalf("calls %d stats %+v", calls, te.Stats())
	}
}

func TestRuleTriggers(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("fact", `{"type":"fact","pattern":"customer:*:tier"}`, "", `[
		{"type":"set_fact","key":"seen:${event.fact.key}","value":{"ref":"event.fact.value"}},
		{"type":"set_fact","key":"ver","value":{"ref":"trigger.fact.version"}}]`))
	te.setFact("customer:1:tier", "gold")
	te.setFact("customer:1:tier", "gold") // equal value still triggers and bumps
	te.setFact("customer:1:name", "x")
	if te.fact("seen:customer:1:tier") != "gold" || te.fact("ver") != 2.0 {
		t.Fatalf("facts %s", jsonString(te.GetAllFacts()))
	}
	if _, ok := te.GetFact("seen:customer:1:name"); ok {
		t.Fatal("pattern mismatch")
	}
	// deleteFact never triggers rules.
	ran := te.Stats().RulesExecuted
	if ok, _ := te.DeleteFact(context.Background(), "customer:1:tier"); !ok {
		t.Fatal("delete")
	}
	if ok, _ := te.DeleteFact(context.Background(), "customer:1:tier"); ok {
		t.Fatal("second delete reports false")
	}
	if te.Stats().RulesExecuted != ran {
		t.Fatal("deleteFact must not trigger rules")
	}
	// Timer trigger data.
	te.register(rule("tm", `{"type":"timer","name":"pay:*"}`, "", `[
		{"type":"set_fact","key":"timer","value":{"ref":"event.timerName"}},
		{"type":"set_fact","key":"timer-order","value":{"ref":"event.orderId"}},
		{"type":"set_fact","key":"timer-corr","value":{"ref":"event.correlationId"}},
		{"type":"emit_event","topic":"from.timer.rule","data":{}}]`))
	rec := &recorder{}
	te.Subscribe("from.*", rec.add)
	_, err := te.SetTimer(context.Background(), TimerConfig{Name: "pay:1", Duration: "1s", CorrelationID: "cc",
		OnExpire: TimerEvent{Topic: "from.timer", Data: map[string]any{"orderId": "o9"}}})
	if err != nil {
		t.Fatal(err)
	}
	te.clock.Advance(time.Second)
	if te.fact("timer") != "pay:1" || te.fact("timer-order") != "o9" || te.fact("timer-corr") != "cc" {
		t.Fatalf("timer trigger data %s", jsonString(te.GetAllFacts()))
	}
	// Timer rules run first, then the onExpire event; actions inherit
	// the timer's correlationId.
	if got := rec.topics(); !reflect.DeepEqual(got, []string{"from.timer.rule", "from.timer"}) {
		t.Fatalf("order %v", got)
	}
	if rec.events[0].CorrelationID != "cc" {
		t.Fatal("correlation inherited from the timer")
	}
}

func TestLookups(t *testing.T) {
	t.Parallel()
	calls := 0
	te := newTestEngine(t, Options{Services: map[string]Service{"scoring": {
		"score": func(_ context.Context, args []any) (any, error) {
			calls++
			if args[0] == "bad" {
				return nil, errors.New("no score")
			}
			return map[string]any{"value": 700.0, "for": args[0]}, nil
		},
	}}})
	te.register(`{"id":"l","name":"l","trigger":{"type":"event","topic":"check"},
		"lookups":[{"name":"credit","service":"scoring","method":"score","args":[{"ref":"event.customer"}],"cache":{"ttl":"5m"}}],
		"conditions":[{"source":{"type":"lookup","name":"credit","field":"value"},"operator":"gte","value":650}],
		"actions":[{"type":"set_fact","key":"ok:${lookup.credit.for}","value":{"ref":"lookup.credit.value"}}]}`)
	te.emit("check", `{"customer":"c1"}`)
	te.emit("check", `{"customer":"c1"}`)
	if te.fact("ok:c1") != 700.0 || calls != 1 {
		t.Fatalf("lookup/cache: calls=%d facts=%s", calls, jsonString(te.GetAllFacts()))
	}
	te.clock.Advance(6 * time.Minute)
	te.emit("check", `{"customer":"c1"}`)
	if calls != 2 {
		t.Fatal("cache expired")
	}
	// onError skip (default): rule skipped, not an error.
	te.emit("check", `{"customer":"bad"}`)
	if s := te.Stats(); s.RulesFailed != 0 || s.RulesExecuted != 3 {
		t.Fatalf("skip: %+v", s)
	}
	// onError fail: the rule aborts with a logged error.
	te.register(`{"id":"f","name":"f","trigger":{"type":"event","topic":"check2"},
		"lookups":[{"name":"credit","service":"scoring","method":"score","args":["bad"],"onError":"fail"}],
		"actions":[{"type":"set_fact","key":"f-ran","value":1}]}`)
	te.emit("check2", "")
	if _, ok := te.GetFact("f-ran"); ok || te.Stats().RulesFailed != 1 || !strings.Contains(te.logs.String(), "no score") {
		t.Fatalf("fail: %+v", te.Stats())
	}
}

func TestConditionErrorSkipsRule(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("r", eventTrigger("go"), `[{"source":{"type":"fact","pattern":"${what.x}"},"operator":"exists"}]`,
		`[{"type":"set_fact","key":"ran","value":1}]`))
	te.emit("go", "")
	if _, ok := te.GetFact("ran"); ok || te.Stats().RulesFailed != 1 || te.Stats().RulesExecuted != 0 {
		t.Fatalf("%+v", te.Stats())
	}
}
