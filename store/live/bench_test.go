package live

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/noex-go/noex/store"
)

// nopSink discards what subscriptions produce.
type nopSink struct{}

func (nopSink) Deliver(*Subscription, *Result)    {}
func (nopSink) End(*Subscription, string, string) {}

// benchEngine is an engine over a bucket of 100 records with 100 owners
// and an equality query on the owner.
func benchEngine(b *testing.B) (*store.Store, *Engine) {
	b.Helper()
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(st, Options{Evaluators: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(); _ = st.Close() })
	if err := st.DefineBucket("items", json.RawMessage(`{"key":"id","schema":{"id":{"type":"string"},"owner":{"type":"string"},"n":{"type":"number"}},"indexes":["owner"]}`)); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := st.Insert("items", store.Record{"id": fmt.Sprint(i), "owner": fmt.Sprint("o", i), "n": float64(i)}); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.DefineDeclarative("mine", json.RawMessage(`{"bucket":"items","filter":{"owner":"{{ params.owner }}"},"fields":["id","n"]}`)); err != nil {
		b.Fatal(err)
	}
	return st, e
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkSubscribeDistinct subscribes b.N distinct params (one instance
// each) and reports the live heap they keep; run it with -benchtime=10000x
// for the figure of 10,000 subscriptions.
func BenchmarkSubscribeDistinct(b *testing.B) {
	_, e := benchEngine(b)
	subs := make([]*Subscription, b.N)
	before := liveHeap()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The params are the caller's (decoded from the request), not
		// counted; what the engine keeps of them is.
		b.StopTimer()
		params := map[string]any{"owner": fmt.Sprint("o", i)}
		b.StartTimer()
		s, _, err := e.Subscribe("mine", params, nopSink{})
		if err != nil {
			b.Fatal(err)
		}
		e.Activate(s)
		subs[i] = s
	}
	b.StopTimer()
	after := liveHeap()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(b.N), "live-B/sub")
	runtime.KeepAlive(subs)
	for _, s := range subs {
		e.Cancel(s)
	}
}

// BenchmarkEvaluateParams re-evaluates one parameterized instance as the
// evaluator does (params decoded from the instance key): the garbage of one
// evaluation.
func BenchmarkEvaluateParams(b *testing.B) {
	_, e := benchEngine(b)
	s, _, err := e.Subscribe("mine", map[string]any{"owner": "o7"}, nopSink{})
	if err != nil {
		b.Fatal(err)
	}
	e.Activate(s)
	inst := s.inst
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inst.deliver.Lock()
		if err := e.evaluateLocked(inst); err != nil {
			b.Fatal(err)
		}
		inst.deliver.Unlock()
	}
}
