package rules

import (
	"context"
	"math/rand/v2"
	"strconv"
)

// Event is one event handled by the engine (RULES.md §2). Its JSON form is
// the wire's event object (PROTOCOL.md §5.5). An Event handed out by the
// engine is shared (subscribers, the caller of Emit): treat it as
// read-only.
type Event struct {
	ID        string         `json:"id"`
	Topic     string         `json:"topic"`
	Data      map[string]any `json:"data"`
	Timestamp int64          `json:"timestamp"`
	// CorrelationID ties related events together; empty when absent.
	CorrelationID string `json:"correlationId,omitempty"`
	// CausationID is the id of whatever caused the event; empty when
	// absent.
	CausationID string `json:"causationId,omitempty"`
	// Source is "api", "rule" or "timer".
	Source string `json:"source"`
}

// asMap is the event as decoded JSON, for temporal trigger data.
func (ev *Event) asMap() map[string]any {
	m := map[string]any{
		"id": ev.ID, "topic": ev.Topic, "data": ev.Data,
		"timestamp": float64(ev.Timestamp), "source": ev.Source,
	}
	if ev.CorrelationID != "" {
		m["correlationId"] = ev.CorrelationID
	}
	if ev.CausationID != "" {
		m["causationId"] = ev.CausationID
	}
	return m
}

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// pow36x9 is 36^9: nine random base-36 digits.
const pow36x9 = 101559956668416

// newID builds the reference's id: the time in ms in base 36, "-", nine
// random base-36 characters (RULES.md §2). Unique enough, not sortable.
func newID(ms int64) string {
	var buf [32]byte
	b := strconv.AppendInt(buf[:0], ms, 36)
	b = append(b, '-')
	r := rand.Uint64N(pow36x9)
	var tail [9]byte
	for i := 8; i >= 0; i-- {
		tail[i] = base36[r%36]
		r /= 36
	}
	b = append(b, tail[:]...)
	return string(b)
}

// eventRing keeps the most recent events (RULES.md §2.1) in a ring buffer:
// the oldest is overwritten, nothing else needs cleaning.
type eventRing struct {
	buf  []*Event
	next int
	full bool
}

func newEventRing(n int) eventRing {
	if n <= 0 {
		return eventRing{}
	}
	return eventRing{buf: make([]*Event, n)}
}

func (r *eventRing) add(ev *Event) {
	if len(r.buf) == 0 {
		return
	}
	r.buf[r.next] = ev
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
}

// each calls fn from the oldest to the newest event.
func (r *eventRing) each(fn func(*Event)) {
	if r.full {
		for _, ev := range r.buf[r.next:] {
			fn(ev)
		}
	}
	for _, ev := range r.buf[:r.next] {
		fn(ev)
	}
}

// Emit creates an event with source "api" and handles it (RULES.md §2):
// recorded, delivered to subscribers, then event-triggered rules run,
// including everything they cause. The data map is kept as is (nil means
// {}); do not change it afterwards.
func (e *Engine) Emit(ctx context.Context, topic string, data map[string]any) (*Event, error) {
	return e.EmitCorrelated(ctx, topic, data, "", "")
}

// EmitCorrelated is Emit with correlation fields; an empty string means
// absent.
func (e *Engine) EmitCorrelated(ctx context.Context, topic string, data map[string]any, correlationID, causationID string) (*Event, error) {
	depth, top, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	if top {
		defer e.release()
	}
	ev := e.newEvent(topic, data, correlationID, causationID, sourceAPI)
	e.handleEvent(ctx, ev, depth)
	return ev, nil
}

// RecentEvents returns up to limit of the most recently handled events
// whose topic matches pattern (RULES.md §3.4; "" matches all), oldest
// first. limit <= 0 means no limit.
func (e *Engine) RecentEvents(pattern string, limit int) []*Event {
	var out []*Event
	e.mu.RLock()
	e.recent.each(func(ev *Event) {
		if pattern == "" || MatchHistory(pattern, ev.Topic) {
			out = append(out, ev)
		}
	})
	e.mu.RUnlock()
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}
