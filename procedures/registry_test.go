package procedures

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// memPersister records what a Registry persisted.
type memPersister struct {
	mu    sync.Mutex
	saved map[string]Stored
	fail  error
}

func (p *memPersister) Save(_ context.Context, name string, seq uint64, def json.RawMessage) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	if p.saved == nil {
		p.saved = map[string]Stored{}
	}
	p.saved[name] = Stored{Name: name, Seq: seq, Definition: append(json.RawMessage(nil), def...)}
	return nil
}

func (p *memPersister) Delete(_ context.Context, name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	delete(p.saved, name)
	return nil
}

func (p *memPersister) stored() []Stored {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Stored
	for _, s := range p.saved {
		out = append(out, s)
	}
	return out
}

func names(defs []*Definition) string {
	var out []string
	for _, d := range defs {
		out = append(out, d.Name)
	}
	return strings.Join(out, ",")
}

func TestProcedureRegistry(t *testing.T) {
	t.Parallel()
	p := &memPersister{}
	r, errs := NewRegistry(Limits{}, p, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	reg := func(def string) error {
		_, err := r.Register(t.Context(), json.RawMessage(def))
		return err
	}
	for _, n := range []string{"b", "a", "c"} {
		if err := reg(`{"name":"` + n + `", "x" : [1, 2], "steps":[{"action":"return","value":1}]}`); err != nil {
			t.Fatal(err)
		}
	}
	var ex *AlreadyExistsError
	if err := reg(`{"name":"a","steps":[{"action":"return","value":2}]}`); !errors.As(err, &ex) || err.Error() != `Procedure "a" already exists` {
		t.Fatalf("duplicate: %v", err)
	}
	var ve *ValidationError
	if err := reg(`{"name":"d"}`); !errors.As(err, &ve) {
		t.Fatalf("invalid: %v", err)
	}
	if names(r.List()) != "b,a,c" {
		t.Fatalf("order %s", names(r.List()))
	}
	if d, _ := r.Get("a"); string(d.Raw()) != `{"name":"a","x":[1,2],"steps":[{"action":"return","value":1}]}` {
		t.Fatalf("verbatim %s", d.Raw())
	}

	// update: shallow merge, name ignored, new keys last, re-validated,
	// same place in the order.
	if _, err := r.Update(t.Context(), "a", json.RawMessage(`{"name":"zzz","description":"new","x":null}`)); err != nil {
		t.Fatal(err)
	}
	d, _ := r.Get("a")
	if string(d.Raw()) != `{"name":"a","x":null,"steps":[{"action":"return","value":1}],"description":"new"}` || d.Description != "new" {
		t.Fatalf("merged %s", d.Raw())
	}
	if _, ok := r.Get("zzz"); ok || names(r.List()) != "b,a,c" {
		t.Fatalf("after update: %s", names(r.List()))
	}
	if _, err := r.Update(t.Context(), "a", json.RawMessage(`{"steps":[]}`)); !errors.As(err, &ve) || ve.Issues[0] != `"steps" must contain at least one step` {
		t.Fatalf("invalid update: %v", err)
	}
	if d2, _ := r.Get("a"); d2 != d {
		t.Fatal("a failed update changed the definition")
	}
	var nf *NotFoundError
	if _, err := r.Update(t.Context(), "nope", json.RawMessage(`{}`)); !errors.As(err, &nf) || err.Error() != `Procedure "nope" not found` {
		t.Fatalf("update unknown: %v", err)
	}
	if err := r.Unregister(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	if err := r.Unregister(t.Context(), "b"); !errors.As(err, &nf) {
		t.Fatalf("unregister twice: %v", err)
	}
	if err := reg(`{"name":"b","steps":[{"action":"return","value":1}]}`); err != nil {
		t.Fatal(err)
	}
	if names(r.List()) != "a,c,b" {
		t.Fatalf("re-registered goes last: %s", names(r.List()))
	}

	// A failed write changes nothing.
	p.fail = errors.New("disk full")
	if err := reg(`{"name":"e","steps":[{"action":"return","value":1}]}`); err == nil {
		t.Fatal("register with a failing persister")
	}
	if err := r.Unregister(t.Context(), "a"); err == nil {
		t.Fatal("unregister with a failing persister")
	}
	if _, err := r.Update(t.Context(), "a", json.RawMessage(`{"description":"x"}`)); err == nil {
		t.Fatal("update with a failing persister")
	}
	if names(r.List()) != "a,c,b" {
		t.Fatalf("after failed writes: %s", names(r.List()))
	}
	p.fail = nil

	// Reload from what was persisted: same order, same definitions, and
	// new registrations go after them.
	r2, errs := NewRegistry(Limits{MaxSteps: 1}, p, append(p.stored(), Stored{Name: "bad", Seq: 99, Definition: json.RawMessage(`{"name":"bad"}`)}))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `procedure "bad"`) {
		t.Fatalf("load errors %v", errs)
	}
	if names(r2.List()) != "a,c,b" {
		t.Fatalf("reloaded order %s", names(r2.List()))
	}
	if d, _ := r2.Get("a"); d.Description != "new" {
		t.Fatalf("reloaded %s", d.Raw())
	}
	if _, err := r2.Register(t.Context(), json.RawMessage(`{"name":"f","steps":[{"action":"return","value":1}]}`)); err != nil {
		t.Fatal(err)
	}
	if names(r2.List()) != "a,c,b,f" || p.saved["f"].Seq <= 99 {
		t.Fatalf("after reload %s seq %d", names(r2.List()), p.saved["f"].Seq)
	}
	// Stored definitions are loaded whatever the limits are now.
	if _, err := r2.Register(t.Context(), json.RawMessage(`{"name":"g","steps":[{"action":"return","value":1},{"action":"return","value":1}]}`)); !errors.As(err, &ve) {
		t.Fatalf("new limits apply to new definitions: %v", err)
	}
}

// TestUpdateIsAtomic: calls running while the definition is replaced see
// the old or the new one, never a mix.
func TestProcedureUpdateIsAtomic(t *testing.T) {
	t.Parallel()
	r, _ := NewRegistry(Limits{}, nil, nil)
	version := func(v int) string {
		return fmt.Sprintf(`{"name":"p","input":{"v":{"type":"number","default":%d}},"steps":[
			{"action":"rules.getFact","key":"f%d","as":"r%d"},
			{"action":"aggregate","source":"nothing","op":"count","as":"x"}],"transaction":%v}`, v, v, v, v%2 == 0)
	}
	if _, err := r.Register(t.Context(), json.RawMessage(version(0))); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i < 200; i++ {
			var upd map[string]json.RawMessage
			_ = json.Unmarshal([]byte(version(i)), &upd)
			b, _ := json.Marshal(upd)
			if _, err := r.Update(t.Context(), "p", b); err != nil {
				t.Error(err)
				return
			}
		}
		stop.Store(true)
	}()
	h := newHarness(t)
	for !stop.Load() {
		d, _ := r.Get("p")
		_, err := h.runner.Call(t.Context(), d, nil, h.env())
		se := stepErr(t, err)
		// The failing step names the same definition as the default.
		if se.Path != "steps[1]" {
			t.Fatalf("step %s", se.Path)
		}
		in, _ := checkInput(d, nil)
		v := int(in["v"].(float64))
		if d.Steps[0].As != fmt.Sprintf("r%d", v) || d.Transaction != (v%2 == 0) {
			t.Fatalf("mixed definition: %s", d.Raw())
		}
	}
	wg.Wait()
}

// ctxPersister records the tag of the context of every write.
type ctxPersister struct{ tags []string }

type tagKey struct{}

func (p *ctxPersister) Save(ctx context.Context, name string, _ uint64, _ json.RawMessage) error {
	p.tags = append(p.tags, fmt.Sprintf("save %s %v", name, ctx.Value(tagKey{})))
	return nil
}

func (p *ctxPersister) Delete(ctx context.Context, name string) error {
	p.tags = append(p.tags, fmt.Sprintf("delete %s %v", name, ctx.Value(tagKey{})))
	return nil
}

// TestProcedureRegistryContext: every write gets the context of the
// Registry call that makes it.
func TestProcedureRegistryContext(t *testing.T) {
	t.Parallel()
	p := &ctxPersister{}
	r, _ := NewRegistry(Limits{}, p, nil)
	tagged := func(tag string) context.Context { return context.WithValue(t.Context(), tagKey{}, tag) }
	if _, err := r.Register(tagged("register"), json.RawMessage(`{"name":"p","steps":[{"action":"return","value":1}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(tagged("update"), "p", json.RawMessage(`{"description":"d"}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.Unregister(tagged("unregister"), "p"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.tags, ","); got != "save p register,save p update,delete p unregister" {
		t.Fatalf("writes: %s", got)
	}
}
