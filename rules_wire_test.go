package noex_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

// startRulesServer starts a server with a store and a rules engine wired to
// it; with dir set, both persist there.
func startRulesServer(t *testing.T, dir string) (*noex.Server, func()) {
	t.Helper()
	var log storage.Log
	if dir != "" {
		var err error
		if log, err = storage.OpenPebble(dir, storage.PebbleOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := noex.OpenRules(st, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(c *noex.Config) { c.Store, c.Rules = st, rt.Engine })
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = srv.Stop(context.Background(), 0)
		_ = rt.Stop(context.Background())
		_ = st.Close()
	}
	t.Cleanup(stop)
	return srv, stop
}

const bigOrderRule = `{"id":"big-order","name":"Big order alert","priority":10,"enabled":true,"tags":["orders"],
	"trigger":{"type":"event","topic":"order.created"},
	"conditions":[{"source":{"type":"event","field":"total"},"operator":"gt","value":100}],
	"actions":[{"type":"emit_event","topic":"alert.big-order","data":{"total":"${event.total}"}}]}`

func TestRulesOperationsOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startRulesServer(t, "")
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"rules.emit","topic":"payment.received","data":{"amount":50},"correlationId":"corr-1","causationId":"evt-0"}`,
			`{"type":"result","data":{"id":"*","topic":"payment.received","data":{"amount":50},"timestamp":"*","correlationId":"corr-1","causationId":"evt-0","source":"api"}}`},
		{`{"type":"rules.emit","topic":"x","data":null}`, `{"type":"result","data":{"id":"*","topic":"x","data":{},"timestamp":"*","source":"api"}}`},
		{`{"type":"rules.emit","topic":"x","data":[1]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Invalid \"data\": expected object"}`},
		{`{"type":"rules.emit","topic":"x","correlationId":""}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Invalid \"correlationId\": expected non-empty string"}`},
		{`{"type":"rules.emit"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"topic\": expected non-empty string"}`},
		{`{"type":"rules.setFact","key":"user:1:name","value":"Ann"}`, `{"type":"result","data":{"key":"user:1:name","value":"Ann","timestamp":"*","source":"api","version":1}}`},
		{`{"type":"rules.setFact","key":"user:1:name","value":"Anna"}`, `{"type":"result","data":{"key":"user:1:name","value":"Anna","timestamp":"*","source":"api","version":2}}`},
		{`{"type":"rules.setFact","key":"user:2:name","value":null}`, `{"type":"result","data":{"key":"user:2:name","value":null,"timestamp":"*","source":"api","version":1}}`},
		{`{"type":"rules.setFact","key":"k"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing \"value\": expected a value"}`},
		{`{"type":"rules.getFact","key":"user:1:name"}`, `{"type":"result","data":"Anna"}`},
		{`{"type":"rules.getFact","key":"nope"}`, `{"type":"result","data":null}`},
		{`{"type":"rules.queryFacts","pattern":"user:*:name"}`, `{"type":"result","data":[{"key":"user:1:name","value":"Anna","timestamp":"*","source":"api","version":2},{"key":"user:2:name","value":null,"timestamp":"*","source":"api","version":1}]}`},
		{`{"type":"rules.queryFacts","pattern":"none:*"}`, `{"type":"result","data":[]}`},
		{`{"type":"rules.deleteFact","key":"user:2:name"}`, `{"type":"result","data":{"deleted":true}}`},
		{`{"type":"rules.deleteFact","key":"user:2:name"}`, `{"type":"result","data":{"deleted":false}}`},
		{`{"type":"rules.getAllFacts"}`, `{"type":"result","data":[{"key":"user:1:name","value":"Anna","timestamp":"*","source":"api","version":2}]}`},
		{`{"type":"rules.registerRule","rule":` + bigOrderRule + `}`, `{"type":"result","data":{"id":"big-order","name":"Big order alert","version":1,"createdAt":"*","updatedAt":"*"}}`},
		{`{"type":"rules.registerRule","rule":` + bigOrderRule + `}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Rule \"big-order\" already exists"}`},
		{`{"type":"rules.registerRule","rule":{"id":"r2","name":"x"}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Rule validation failed","details":[{"path":"trigger","message":"Required field \"trigger\" is missing","severity":"error"}]}`},
		{`{"type":"rules.validateRule","rule":{"id":"q"}}`, `{"type":"result","data":{"valid":false,"errors":[{"path":"name","message":"Required field \"name\" is missing","severity":"error"},{"path":"trigger","message":"Required field \"trigger\" is missing","severity":"error"}],"warnings":[]}}`},
		{`{"type":"rules.getRules"}`, `{"type":"result","data":{"rules":[{"id":"big-order","name":"Big order alert","enabled":true,"priority":10,"version":1,"tags":["orders"]}]}}`},
		{`{"type":"rules.disableRule","ruleId":"big-order"}`, `{"type":"result","data":{"ruleId":"big-order","enabled":false}}`},
		{`{"type":"rules.enableRule","ruleId":"big-order"}`, `{"type":"result","data":{"ruleId":"big-order","enabled":true}}`},
		{`{"type":"rules.enableRule","ruleId":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Rule \"nope\" not found"}`},
		{`{"type":"rules.updateRule","ruleId":"nope","updates":{}}`, `{"type":"error","code":"NOT_FOUND","message":"*"}`},
		{`{"type":"rules.updateRule","ruleId":"big-order","updates":{"priority":5}}`, `{"type":"result","data":{"id":"big-order","version":2,"updatedAt":"*"}}`},
		{`{"type":"rules.getRule","ruleId":"big-order"}`, `{"type":"result","data":{"id":"big-order","name":"Big order alert","priority":5,"enabled":true,"tags":["orders"],"trigger":"*","conditions":"*","actions":"*","version":2,"createdAt":"*","updatedAt":"*"}}`},
		{`{"type":"rules.getRule","ruleId":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Rule \"nope\" not found"}`},
		{`{"type":"rules.unsubscribe","subscriptionId":"sub-999"}`, `{"type":"error","code":"NOT_FOUND","message":"Subscription \"sub-999\" not found"}`},
		{`{"type":"rules.nope"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown rules operation \"rules.nope\""}`},
		{`{"type":"rules.stats"}`, `{"type":"result","data":{"rulesCount":1,"factsCount":1,"timersCount":0,"eventsProcessed":"*","rulesExecuted":"*","avgProcessingTimeMs":"*","tracing":{"enabled":false,"entriesCount":0,"maxEntries":10000}}}`},
		{`{"type":"rules.unregisterRule","ruleId":"big-order"}`, `{"type":"result","data":{"ruleId":"big-order","unregistered":true}}`},
		{`{"type":"rules.unregisterRule","ruleId":"big-order"}`, `{"type":"error","code":"NOT_FOUND","message":"Rule \"big-order\" not found"}`},
	})
	stats := mustOK(t, c, map[string]any{"id": 1, "type": "server.stats"}).(map[string]any)
	if stats["rulesEnabled"] != true || stats["rules"] == nil {
		t.Fatalf("server.stats %v", stats)
	}
}

// TestRulesSubscriptionPushes: a subscriber sees events from emits and from
// rule actions; on the emitting connection the pushes come before the
// emit's result.
func TestRulesSubscriptionPushes(t *testing.T) {
	t.Parallel()
	srv, _ := startRulesServer(t, "")
	c, _ := dial(t, srv)
	mustOK(t, c, map[string]any{"id": 1, "type": "rules.registerRule", "rule": jsonValue(t, bigOrderRule)})
	subAll := mustOK(t, c, map[string]any{"id": 2, "type": "rules.subscribe", "pattern": "*"}).(map[string]any)["subscriptionId"].(string)
	subAlert := mustOK(t, c, map[string]any{"id": 3, "type": "rules.subscribe", "pattern": "alert.*"}).(map[string]any)["subscriptionId"].(string)
	c.sendJSON(map[string]any{"id": 4, "type": "rules.emit", "topic": "order.created", "data": map[string]any{"total": 250}})
	var pushes []map[string]any
	for {
		m := c.read()
		if m["type"] == "push" {
			pushes = append(pushes, m)
			continue
		}
		if m["id"] != float64(4) || m["type"] != "result" {
			t.Fatalf("frame %v", m)
		}
		break
	}
	got := map[string]int{}
	for _, p := range pushes {
		if p["channel"] != "event" {
			t.Fatalf("push %v", p)
		}
		d := p["data"].(map[string]any)
		got[fmt.Sprint(p["subscriptionId"], " ", d["topic"])]++
		if d["event"].(map[string]any)["topic"] != d["topic"] {
			t.Fatalf("push %v", p)
		}
	}
	want := map[string]int{subAll + " order.created": 1, subAll + " alert.big-order": 1, subAlert + " alert.big-order": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pushes before the result: %v, want %v", got, want)
	}
	// Unsubscribed: nothing more for that id.
	mustOK(t, c, map[string]any{"id": 5, "type": "rules.unsubscribe", "subscriptionId": subAll})
	mustOK(t, c, map[string]any{"id": 6, "type": "rules.emit", "topic": "order.created", "data": map[string]any{"total": 1}})
	c.noPush(subAll, 200*time.Millisecond)
	// A store subscription id is not a rules subscription.
	if r := c.request(map[string]any{"id": 7, "type": "store.unsubscribe", "subscriptionId": subAlert}); r["code"] != "NOT_FOUND" {
		t.Fatalf("store.unsubscribe of a rules id: %v", r)
	}
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	v, err := store.DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStoreChangesReachRules: the store bridge turns record changes into
// events that trigger rules.
func TestStoreChangesReachRules(t *testing.T) {
	t.Parallel()
	srv, _ := startRulesServer(t, "")
	c, _ := dial(t, srv)
	setupOrders(t, c)
	mustOK(t, c, map[string]any{"id": 1, "type": "rules.registerRule", "rule": jsonValue(t, `{"id":"flag","name":"Flag big orders",
		"trigger":{"type":"event","topic":"bucket.orders.inserted"},
		"conditions":[{"source":{"type":"event","field":"record.total"},"operator":"gt","value":100}],
		"actions":[{"type":"set_fact","key":"order:${event.key}:big","value":true}]}`)})
	insertOrder(t, c, "o1", "ann", 500)
	insertOrder(t, c, "o2", "ann", 5)
	waitFor(t, func() bool {
		return c.request(map[string]any{"id": 2, "type": "rules.getFact", "key": "order:o1:big"})["data"] == true
	})
	if v := c.request(map[string]any{"id": 3, "type": "rules.getFact", "key": "order:o2:big"})["data"]; v != nil {
		t.Fatalf("small order flagged: %v", v)
	}
}

// TestRulesSurviveRestart: rules and facts persist with the store's data.
func TestRulesSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := startRulesServer(t, dir)
	c, _ := dial(t, srv)
	mustOK(t, c, map[string]any{"id": 1, "type": "rules.registerRule", "rule": jsonValue(t, bigOrderRule)})
	mustOK(t, c, map[string]any{"id": 2, "type": "rules.setFact", "key": "k", "value": map[string]any{"a": 1}})
	stop()
	srv2, _ := startRulesServer(t, dir)
	c2, _ := dial(t, srv2)
	rulesList := mustOK(t, c2, map[string]any{"id": 1, "type": "rules.getRules"}).(map[string]any)["rules"].([]any)
	if len(rulesList) != 1 || rulesList[0].(map[string]any)["id"] != "big-order" {
		t.Fatalf("rules after restart: %v", rulesList)
	}
	if v := mustOK(t, c2, map[string]any{"id": 2, "type": "rules.getFact", "key": "k"}); fmt.Sprint(v) != "map[a:1]" {
		t.Fatalf("fact after restart: %v", v)
	}
}

// TestTimerDueDuringDowntimeFiresOnceOnStart: a timer persisted through the
// store's log that comes due while the server is stopped fires once when
// it starts again; its event triggers a rule.
func TestTimerDueDuringDowntimeFiresOnceOnStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := startRulesServer(t, dir)
	c, _ := dial(t, srv)
	mustOK(t, c, map[string]any{"id": 1, "type": "rules.registerRule", "rule": jsonValue(t, `{"id":"on-timer","name":"count timer firings",
		"trigger":{"type":"event","topic":"reminder.due"},
		"actions":[{"type":"set_fact","key":"fired:${event.n}","value":true}]}`)})
	mustOK(t, c, map[string]any{"id": 2, "type": "rules.registerRule", "rule": jsonValue(t, `{"id":"arm","name":"arm a timer",
		"trigger":{"type":"event","topic":"arm"},
		"actions":[{"type":"set_timer","timer":{"name":"reminder","duration":"300ms","onExpire":{"topic":"reminder.due","data":{"n":1}}}}]}`)})
	mustOK(t, c, map[string]any{"id": 3, "type": "rules.emit", "topic": "arm"})
	if st := mustOK(t, c, map[string]any{"id": 4, "type": "rules.stats"}).(map[string]any); st["timersCount"] != float64(1) {
		t.Fatalf("timer not set: %v", st)
	}
	stop() // before it fires
	time.Sleep(500 * time.Millisecond)
	srv2, _ := startRulesServer(t, dir)
	c2, _ := dial(t, srv2)
	waitFor(t, func() bool {
		return c2.request(map[string]any{"id": 5, "type": "rules.getFact", "key": "fired:1"})["data"] == true
	})
	time.Sleep(200 * time.Millisecond)
	facts := mustOK(t, c2, map[string]any{"id": 6, "type": "rules.queryFacts", "pattern": "fired:*"}).([]any)
	if len(facts) != 1 || facts[0].(map[string]any)["version"] != float64(1) {
		t.Fatalf("the timer fired %v", facts)
	}
	if st := mustOK(t, c2, map[string]any{"id": 7, "type": "rules.stats"}).(map[string]any); st["timersCount"] != float64(0) {
		t.Fatalf("timer still pending after firing: %v", st)
	}
}

// TestHiddenDetailsHideEngineMessages: an unexpected engine failure (here
// the durable log breaking under rules.setFact) carries the engine's text
// by default, and only "Internal server error" with details hidden.
func TestHiddenDetailsHideEngineMessages(t *testing.T) {
	t.Parallel()
	for _, hide := range []bool{false, true} {
		log := storage.NewRecordingLog()
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		rt, err := noex.OpenRules(st, rules.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, func(c *noex.Config) { c.Store, c.Rules, c.HideErrorDetails = st, rt.Engine, hide })
		c, _ := dial(t, srv)
		log.Break(fmt.Errorf("disk on fire"))
		r := c.request(map[string]any{"id": 1, "type": "rules.setFact", "key": "k", "value": 1})
		if r["code"] != "INTERNAL_ERROR" {
			t.Fatalf("hide=%v: %v", hide, r)
		}
		if hidden := r["message"] == "Internal server error"; hidden != hide {
			t.Fatalf("hide=%v: message %q", hide, r["message"])
		}
		c.conn.Close()
		_ = srv.Stop(context.Background(), 0)
		_ = rt.Stop(context.Background())
		_ = st.Close()
	}
}
