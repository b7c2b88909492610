package rules

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	ok := map[any]time.Duration{
		"500ms": 500 * time.Millisecond, "30s": 30 * time.Second, "15m": 15 * time.Minute,
		"2h": 2 * time.Hour, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour, "1y": 365 * 24 * time.Hour,
		"250": 250 * time.Millisecond, 1500.0: 1500 * time.Millisecond, 7: 7 * time.Millisecond, "0s": 0,
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%v) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []any{"", "5 m", "1.5h", "-1s", "5min", "m", true, nil, "99999999999999999999d"} {
		_, err := ParseDuration(in)
		if !errors.Is(err, ErrInvalidDuration) {
			t.Errorf("ParseDuration(%v): want invalid, got %v", in, err)
		}
	}
	if _, err := ParseDuration("5 m"); err.Error() != "Invalid duration: 5 m" {
		t.Fatalf("message %q", err)
	}
}

func TestCron(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC) // a Wednesday
	cases := []struct {
		expr string
		want time.Time
	}{
		{"* * * * *", base.Add(time.Minute)},
		{"*/15 * * * *", base.Add(15 * time.Minute)},
		{"0 8 * * MON", time.Date(2025, 1, 20, 8, 0, 0, 0, time.UTC)},
		{"0 0 1 * *", time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"30 10 * * *", base.Add(30 * time.Minute)},
		{"*/10 * * * * *", base.Add(10 * time.Second)},
		{"0 0 12 29 2 *", time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)},
		{"0 9 1-7 * 1", time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC)}, // both day fields restricted: dom OR dow (Monday the 20th comes first)
		{"0 0 * * 7", time.Date(2025, 1, 19, 0, 0, 0, 0, time.UTC)},   // 7 = Sunday
		{"@hourly", base.Add(time.Hour)},
		{"0 12 * JAN,FEB wed", base.Add(2 * time.Hour)},
	}
	for _, c := range cases {
		spec, err := parseCron(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		got, ok := spec.next(base)
		if !ok || !got.Equal(c.want) {
			t.Errorf("next(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{"", "* * *", "60 * * * *", "* * 32 * *", "5-1 * * * *", "*/0 * * * *", "x * * * *"} {
		if _, err := parseCron(bad); err == nil {
			t.Errorf("%q should be invalid", bad)
		}
	}
	spec, _ := parseCron("0 0 30 2 *") // never
	if _, ok := spec.next(base); ok {
		t.Fatal("Feb 30 has no occurrence")
	}
}

func TestTimerAPI(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	ctx := context.Background()
	rec := &recorder{}
	te.Subscribe("tick", rec.add)
	if _, err := te.SetTimer(ctx, TimerConfig{Name: "x"}); err == nil {
		t.Fatal("neither duration nor cron")
	}
	if _, err := te.SetTimer(ctx, TimerConfig{Name: "", Duration: "1s"}); err == nil {
		t.Fatal("name required")
	}
	if _, err := te.SetTimer(ctx, TimerConfig{Name: "x", Duration: "soon"}); err == nil || err.Error() != "Invalid duration: soon" {
		t.Fatalf("bad duration: %v", err)
	}
	if _, err := te.SetTimer(ctx, TimerConfig{Name: "x", Cron: "0 0 30 2 *"}); err == nil {
		t.Fatal("no future occurrence")
	}
	// Same name replaces.
	first, _ := te.SetTimer(ctx, TimerConfig{Name: "t", Duration: "10s", OnExpire: TimerEvent{Topic: "tick", Data: map[string]any{"v": 1.0}}})
	second, _ := te.SetTimer(ctx, TimerConfig{Name: "t", Duration: "20s", OnExpire: TimerEvent{Topic: "tick", Data: map[string]any{"v": 2.0}}})
	if first.ID == second.ID || len(te.Timers()) != 1 {
		t.Fatal("replace")
	}
	te.clock.Advance(10 * time.Second)
	if rec.len() != 0 {
		t.Fatal("the replaced timer must not fire")
	}
	te.clock.Advance(10 * time.Second)
	if rec.len() != 1 || rec.events[0].Data["v"] != 2.0 {
		t.Fatal("the replacement fires")
	}
	// Cancel.
	_, _ = te.SetTimer(ctx, TimerConfig{Name: "c", Duration: "1s", OnExpire: TimerEvent{Topic: "tick"}})
	if ok, _ := te.CancelTimer(ctx, "c"); !ok {
		t.Fatal("cancel existing")
	}
	if ok, _ := te.CancelTimer(ctx, "c"); ok {
		t.Fatal("cancel missing")
	}
	te.clock.Advance(time.Hour)
	if rec.len() != 1 {
		t.Fatal("cancelled timer fired")
	}
	if s := te.Stats(); s.TimersFired != 1 || s.TimersCount != 0 {
		t.Fatalf("%+v", s)
	}
}

func TestRepeatHonoursMaxCount(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("tick", rec.add)
	_, err := te.SetTimer(context.Background(), TimerConfig{Name: "r", Duration: "1m", RepeatInterval: "1h", RepeatMaxCount: 3,
		OnExpire: TimerEvent{Topic: "tick"}})
	if err != nil {
		t.Fatal(err)
	}
	te.clock.Advance(time.Minute)
	tm, ok := te.GetTimer("r")
	if rec.len() != 1 || !ok || tm.FireCount != 1 || tm.ExpiresAt != te.clock.Now().Add(time.Hour).UnixMilli() {
		t.Fatalf("after first: %d %+v", rec.len(), tm)
	}
	te.clock.Advance(10 * time.Hour)
	if rec.len() != 3 {
		t.Fatalf("maxCount 3: fired %d", rec.len())
	}
	if _, ok := te.GetTimer("r"); ok {
		t.Fatal("gone after maxCount")
	}
	// Unlimited repeat keeps going; the action form too.
	te.register(rule("arm", eventTrigger("arm"), "", `[{"type":"set_timer","timer":{"name":"rep","duration":"1s",
		"onExpire":{"topic":"tick","data":{}},"repeat":{"interval":"1s","maxCount":2}}}]`))
	te.emit("arm", "")
	te.clock.Advance(time.Minute)
	if rec.len() != 5 {
		t.Fatalf("action repeat maxCount 2: %d", rec.len())
	}
}

func TestCronTimer(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("cron", rec.add)
	tm, err := te.SetTimer(context.Background(), TimerConfig{Name: "c", Cron: "*/15 * * * *", MaxCount: 2, OnExpire: TimerEvent{Topic: "cron"}})
	if err != nil {
		t.Fatal(err)
	}
	if tm.ExpiresAt != te.clock.Now().Add(15*time.Minute).UnixMilli() {
		t.Fatalf("first occurrence %+v", tm)
	}
	te.clock.Advance(2 * time.Hour)
	if rec.len() != 2 {
		t.Fatalf("cron maxCount 2: %d", rec.len())
	}
}

func TestTimerRuleCanRearmItself(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	// A timer rule that sets the same timer again is a loop over time, not
	// a hang: each firing is a new top-level trigger.
	te.register(rule("again", `{"type":"timer","name":"hb"}`, "", `[{"type":"set_timer","timer":{"name":"hb","duration":"1s","onExpire":{"topic":"beat","data":{}}}}]`))
	_, _ = te.SetTimer(context.Background(), TimerConfig{Name: "hb", Duration: "1s", OnExpire: TimerEvent{Topic: "beat"}})
	te.clock.Advance(5 * time.Second)
	if s := te.Stats(); s.TimersFired != 5 || s.TimersCount != 1 {
		t.Fatalf("%+v", s)
	}
}
