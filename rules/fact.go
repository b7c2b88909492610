package rules

import (
	"context"
	"fmt"
	"strings"
)

// Fact is one stored fact (RULES.md §4); its JSON form is the wire's fact
// object.
type Fact struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
	// Timestamp is the Unix ms of the last set.
	Timestamp int64 `json:"timestamp"`
	// Source is "api", "rule" or "system".
	Source string `json:"source"`
	// Version is 1 on creation, +1 on every set of the same key.
	Version int64 `json:"version"`
}

// asMap is the fact as decoded JSON: fact-triggered rules see it as
// event.fact (RULES.md §6).
func (f *Fact) asMap() map[string]any {
	return map[string]any{
		"key": f.Key, "value": f.Value, "timestamp": float64(f.Timestamp),
		"source": f.Source, "version": float64(f.Version),
	}
}

// factEntry is a stored fact with its place in the two orders it is kept
// in: all facts, and the facts sharing its parent (keyParent).
type factEntry struct {
	fact   Fact
	seq    uint64 // insertion order, persisted so a restore keeps it
	parent string
	pos    int // index in factStore.order.items
	ppos   int // index in its parent list
}

// entryList keeps entries in insertion order with tombstones; it is
// compacted when half of it is dead, so deletes are O(1) amortised.
type entryList struct {
	items []*factEntry
	live  int
}

func (l *entryList) add(e *factEntry, parentList bool) {
	if parentList {
		e.ppos = len(l.items)
	} else {
		e.pos = len(l.items)
	}
	l.items = append(l.items, e)
	l.live++
}

func (l *entryList) remove(e *factEntry, parentList bool) {
	i := e.pos
	if parentList {
		i = e.ppos
	}
	l.items[i] = nil
	l.live--
	if len(l.items) > 32 && l.live < len(l.items)/2 {
		kept := l.items[:0]
		for _, x := range l.items {
			if x == nil {
				continue
			}
			if parentList {
				x.ppos = len(kept)
			} else {
				x.pos = len(kept)
			}
			kept = append(kept, x)
		}
		clear(l.items[len(kept):])
		l.items = kept
	}
}

// factStore holds the facts in insertion order (re-setting a key keeps its
// place), indexed by key and by parent so "prefix:*" queries never scan.
type factStore struct {
	byKey    map[string]*factEntry
	order    entryList
	byParent map[string]*entryList
	nextSeq  uint64
}

func newFactStore() factStore {
	return factStore{byKey: make(map[string]*factEntry), byParent: make(map[string]*entryList)}
}

func (s *factStore) get(key string) (*factEntry, bool) {
	e, ok := s.byKey[key]
	return e, ok
}

// put inserts or replaces; a new entry gets seq (or the next one when 0).
func (s *factStore) put(f Fact, seq uint64) *factEntry {
	if e, ok := s.byKey[f.Key]; ok {
		e.fact = f
		return e
	}
	if seq == 0 {
		s.nextSeq++
		seq = s.nextSeq
	} else if seq > s.nextSeq {
		s.nextSeq = seq
	}
	e := &factEntry{fact: f, seq: seq, parent: keyParent(f.Key)}
	s.byKey[f.Key] = e
	s.order.add(e, false)
	pl := s.byParent[e.parent]
	if pl == nil {
		pl = &entryList{}
		s.byParent[e.parent] = pl
	}
	pl.add(e, true)
	return e
}

func (s *factStore) delete(key string) bool {
	e, ok := s.byKey[key]
	if !ok {
		return false
	}
	delete(s.byKey, key)
	s.order.remove(e, false)
	if pl := s.byParent[e.parent]; pl != nil {
		pl.remove(e, true)
		if pl.live == 0 {
			delete(s.byParent, e.parent)
		}
	}
	return true
}

func (s *factStore) len() int { return len(s.byKey) }

// each visits the facts matching pattern (§3.2) in insertion order until
// fn returns false.
func (s *factStore) each(pattern string, fn func(*factEntry) bool) {
	if !strings.Contains(pattern, "*") {
		if e, ok := s.byKey[pattern]; ok {
			fn(e)
		}
		return
	}
	m := compileKey(pattern)
	if m.kind == matchPrefix {
		// Exactly one more segment after the prefix: the facts whose
		// parent is the prefix (a key equal to the pattern is one of them).
		if pl := s.byParent[m.prefix]; pl != nil {
			for _, e := range pl.items {
				if e != nil && !fn(e) {
					return
				}
			}
		}
		return
	}
	for _, e := range s.order.items {
		if e != nil && m.match(e.fact.Key) && !fn(e) {
			return
		}
	}
}

// query returns the facts matching pattern in insertion order.
func (s *factStore) query(pattern string) []Fact {
	out := []Fact{}
	if m := compileKey(pattern); m.kind == matchPrefix {
		if pl := s.byParent[m.prefix]; pl != nil {
			out = make([]Fact, 0, pl.live)
		}
	}
	s.each(pattern, func(e *factEntry) bool {
		out = append(out, e.fact)
		return true
	})
	return out
}

// first is the value of the first fact matching pattern, or absent
// (fact condition source, RULES.md §7.1).
func (s *factStore) first(pattern string) any {
	v := absent
	s.each(pattern, func(e *factEntry) bool {
		v = e.fact.Value
		return false
	})
	return v
}

func (s *factStore) all() []Fact {
	out := make([]Fact, 0, s.order.live)
	for _, e := range s.order.items {
		if e != nil {
			out = append(out, e.fact)
		}
	}
	return out
}

// SetFact stores a fact with source "api" and runs the fact-triggered
// rules whose pattern matches key (RULES.md §4). Setting an equal value
// still bumps the version and still triggers rules.
func (e *Engine) SetFact(ctx context.Context, key string, value any) (Fact, error) {
	depth, top, err := e.enter(ctx)
	if err != nil {
		return Fact{}, err
	}
	if top {
		defer e.release()
	}
	f, err := e.putFact(persistCtx(ctx, top), key, value, sourceAPI)
	if err != nil {
		return Fact{}, err
	}
	if depth >= e.maxDepth {
		e.stats.depthCutoffs.Add(1)
		e.log.Warn("rules: forward-chaining depth limit reached, rules not run for fact",
			"engine", e.name, "key", key, "depth", depth)
		return f, nil
	}
	list := e.candidates(&e.idx.fact, key, depth)
	if len(list) > 0 {
		tr := trigger{data: map[string]any{"fact": f.asMap()}}
		for _, r := range list {
			e.runRule(ctx, r, &tr, depth)
		}
	}
	e.putScratch(list, depth)
	return f, nil
}

// GetFact returns a fact's value; false when there is none.
func (e *Engine) GetFact(key string) (any, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if f, ok := e.facts.get(key); ok {
		return f.fact.Value, true
	}
	return nil, false
}

// GetFactFull returns the whole fact.
func (e *Engine) GetFactFull(key string) (Fact, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if f, ok := e.facts.get(key); ok {
		return f.fact, true
	}
	return Fact{}, false
}

// DeleteFact removes a fact and reports whether it existed. It never
// triggers rules.
func (e *Engine) DeleteFact(ctx context.Context, key string) (bool, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return false, err
	}
	if top {
		defer e.release()
	}
	return e.removeFact(persistCtx(ctx, top), key)
}

// QueryFacts returns the facts whose key matches pattern (RULES.md §3.2),
// in insertion order; never nil.
func (e *Engine) QueryFacts(pattern string) []Fact {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.facts.query(pattern)
}

// GetAllFacts returns every fact in insertion order; never nil.
func (e *Engine) GetAllFacts() []Fact {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.facts.all()
}

// putFact persists (with ctx) and stores a fact (serial held); it triggers
// nothing.
func (e *Engine) putFact(ctx context.Context, key string, value any, source string) (Fact, error) {
	f := Fact{Key: key, Value: value, Timestamp: e.nowMs(), Source: source, Version: 1}
	var seq uint64
	if prev, ok := e.facts.get(key); ok {
		f.Version, seq = prev.fact.Version+1, prev.seq
	} else {
		seq = e.facts.nextSeq + 1
	}
	if e.persister != nil {
		b, err := encodeFact(f, seq)
		if err != nil {
			return Fact{}, err
		}
		if err := e.persister.SaveFact(ctx, key, b); err != nil {
			return Fact{}, fmt.Errorf("persist fact %q: %w", key, err)
		}
	}
	e.mu.Lock()
	e.facts.put(f, seq)
	e.mu.Unlock()
	return f, nil
}

func (e *Engine) removeFact(ctx context.Context, key string) (bool, error) {
	if _, ok := e.facts.get(key); !ok {
		return false, nil
	}
	if e.persister != nil {
		if err := e.persister.DeleteFact(ctx, key); err != nil {
			return false, fmt.Errorf("persist fact %q: %w", key, err)
		}
	}
	e.mu.Lock()
	e.facts.delete(key)
	e.mu.Unlock()
	return true, nil
}

// factValue and firstFact read facts for the holder of serial.
func (e *Engine) factValue(key string) any {
	if f, ok := e.facts.get(key); ok {
		return f.fact.Value
	}
	return absent
}

func (e *Engine) firstFact(pattern string) any { return e.facts.first(pattern) }
