package live

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

// sink records what a subscription receives.
type sink struct {
	mu    sync.Mutex
	got   []string
	ended string
	ch    chan string
}

func newSink() *sink { return &sink{ch: make(chan string, 1000)} }

func (s *sink) Deliver(_ *Subscription, r *Result) {
	s.mu.Lock()
	s.got = append(s.got, string(r.Data))
	s.mu.Unlock()
	s.ch <- string(r.Data)
}

func (s *sink) End(_ *Subscription, code, message string) {
	s.mu.Lock()
	s.ended = code + ": " + message
	s.mu.Unlock()
	s.ch <- "END " + code
}

func (s *sink) next(t *testing.T) string {
	t.Helper()
	select {
	case v := <-s.ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered in 5 s")
		return ""
	}
}

func (s *sink) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case v := <-s.ch:
		t.Fatalf("unexpected delivery %s", v)
	case <-time.After(d):
	}
}

func setup(t *testing.T, log storage.Log) (*store.Store, *Engine) {
	t.Helper()
	st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); _ = st.Close() })
	if !st.HasBucket("items") {
		if err := st.DefineBucket("items", json.RawMessage(`{"key":"id","schema":{"id":{"type":"string"},"owner":{"type":"string"},"n":{"type":"number"}},"indexes":["owner"]}`)); err != nil {
			t.Fatal(err)
		}
	}
	return st, e
}

func sub(t *testing.T, e *Engine, name string, params any) (*Subscription, *sink, string) {
	t.Helper()
	k := newSink()
	s, initial, err := e.Subscribe(name, params, k)
	if err != nil {
		t.Fatal(err)
	}
	e.Activate(s)
	return s, k, string(initial.Data)
}

func TestEqualityWakesOnlyMatchingInstances(t *testing.T) {
	st, e := setup(t, nil)
	if err := e.DefineDeclarative("mine", json.RawMessage(`{"bucket":"items","filter":{"owner":"{{ params.owner }}"},"fields":["id","n"]}`)); err != nil {
		t.Fatal(err)
	}
	_, ka, _ := sub(t, e, "mine", map[string]any{"owner": "a"})
	_, kb, _ := sub(t, e, "mine", map[string]any{"owner": "b"})
	_, kNone, initial := sub(t, e, "mine", nil) // owner absent: records without an owner
	if initial != "[]" {
		t.Fatalf("initial %s", initial)
	}
	before := e.Evaluations()
	if _, err := st.Insert("items", store.Record{"id": "1", "owner": "a", "n": float64(1)}); err != nil {
		t.Fatal(err)
	}
	if got := ka.next(t); got != `[{"id":"1","n":1}]` {
		t.Fatalf("a got %s", got)
	}
	kb.none(t, 100*time.Millisecond)
	kNone.none(t, 10*time.Millisecond)
	if evals := e.Evaluations() - before; evals != 1 {
		t.Fatalf("%d evaluations for one change touching one instance", evals)
	}
	// Moving the record from a to b wakes both (old and new value).
	if _, err := st.Update("items", "1", store.Record{"owner": "b"}); err != nil {
		t.Fatal(err)
	}
	if got := ka.next(t); got != "[]" {
		t.Fatalf("a got %s", got)
	}
	if got := kb.next(t); got != `[{"id":"1","n":1}]` {
		t.Fatalf("b got %s", got)
	}
	// A record without an owner reaches the absent-parameter instance.
	if _, err := st.Insert("items", store.Record{"id": "2", "n": float64(2)}); err != nil {
		t.Fatal(err)
	}
	if got := kNone.next(t); got != `[{"id":"2","n":2}]` {
		t.Fatalf("absent got %s", got)
	}
}

// TestBurstsCoalesceAndNeverGoBack: a subscriber gets results in order and
// always ends on the latest, with fewer evaluations than changes.
func TestBurstsCoalesceAndNeverGoBack(t *testing.T) {
	st, e := setup(t, nil)
	if err := e.DefineDeclarative("count", json.RawMessage(`{"bucket":"items","aggregate":{"function":"count"}}`)); err != nil {
		t.Fatal(err)
	}
	_, k, _ := sub(t, e, "count", nil)
	const n = 300
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				_, _ = st.Insert("items", store.Record{"id": fmt.Sprint(i), "owner": "x"})
			}
		}(w)
	}
	wg.Wait()
	last := 0
	for last != n {
		var v int
		if err := json.Unmarshal([]byte(k.next(t)), &v); err != nil {
			t.Fatal(err)
		}
		if v <= last {
			t.Fatalf("got %d after %d", v, last)
		}
		last = v
	}
	t.Logf("%d changes, %d evaluations, %d deliveries", n, e.Evaluations(), len(k.got))
}

func TestActivateDeliversWhatChangedMeanwhile(t *testing.T) {
	st, e := setup(t, nil)
	_ = e.DefineDeclarative("count", json.RawMessage(`{"bucket":"items","aggregate":{"function":"count"}}`))
	k := newSink()
	s, initial, err := e.Subscribe("count", nil, k)
	if err != nil || string(initial.Data) != "0" {
		t.Fatalf("%v %v", initial, err)
	}
	_, _ = st.Insert("items", store.Record{"id": "1"})
	time.Sleep(50 * time.Millisecond)
	k.none(t, 10*time.Millisecond) // not active yet: nothing delivered
	e.Activate(s)
	if got := k.next(t); got != "1" {
		t.Fatalf("after activate %s", got)
	}
}

func TestCancelRemovesInstance(t *testing.T) {
	_, e := setup(t, nil)
	_ = e.DefineDeclarative("all", json.RawMessage(`{"bucket":"items"}`))
	s1, _, _ := sub(t, e, "all", map[string]any{"p": 1})
	s2, _, _ := sub(t, e, "all", map[string]any{"p": 1})
	if _, n := e.Counts(); n != 2 {
		t.Fatalf("%d subscriptions", n)
	}
	e.Cancel(s1)
	if !e.Cancel(s2) || e.Cancel(s2) {
		t.Fatal("second cancel must report false")
	}
	e.mu.Lock()
	left := len(e.queries["all"].instances)
	e.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d instances left", left)
	}
}

func TestGoQueryDependenciesFollowEachEvaluation(t *testing.T) {
	st, e := setup(t, nil)
	// Reads record "switch"; only if it says so, reads the whole bucket.
	if err := e.DefineQuery("cond", func(ctx *store.QueryContext, _ any) (any, error) {
		sw, err := ctx.Get("items", "switch")
		if err != nil {
			return nil, err
		}
		if sw == nil || sw["owner"] != "all" {
			return "off", nil
		}
		n, err := ctx.Count("items", nil)
		return n, err
	}); err != nil {
		t.Fatal(err)
	}
	_, k, initial := sub(t, e, "cond", nil)
	if initial != `"off"` {
		t.Fatalf("initial %s", initial)
	}
	before := e.Evaluations()
	_, _ = st.Insert("items", store.Record{"id": "other"})
	k.none(t, 100*time.Millisecond)
	if e.Evaluations() != before {
		t.Fatal("a record the query did not read woke it")
	}
	_, _ = st.Insert("items", store.Record{"id": "switch", "owner": "all"})
	if got := k.next(t); got != "2" {
		t.Fatalf("after switch %s", got)
	}
	_, _ = st.Insert("items", store.Record{"id": "third"}) // now a bucket dependency
	if got := k.next(t); got != "3" {
		t.Fatalf("after third %s", got)
	}
}

func TestUndefineAndDropEnd(t *testing.T) {
	st, e := setup(t, nil)
	_ = e.DefineDeclarative("q1", json.RawMessage(`{"bucket":"items"}`))
	_ = e.DefineDeclarative("q2", json.RawMessage(`{"bucket":"items"}`))
	_, k1, _ := sub(t, e, "q1", nil)
	_, k2, _ := sub(t, e, "q2", nil)
	if ok, err := e.Undefine("q1"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got := k1.next(t); got != "END QUERY_NOT_DEFINED" {
		t.Fatal(got)
	}
	if _, err := st.DropBucket("items"); err != nil {
		t.Fatal(err)
	}
	if got := k2.next(t); got != "END BUCKET_NOT_DEFINED" {
		t.Fatal(got)
	}
	if d, n := e.Counts(); d != 1 || n != 0 {
		t.Fatalf("defined %d, subscriptions %d", d, n)
	}
}

func TestDefinitionsPersistInOrder(t *testing.T) {
	log := storage.NewRecordingLog()
	st, e := setup(t, log)
	for _, name := range []string{"zeta", "alpha", "mid"} {
		if err := e.DefineDeclarative(name, json.RawMessage(`{"bucket":"items"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Undefine("alpha"); err != nil {
		t.Fatal(err)
	}
	e.Close()
	_ = st.Close()
	_, e2 := setup(t, log.Reopen())
	var names []string
	for _, q := range e2.List() {
		names = append(names, q.Name)
	}
	if fmt.Sprint(names) != "[zeta mid]" {
		t.Fatalf("recovered %v", names)
	}
}
