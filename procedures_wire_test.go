package noex_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

// The calc-total procedure of PROTOCOL.md §7.2.5.
const calcTotalProcedure = `{"name":"calc-total","description":"order total","input":{"orderId":{"type":"string"}},"steps":[
	{"action":"store.where","bucket":"items","filter":{"orderId":"{{ input.orderId }}"},"as":"items"},
	{"action":"aggregate","source":"items","field":"price","op":"sum","as":"total"},
	{"action":"if","condition":{"ref":"total","operator":"gte","value":100},
	 "then":[{"action":"store.update","bucket":"orders","key":"{{ input.orderId }}","data":{"total":"{{ total }}","status":"big"}}],
	 "else":[{"action":"store.update","bucket":"orders","key":"{{ input.orderId }}","data":{"total":"{{ total }}"}}]},
	{"action":"return","value":{"order":"{{ input.orderId }}","label":"Total: {{ total }}"}}]}`

const (
	procItemsDef  = `{"key":"id","schema":{"id":{"type":"string"},"orderId":{"type":"string"},"price":{"type":"number"}}}`
	procOrdersDef = `{"key":"id","schema":{"id":{"type":"string"},"total":{"type":"number"},"status":{"type":"string"}}}`
)

func setupProcedureBuckets(t *testing.T, c *client) {
	t.Helper()
	runScenario(t, c, []step{
		{`{"type":"store.defineBucket","name":"items","config":` + procItemsDef + `}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.defineBucket","name":"orders","config":` + procOrdersDef + `}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"items","data":{"id":"i1","orderId":"o-1","price":100}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"items","data":{"id":"i2","orderId":"o-1","price":50}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"orders","data":{"id":"o-1"}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"orders","data":{"id":"o-2"}}`, `{"type":"result","data":"*"}`},
	})
}

func TestProcedureOperationsOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	setupProcedureBuckets(t, c)
	item := func(id string, price int) string {
		return fmt.Sprintf(`{"id":%q,"orderId":"o-1","price":%d,"_version":1,"_createdAt":"*","_updatedAt":"*"}`, id, price)
	}
	small := `{"name":"small","steps":[{"action":"return","value":"{{ input }}"}],"extra":{"kept":true}}`
	runScenario(t, c, []step{
		{`{"type":"procedures.register","procedure":` + calcTotalProcedure + `}`, `{"type":"result","data":{"name":"calc-total","registered":true}}`},
		{`{"type":"procedures.register","procedure":` + calcTotalProcedure + `}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Procedure \"calc-total\" already exists"}`},
		{`{"type":"procedures.register","procedure":` + small + `}`, `{"type":"result","data":{"name":"small","registered":true}}`},
		{`{"type":"procedures.register"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"procedure\": expected object"}`},
		{`{"type":"procedures.register","procedure":[]}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"procedure\": expected object"}`},
		{`{"type":"procedures.register","procedure":{"name":"","steps":[{"action":"nope"},{"action":"store.get","bucket":"b"}]}}`,
			`{"type":"error","code":"VALIDATION_ERROR","message":"Procedure validation failed: Missing or invalid \"name\": expected non-empty string; steps[0].action: expected one of: store.get, store.where, store.findOne, store.insert, store.update, store.delete, store.count, aggregate, rules.emit, rules.setFact, rules.getFact, if, transform, return; steps[1].key: expected non-empty string; steps[1].as: expected non-empty string",
			"details":{"issues":["Missing or invalid \"name\": expected non-empty string","steps[0].action: expected one of: store.get, store.where, store.findOne, store.insert, store.update, store.delete, store.count, aggregate, rules.emit, rules.setFact, rules.getFact, if, transform, return","steps[1].key: expected non-empty string","steps[1].as: expected non-empty string"]}}`},
		{`{"type":"procedures.list"}`, `{"type":"result","data":{"procedures":[{"name":"calc-total","description":"order total","stepsCount":4},{"name":"small","stepsCount":1}]}}`},
		{`{"type":"procedures.get","name":"small"}`, `{"type":"result","data":{"name":"small","steps":[{"action":"return","value":"{{ input }}"}],"extra":{"kept":true}}}`},
		{`{"type":"procedures.get","name":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Procedure \"nope\" not found"}`},
		{`{"type":"procedures.get"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"name\": expected non-empty string"}`},
		{`{"type":"procedures.call","name":"calc-total","input":{"orderId":"o-1"}}`,
			`{"type":"result","data":{"success":true,"result":{"order":"o-1","label":"Total: 150"},"results":{"items":[` + item("i1", 100) + `,` + item("i2", 50) + `],"total":150}}}`},
		{`{"type":"store.get","bucket":"orders","key":"o-1"}`, `{"type":"result","data":{"id":"o-1","total":150,"status":"big","_version":2,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"procedures.call","name":"calc-total","input":{"orderId":"o-2"}}`,
			`{"type":"result","data":{"success":true,"result":{"order":"o-2","label":"Total: 0"},"results":{"items":[],"total":0}}}`},
		{`{"type":"store.get","bucket":"orders","key":"o-2"}`, `{"type":"result","data":{"id":"o-2","total":0,"_version":2,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"procedures.call","name":"calc-total"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Invalid procedure input: Missing required input \"orderId\"","details":{"issues":["Missing required input \"orderId\""]}}`},
		{`{"type":"procedures.call","name":"calc-total","input":{"orderId":5}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Invalid procedure input: Input \"orderId\": expected string, got number","details":{"issues":["Input \"orderId\": expected string, got number"]}}`},
		{`{"type":"procedures.call","name":"small","input":null}`, `{"type":"result","data":{"success":true,"result":{},"results":{}}}`},
		{`{"type":"procedures.call","name":"small","input":{"a":[1,{"b":null}]}}`, `{"type":"result","data":{"success":true,"result":{"a":[1,{"b":null}]},"results":{}}}`},
		{`{"type":"procedures.call","name":"small","input":"text"}`, `{"type":"result","data":{"success":true,"result":{},"results":{}}}`},
		{`{"type":"procedures.call","name":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Procedure \"nope\" not found"}`},
		{`{"type":"procedures.call","name":7}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"name\": expected non-empty string"}`},
		// update: shallow merge, name ignored, re-validated.
		{`{"type":"procedures.update","name":"small","updates":{"name":"other","description":"d","steps":[{"action":"return","value":2}]}}`, `{"type":"result","data":{"name":"small","updated":true}}`},
		{`{"type":"procedures.get","name":"small"}`, `{"type":"result","data":{"name":"small","steps":[{"action":"return","value":2}],"extra":{"kept":true},"description":"d"}}`},
		{`{"type":"procedures.call","name":"small"}`, `{"type":"result","data":{"success":true,"result":2,"results":{}}}`},
		{`{"type":"procedures.update","name":"small","updates":{"steps":[],"timeoutMs":-1}}`,
			`{"type":"error","code":"VALIDATION_ERROR","message":"Procedure validation failed: \"timeoutMs\" must be a positive number; \"steps\" must contain at least one step","details":{"issues":["\"timeoutMs\" must be a positive number","\"steps\" must contain at least one step"]}}`},
		{`{"type":"procedures.update","name":"nope","updates":{}}`, `{"type":"error","code":"NOT_FOUND","message":"Procedure \"nope\" not found"}`},
		{`{"type":"procedures.update","name":"small"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"updates\": expected object"}`},
		{`{"type":"procedures.update","updates":{}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"name\": expected non-empty string"}`},
		{`{"type":"procedures.list"}`, `{"type":"result","data":{"procedures":[{"name":"calc-total","description":"order total","stepsCount":4},{"name":"small","description":"d","stepsCount":1}]}}`},
		{`{"type":"procedures.unregister","name":"calc-total"}`, `{"type":"result","data":{"name":"calc-total","unregistered":true}}`},
		{`{"type":"procedures.unregister","name":"calc-total"}`, `{"type":"error","code":"NOT_FOUND","message":"Procedure \"calc-total\" not found"}`},
		{`{"type":"procedures.unregister"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"name\": expected non-empty string"}`},
		{`{"type":"procedures.list"}`, `{"type":"result","data":{"procedures":[{"name":"small","description":"d","stepsCount":1}]}}`},
		{`{"type":"procedures.nope"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown procedures operation \"procedures.nope\""}`},
	})
}

func TestProcedureStepFailuresOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startStoreServer(t, nil)
	c, _ := dial(t, srv)
	setupProcedureBuckets(t, c)
	mustOK(t, c, map[string]any{"id": 1, "type": "store.defineBucket", "name": "strict", "config": jsonValue(t, itemsDef)})
	reg := func(name, steps string) {
		t.Helper()
		mustOK(t, c, map[string]any{"id": 1, "type": "procedures.register", "procedure": jsonValue(t, `{"name":"`+name+`","steps":`+steps+`}`)})
	}
	reg("unknown-bucket", `[{"action":"store.insert","bucket":"items","data":{"id":"n1"}},{"action":"store.get","bucket":"nope","key":"k","as":"x"}]`)
	reg("in-branch", `[{"action":"if","condition":{"ref":"input.go","operator":"eq","value":true},"then":[{"action":"store.insert","bucket":"strict","data":{"qty":1}}]}]`)
	reg("aggregate", `[{"action":"store.get","bucket":"items","key":"i1","as":"one"},{"action":"aggregate","source":"one","op":"sum","field":"price","as":"s"}]`)
	reg("missing-record", `[{"action":"store.update","bucket":"orders","key":"{{ input.id }}","data":{"total":1}}]`)
	reg("duplicate", `[{"action":"store.insert","bucket":"items","data":{"id":"i1"}}]`)
	reg("bad-filter", `[{"action":"store.where","bucket":"items","filter":{"price":{"$near":1}},"as":"x"}]`)
	reg("no-rules", `[{"action":"rules.emit","topic":"t"}]`)
	runScenario(t, c, []step{
		{`{"type":"procedures.call","name":"unknown-bucket"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Bucket \"nope\" is not defined","details":{"step":"steps[1]","action":"store.get"}}`},
		// Without a transaction the earlier write stays.
		{`{"type":"store.get","bucket":"items","key":"n1"}`, `{"type":"result","data":{"id":"n1","_version":1,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"procedures.call","name":"in-branch","input":{"go":true}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Validation failed for bucket \"strict\": name: Field is required","details":{"step":"steps[0].then[0]","action":"store.insert"}}`},
		{`{"type":"procedures.call","name":"in-branch","input":{"go":false}}`, `{"type":"result","data":{"success":true,"results":{}}}`},
		{`{"type":"procedures.call","name":"aggregate"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"aggregate: source \"one\" is not an array","details":{"step":"steps[1]","action":"aggregate"}}`},
		{`{"type":"procedures.call","name":"missing-record","input":{"id":"zz"}}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Record with key \"zz\" not found in bucket \"orders\"","details":{"step":"steps[0]","action":"store.update"}}`},
		{`{"type":"procedures.call","name":"duplicate"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Record with key \"i1\" already exists in bucket \"items\"","details":{"step":"steps[0]","action":"store.insert"}}`},
		{`{"type":"procedures.call","name":"bad-filter"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"*","details":{"step":"steps[0]","action":"store.where"}}`},
		{`{"type":"procedures.call","name":"no-rules"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"rules.emit: rule engine is not configured","details":{"step":"steps[0]","action":"rules.emit"}}`},
	})
}

// TestProcedureTransactionIsAtomicOverTheWire: a transactional procedure
// whose last step fails writes nothing and pushes nothing, to store or
// rules subscribers; the same procedure succeeding commits and pushes.
func TestProcedureTransactionIsAtomicOverTheWire(t *testing.T) {
	t.Parallel()
	srv, _ := startRulesServer(t, "")
	c, _ := dial(t, srv)
	setupProcedureBuckets(t, c)
	watcher, _ := dial(t, srv)
	mustOK(t, c, map[string]any{"id": 1, "type": "store.defineQuery", "name": "all-orders", "config": map[string]any{"bucket": "orders", "filter": map[string]any{}}})
	storeSub, _ := subscribe(t, watcher, "all-orders", nil)
	rulesSub := mustOK(t, watcher, map[string]any{"id": 2, "type": "rules.subscribe", "pattern": "order.*"}).(map[string]any)["subscriptionId"].(string)
	def := func(name, last string) any {
		return jsonValue(t, `{"name":"`+name+`","transaction":true,"input":{"id":{"type":"string"}},"steps":[
			{"action":"store.insert","bucket":"orders","data":{"id":"{{ input.id }}","total":1}},
			{"action":"store.update","bucket":"orders","key":"o-1","data":{"status":"touched"}},
			{"action":"rules.emit","topic":"order.created","data":{"id":"{{ input.id }}"}},
			{"action":"rules.setFact","key":"last-order","value":"{{ input.id }}"},
			{"action":"store.count","bucket":"orders","as":"seen"},
			`+last+`]}`)
	}
	mustOK(t, c, map[string]any{"id": 3, "type": "procedures.register", "procedure": def("fails-last", `{"action":"store.insert","bucket":"orders","data":{"id":"o-2"}}`)})
	mustOK(t, c, map[string]any{"id": 4, "type": "procedures.register", "procedure": def("works", `{"action":"return","value":"{{ seen }}"}`)})

	r := c.request(map[string]any{"id": 5, "type": "procedures.call", "name": "fails-last", "input": map[string]any{"id": "o-9"}})
	jsonEq(t, r, `{"id":5,"type":"error","code":"INTERNAL_ERROR","message":"Record with key \"o-2\" already exists in bucket \"orders\"","details":{"step":"steps[5]","action":"store.insert"}}`)
	watcher.noPush(storeSub, 300*time.Millisecond)
	watcher.noPush(rulesSub, 10*time.Millisecond)
	runScenario(t, c, []step{
		{`{"type":"store.get","bucket":"orders","key":"o-9"}`, `{"type":"result","data":null}`},
		{`{"type":"store.get","bucket":"orders","key":"o-1"}`, `{"type":"result","data":{"id":"o-1","_version":1,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"rules.getFact","key":"last-order"}`, `{"type":"result","data":null}`},
	})

	// Success: reads inside saw the transaction's writes; everything
	// lands at once, then the event goes out.
	r = c.request(map[string]any{"id": 6, "type": "procedures.call", "name": "works", "input": map[string]any{"id": "o-9"}})
	jsonEq(t, r, `{"id":6,"type":"result","data":{"success":true,"result":3,"results":{"seen":3}}}`)
	p := watcher.nextPush(storeSub, 5*time.Second)
	if rows, _ := p["data"].([]any); len(rows) != 3 {
		t.Fatalf("store push %v", p)
	}
	if ev := watcher.nextPush(rulesSub, 5*time.Second); ev["data"].(map[string]any)["topic"] != "order.created" {
		t.Fatalf("rules push %v", ev)
	}
	runScenario(t, c, []step{
		{`{"type":"store.get","bucket":"orders","key":"o-1"}`, `{"type":"result","data":{"id":"o-1","status":"touched","_version":2,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"rules.getFact","key":"last-order"}`, `{"type":"result","data":"o-9"}`},
	})
}

// procTimer is a Config.Procedures.AfterFunc whose timers fire only when
// the test says so.
type procTimer struct {
	mu      sync.Mutex
	fire    func()
	armed   []time.Duration
	instant bool // fire as soon as armed
}

func (p *procTimer) after(d time.Duration, f func()) func() bool {
	p.mu.Lock()
	p.armed = append(p.armed, d)
	p.fire = f
	instant := p.instant
	p.mu.Unlock()
	if instant {
		f()
	}
	return func() bool { return true }
}

func (p *procTimer) trigger() {
	p.mu.Lock()
	f := p.fire
	p.mu.Unlock()
	if f != nil {
		f()
	}
}

func TestProcedureTimeoutOverTheWire(t *testing.T) {
	t.Parallel()
	// A timer that fires at once: the call is answered with the timeout
	// and no step runs.
	timer := &procTimer{instant: true}
	srv, _ := startStoreServer(t, func(c *noex.Config) {
		c.Procedures.AfterFunc = timer.after
		c.Procedures.DefaultTimeout = 1500 * time.Millisecond
	})
	c, _ := dial(t, srv)
	setupProcedureBuckets(t, c)
	mustOK(t, c, map[string]any{"id": 1, "type": "procedures.register", "procedure": jsonValue(t,
		`{"name":"slow","steps":[{"action":"store.insert","bucket":"items","data":{"id":"t1"}}]}`)})
	mustOK(t, c, map[string]any{"id": 1, "type": "procedures.register", "procedure": jsonValue(t,
		`{"name":"own","timeoutMs":250,"steps":[{"action":"store.insert","bucket":"items","data":{"id":"t2"}}]}`)})
	runScenario(t, c, []step{
		{`{"type":"procedures.call","name":"slow"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Procedure \"slow\" timed out after 1500ms"}`},
		{`{"type":"procedures.call","name":"own"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Procedure \"own\" timed out after 250ms"}`},
		{`{"type":"store.count","bucket":"items","filter":{"id":{"$in":["t1","t2"]}}}`, `{"type":"result","data":0}`},
	})
	timer.mu.Lock()
	armed := fmt.Sprint(timer.armed)
	timer.mu.Unlock()
	if armed != "[1.5s 250ms]" {
		t.Fatalf("armed %v", armed)
	}
}

// TestProcedureTimeoutMidCall fires the timer while the second step runs
// (from the permission hook that step's access check calls): a
// transactional procedure's writes are discarded; another one stops
// before its third step, keeping the writes it made.
func TestProcedureTimeoutMidCall(t *testing.T) {
	t.Parallel()
	timer := &procTimer{}
	srv, _ := startStoreServer(t, func(c *noex.Config) {
		c.Procedures.AfterFunc = timer.after
		c.Auth = &noex.AuthConfig{Validator: tokenValidator(testTokens()), Permissions: &auth.Permissions{
			Check: func(_ *auth.Context, op, resource string) auth.Decision {
				if op == "store.insert" && resource == "orders" {
					timer.trigger()
				}
				return auth.Abstain
			},
		}}
	})
	c, _ := dial(t, srv)
	login(t, c, "t-admin")
	setupProcedureBuckets(t, c)
	for _, tx := range []string{"true", "false"} {
		mustOK(t, c, map[string]any{"id": 1, "type": "procedures.register", "procedure": jsonValue(t, `{"name":"tx-`+tx+`","transaction":`+tx+`,"steps":[
			{"action":"store.insert","bucket":"items","data":{"id":"`+tx+`-1"}},
			{"action":"store.insert","bucket":"orders","data":{"id":"`+tx+`-2"}},
			{"action":"store.insert","bucket":"items","data":{"id":"`+tx+`-3"}}]}`)})
	}
	runScenario(t, c, []step{
		{`{"type":"procedures.call","name":"tx-true"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Procedure \"tx-true\" timed out after 30000ms"}`},
		{`{"type":"store.count","bucket":"items","filter":{"id":{"$in":["true-1","true-3"]}}}`, `{"type":"result","data":0}`},
		{`{"type":"store.get","bucket":"orders","key":"true-2"}`, `{"type":"result","data":null}`},
		{`{"type":"procedures.call","name":"tx-false"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Procedure \"tx-false\" timed out after 30000ms"}`},
		{`{"type":"store.get","bucket":"items","key":"false-1"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.get","bucket":"orders","key":"false-2"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.get","bucket":"items","key":"false-3"}`, `{"type":"result","data":null}`},
	})
}

// TestProcedureStepsAreAuthorized: each step passes the access check of
// the direct operation (COMPATIBILITY.md P§11 #24).
func TestProcedureStepsAreAuthorized(t *testing.T) {
	t.Parallel()
	srv, _ := startRulesServerWith(t, func(c *noex.Config) {
		c.Auth = &noex.AuthConfig{Validator: tokenValidator(testTokens()), Permissions: &auth.Permissions{
			DefaultDeny: true,
			Rules: []auth.Rule{
				{Role: "admin", Allow: []string{"*"}},
				{Role: "writer", Allow: []string{"store.*", "procedures.call", "procedures.get"}, Buckets: []string{"items"}},
				{Role: "writer", Allow: []string{"rules.*"}, Topics: []string{"public.*"}},
			},
		}}
	})
	admin, _ := dial(t, srv)
	login(t, admin, "t-admin")
	setupProcedureBuckets(t, admin)
	reg := func(name, steps string) {
		t.Helper()
		mustOK(t, admin, map[string]any{"id": 1, "type": "procedures.register", "procedure": jsonValue(t, `{"name":"`+name+`","steps":`+steps+`}`)})
	}
	reg("items-only", `[{"action":"store.insert","bucket":"items","data":{"id":"w1"}},{"action":"store.count","bucket":"items","as":"n"}]`)
	reg("writes-orders", `[{"action":"store.insert","bucket":"items","data":{"id":"w2"}},{"action":"store.update","bucket":"orders","key":"o-1","data":{"status":"hacked"}}]`)
	reg("tx-writes-orders", `[{"action":"store.insert","bucket":"items","data":{"id":"w3"}},{"action":"store.update","bucket":"orders","key":"o-1","data":{"status":"hacked"}}]`)
	mustOK(t, admin, map[string]any{"id": 1, "type": "procedures.update", "name": "tx-writes-orders", "updates": map[string]any{"transaction": true}})
	reg("reads-orders", `[{"action":"store.get","bucket":"orders","key":"o-1","as":"o"}]`)
	reg("emits", `[{"action":"rules.emit","topic":"{{ input.topic }}"}]`)
	reg("admin-only", `[{"action":"return","value":1}]`)

	w, _ := dial(t, srv)
	login(t, w, "t-writer")
	runScenario(t, w, []step{
		{`{"type":"procedures.call","name":"items-only"}`, `{"type":"result","data":{"success":true,"results":{"n":3}}}`},
		{`{"type":"procedures.call","name":"writes-orders"}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for store.update on orders","details":{"step":"steps[1]","action":"store.update"}}`},
		{`{"type":"procedures.call","name":"tx-writes-orders"}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for store.update on orders","details":{"step":"steps[1]","action":"store.update"}}`},
		{`{"type":"procedures.call","name":"reads-orders"}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for store.get on orders","details":{"step":"steps[0]","action":"store.get"}}`},
		{`{"type":"procedures.call","name":"emits","input":{"topic":"public.x"}}`, `{"type":"result","data":{"success":true,"results":{}}}`},
		{`{"type":"procedures.call","name":"emits","input":{"topic":"private.x"}}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for rules.emit on private.x","details":{"step":"steps[0]","action":"rules.emit"}}`},
		// The tiers of the procedures operations themselves.
		{`{"type":"procedures.list"}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for procedures.list (requires admin)"}`},
		{`{"type":"procedures.register","procedure":{"name":"x","steps":[{"action":"return","value":1}]}}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for procedures.register (requires admin)"}`},
	})
	// A non-transactional procedure keeps its allowed first write; the
	// transactional one wrote nothing; orders is untouched.
	runScenario(t, admin, []step{
		{`{"type":"store.get","bucket":"items","key":"w2"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.get","bucket":"items","key":"w3"}`, `{"type":"result","data":null}`},
		{`{"type":"store.get","bucket":"orders","key":"o-1"}`, `{"type":"result","data":{"id":"o-1","_version":1,"_createdAt":"*","_updatedAt":"*"}}`},
	})
	// A reader may read a definition but not call one (write tier).
	r, _ := dial(t, srv)
	login(t, r, "t-reader")
	runScenario(t, r, []step{
		{`{"type":"procedures.call","name":"items-only"}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for procedures.call (requires write)"}`},
	})
}

// startRulesServerWith is startRulesServer (in memory) with the config
// adjusted.
func startRulesServerWith(t *testing.T, mutate func(*noex.Config)) (*noex.Server, *store.Store) {
	t.Helper()
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := noex.OpenRules(st, rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(c *noex.Config) {
		c.Store, c.Rules = st, rt.Engine
		mutate(c)
	})
	t.Cleanup(func() {
		_ = srv.Stop(context.Background(), 0)
		_ = rt.Stop(context.Background())
		_ = st.Close()
	})
	return srv, st
}

// TestProceduresSurviveRestart: definitions persist with the store's data,
// in registration order, updates and removals included.
func TestProceduresSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() (*noex.Server, func()) {
		log, err := storage.OpenPebble(dir, storage.PebbleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, func(c *noex.Config) { c.Store = st })
		return srv, func() {
			_ = srv.Stop(context.Background(), 0)
			_ = st.Close()
		}
	}
	srv, stop := open()
	c, _ := dial(t, srv)
	setupProcedureBuckets(t, c)
	for _, name := range []string{"zeta", "alpha", "gone", "mid"} {
		mustOK(t, c, map[string]any{"id": 1, "type": "procedures.register", "procedure": jsonValue(t,
			`{"name":"`+name+`","steps":[{"action":"return","value":"`+name+`"}]}`)})
	}
	mustOK(t, c, map[string]any{"id": 2, "type": "procedures.register", "procedure": jsonValue(t, calcTotalProcedure)})
	mustOK(t, c, map[string]any{"id": 3, "type": "procedures.update", "name": "alpha", "updates": map[string]any{"description": "updated"}})
	mustOK(t, c, map[string]any{"id": 4, "type": "procedures.unregister", "name": "gone"})
	list := mustOK(t, c, map[string]any{"id": 5, "type": "procedures.list"})
	c.conn.Close() // so the stop need not wait for its close handshake
	stop()

	srv2, stop2 := open()
	c2, _ := dial(t, srv2)
	defer func() {
		c2.conn.Close()
		stop2()
	}()
	if got := mustOK(t, c2, map[string]any{"id": 1, "type": "procedures.list"}); fmt.Sprint(got) != fmt.Sprint(list) {
		t.Fatalf("after restart %v, before %v", got, list)
	}
	if !strings.Contains(fmt.Sprint(list), "[map[name:zeta stepsCount:1] map[description:updated name:alpha stepsCount:1] map[name:mid stepsCount:1]") {
		t.Fatalf("list %v", list)
	}
	runScenario(t, c2, []step{
		{`{"type":"procedures.get","name":"alpha"}`, `{"type":"result","data":{"name":"alpha","steps":[{"action":"return","value":"alpha"}],"description":"updated"}}`},
		{`{"type":"procedures.get","name":"gone"}`, `{"type":"error","code":"NOT_FOUND","message":"Procedure \"gone\" not found"}`},
		{`{"type":"procedures.call","name":"calc-total","input":{"orderId":"o-1"}}`, `{"type":"result","data":{"success":true,"result":{"order":"o-1","label":"Total: 150"},"results":"*"}}`},
		{`{"type":"procedures.register","procedure":{"name":"last","steps":[{"action":"return","value":1}]}}`, `{"type":"result","data":"*"}`},
	})
	got := mustOK(t, c2, map[string]any{"id": 2, "type": "procedures.list"}).(map[string]any)["procedures"].([]any)
	if len(got) != 5 || got[4].(map[string]any)["name"] != "last" {
		t.Fatalf("a new registration after restart: %v", got)
	}
}

// TestProceduresWithoutStore: procedures work in memory; store steps fail
// like an unknown bucket.
func TestProceduresWithoutStore(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"procedures.register","procedure":{"name":"p","input":{"n":{"type":"number","default":2}},"steps":[{"action":"return","value":"n={{ input.n }}"}]}}`, `{"type":"result","data":{"name":"p","registered":true}}`},
		{`{"type":"procedures.call","name":"p"}`, `{"type":"result","data":{"success":true,"result":"n=2","results":{}}}`},
		{`{"type":"procedures.register","procedure":{"name":"s","transaction":true,"steps":[{"action":"store.count","bucket":"b","as":"n"}]}}`, `{"type":"result","data":"*"}`},
		{`{"type":"procedures.call","name":"s"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Bucket \"b\" is not defined","details":{"step":"steps[0]","action":"store.count"}}`},
		{`{"type":"procedures.list"}`, `{"type":"result","data":{"procedures":[{"name":"p","stepsCount":1},{"name":"s","stepsCount":1}]}}`},
	})
}

// TestProcedureHiddenDetails: with error details hidden the step and the
// issues are not sent; codes and messages stay.
func TestProcedureHiddenDetails(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.HideErrorDetails = true })
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"procedures.register","procedure":{"name":"s","steps":[{"action":"store.count","bucket":"b","as":"n"}]}}`, `{"type":"result","data":"*"}`},
		{`{"type":"procedures.call","name":"s"}`, `{"type":"error","code":"INTERNAL_ERROR","message":"Bucket \"b\" is not defined"}`},
		{`{"type":"procedures.register","procedure":{"name":"s"}}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Procedure validation failed: Missing or invalid \"steps\": expected array"}`},
	})
}

// TestProcedureUpdateIsAtomicOverTheWire: calls racing an update see the
// old definition or the new one, never a mix.
func TestProcedureUpdateIsAtomicOverTheWire(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	admin, _ := dial(t, srv)
	def := func(v int) map[string]any {
		return map[string]any{"input": map[string]any{"v": map[string]any{"type": "number", "default": v}},
			"steps": []any{map[string]any{"action": "return", "value": fmt.Sprintf("{{ input.v }}/%d", v)}}}
	}
	first := def(0)
	first["name"] = "p"
	mustOK(t, admin, map[string]any{"id": 1, "type": "procedures.register", "procedure": first})
	caller, _ := dial(t, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 50; i++ {
			if r := admin.request(map[string]any{"id": 2, "type": "procedures.update", "name": "p", "updates": def(i)}); r["type"] != "result" {
				t.Errorf("update: %v", r)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		r := caller.request(map[string]any{"id": 3, "type": "procedures.call", "name": "p"})
		res, _ := r["data"].(map[string]any)["result"].(string)
		var a, b int
		if _, err := fmt.Sscanf(res, "%d/%d", &a, &b); err != nil || a != b {
			t.Fatalf("mixed definition: %v", r)
		}
	}
}

// TestProcedureLimitsFromConfig: Config.Procedures bounds definitions;
// negative limits are refused at New.
func TestProcedureLimitsFromConfig(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.Procedures.MaxSteps, c.Procedures.MaxConditionDepth = 2, 1 })
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"procedures.register","procedure":{"name":"p","steps":[{"action":"return","value":1},{"action":"return","value":2},{"action":"return","value":3}]}}`,
			`{"type":"error","code":"VALIDATION_ERROR","message":"Procedure validation failed: Total step count (3) exceeds maximum (2)","details":{"issues":["Total step count (3) exceeds maximum (2)"]}}`},
		{`{"type":"procedures.register","procedure":{"name":"p","steps":[{"action":"if","condition":{"ref":"a","operator":"exists"},"then":[{"action":"if","condition":{"ref":"a","operator":"exists"},"then":[{"action":"return","value":1}]}]}]}}`,
			`{"type":"error","code":"VALIDATION_ERROR","message":"Procedure validation failed: Total step count (3) exceeds maximum (2); steps[0].then[0]: condition nesting depth exceeds maximum (1)","details":"*"}`},
	})
	if d := noex.DefaultConfig().Procedures; d.MaxSteps != 100 || d.MaxConditionDepth != 5 || d.DefaultTimeout != 30*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	cfg := noex.DefaultConfig()
	cfg.Procedures.DefaultTimeout = -time.Second
	if _, err := noex.New(cfg); err == nil || !strings.Contains(err.Error(), "procedures") {
		t.Fatalf("New with a negative timeout: %v", err)
	}
}
