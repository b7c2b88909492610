package rules

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestIndexAddRemove(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	ctx := context.Background()
	rec := &recorder{}
	te.Subscribe("ran.*", rec.add)
	for _, id := range []string{"w1", "w2", "w3"} {
		te.register(rule(id, eventTrigger("a.*"), "", `[{"type":"emit_event","topic":"ran.`+id+`","data":{}}]`))
	}
	for _, id := range []string{"e1", "e2"} {
		te.register(rule(id, eventTrigger("a.b"), "", `[{"type":"emit_event","topic":"ran.`+id+`","data":{}}]`))
	}
	te.register(rule("f", `{"type":"fact","pattern":"k:*"}`, "", `[{"type":"emit_event","topic":"ran.f","data":{}}]`))
	te.register(rule("tm", `{"type":"timer","name":"t*"}`, "", `[{"type":"emit_event","topic":"ran.tm","data":{}}]`))
	te.emit("a.b", "")
	want := []string{"ran.e1", "ran.e2", "ran.w1", "ran.w2", "ran.w3"}
	if got := rec.topics(); !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
	for _, id := range []string{"w2", "e1", "w1", "w3", "f", "tm"} {
		if err := te.UnregisterRule(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	rec.events = nil
	te.emit("a.b", "")
	te.setFact("k:1", 1)
	_, _ = te.SetTimer(ctx, TimerConfig{Name: "t1", Duration: "1s", OnExpire: TimerEvent{Topic: "x"}})
	te.clock.Advance(time.Second)
	if got := rec.topics(); !reflect.DeepEqual(got, []string{"ran.e2"}) {
		t.Fatalf("after removal %v", got)
	}
	if len(te.idx.event.wild) != 0 || len(te.idx.event.exact) != 1 || len(te.idx.fact.wild) != 0 || len(te.idx.timer.wild) != 0 {
		t.Fatalf("index not cleaned: %+v", te.idx)
	}
	if len(te.Groups()) != 0 {
		t.Fatal("no groups")
	}
}

func TestSystemClockTimer(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{Clock: SystemClock{}})
	got := make(chan *Event, 1)
	te.Subscribe("real", func(ev *Event) { got <- ev })
	if _, err := te.SetTimer(context.Background(), TimerConfig{Name: "r", Duration: "10ms", OnExpire: TimerEvent{Topic: "real"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Source != "timer" {
			t.Fatalf("%+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("real timer did not fire")
	}
	if te.Name() != DefaultName {
		t.Fatal(te.Name())
	}
}
