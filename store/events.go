package store

import (
	"strings"
	"sync"
)

// Event types (STORE.md §13).
const (
	EventInserted = "inserted"
	EventUpdated  = "updated"
	EventDeleted  = "deleted"
	// eventDropped is published to OnDrop handlers only (STORE.md §13: a
	// drop is not a record event).
	eventDropped = "dropped"
)

// Event is one record change, published after its change set is durable.
type Event struct {
	Type   string `json:"type"`
	Bucket string `json:"bucket"`
	Key    any    `json:"key"`
	// Record is set for inserted and deleted events.
	Record Record `json:"record,omitempty"`
	// OldRecord and NewRecord are set for updated events.
	OldRecord Record `json:"oldRecord,omitempty"`
	NewRecord Record `json:"newRecord,omitempty"`
}

// Topic is the event's bus topic, bucket.<name>.<type>.
func (e *Event) Topic() string { return "bucket." + e.Bucket + "." + e.Type }

// events publishes change events in commit order. Each commit reserves a
// ticket while it holds the write lock; publication waits for the previous
// ticket, so handlers see changes in the order they were applied even
// though commits finish their fsync wait concurrently.
type events struct {
	mu        sync.Mutex
	cond      *sync.Cond
	next      uint64 // last ticket handed out
	published uint64 // last ticket published
	handlers  map[uint64]*handler
	nextID    uint64
	closed    bool
}

type handler struct {
	pattern string
	fn      func(Event)
	drops   bool // an OnDrop handler
}

func (ev *events) init() {
	ev.cond = sync.NewCond(&ev.mu)
	ev.handlers = make(map[uint64]*handler)
}

// reserve hands out the next ticket; call with the store's write lock held.
func (ev *events) reserve() uint64 {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.next++
	return ev.next
}

// publish delivers list once every earlier ticket has been published.
func (ev *events) publish(ticket uint64, list []Event) {
	ev.mu.Lock()
	for ev.published != ticket-1 {
		ev.cond.Wait()
	}
	var hs []*handler
	if len(ev.handlers) > 0 && len(list) > 0 {
		hs = make([]*handler, 0, len(ev.handlers))
		for _, h := range ev.handlers {
			hs = append(hs, h)
		}
	}
	// Handlers run with the ticket held, so the next commit's events wait
	// for them: keep handlers quick (queue work, do not do it here).
	for _, e := range list {
		if len(hs) == 0 {
			break
		}
		if e.Type == eventDropped {
			for _, h := range hs {
				if h.drops {
					safeCall(h.fn, e)
				}
			}
			continue
		}
		topic := e.Topic()
		for _, h := range hs {
			if !h.drops && MatchTopic(h.pattern, topic) {
				safeCall(h.fn, e)
			}
		}
	}
	ev.published = ticket
	ev.cond.Broadcast()
	ev.mu.Unlock()
}

func safeCall(fn func(Event), e Event) {
	defer func() { _ = recover() }() // a failing handler never affects others or the writer
	fn(e)
}

func (ev *events) close() {
	ev.mu.Lock()
	ev.closed = true
	ev.mu.Unlock()
}

// On registers fn for events whose topic matches pattern (STORE.md §13.3)
// and returns a function that removes it. fn runs synchronously in commit
// order and must not call back into the store's write methods.
func (s *Store) On(pattern string, fn func(Event)) (off func()) {
	ev := &s.events
	ev.mu.Lock()
	ev.nextID++
	id := ev.nextID
	ev.handlers[id] = &handler{pattern: pattern, fn: fn}
	ev.mu.Unlock()
	return func() {
		ev.mu.Lock()
		delete(ev.handlers, id)
		ev.mu.Unlock()
	}
}

// OnDrop registers fn to run, in commit order, when a bucket is dropped;
// it returns a function that removes it.
func (s *Store) OnDrop(fn func(bucket string)) (off func()) {
	ev := &s.events
	ev.mu.Lock()
	ev.nextID++
	id := ev.nextID
	ev.handlers[id] = &handler{drops: true, fn: func(e Event) { fn(e.Bucket) }}
	ev.mu.Unlock()
	return func() {
		ev.mu.Lock()
		delete(ev.handlers, id)
		ev.mu.Unlock()
	}
}

// MatchTopic applies the store bus's wildcard rules (STORE.md §13.3):
// with as many segments as the topic, each pattern segment is "*" or
// equal; with fewer, the last one is "*" and the others are equal. It
// runs on every change for every handler, so it allocates nothing.
func MatchTopic(pattern, topic string) bool {
	if pattern == "*" || pattern == topic {
		return true
	}
	np, nt := strings.Count(pattern, ".")+1, strings.Count(topic, ".")+1
	switch {
	case np == nt:
		for {
			ps, prest, more := strings.Cut(pattern, ".")
			ts, trest, _ := strings.Cut(topic, ".")
			if ps != "*" && ps != ts {
				return false
			}
			if !more {
				return true
			}
			pattern, topic = prest, trest
		}
	case np < nt && strings.HasSuffix(pattern, ".*"):
		for range np - 1 {
			ps, prest, _ := strings.Cut(pattern, ".")
			ts, trest, _ := strings.Cut(topic, ".")
			if ps != ts {
				return false
			}
			pattern, topic = prest, trest
		}
		return true
	}
	return false
}
