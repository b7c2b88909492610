package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Timer is a pending timer (RULES.md §14).
type Timer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ExpiresAt is the Unix ms of the next expiry.
	ExpiresAt int64      `json:"expiresAt"`
	OnExpire  TimerEvent `json:"onExpire"`
	Repeat    *Repeat    `json:"repeat,omitempty"`
	// Cron is set for cron timers (SetTimer only); MaxCount bounds their
	// firings.
	Cron          string `json:"cron,omitempty"`
	MaxCount      int    `json:"maxCount,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	// FireCount is how many times the timer has fired so far.
	FireCount int `json:"fireCount,omitempty"`
}

// TimerEvent is the event a timer emits when it expires.
type TimerEvent struct {
	Topic string         `json:"topic"`
	Data  map[string]any `json:"data"`
}

// Repeat re-arms a timer every Interval ms, at most MaxCount firings in
// all (0: no limit). MaxCount is always honoured (RULES.md §22 #12).
type Repeat struct {
	Interval int64 `json:"interval"`
	MaxCount int   `json:"maxCount,omitempty"`
}

// TimerConfig is the setTimer API's input (RULES.md §14). Durations use
// the rules-engine format ("15m", "500ms", "2h"; digits are ms): exactly
// one of Duration and Cron.
type TimerConfig struct {
	Name     string
	Duration string
	// Cron is a cron expression (5 fields, or 6 with leading seconds);
	// MaxCount bounds its firings (0: no limit).
	Cron     string
	MaxCount int
	OnExpire TimerEvent
	// RepeatInterval, when set, re-arms a Duration timer; RepeatMaxCount
	// bounds its firings.
	RepeatInterval string
	RepeatMaxCount int
	CorrelationID  string
}

type timerEntry struct {
	t      Timer
	cron   *cronSpec
	handle Stopper
	gen    uint64
}

// timerSpec is a timer to arm, from SetTimer or a set_timer action.
type timerSpec struct {
	name          string
	delay         time.Duration
	topic         string
	data          map[string]any
	repeat        bool
	interval      time.Duration
	maxCount      int
	cron          *cronSpec
	cronText      string
	correlationID string
}

// SetTimer starts (or replaces) a named timer.
func (e *Engine) SetTimer(ctx context.Context, cfg TimerConfig) (Timer, error) {
	spec := timerSpec{name: cfg.Name, topic: cfg.OnExpire.Topic, data: cfg.OnExpire.Data,
		correlationID: cfg.CorrelationID}
	switch {
	case strings.TrimSpace(cfg.Name) == "":
		return Timer{}, errors.New("Timer name is required")
	case cfg.Cron != "":
		c, err := parseCron(cfg.Cron)
		if err != nil {
			return Timer{}, err
		}
		spec.cron, spec.cronText, spec.maxCount = c, cfg.Cron, cfg.MaxCount
	case cfg.Duration != "":
		d, err := ParseDuration(cfg.Duration)
		if err != nil {
			return Timer{}, err
		}
		spec.delay = d
		if cfg.RepeatInterval != "" {
			iv, err := ParseDuration(cfg.RepeatInterval)
			if err != nil {
				return Timer{}, err
			}
			spec.repeat, spec.interval, spec.maxCount = true, iv, cfg.RepeatMaxCount
		}
	default:
		return Timer{}, errors.New("Timer must have either duration or cron")
	}
	_, top, err := e.enter(ctx)
	if err != nil {
		return Timer{}, err
	}
	if top {
		defer e.release()
	}
	return e.armTimer(persistCtx(ctx, top), spec)
}

// CancelTimer cancels a timer and reports whether it existed.
func (e *Engine) CancelTimer(ctx context.Context, name string) (bool, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return false, err
	}
	if top {
		defer e.release()
	}
	return e.removeTimer(persistCtx(ctx, top), name)
}

// GetTimer returns a pending timer.
func (e *Engine) GetTimer(name string) (Timer, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if t, ok := e.timers[name]; ok {
		return t.t, true
	}
	return Timer{}, false
}

// Timers returns the pending timers, soonest first.
func (e *Engine) Timers() []Timer {
	e.mu.RLock()
	out := make([]Timer, 0, len(e.timers))
	for _, t := range e.timers {
		out = append(out, t.t)
	}
	e.mu.RUnlock()
	slices.SortFunc(out, func(a, b Timer) int {
		if c := cmpInt(a.ExpiresAt, b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// armTimer persists (with ctx) and schedules a timer, replacing one of the
// same name (serial held).
func (e *Engine) armTimer(ctx context.Context, s timerSpec) (Timer, error) {
	if s.repeat && s.interval <= 0 {
		return Timer{}, errors.New("Timer repeat interval must be positive")
	}
	now := e.clock.Now()
	t := Timer{ID: newID(now.UnixMilli()), Name: s.name,
		OnExpire: TimerEvent{Topic: s.topic, Data: s.data}, CorrelationID: s.correlationID}
	if t.OnExpire.Data == nil {
		t.OnExpire.Data = map[string]any{}
	}
	delay := s.delay
	if s.cron != nil {
		next, ok := s.cron.next(now.In(e.loc))
		if !ok {
			return Timer{}, fmt.Errorf("Cron expression %q has no future occurrence", s.cronText)
		}
		delay = next.Sub(now)
		t.Cron, t.MaxCount = s.cronText, s.maxCount
	}
	if s.repeat {
		t.Repeat = &Repeat{Interval: s.interval.Milliseconds(), MaxCount: s.maxCount}
	}
	t.ExpiresAt = now.Add(delay).UnixMilli()
	if err := e.saveTimer(ctx, &t); err != nil {
		return Timer{}, err
	}
	if old, ok := e.timers[s.name]; ok && old.handle != nil {
		old.handle.Stop()
	}
	e.timerGen++
	ent := &timerEntry{t: t, cron: s.cron, gen: e.timerGen}
	e.mu.Lock()
	e.timers[s.name] = ent
	e.mu.Unlock()
	e.schedule(ent, delay)
	return t, nil
}

func (e *Engine) schedule(ent *timerEntry, delay time.Duration) {
	name, gen := ent.t.Name, ent.gen
	ent.handle = e.clock.AfterFunc(delay, func() { e.fireTimer(name, gen) })
}

func (e *Engine) removeTimer(ctx context.Context, name string) (bool, error) {
	ent, ok := e.timers[name]
	if !ok {
		return false, nil
	}
	if err := e.deleteTimer(ctx, name); err != nil {
		return false, err
	}
	if ent.handle != nil {
		ent.handle.Stop()
	}
	e.mu.Lock()
	delete(e.timers, name)
	e.mu.Unlock()
	return true, nil
}

// fireTimer is a timer's expiry: re-arm or remove it, then (1) run the
// timer-triggered rules, (2) emit the onExpire event (RULES.md §14). No
// call caused it: it persists with context.Background().
func (e *Engine) fireTimer(name string, gen uint64) {
	ctx := context.Background()
	if e.acquire(ctx) != nil {
		return
	}
	defer e.release()
	ent, ok := e.timers[name]
	if !ok || ent.gen != gen {
		return // cancelled or replaced meanwhile
	}
	fired := ent.t
	fired.FireCount++
	now := e.clock.Now()
	if next, more := e.nextExpiry(ent, fired, now); more {
		nt := fired
		nt.ExpiresAt = next.UnixMilli()
		if err := e.saveTimer(ctx, &nt); err != nil {
			e.log.Error("rules: cannot persist re-armed timer", "engine", e.name, "timer", name, "error", err.Error())
		}
		e.timerGen++
		ne := &timerEntry{t: nt, cron: ent.cron, gen: e.timerGen}
		e.mu.Lock()
		e.timers[name] = ne
		e.mu.Unlock()
		e.schedule(ne, next.Sub(now))
	} else {
		if err := e.deleteTimer(ctx, name); err != nil {
			e.log.Error("rules: cannot persist expired timer", "engine", e.name, "timer", name, "error", err.Error())
		}
		e.mu.Lock()
		delete(e.timers, name)
		e.mu.Unlock()
	}
	e.stats.timersFired.Add(1)

	list := e.candidates(&e.idx.timer, name, 0)
	if len(list) > 0 {
		data := make(map[string]any, len(fired.OnExpire.Data)+4)
		data["timerId"] = fired.ID
		data["timerName"] = fired.Name
		data["expiresAt"] = float64(fired.ExpiresAt)
		if fired.CorrelationID != "" {
			data["correlationId"] = fired.CorrelationID
		}
		for k, v := range fired.OnExpire.Data {
			data[k] = v
		}
		tr := trigger{data: data, correlationID: fired.CorrelationID}
		for _, r := range list {
			e.runRule(ctx, r, &tr, 0)
		}
	}
	e.putScratch(list, 0)
	ev := e.newEvent(fired.OnExpire.Topic, fired.OnExpire.Data, fired.CorrelationID, fired.ID, sourceTimer)
	e.handleEvent(ctx, ev, 0)
}

// nextExpiry says when a fired timer fires again, if it does.
func (e *Engine) nextExpiry(ent *timerEntry, fired Timer, now time.Time) (time.Time, bool) {
	switch {
	case fired.Repeat != nil:
		if fired.Repeat.MaxCount > 0 && fired.FireCount >= fired.Repeat.MaxCount {
			return time.Time{}, false
		}
		return now.Add(time.Duration(fired.Repeat.Interval) * time.Millisecond), true
	case ent.cron != nil:
		if fired.MaxCount > 0 && fired.FireCount >= fired.MaxCount {
			return time.Time{}, false
		}
		return ent.cron.next(now.In(e.loc))
	}
	return time.Time{}, false
}
