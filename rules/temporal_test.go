package rules

import (
	"context"
	"testing"
	"time"
)

func temporalDef(id, pattern, actions string) string {
	return rule(id, `{"type":"temporal","pattern":`+pattern+`}`, "", actions)
}

func TestSequence(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(temporalDef("seq", `{"type":"sequence","within":"10m","groupBy":"orderId",
		"events":[{"topic":"order.created","as":"created"},{"topic":"payment.*","filter":{"status":"ok"}},{"topic":"order.shipped"}]}`,
		`[{"type":"set_fact","key":"done:${event.groupKey}","value":{"ref":"matched.1.amount"}},
		  {"type":"set_fact","key":"alias:${event.groupKey}","value":{"ref":"event.created.customer"}},
		  {"type":"set_fact","key":"count:${event.groupKey}","value":{"ref":"event.events.length"}}]`))
	te.emit("order.created", `{"orderId":"A","customer":"c1"}`)
	te.emit("order.created", `{"orderId":"B","customer":"c2"}`)
	te.emit("order.created", `{"orderId":"A","customer":"ignored"}`) // A already in progress
	te.emit("payment.card", `{"orderId":"A","status":"failed","amount":1}`)
	te.emit("order.shipped", `{"orderId":"A"}`) // out of order (not strict): ignored
	te.emit("payment.card", `{"orderId":"A","status":"ok","amount":50}`)
	te.clock.Advance(5 * time.Minute)
	te.emit("order.shipped", `{"orderId":"A"}`)
	if te.fact("done:A") != 50.0 || te.fact("alias:A") != "c1" || te.fact("count:A") != 3.0 {
		t.Fatalf("facts %s", jsonString(te.GetAllFacts()))
	}
	// B expires: its steps arrive after the window.
	te.clock.Advance(6 * time.Minute)
	te.emit("payment.card", `{"orderId":"B","status":"ok","amount":1}`)
	te.emit("order.shipped", `{"orderId":"B"}`)
	if _, ok := te.GetFact("done:B"); ok {
		t.Fatal("sequence B should have expired")
	}
	if te.Stats().TemporalMatches != 1 {
		t.Fatalf("matches %d", te.Stats().TemporalMatches)
	}
}

func TestSequenceStrictAndUngrouped(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(temporalDef("strict", `{"type":"sequence","within":"1m","strict":true,"events":[{"topic":"a"},{"topic":"b"}]}`,
		`[{"type":"set_fact","key":"strict","value":{"ref":"matched.0.n"}}]`))
	te.register(temporalDef("loose", `{"type":"sequence","within":"1m","events":[{"topic":"a"},{"topic":"b"}]}`,
		`[{"type":"set_fact","key":"loose:${matched.0.n}","value":true}]`))
	te.emit("a", `{"n":1}`)
	te.emit("x", `{}`) // kills the strict instance
	te.emit("b", `{}`)
	if _, ok := te.GetFact("strict"); ok {
		t.Fatal("strict: an unexpected event kills the instance")
	}
	if te.fact("loose:1") != true {
		t.Fatal("loose matches")
	}
	// Without groupBy every first event starts another instance.
	te.emit("a", `{"n":2}`)
	te.emit("a", `{"n":3}`)
	te.emit("b", `{}`)
	if te.fact("loose:2") != true || te.fact("loose:3") != true {
		t.Fatalf("both instances complete: %s", jsonString(te.GetAllFacts()))
	}
	if te.fact("strict") != 3.0 {
		t.Fatalf("strict instance started by the last a: %v", te.fact("strict"))
	}
}

func TestAbsence(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("alert.*", rec.add)
	te.register(temporalDef("unpaid", `{"type":"absence","within":"15m","groupBy":"orderId",
		"after":{"topic":"order.created","as":"order"},"expected":{"topic":"payment.received"}}`,
		`[{"type":"emit_event","topic":"alert.unpaid","data":{"orderId":{"ref":"event.groupKey"},"total":{"ref":"event.order.total"},"first":{"ref":"matched.0.orderId"}}}]`))
	_, _ = te.EmitCorrelated(context.Background(), "order.created", obj(t, `{"orderId":"A","total":10}`), "corr-A", "")
	te.emit("order.created", `{"orderId":"B","total":20}`)
	te.clock.Advance(10 * time.Minute)
	te.emit("payment.received", `{"orderId":"B"}`)
	te.clock.Advance(4 * time.Minute)
	if rec.len() != 0 {
		t.Fatal("too early")
	}
	te.clock.Advance(time.Minute)
	if rec.len() != 1 {
		t.Fatalf("A unpaid after 15m: %v", rec.topics())
	}
	got := rec.events[0]
	if got.Data["orderId"] != "A" || got.Data["total"] != 10.0 || got.Data["first"] != "A" || got.CorrelationID != "corr-A" {
		t.Fatalf("alert %+v", got)
	}
	te.clock.Advance(time.Hour)
	if rec.len() != 1 {
		t.Fatal("B was paid; no second alert")
	}
	// Unregistering a rule cancels its pending timeouts.
	te.emit("order.created", `{"orderId":"C"}`)
	if err := te.UnregisterRule(context.Background(), "unpaid"); err != nil {
		t.Fatal(err)
	}
	te.clock.Advance(time.Hour)
	if rec.len() != 1 {
		t.Fatal("unregistered absence rule fired")
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(temporalDef("brute", `{"type":"count","event":{"topic":"auth.*","filter":{"ok":false}},"threshold":3,"window":"1m","groupBy":"user"}`,
		`[{"type":"set_fact","key":"lock:${event.groupKey}","value":{"ref":"event.count"}}]`))
	fail := func(user string) { te.emit("auth.login", `{"ok":false,"user":"`+user+`"}`) }
	fail("ann")
	fail("bob")
	te.emit("auth.login", `{"ok":true,"user":"ann"}`) // filtered out
	fail("ann")
	if _, ok := te.GetFact("lock:ann"); ok {
		t.Fatal("2 failures only")
	}
	te.clock.Advance(61 * time.Second) // the first two leave the window
	fail("ann")
	if _, ok := te.GetFact("lock:ann"); ok {
		t.Fatal("window slid")
	}
	fail("ann")
	fail("ann")
	if te.fact("lock:ann") != 3.0 {
		t.Fatalf("3 in the window: %s", jsonString(te.GetAllFacts()))
	}
	fail("ann") // every qualifying event matches again
	if te.fact("lock:ann") != 4.0 || te.Stats().TemporalMatches != 2 {
		t.Fatal("no de-duplication")
	}
	if _, ok := te.GetFact("lock:bob"); ok {
		t.Fatal("groups are counted apart")
	}
	// lte and eq comparisons.
	te.register(temporalDef("quiet", `{"type":"count","event":{"topic":"hb"},"threshold":1,"comparison":"lte","window":"1m"}`,
		`[{"type":"set_fact","key":"quiet","value":{"ref":"event.count"}}]`))
	te.register(temporalDef("exact", `{"type":"count","event":{"topic":"hb"},"threshold":2,"comparison":"eq","window":"1m"}`,
		`[{"type":"set_fact","key":"exact","value":{"ref":"event.count"}}]`))
	te.emit("hb", "")
	if te.fact("quiet") != 1.0 {
		t.Fatal("lte")
	}
	te.emit("hb", "")
	if te.fact("exact") != 2.0 || te.fact("quiet") != 1.0 {
		t.Fatal("eq / lte stops")
	}
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	for _, fn := range []string{"sum", "avg", "min", "max", "count"} {
		te.register(temporalDef("agg-"+fn, `{"type":"aggregate","event":{"topic":"sale"},"field":"amount","function":"`+fn+`",
			"threshold":0,"comparison":"gte","window":"1h"}`,
			`[{"type":"set_fact","key":"`+fn+`","value":{"ref":"event.value"}}]`))
	}
	te.register(temporalDef("big", `{"type":"aggregate","event":{"topic":"sale"},"field":"amount","function":"sum","threshold":100,"window":"1h","groupBy":"shop"}`,
		`[{"type":"set_fact","key":"big:${event.groupKey}","value":{"ref":"event.value"}}]`))
	te.emit("sale", `{"amount":"n/a","shop":"x"}`) // non-numeric: no values yet, only count matches
	if _, ok := te.GetFact("sum"); ok || te.fact("count") != 1.0 {
		t.Fatalf("no numeric values → no match (count still counts): %s", jsonString(te.GetAllFacts()))
	}
	te.emit("sale", `{"amount":30,"shop":"x"}`)
	te.emit("sale", `{"amount":90,"shop":"x"}`)
	te.emit("sale", `{"amount":10,"shop":"y"}`)
	want := map[string]any{"sum": 130.0, "avg": 130.0 / 3, "min": 10.0, "max": 90.0, "count": 4.0, "big:x": 120.0}
	for k, v := range want {
		if te.fact(k) != v {
			t.Errorf("%s = %v, want %v", k, te.fact(k), v)
		}
	}
	if _, ok := te.GetFact("big:y"); ok {
		t.Fatal("group y is below the threshold")
	}
}

func TestTemporalRulesRespectEnabled(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(temporalDef("c", `{"type":"count","event":{"topic":"x"},"threshold":1,"window":"1m"}`,
		`[{"type":"set_fact","key":"hit","value":true}]`))
	_, _ = te.DisableRule(context.Background(), "c")
	te.emit("x", "")
	if _, ok := te.GetFact("hit"); ok {
		t.Fatal("disabled temporal rule fired")
	}
	_, _ = te.EnableRule(context.Background(), "c")
	te.emit("x", "")
	if te.fact("hit") != true {
		t.Fatal("enabled temporal rule")
	}
}
