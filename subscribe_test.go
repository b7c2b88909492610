package noex_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

// nextPush returns the next push for subID; frames for other
// subscriptions are kept for later reads, in order.
func (c *client) nextPush(subID string, timeout time.Duration) map[string]any {
	c.t.Helper()
	isMine := func(b []byte) (map[string]any, bool) {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m, m["type"] == "push" && m["subscriptionId"] == subID
	}
	for i, b := range c.backlog {
		if m, ok := isMine(b); ok {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return m
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		b, err := c.readWire(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for a push on %s: %v", subID, err)
		}
		if m, ok := isMine(b); ok {
			return m
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if m["type"] != "ping" && len(c.backlog) < 10000 {
			c.backlog = append(c.backlog, b)
		}
	}
}

// noPush checks that no push for subID arrives within d.
func (c *client) noPush(subID string, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := c.readRaw(time.Until(deadline))
		if err != nil {
			return
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if m["type"] == "push" && m["subscriptionId"] == subID {
			c.t.Fatalf("unexpected push %s", b)
		}
	}
}

func mustOK(t *testing.T, c *client, req map[string]any) any {
	t.Helper()
	r := c.request(req)
	if r["type"] != "result" {
		t.Fatalf("%v → %v", req["type"], r)
	}
	return r["data"]
}

func subscribe(t *testing.T, c *client, query string, params any) (string, any) {
	t.Helper()
	req := map[string]any{"id": 1, "type": "store.subscribe", "query": query}
	if params != nil {
		req["params"] = params
	}
	d := mustOK(t, c, req).(map[string]any)
	return d["subscriptionId"].(string), d["data"]
}

func setupOrders(t *testing.T, c *client) {
	t.Helper()
	mustOK(t, c, map[string]any{"id": 1, "type": "store.defineBucket", "name": "orders", "config": map[string]any{
		"key": "id", "schema": map[string]any{"id": map[string]any{"type": "string"}, "customer": map[string]any{"type": "string"},
			"total": map[string]any{"type": "number"}, "status": map[string]any{"type": "string"}, "note": map[string]any{"type": "string"}},
		"indexes": []string{"customer"}}})
	mustOK(t, c, map[string]any{"id": 2, "type": "store.defineQuery", "name": "by-customer", "config": map[string]any{
		"bucket": "orders", "filter": map[string]any{"customer": "{{ params.customer }}"},
		"sort": map[string]any{"total": "desc"}, "fields": []string{"id", "total"}}})
}

func insertOrder(t *testing.T, c *client, id, customer string, total float64) {
	t.Helper()
	mustOK(t, c, map[string]any{"id": 3, "type": "store.insert", "bucket": "orders",
		"data": map[string]any{"id": id, "customer": customer, "total": total, "status": "new"}})
}

func TestSubscribePushesChangedResultsOnly(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	setupOrders(t, c)
	insertOrder(t, c, "o1", "ann", 10)
	subA, data := subscribe(t, c, "by-customer", map[string]any{"customer": "ann"})
	if fmt.Sprint(data) != "[map[id:o1 total:10]]" {
		t.Fatalf("initial %v", data)
	}
	if !strings.HasPrefix(subA, "sub-") {
		t.Fatalf("id %q", subA)
	}
	// A write under this params value pushes the complete new result.
	insertOrder(t, c, "o2", "ann", 30)
	p := c.nextPush(subA, 5*time.Second)
	if p["channel"] != "subscription" || fmt.Sprint(p["data"]) != "[map[id:o2 total:30] map[id:o1 total:10]]" {
		t.Fatalf("push %v", p)
	}
	// A write under another value, and a change of a field the result
	// does not show, push nothing.
	insertOrder(t, c, "o3", "bob", 99)
	mustOK(t, c, map[string]any{"id": 4, "type": "store.update", "bucket": "orders", "key": "o1", "data": map[string]any{"note": "x"}})
	c.noPush(subA, 300*time.Millisecond)
	// clear is a change like any other (COMPATIBILITY.md P§11 #8).
	mustOK(t, c, map[string]any{"id": 5, "type": "store.clear", "bucket": "orders"})
	if p := c.nextPush(subA, 5*time.Second); fmt.Sprint(p["data"]) != "[]" {
		t.Fatalf("after clear %v", p)
	}
	// Unsubscribe: no more pushes; a second unsubscribe is NOT_FOUND.
	mustOK(t, c, map[string]any{"id": 6, "type": "store.unsubscribe", "subscriptionId": subA})
	insertOrder(t, c, "o4", "ann", 1)
	c.noPush(subA, 300*time.Millisecond)
	jsonEq(t, c.request(map[string]any{"id": 7, "type": "store.unsubscribe", "subscriptionId": subA}),
		`{"id":7,"type":"error","code":"NOT_FOUND","message":"Subscription \"`+subA+`\" not found"}`)
}

func TestSubscribeErrorsAndLimits(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, func(c *noex.Config) {
		c.ConnectionLimits = noex.ConnectionLimits{MaxSubscriptionsPerConnection: 2, MaxTotalSubscriptions: 3}
	})
	c, _ := dial(t, srv)
	setupOrders(t, c)
	runScenario(t, c, []step{
		{`{"type":"store.subscribe","query":"nope"}`, `{"type":"error","code":"QUERY_NOT_DEFINED","message":"Query \"nope\" is not defined"}`},
		{`{"type":"store.subscribe"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"query\": expected non-empty string"}`},
		{`{"type":"store.unsubscribe"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"subscriptionId\": expected non-empty string"}`},
		{`{"type":"store.defineQuery","name":"by-customer","config":{"bucket":"orders"}}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Query \"by-customer\" is already defined"}`},
		{`{"type":"store.defineQuery","name":"q2","config":{"bucket":"nope"}}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"nope\" is not defined"}`},
		{`{"type":"store.defineQuery","name":"q2","config":{"filter":{}}}`, `{"type":"error","code":"BUCKET_NOT_DEFINED","message":"Bucket \"undefined\" is not defined"}`},
		{`{"type":"store.defineQuery","name":"q2","config":{"bucket":"orders","filter":{"a":{"$regex":"x"}}}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"*"}`},
		{`{"type":"store.undefineQuery","name":"nope"}`, `{"type":"error","code":"QUERY_NOT_DEFINED","message":"Query \"nope\" is not defined"}`},
		{`{"type":"store.subscribe","query":"by-customer","params":{"customer":"a"}}`, `{"type":"result","data":{"subscriptionId":"*","data":[]}}`},
		{`{"type":"store.subscribe","query":"by-customer","params":null}`, `{"type":"result","data":{"subscriptionId":"*","data":[]}}`},
		// The limit is checked before the request's own fields.
		{`{"type":"store.subscribe"}`, `{"type":"error","code":"RATE_LIMITED","message":"Subscription limit reached (max 2 per connection)"}`},
	})
	c2, _ := dial(t, srv)
	runScenario(t, c2, []step{
		{`{"type":"store.subscribe","query":"by-customer"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.subscribe","query":"by-customer"}`, `{"type":"error","code":"RATE_LIMITED","message":"Global subscription limit reached (max 3)"}`},
	})
	stats := mustOK(t, c2, map[string]any{"id": 1, "type": "server.stats"}).(map[string]any)
	if got := stats["connections"].(map[string]any)["totalStoreSubscriptions"]; got != float64(3) {
		t.Fatalf("totalStoreSubscriptions %v", got)
	}
	// Closing a connection releases its subscriptions.
	c.conn.Close()
	waitFor(t, func() bool { return srv.ConnectionCount() == 1 })
	runScenario(t, c2, []step{
		{`{"type":"store.subscribe","query":"by-customer"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.stats"}`, `{"type":"result","data":{"name":"*","buckets":"*","records":"*","indexes":"*","persistence":"*","ttl":"*","queries":{"defined":1,"activeSubscriptions":2}}}`},
	})
}

func TestUndefineAndDropEndSubscriptions(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	setupOrders(t, c)
	mustOK(t, c, map[string]any{"id": 1, "type": "store.defineQuery", "name": "all-orders", "config": map[string]any{"bucket": "orders"}})
	subQ, _ := subscribe(t, c, "by-customer", map[string]any{"customer": "ann"})
	subB, _ := subscribe(t, c, "all-orders", nil)
	mustOK(t, c, map[string]any{"id": 2, "type": "store.undefineQuery", "name": "by-customer"})
	jsonEq(t, c.nextPush(subQ, 5*time.Second), `{"type":"push","channel":"subscription","subscriptionId":"`+subQ+`","data":null,"error":{"code":"QUERY_NOT_DEFINED","message":"Query \"by-customer\" is not defined"}}`)
	mustOK(t, c, map[string]any{"id": 3, "type": "store.dropBucket", "name": "orders"})
	jsonEq(t, c.nextPush(subB, 5*time.Second), `{"type":"push","channel":"subscription","subscriptionId":"`+subB+`","data":null,"error":{"code":"BUCKET_NOT_DEFINED","message":"Bucket \"orders\" is not defined"}}`)
	// Both are gone: unsubscribe finds nothing, nothing counts any more.
	for _, id := range []string{subQ, subB} {
		if r := c.request(map[string]any{"id": 4, "type": "store.unsubscribe", "subscriptionId": id}); r["code"] != "NOT_FOUND" {
			t.Fatalf("unsubscribe %s: %v", id, r)
		}
	}
	// The query on the dropped bucket is still listed; subscribing fails.
	list := mustOK(t, c, map[string]any{"id": 5, "type": "store.listQueries"}).(map[string]any)["queries"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "all-orders" || list[0].(map[string]any)["activeSubscriptions"] != float64(0) {
		t.Fatalf("listQueries %v", list)
	}
	if r := c.request(map[string]any{"id": 6, "type": "store.subscribe", "query": "all-orders"}); r["code"] != "BUCKET_NOT_DEFINED" {
		t.Fatalf("subscribe after drop: %v", r)
	}
	stats := mustOK(t, c, map[string]any{"id": 7, "type": "server.stats"}).(map[string]any)
	if got := stats["connections"].(map[string]any)["totalStoreSubscriptions"]; got != float64(0) {
		t.Fatalf("subscriptions still counted: %v", got)
	}
}

func TestAggregateQueriesAndListQueries(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	setupOrders(t, c)
	mustOK(t, c, map[string]any{"id": 1, "type": "store.defineQuery", "name": "max-total", "config": map[string]any{
		"bucket": "orders", "aggregate": map[string]any{"function": "max", "field": "total"}}})
	mustOK(t, c, map[string]any{"id": 2, "type": "store.defineQuery", "name": "by-status", "config": map[string]any{
		"bucket": "orders", "aggregate": map[string]any{"function": "sum", "field": "total", "groupBy": "status"}}})
	// max over nothing: "no value", so the subscribe result has no data key.
	r := c.request(map[string]any{"id": 3, "type": "store.subscribe", "query": "max-total"})
	d := r["data"].(map[string]any)
	if _, has := d["data"]; has {
		t.Fatalf("data present for no value: %v", r)
	}
	subMax := d["subscriptionId"].(string)
	subStatus, _ := subscribe(t, c, "by-status", nil)
	insertOrder(t, c, "o1", "ann", 12)
	if p := c.nextPush(subMax, 5*time.Second); p["data"] != float64(12) {
		t.Fatalf("max push %v", p)
	}
	if p := c.nextPush(subStatus, 5*time.Second); fmt.Sprint(p["data"]) != "[map[key:map[status:new] value:12]]" {
		t.Fatalf("groupBy push %v", p)
	}
	list := mustOK(t, c, map[string]any{"id": 4, "type": "store.listQueries"}).(map[string]any)["queries"].([]any)
	if len(list) != 3 {
		t.Fatalf("listQueries %v", list)
	}
	first := list[0].(map[string]any)
	if first["name"] != "by-customer" || first["type"] != "declarative" || first["config"] == nil {
		t.Fatalf("first %v", first)
	}
	if list[1].(map[string]any)["activeSubscriptions"] != float64(1) {
		t.Fatalf("second %v", list[1])
	}
}

// TestManySubscribersShareOneEvaluation: 30 connections on one query and
// params get every change, for one evaluation per change.
func TestManySubscribersShareOneEvaluation(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	admin, _ := dial(t, srv)
	setupOrders(t, admin)
	const n = 30
	clients := make([]*client, n)
	subs := make([]string, n)
	for i := range clients {
		clients[i], _ = dial(t, srv)
		subs[i], _ = subscribe(t, clients[i], "by-customer", map[string]any{"customer": "ann"})
	}
	before := metricValue(t, srv, "noex_query_evaluations_total")
	for k := 0; k < 3; k++ {
		insertOrder(t, admin, fmt.Sprint("o", k), "ann", float64(k))
		for i, c := range clients {
			if p := c.nextPush(subs[i], 5*time.Second); len(p["data"].([]any)) != k+1 {
				t.Fatalf("client %d after write %d: %v", i, k, p)
			}
		}
	}
	if evals := metricValue(t, srv, "noex_query_evaluations_total") - before; evals > 3 {
		t.Fatalf("%v evaluations for 3 changes and %d subscribers", evals, n)
	}
}

// TestNoPushBeforeSubscribeResult hammers a bucket while subscribing: on
// each connection the subscribe result always comes before any push of the
// subscription it announces.
func TestNoPushBeforeSubscribeResult(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	admin, _ := dial(t, srv)
	setupOrders(t, admin)
	writer, _ := dial(t, srv)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			writer.sendJSON(map[string]any{"id": i, "type": "store.insert", "bucket": "orders",
				"data": map[string]any{"id": fmt.Sprint("w", i), "customer": "ann", "total": i}})
			writer.read()
		}
	}()
	for i := 0; i < 20; i++ {
		c, _ := dial(t, srv)
		c.sendJSON(map[string]any{"id": 77, "type": "store.subscribe", "query": "by-customer", "params": map[string]any{"customer": "ann"}})
		for {
			m := c.read()
			if m["type"] == "push" {
				t.Fatalf("push before the subscribe result: %v", m)
			}
			if m["id"] == float64(77) {
				break
			}
		}
	}
	close(stop)
	wg.Wait()
}

// TestWriteThenSubscribeSeesTheWrite: the initial result includes a write
// acknowledged just before, even while a re-evaluation for it is pending.
func TestWriteThenSubscribeSeesTheWrite(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	setupOrders(t, c)
	subscribe(t, c, "by-customer", map[string]any{"customer": "zed"}) // keeps the instance alive
	for i := 0; i < 50; i++ {
		insertOrder(t, c, fmt.Sprint("z", i), "zed", float64(i))
		id, data := subscribe(t, c, "by-customer", map[string]any{"customer": "zed"})
		if n := len(data.([]any)); n != i+1 {
			t.Fatalf("after %d writes the initial result has %d records", i+1, n)
		}
		mustOK(t, c, map[string]any{"id": 9, "type": "store.unsubscribe", "subscriptionId": id})
	}
}

// TestSlowSubscriberDoesNotHoldOthersBack: one connection stops reading;
// the others keep receiving every change in time, and the slow one's
// queue stays bounded (its pushes are coalesced).
func TestSlowSubscriberDoesNotHoldOthersBack(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, func(c *noex.Config) {
		c.Backpressure = noex.Backpressure{MaxBufferedBytes: 64 << 10, HighWaterMark: 0.5, SlowConsumerTimeout: time.Minute}
	})
	admin, _ := dial(t, srv)
	setupOrders(t, admin)
	mustOK(t, admin, map[string]any{"id": 1, "type": "store.defineQuery", "name": "everything", "config": map[string]any{"bucket": "orders"}})
	slow := dialRaw(t, srv, smallReceiveBuffer())
	slow.read()                           // welcome
	subscribe(t, slow, "everything", nil) // and never read again
	fast, _ := dial(t, srv)
	subFast, _ := subscribe(t, fast, "everything", nil)
	pad := strings.Repeat("x", 8000)
	for i := 0; i < 40; i++ {
		mustOK(t, admin, map[string]any{"id": 2, "type": "store.insert", "bucket": "orders",
			"data": map[string]any{"id": fmt.Sprint("p", i), "customer": "c", "note": pad}})
		start := time.Now()
		p := fast.nextPush(subFast, 5*time.Second)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("fast subscriber waited %v", took)
		}
		// Coalescing may skip intermediate states, never the latest.
		for len(p["data"].([]any)) < i+1 {
			p = fast.nextPush(subFast, 5*time.Second)
		}
	}
	if q := metricValue(t, srv, "noex_outbound_bytes_queued"); q > 64<<10+400_000 {
		t.Fatalf("%v bytes queued", q)
	}
	if v := metricValue(t, srv, "noex_pushes_coalesced_total"); v == 0 {
		t.Fatal("no push was coalesced for the slow subscriber")
	}
}

// TestQueriesSurviveRestart: declarative queries are persisted with the
// data.
func TestQueriesSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() (*noex.Server, *store.Store) {
		log, err := storage.OpenPebble(dir, storage.PebbleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, func(c *noex.Config) { c.Store = st })
		return srv, st
	}
	srv, st := open()
	c, _ := dial(t, srv)
	setupOrders(t, c)
	insertOrder(t, c, "o1", "ann", 5)
	_ = srv.Stop(context.Background(), 0)
	_ = st.Close()

	srv2, st2 := open()
	defer st2.Close()
	c2, _ := dial(t, srv2)
	list := mustOK(t, c2, map[string]any{"id": 1, "type": "store.listQueries"}).(map[string]any)["queries"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "by-customer" {
		t.Fatalf("after restart: %v", list)
	}
	_, data := subscribe(t, c2, "by-customer", map[string]any{"customer": "ann"})
	if fmt.Sprint(data) != "[map[id:o1 total:5]]" {
		t.Fatalf("after restart: %v", data)
	}
}

// TestGoFunctionQuery: a query written in Go, with a record-level
// dependency from Get.
func TestGoFunctionQuery(t *testing.T) {
	t.Parallel()
	var srvRef *noex.Server
	srv, _ := startStoreServer(t, nil)
	srvRef = srv
	if err := srvRef.DefineQuery("order-total", func(ctx *store.QueryContext, params any) (any, error) {
		id, _ := params.(map[string]any)["id"].(string)
		rec, err := ctx.Get("orders", id)
		if err != nil || rec == nil {
			return nil, err
		}
		return rec["total"], nil
	}); err != nil {
		t.Fatal(err)
	}
	c, _ := dial(t, srv)
	setupOrders(t, c)
	sub, data := subscribe(t, c, "order-total", map[string]any{"id": "o1"})
	if data != nil {
		t.Fatalf("initial %v", data)
	}
	insertOrder(t, c, "o2", "ann", 7) // another record: no push
	c.noPush(sub, 200*time.Millisecond)
	insertOrder(t, c, "o1", "ann", 5) // the record it read, before it existed
	if p := c.nextPush(sub, 5*time.Second); p["data"] != float64(5) {
		t.Fatalf("push %v", p)
	}
	list := mustOK(t, c, map[string]any{"id": 1, "type": "store.listQueries"}).(map[string]any)["queries"].([]any)
	found := false
	for _, q := range list {
		if m := q.(map[string]any); m["name"] == "order-total" {
			found = m["type"] == "programmatic" && m["config"] == nil
		}
	}
	if !found {
		t.Fatalf("listQueries %v", list)
	}
}
