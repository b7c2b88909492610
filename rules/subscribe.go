package rules

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Engine subscriptions (RULES.md §13): every handled event — API emits,
// rule-emitted, timer and bridged events — is offered to matching
// subscribers (pattern semantics §3.3) before its rules run. There is no
// replay. Handlers run synchronously on the processing goroutine, exact
// patterns first, then wildcard ones, each in subscription order: keep
// them quick (queue the work) and do not call the engine's mutating
// methods from them (use EmitAsync). A panicking handler is logged and
// ignored.

type subscription struct {
	pattern string
	parts   []string // pattern split on ".", for wildcard patterns
	fn      func(*Event)
	live    atomic.Bool
}

type subscriptions struct {
	mu    sync.RWMutex
	exact map[string][]*subscription
	wild  []*subscription
	count int
}

func (s *subscriptions) init() { s.exact = make(map[string][]*subscription) }

// Subscribe calls fn with every handled event whose topic matches pattern
// and returns the function that ends the subscription (idempotent).
func (e *Engine) Subscribe(pattern string, fn func(*Event)) (unsubscribe func()) {
	sub := &subscription{pattern: pattern, fn: fn}
	sub.live.Store(true)
	s := &e.subs
	s.mu.Lock()
	if strings.Contains(pattern, "*") {
		sub.parts = strings.Split(pattern, ".")
		s.wild = append(s.wild[:len(s.wild):len(s.wild)], sub)
	} else {
		list := s.exact[pattern]
		s.exact[pattern] = append(list[:len(list):len(list)], sub)
	}
	s.count++
	s.mu.Unlock()
	return func() {
		if !sub.live.Swap(false) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.count--
		if sub.parts != nil {
			s.wild = removeSub(s.wild, sub)
			return
		}
		if rest := removeSub(s.exact[pattern], sub); len(rest) > 0 {
			s.exact[pattern] = rest
		} else {
			delete(s.exact, pattern)
		}
	}
}

// SubscriptionCount is the number of live subscriptions.
func (e *Engine) SubscriptionCount() int {
	e.subs.mu.RLock()
	defer e.subs.mu.RUnlock()
	return e.subs.count
}

func removeSub(list []*subscription, sub *subscription) []*subscription {
	out := make([]*subscription, 0, len(list))
	for _, x := range list {
		if x != sub {
			out = append(out, x)
		}
	}
	return out
}

// notify delivers ev to its subscribers (serial held).
func (e *Engine) notify(ev *Event) {
	s := &e.subs
	s.mu.RLock()
	if s.count == 0 {
		s.mu.RUnlock()
		return
	}
	buf := append(e.subScratch[:0], s.exact[ev.Topic]...)
	if len(s.wild) > 0 {
		var parts []string
		for _, sub := range s.wild {
			if sub.pattern == "*" {
				buf = append(buf, sub)
				continue
			}
			if parts == nil {
				parts = strings.Split(ev.Topic, ".")
			}
			if matchSubscriptionParts(sub.parts, parts) {
				buf = append(buf, sub)
			}
		}
	}
	s.mu.RUnlock()
	for _, sub := range buf {
		if sub.live.Load() {
			e.deliver(sub, ev)
		}
	}
	clear(buf)
	e.subScratch = buf[:0]
}

func (e *Engine) deliver(sub *subscription, ev *Event) {
	defer func() {
		if p := recover(); p != nil {
			e.stats.subscriberErrors.Add(1)
			e.log.Error("rules: subscriber panicked", "engine", e.name, "pattern", sub.pattern,
				"topic", ev.Topic, "panic", fmt.Sprint(p))
		}
	}()
	sub.fn(ev)
}
