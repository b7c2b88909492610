package rules

import (
	"fmt"
	"math"
	"time"
)

// Temporal (CEP) patterns, RULES.md §15. The reference validates and stores
// them but never fires them; here they are evaluated on every handled
// event (and, for absence, on a timeout) with the semantics of §15.3, and
// a match runs the rule like any other trigger.
//
// Trigger data seen by a matched rule's conditions and actions:
//
//	pattern   "sequence", "absence", "count" or "aggregate"
//	groupKey  the groupBy value, when there is one
//	event     the event that completed the match (absence: the "after" event)
//	events    sequence: the matched events, in order
//	count     count/aggregate: events in the window
//	value     aggregate: the aggregated value
//	<alias>   the data of the event a matcher with "as": "<alias>" matched
//
// and matched.<i> is the data of the i-th matched event (sequence: in
// order; absence: the "after" event; count/aggregate: the events in the
// window, oldest first). Temporal state lives in memory only; it starts
// empty when a rule is registered, updated or restored.

type temporalKind uint8

const (
	tSequence temporalKind = iota
	tAbsence
	tCount
	tAggregate
)

var temporalKindNames = [...]string{"sequence", "absence", "count", "aggregate"}

type eventMatcher struct {
	topic  matcher
	filter []filterEntry
	as     string
}

type filterEntry struct {
	path  []string
	value any
}

type temporalRule struct {
	kind       temporalKind
	events     []eventMatcher // sequence
	after      eventMatcher   // absence
	expected   eventMatcher   // absence
	event      eventMatcher   // count, aggregate
	window     time.Duration  // within / window
	groupBy    []string
	strict     bool
	threshold  float64
	comparison string
	field      []string
	function   string

	seqs     []*seqInstance
	absences map[string]*absInstance
	win      []winEntry
}

type seqInstance struct {
	group   string
	events  []*Event
	expires int64
}

type absInstance struct {
	after *Event
	timer Stopper
}

type winEntry struct {
	ts    int64
	group string
	ev    *Event
}

// temporalMatch is one match to run the rule with.
type temporalMatch struct {
	events   []*Event // matched events, in order
	last     *Event   // the event that completed the match
	group    string
	count    int
	value    float64
	hasCount bool
	hasValue bool
}

func compileMatcher(v any) (eventMatcher, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return eventMatcher{}, fmt.Errorf("event matcher must be an object")
	}
	topic, _ := m["topic"].(string)
	em := eventMatcher{topic: compileTopic(topic)}
	em.as, _ = m["as"].(string)
	if f, ok := m["filter"].(map[string]any); ok {
		for k, val := range f {
			em.filter = append(em.filter, filterEntry{path: splitPath(k), value: val})
		}
	}
	return em, nil
}

// matches applies §3.1 to the topic and §3.5 (strict equality) to the
// filter.
func (m *eventMatcher) matches(ev *Event) bool {
	if !m.topic.match(ev.Topic) {
		return false
	}
	for _, f := range m.filter {
		if !strictEqual(getPath(ev.Data, f.path), f.value) {
			return false
		}
	}
	return true
}

func compileTemporal(v any) (*temporalRule, error) {
	p, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("temporal pattern must be an object")
	}
	t := &temporalRule{comparison: "gte"}
	typ, _ := p["type"].(string)
	var err error
	windowKey := "window"
	switch typ {
	case "sequence":
		t.kind, windowKey = tSequence, "within"
		list, _ := p["events"].([]any)
		for _, m := range list {
			em, err := compileMatcher(m)
			if err != nil {
				return nil, err
			}
			t.events = append(t.events, em)
		}
		if len(t.events) == 0 {
			return nil, fmt.Errorf("sequence pattern has no events")
		}
		t.strict, _ = p["strict"].(bool)
	case "absence":
		t.kind, windowKey = tAbsence, "within"
		if t.after, err = compileMatcher(p["after"]); err != nil {
			return nil, err
		}
		if t.expected, err = compileMatcher(p["expected"]); err != nil {
			return nil, err
		}
		t.absences = make(map[string]*absInstance)
	case "count", "aggregate":
		t.kind = tCount
		if typ == "aggregate" {
			t.kind = tAggregate
			f, _ := p["field"].(string)
			t.field = splitPath(f)
			t.function, _ = p["function"].(string)
		}
		if t.event, err = compileMatcher(p["event"]); err != nil {
			return nil, err
		}
		t.threshold, _ = toNumber(p["threshold"])
		if c, ok := p["comparison"].(string); ok {
			t.comparison = c
		}
	default:
		return nil, fmt.Errorf("unknown temporal pattern type %q", typ)
	}
	if t.window, err = ParseDuration(p[windowKey]); err != nil {
		return nil, err
	}
	if g, ok := p["groupBy"].(string); ok && g != "" {
		t.groupBy = splitPath(g)
	}
	return t, nil
}

// groupKey is String(value ?? "") of the groupBy path; "" means no group.
func (t *temporalRule) groupKey(ev *Event) string {
	if t.groupBy == nil {
		return ""
	}
	v := getPath(ev.Data, t.groupBy)
	if v == nil || isAbsent(v) {
		return ""
	}
	return jsString(v)
}

// stop cancels pending absence timeouts (the rule is going away).
func (t *temporalRule) stop() {
	for k, a := range t.absences {
		if a.timer != nil {
			a.timer.Stop()
		}
		delete(t.absences, k)
	}
}

// temporalOnEvent advances a rule's pattern with one event and returns the
// matches to run. Absence matches come from absenceTimeout instead.
func (e *Engine) temporalOnEvent(r *compiledRule, ev *Event, now int64) []temporalMatch {
	t := r.temporal
	switch t.kind {
	case tSequence:
		return t.sequence(ev, now)
	case tAbsence:
		e.absence(r, ev)
		return nil
	}
	return t.countWindow(ev, now)
}

func (t *temporalRule) sequence(ev *Event, now int64) []temporalMatch {
	var out []temporalMatch
	group := t.groupKey(ev)
	// Expire, then advance the instances of this rule (and group).
	kept := t.seqs[:0]
	for _, in := range t.seqs {
		if now > in.expires {
			continue
		}
		if group != "" && in.group != group {
			kept = append(kept, in)
			continue
		}
		next := t.events[len(in.events)]
		if next.matches(ev) {
			in.events = append(in.events, ev)
			if len(in.events) == len(t.events) {
				out = append(out, temporalMatch{events: in.events, last: ev, group: in.group})
				continue
			}
		} else if t.strict {
			continue
		}
		kept = append(kept, in)
	}
	clear(t.seqs[len(kept):])
	t.seqs = kept
	if !t.events[0].matches(ev) {
		return out
	}
	if group != "" {
		for _, in := range t.seqs {
			if in.group == group {
				return out // one instance per group in progress
			}
		}
	}
	if len(t.events) == 1 {
		return append(out, temporalMatch{events: []*Event{ev}, last: ev, group: group})
	}
	if len(t.seqs) >= maxSequenceInstances {
		t.seqs = append(t.seqs[:0], t.seqs[1:]...)
	}
	t.seqs = append(t.seqs, &seqInstance{group: group, events: []*Event{ev}, expires: now + t.window.Milliseconds()})
	return out
}

// absence: an expected event cancels the instance in progress (per group);
// an after event starts one if none is in progress, with a timeout.
func (e *Engine) absence(r *compiledRule, ev *Event) {
	t := r.temporal
	group := t.groupKey(ev)
	if in, ok := t.absences[group]; ok && t.expected.matches(ev) {
		if in.timer != nil {
			in.timer.Stop()
		}
		delete(t.absences, group)
	}
	if !t.after.matches(ev) {
		return
	}
	if _, busy := t.absences[group]; busy {
		return
	}
	in := &absInstance{after: ev}
	t.absences[group] = in
	in.timer = e.clock.AfterFunc(t.window, func() { e.absenceTimeout(r, group, in) })
}

// countWindow handles count and aggregate: keep the matching events of the
// window, count (and aggregate) those of the event's group, compare.
func (t *temporalRule) countWindow(ev *Event, now int64) []temporalMatch {
	if !t.event.matches(ev) {
		return nil
	}
	group := t.groupKey(ev)
	if len(t.win) >= maxTemporalWindow {
		t.win = t.win[1:]
	}
	t.win = append(t.win, winEntry{ts: ev.Timestamp, group: group, ev: ev})
	from := now - t.window.Milliseconds()
	drop := 0
	for drop < len(t.win) && t.win[drop].ts < from {
		drop++
	}
	if drop > 0 {
		clear(t.win[:drop])
		t.win = t.win[drop:]
	}
	var events []*Event
	for _, w := range t.win {
		if group == "" || w.group == group {
			events = append(events, w.ev)
		}
	}
	m := temporalMatch{events: events, last: ev, group: group, count: len(events), hasCount: true}
	measure := float64(len(events))
	if t.kind == tAggregate && t.function != "count" {
		var vals []float64
		for _, x := range events {
			if n, ok := toNumber(getPath(x.Data, t.field)); ok {
				vals = append(vals, n)
			}
		}
		if len(vals) == 0 {
			return nil
		}
		measure = aggregate(t.function, vals)
	}
	if t.kind == tAggregate {
		m.value, m.hasValue = measure, true
	}
	var met bool
	switch t.comparison {
	case "lte":
		met = measure <= t.threshold
	case "eq":
		met = measure == t.threshold
	default:
		met = measure >= t.threshold
	}
	if !met {
		return nil
	}
	return []temporalMatch{m}
}

func aggregate(fn string, vals []float64) float64 {
	switch fn {
	case "avg", "sum":
		sum := 0.0
		for _, v := range vals {
			sum += v
		}
		if fn == "avg" {
			return sum / float64(len(vals))
		}
		return sum
	case "min":
		m := math.Inf(1)
		for _, v := range vals {
			m = math.Min(m, v)
		}
		return m
	case "max":
		m := math.Inf(-1)
		for _, v := range vals {
			m = math.Max(m, v)
		}
		return m
	}
	return float64(len(vals))
}

// triggerData builds what a temporal rule's conditions and actions see.
func (t *temporalRule) triggerData(m temporalMatch) (map[string]any, []map[string]any) {
	data := map[string]any{"pattern": temporalKindNames[t.kind]}
	if m.group != "" {
		data["groupKey"] = m.group
	}
	if m.last != nil {
		data["event"] = m.last.asMap()
	}
	if m.hasCount {
		data["count"] = float64(m.count)
	}
	if m.hasValue {
		data["value"] = m.value
	}
	matched := make([]map[string]any, len(m.events))
	for i, ev := range m.events {
		matched[i] = ev.Data
	}
	switch t.kind {
	case tSequence:
		evs := make([]any, len(m.events))
		for i, ev := range m.events {
			evs[i] = ev.asMap()
			if i < len(t.events) && t.events[i].as != "" {
				data[t.events[i].as] = ev.Data
			}
		}
		data["events"] = evs
	case tAbsence:
		if t.after.as != "" && m.last != nil {
			data[t.after.as] = m.last.Data
		}
	default:
		if t.event.as != "" && m.last != nil {
			data[t.event.as] = m.last.Data
		}
	}
	return data, matched
}
