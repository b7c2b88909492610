package rules

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// memPersister records every call and keeps the latest bytes, as the
// server's commit log would.
type memPersister struct {
	mu      sync.Mutex
	calls   []string
	tags    []string // per call: the ctxTag of its context, "-" if none
	rules   map[string][]byte
	facts   map[string][]byte
	timers  map[string][]byte
	groups  map[string][]byte
	failOn  string // a method name that fails
	failErr error
}

// ctxTag marks the context of a call, to see which context the persister
// got.
type ctxTag struct{}

func tagged(tag string) context.Context {
	return context.WithValue(context.Background(), ctxTag{}, tag)
}

func newMemPersister() *memPersister {
	return &memPersister{rules: map[string][]byte{}, facts: map[string][]byte{},
		timers: map[string][]byte{}, groups: map[string][]byte{}}
}

func (p *memPersister) rec(ctx context.Context, call, id string, m map[string][]byte, b []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failOn == call {
		return p.failErr
	}
	p.calls = append(p.calls, call+" "+id)
	tag, ok := ctx.Value(ctxTag{}).(string)
	if !ok {
		tag = "-"
	}
	p.tags = append(p.tags, call+" "+id+" "+tag)
	if b == nil {
		delete(m, id)
	} else {
		m[id] = append([]byte(nil), b...)
	}
	return nil
}

func (p *memPersister) SaveRule(ctx context.Context, id string, b []byte) error {
	return p.rec(ctx, "SaveRule", id, p.rules, b)
}
func (p *memPersister) DeleteRule(ctx context.Context, id string) error {
	return p.rec(ctx, "DeleteRule", id, p.rules, nil)
}
func (p *memPersister) SaveFact(ctx context.Context, k string, b []byte) error {
	return p.rec(ctx, "SaveFact", k, p.facts, b)
}
func (p *memPersister) DeleteFact(ctx context.Context, k string) error {
	return p.rec(ctx, "DeleteFact", k, p.facts, nil)
}
func (p *memPersister) SaveTimer(ctx context.Context, n string, b []byte) error {
	return p.rec(ctx, "SaveTimer", n, p.timers, b)
}
func (p *memPersister) DeleteTimer(ctx context.Context, n string) error {
	return p.rec(ctx, "DeleteTimer", n, p.timers, nil)
}
func (p *memPersister) SaveGroup(ctx context.Context, id string, b []byte) error {
	return p.rec(ctx, "SaveGroup", id, p.groups, b)
}
func (p *memPersister) DeleteGroup(ctx context.Context, id string) error {
	return p.rec(ctx, "DeleteGroup", id, p.groups, nil)
}
func (p *memPersister) snapshot() *Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp := func(m map[string][]byte) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return &Snapshot{Rules: cp(p.rules), Facts: cp(p.facts), Timers: cp(p.timers), Groups: cp(p.groups)}
}

func (p *memPersister) callLog() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.calls, "\n")
}

// tagLog is callLog with the tag of each call's context.
func (p *memPersister) tagLog() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tags, "\n")
}

func TestPersisterCalls(t *testing.T) {
	t.Parallel()
	p := newMemPersister()
	te := newTestEngine(t, Options{Persister: p})
	ctx := context.Background()
	te.register(rule("r", eventTrigger("go"), "", `[{"type":"set_fact","key":"k","value":1},{"type":"delete_fact","key":"old"},
		{"type":"set_timer","timer":{"name":"t","duration":"1m","onExpire":{"topic":"x","data":{}}}}]`))
	te.setFact("old", 1)
	te.emit("go", "")
	_, _ = te.DisableRule(ctx, "r")
	_, _ = te.UpdateRule(ctx, "r", obj(t, `{"priority":3}`))
	_, _ = te.CreateGroup(ctx, GroupInput{ID: "g"})
	_, _ = te.CancelTimer(ctx, "t")
	_ = te.UnregisterRule(ctx, "r")
	_, _ = te.DeleteFact(ctx, "k")
	_ = te.DeleteGroup(ctx, "g")
	want := strings.Join([]string{"SaveRule r", "SaveFact old", "SaveFact k", "DeleteFact old", "SaveTimer t",
		"SaveRule r", "SaveRule r", "SaveGroup g", "DeleteTimer t", "DeleteRule r", "DeleteFact k", "DeleteGroup g"}, "\n")
	if got := p.callLog(); got != want {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, want)
	}
}

// TestPersisterContext: the persister gets the context of the call that
// caused the change; changes made by firing rules (their actions, a
// service calling back into the engine) and by timers get
// context.Background().
func TestPersisterContext(t *testing.T) {
	t.Parallel()
	p := newMemPersister()
	te := newTestEngine(t, Options{Persister: p})
	if err := te.SetService(tagged("svc"), "svc", Service{"set": func(ctx context.Context, _ []any) (any, error) {
		return te.SetFact(ctx, "inline", 1) // inline: ctx carries the caller's tag
	}}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must2 := func(_ any, err error) { t.Helper(); must(err) }
	must2(te.RegisterRule(tagged("register"), obj(t, rule("r", `{"type":"fact","pattern":"f"}`, "", `[
		{"type":"set_fact","key":"byRule","value":1},
		{"type":"delete_fact","key":"byRule"},
		{"type":"set_timer","timer":{"name":"t","duration":"1m","onExpire":{"topic":"x","data":{}}}},
		{"type":"call_service","service":"svc","method":"set","args":[]}]`))))
	must2(te.SetFact(tagged("setFact"), "f", 1))
	must2(te.UpdateRule(tagged("update"), "r", obj(t, `{"priority":3}`)))
	must2(te.DisableRule(tagged("disable"), "r"))
	must2(te.EnableRule(tagged("enable"), "r"))
	must2(te.CreateGroup(tagged("createGroup"), GroupInput{ID: "g"}))
	must2(te.UpdateRule(tagged("group"), "r", obj(t, `{"group":"g"}`)))
	must2(te.DisableGroup(tagged("disableGroup"), "g"))
	must(te.DeleteGroup(tagged("deleteGroup"), "g"))
	must2(te.SetTimer(tagged("setTimer"), TimerConfig{Name: "t2", Duration: "1h", OnExpire: TimerEvent{Topic: "y"}}))
	te.clock.Advance(time.Minute) // "t" fires
	must2(te.CancelTimer(tagged("cancelTimer"), "t2"))
	must2(te.DeleteFact(tagged("deleteFact"), "f"))
	must(te.UnregisterRule(tagged("unregister"), "r"))
	want := strings.Join([]string{
		"SaveRule r register",
		"SaveFact f setFact",
		"SaveFact byRule -", "DeleteFact byRule -", "SaveTimer t -", "SaveFact inline -",
		"SaveRule r update", "SaveRule r disable", "SaveRule r enable",
		"SaveGroup g createGroup", "SaveRule r group", "SaveGroup g disableGroup",
		"SaveRule r deleteGroup", "DeleteGroup g deleteGroup",
		"SaveTimer t2 setTimer",
		"DeleteTimer t -",
		"DeleteTimer t2 cancelTimer", "DeleteFact f deleteFact", "DeleteRule r unregister",
	}, "\n")
	if got := p.tagLog(); got != want {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestPersisterFailureAbandonsChange(t *testing.T) {
	t.Parallel()
	p := newMemPersister()
	p.failOn, p.failErr = "SaveFact", errors.New("disk full")
	te := newTestEngine(t, Options{Persister: p})
	if _, err := te.SetFact(context.Background(), "k", 1); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("want persist error, got %v", err)
	}
	if _, ok := te.GetFact("k"); ok {
		t.Fatal("the change must be abandoned")
	}
	te.register(rule("r", eventTrigger("go"), "", `[{"type":"set_fact","key":"a","value":1},{"type":"set_fact","key":"b","value":1}]`))
	te.emit("go", "")
	if te.Stats().ActionsFailed != 2 {
		t.Fatal("a persist failure fails the action")
	}
	p.failOn = "SaveRule"
	if _, err := te.RegisterRule(context.Background(), obj(t, rule("r2", eventTrigger("go"), "", ""))); err == nil {
		t.Fatal("rule persist failure")
	}
	if _, ok := te.GetRule("r2"); ok {
		t.Fatal("rule registered despite persist failure")
	}
}

func TestRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	p := newMemPersister()
	clock := newFakeClock()
	ctx := context.Background()
	a := newTestEngine(t, Options{Persister: p, Clock: clock})
	_, _ = a.CreateGroup(ctx, GroupInput{ID: "g"})
	a.register(rule("first", eventTrigger("x"), "", ""))
	a.register(`{"id":"second","name":"Second","priority":7,"group":"g","tags":["t"],"trigger":{"type":"event","topic":"ping"},
		"actions":[{"type":"set_fact","key":"pinged","value":{"ref":"event.n"}}]}`)
	a.register(rule("third", eventTrigger("x"), "", ""))
	_, _ = a.UpdateRule(ctx, "first", obj(t, `{"priority":1}`)) // version 4, moves last
	_, _ = a.DisableRule(ctx, "third")
	for i, k := range []string{"c:1", "a:1", "b:1"} {
		a.setFact(k, float64(i))
	}
	a.setFact("a:1", "again") // keeps its place, version 2
	_, _ = a.DeleteFact(ctx, "c:1")
	a.setFact("c:1", "back") // re-created: last, version 1
	_, _ = a.SetTimer(ctx, TimerConfig{Name: "later", Duration: "1h", OnExpire: TimerEvent{Topic: "later.fired", Data: map[string]any{"n": 1.0}}})
	_, _ = a.SetTimer(ctx, TimerConfig{Name: "soon", Duration: "1m", OnExpire: TimerEvent{Topic: "soon.fired"}})
	_, _ = a.SetTimer(ctx, TimerConfig{Name: "rep", Duration: "1m", RepeatInterval: "10m", RepeatMaxCount: 3, OnExpire: TimerEvent{Topic: "rep.fired"}})
	clock.Advance(time.Minute) // "soon" fires and is deleted; "rep" fires once
	wantRules, wantFacts, wantTimers := a.GetRules(), a.GetAllFacts(), a.Timers()
	_ = a.Stop(ctx)

	// The process is down for 3 hours: "later" and "rep" come due.
	clock.Advance(3 * time.Hour)
	b := newTestEngine(t, Options{Persister: p, Clock: clock, Restore: p.snapshot()})
	rec := &recorder{}
	b.Subscribe("*", rec.add)
	if !reflect.DeepEqual(jsonString(b.GetRules()), jsonString(wantRules)) {
		t.Fatalf("rules:\n%s\nwant\n%s", jsonString(b.GetRules()), jsonString(wantRules))
	}
	if !reflect.DeepEqual(jsonString(b.GetAllFacts()), jsonString(wantFacts)) {
		t.Fatalf("facts:\n%s\nwant\n%s", jsonString(b.GetAllFacts()), jsonString(wantFacts))
	}
	if !reflect.DeepEqual(jsonString(b.Timers()), jsonString(wantTimers)) {
		t.Fatalf("timers:\n%s\nwant\n%s", jsonString(b.Timers()), jsonString(wantTimers))
	}
	if g, ok := b.GetGroup("g"); !ok || !g.Enabled {
		t.Fatal("group restored")
	}
	// Versions continue after the highest restored one.
	if r := b.register(rule("fourth", eventTrigger("x"), "", "")); r.Version != 5 {
		t.Fatalf("version %d", r.Version)
	}
	// Restored rules run; the disabled one stays disabled.
	b.emit("ping", `{"n":5}`)
	if b.fact("pinged") != 5.0 {
		t.Fatal("restored rule")
	}
	if r, _ := b.GetRule("third"); r.Enabled {
		t.Fatal("disabled state restored")
	}
	// Due timers fire once, as soon as possible.
	b.clock.Advance(0)
	got := map[string]int{}
	for _, tp := range rec.topics() {
		got[tp]++
	}
	if got["later.fired"] != 1 || got["rep.fired"] != 1 {
		t.Fatalf("due timers fire once: %v", got)
	}
	// The repeating one continues from now (2 of 3 firings done).
	rep, ok := b.GetTimer("rep")
	if !ok || rep.FireCount != 2 || rep.ExpiresAt != clock.Now().Add(10*time.Minute).UnixMilli() {
		t.Fatalf("rep %+v", rep)
	}
	clock.Advance(time.Hour)
	if n := countTopic(rec, "rep.fired"); n != 2 {
		t.Fatalf("rep fires its 3rd and last time: %d", n)
	}
	if len(b.Timers()) != 0 || len(p.snapshot().Timers) != 0 {
		t.Fatal("fired timers are deleted from the persister")
	}
}

func TestRestoreKeepsRemainingTime(t *testing.T) {
	t.Parallel()
	p := newMemPersister()
	clock := newFakeClock()
	a := newTestEngine(t, Options{Persister: p, Clock: clock})
	_, _ = a.SetTimer(context.Background(), TimerConfig{Name: "t", Duration: "1h", OnExpire: TimerEvent{Topic: "fired"}})
	_ = a.Stop(context.Background())
	clock.Advance(20 * time.Minute)
	b := newTestEngine(t, Options{Persister: p, Clock: clock, Restore: p.snapshot()})
	rec := &recorder{}
	b.Subscribe("fired", rec.add)
	clock.Advance(39 * time.Minute)
	if rec.len() != 0 {
		t.Fatal("fired early")
	}
	clock.Advance(time.Minute)
	if rec.len() != 1 {
		t.Fatal("fires at the original time")
	}
}

func TestRestoreSkipsBrokenRule(t *testing.T) {
	t.Parallel()
	snap := &Snapshot{Rules: map[string][]byte{
		"ok":  []byte(`{"id":"ok","name":"ok","trigger":{"type":"event","topic":"a"},"version":3,"createdAt":1,"updatedAt":2}`),
		"bad": []byte(`{"id":"bad","name":"bad","trigger":{"type":"nope"},"version":1}`),
	}}
	te := newTestEngine(t, Options{Restore: snap})
	if len(te.GetRules()) != 1 || !strings.Contains(te.logs.String(), "cannot be compiled") {
		t.Fatal("a broken rule is logged and skipped")
	}
	if r, _ := te.GetRule("ok"); r.Version != 3 || r.CreatedAt != 1 || r.UpdatedAt != 2 {
		t.Fatalf("%+v", r)
	}
	if _, err := New(Options{Restore: &Snapshot{Facts: map[string][]byte{"x": []byte("{")}}}); err == nil {
		t.Fatal("undecodable bytes are an error")
	}
}

func countTopic(r *recorder, topic string) int {
	n := 0
	for _, tp := range r.topics() {
		if tp == topic {
			n++
		}
	}
	return n
}
