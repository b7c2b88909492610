package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock driven by Advance: due functions run synchronously,
// in time order, on the caller's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    int
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	seq     int
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		d = 0
	}
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, seq: c.seq}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return was
		}
	}
	return false
}

// Advance moves time forward by d, running every function that comes due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool {
			if !c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].at.Before(c.timers[j].at)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].at.After(target) {
			break
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.stopped = true
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// logBuffer captures the engine's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type testEngine struct {
	*Engine
	t     *testing.T
	clock *fakeClock
	logs  *logBuffer
}

func newTestEngine(t *testing.T, opts Options) *testEngine {
	t.Helper()
	logs := &logBuffer{}
	if opts.Clock == nil {
		opts.Clock = newFakeClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	fc, _ := opts.Clock.(*fakeClock)
	return &testEngine{Engine: e, t: t, clock: fc, logs: logs}
}

// obj decodes a JSON object literal.
func obj(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return m
}

func val(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return v
}

func (te *testEngine) register(def string) *Rule {
	te.t.Helper()
	r, err := te.RegisterRule(context.Background(), obj(te.t, def))
	if err != nil {
		te.t.Fatalf("RegisterRule(%s): %v", def, err)
	}
	return r
}

func (te *testEngine) emit(topic string, data string) *Event {
	te.t.Helper()
	var d map[string]any
	if data != "" {
		d = obj(te.t, data)
	}
	ev, err := te.Emit(context.Background(), topic, d)
	if err != nil {
		te.t.Fatalf("Emit: %v", err)
	}
	return ev
}

func (te *testEngine) setFact(key string, v any) Fact {
	te.t.Helper()
	f, err := te.SetFact(context.Background(), key, v)
	if err != nil {
		te.t.Fatalf("SetFact: %v", err)
	}
	return f
}

func (te *testEngine) fact(key string) any {
	v, _ := te.GetFact(key)
	return v
}

// record collects events delivered to a subscription.
type recorder struct {
	mu     sync.Mutex
	events []*Event
}

func (r *recorder) add(ev *Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) topics() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, ev := range r.events {
		out[i] = ev.Topic
	}
	return out
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// rule builds a minimal rule definition JSON.
func rule(id, trigger, conditions, actions string) string {
	if conditions == "" {
		conditions = "[]"
	}
	if actions == "" {
		actions = "[]"
	}
	return `{"id":"` + id + `","name":"` + id + `","trigger":` + trigger +
		`,"conditions":` + conditions + `,"actions":` + actions + `}`
}

func eventTrigger(topic string) string { return `{"type":"event","topic":"` + topic + `"}` }

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
