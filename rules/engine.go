package rules

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures an Engine. The zero value is a working engine with
// the reference's defaults, real time and no persistence.
type Options struct {
	// Name is used in messages; default "rule-engine".
	Name string
	// MaxForwardDepth bounds forward chaining (default 10).
	MaxForwardDepth int
	// Clock is the time source; default SystemClock.
	Clock Clock
	// Logger receives log actions, failures and warnings; default
	// slog.Default().
	Logger *slog.Logger
	// Services are callable by call_service actions and lookups.
	Services map[string]Service
	// Persister, when set, is called on every change of a rule, group,
	// fact or timer, before the change takes effect (see Persister).
	Persister Persister
	// Restore is the state to start from (rules, groups, facts, timers);
	// it is loaded without calling the Persister.
	Restore *Snapshot
	// RecentEvents is how many events RecentEvents keeps (default 10 000;
	// negative keeps none).
	RecentEvents int
	// BridgeQueue bounds the events queued by EmitAsync and the store
	// bridge (default 65 536).
	BridgeQueue int
	// Location is the time zone of cron timers; default time.Local.
	Location *time.Location
}

// Engine is the rules engine: facts, rules, events, timers, temporal
// patterns and subscriptions (RULES.md). It is safe for concurrent use.
//
// Every mutation and all trigger processing are serialised (RULES.md §1:
// top-level triggers are processed one at a time); a call such as Emit or
// SetFact returns once its trigger and everything it caused has been
// processed. Rules of one trigger run one after another in priority order
// (a documented simplification of the reference's concurrent chunks).
// Reads (GetFact, QueryFacts, GetRules, Stats, ...) never wait for
// processing.
type Engine struct {
	name      string
	maxDepth  int
	clock     Clock
	log       *slog.Logger
	persister Persister
	groupsP   GroupPersister
	loc       *time.Location

	// serial is the processing lock (a semaphore so that waiting for it
	// honours a context). Lock order: serial, then mu, then subs.mu.
	serial  chan struct{}
	stopped atomic.Bool

	// mu guards the fields below against readers that do not hold
	// serial. They are written only with serial and mu held, so the
	// holder of serial reads them without mu.
	mu          sync.RWMutex
	rules       map[string]*compiledRule
	idx         ruleIndex
	groups      map[string]*Group
	facts       factStore
	timers      map[string]*timerEntry
	recent      eventRing
	nextVersion int64
	timerGen    uint64

	// Owned by the holder of serial.
	services    map[string]Service
	lookupCache map[string]lookupCacheEntry
	regexCache  map[string]*regexp.Regexp
	scratch     [][]*compiledRule
	subScratch  []*subscription

	subs  subscriptions
	stats counters

	bridge bridgeQueue
	done   chan struct{}
	wg     sync.WaitGroup
}

// New builds an engine, loads opts.Restore, arms the restored timers (one
// that came due while the process was down fires once, as soon as
// possible) and starts the goroutine that drains EmitAsync and the store
// bridge. Stop releases everything.
func New(opts Options) (*Engine, error) {
	e := &Engine{
		name:        opts.Name,
		maxDepth:    opts.MaxForwardDepth,
		clock:       opts.Clock,
		log:         opts.Logger,
		persister:   opts.Persister,
		loc:         opts.Location,
		serial:      make(chan struct{}, 1),
		rules:       make(map[string]*compiledRule),
		idx:         newRuleIndex(),
		groups:      make(map[string]*Group),
		facts:       newFactStore(),
		timers:      make(map[string]*timerEntry),
		nextVersion: 1,
		services:    make(map[string]Service),
		lookupCache: make(map[string]lookupCacheEntry),
		regexCache:  make(map[string]*regexp.Regexp),
		done:        make(chan struct{}),
	}
	if e.name == "" {
		e.name = DefaultName
	}
	if e.maxDepth <= 0 {
		e.maxDepth = DefaultMaxForwardDepth
	}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.loc == nil {
		e.loc = time.Local
	}
	if gp, ok := opts.Persister.(GroupPersister); ok {
		e.groupsP = gp
	}
	switch {
	case opts.RecentEvents == 0:
		e.recent = newEventRing(DefaultRecentEvents)
	case opts.RecentEvents > 0:
		e.recent = newEventRing(opts.RecentEvents)
	}
	for name, s := range opts.Services {
		e.services[name] = s
	}
	e.subs.init()
	qsize := opts.BridgeQueue
	if qsize <= 0 {
		qsize = DefaultBridgeQueue
	}
	e.bridge.init(qsize)
	if opts.Restore != nil {
		if err := e.restore(opts.Restore); err != nil {
			return nil, err
		}
	}
	e.wg.Add(1)
	go e.drainBridge()
	return e, nil
}

// Name is the engine's name.
func (e *Engine) Name() string { return e.name }

// Running reports whether Stop has not been called.
func (e *Engine) Running() bool { return !e.stopped.Load() }

// Stop waits for the trigger being processed, then stops: timers are
// disarmed (their persisted state is kept), queued bridge events are
// dropped, and every mutating call fails with *NotRunningError. Reads keep
// working. Stop is idempotent.
func (e *Engine) Stop(ctx context.Context) error {
	select {
	case e.serial <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	already := e.stopped.Swap(true)
	if !already {
		for _, t := range e.timers {
			if t.handle != nil {
				t.handle.Stop()
			}
		}
		for _, r := range e.rules {
			if r.temporal != nil {
				r.temporal.stop()
			}
		}
		close(e.done)
	}
	<-e.serial
	if !already {
		e.wg.Wait()
	}
	return nil
}

func (e *Engine) notRunning() error { return &NotRunningError{Name: e.name} }

// procKey marks a context handed to a service while a trigger is being
// processed: a call back into the engine with it runs inline.
type procKey struct{}

type procState struct {
	e     *Engine
	depth int
	live  atomic.Bool
}

// enter starts a mutating call. Inside processing (a context from a
// service, used while the service runs) it runs inline at depth+1;
// otherwise it takes the processing lock and runs at depth 0. The caller
// must call e.release() when top is true.
func (e *Engine) enter(ctx context.Context) (depth int, top bool, err error) {
	if ctx != nil {
		if ps, ok := ctx.Value(procKey{}).(*procState); ok && ps.e == e && ps.live.Load() {
			if e.stopped.Load() {
				return 0, false, e.notRunning()
			}
			return ps.depth + 1, false, nil
		}
	}
	if err := e.acquire(ctx); err != nil {
		return 0, false, err
	}
	return 0, true, nil
}

func (e *Engine) acquire(ctx context.Context) error {
	select {
	case e.serial <- struct{}{}:
	default:
		if ctx == nil {
			ctx = context.Background()
		}
		select {
		case e.serial <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if e.stopped.Load() {
		<-e.serial
		return e.notRunning()
	}
	return nil
}

func (e *Engine) release() { <-e.serial }

func (e *Engine) nowMs() int64 { return e.clock.Now().UnixMilli() }

// trigger is what one rule evaluation sees (RULES.md §6).
type trigger struct {
	data          map[string]any
	matched       []map[string]any
	correlationID string
}

// execCtx is the state of one rule evaluation: trigger data, variables
// (for_each, catch), lookup results.
type execCtx struct {
	e             *Engine
	ctx           context.Context
	rule          *compiledRule
	depth         int
	data          map[string]any
	matched       []map[string]any
	vars          map[string]any
	lookups       map[string]any
	correlationID string
}

func (e *Engine) newEvent(topic string, data map[string]any, correlationID, causationID, source string) *Event {
	if data == nil {
		data = map[string]any{}
	}
	ms := e.nowMs()
	return &Event{ID: newID(ms), Topic: topic, Data: data, Timestamp: ms,
		CorrelationID: correlationID, CausationID: causationID, Source: source}
}

// handleEvent is RULES.md §2 "handling of every event": record, notify
// subscribers, then run event-triggered and temporal rules, unless the
// forward-depth limit is reached. Called with serial held.
func (e *Engine) handleEvent(ctx context.Context, ev *Event, depth int) {
	if len(e.recent.buf) > 0 {
		e.mu.Lock()
		e.recent.add(ev)
		e.mu.Unlock()
	}
	e.stats.eventsProcessed.Add(1)
	e.notify(ev)
	if depth >= e.maxDepth {
		e.stats.depthCutoffs.Add(1)
		e.log.Warn("rules: forward-chaining depth limit reached, rules not run for event",
			"engine", e.name, "topic", ev.Topic, "depth", depth, "limit", e.maxDepth)
		return
	}
	list := e.candidates(&e.idx.event, ev.Topic, depth)
	if len(list) > 0 {
		tr := trigger{data: ev.Data, matched: []map[string]any{ev.Data}, correlationID: ev.CorrelationID}
		for _, r := range list {
			e.runRule(ctx, r, &tr, depth)
		}
	}
	e.putScratch(list, depth)
	if len(e.idx.temporal) > 0 {
		e.processTemporal(ctx, ev, depth)
	}
}

// candidates collects the active rules of a trigger index for key into the
// scratch slice of this depth (nested processing uses deeper ones).
func (e *Engine) candidates(ti *triggerIndex, key string, depth int) []*compiledRule {
	for len(e.scratch) <= depth {
		e.scratch = append(e.scratch, nil)
	}
	return ti.collect(e.scratch[depth][:0], key, e.active)
}

func (e *Engine) putScratch(list []*compiledRule, depth int) {
	clear(list)
	e.scratch[depth] = list[:0]
}

// active: enabled and, if grouped, the group exists-and-is-enabled or does
// not exist (RULES.md §1).
func (e *Engine) active(r *compiledRule) bool {
	if !r.enabled {
		return false
	}
	if r.group == "" {
		return true
	}
	g, ok := e.groups[r.group]
	return !ok || g.Enabled
}

// runRule resolves lookups, evaluates conditions and runs the actions of
// one rule (RULES.md §1 step 4). Nothing escapes it: failures are logged
// and counted.
func (e *Engine) runRule(ctx context.Context, r *compiledRule, tr *trigger, depth int) {
	start := time.Now()
	x := execCtx{e: e, ctx: ctx, rule: r, depth: depth, data: tr.data,
		matched: tr.matched, correlationID: tr.correlationID}
	defer func() {
		if p := recover(); p != nil {
			e.stats.rulesFailed.Add(1)
			e.log.Error("rules: rule panicked", "engine", e.name, "rule", r.id, "panic", fmt.Sprint(p))
		}
	}()
	ok, err := x.resolveLookups(r.lookups)
	if err == nil && ok {
		ok, err = x.evalConditions(r.conds)
	}
	if err != nil {
		e.stats.rulesFailed.Add(1)
		e.log.Error("rules: rule evaluation failed", "engine", e.name, "rule", r.id, "error", err.Error())
		return
	}
	if !ok {
		return
	}
	x.runActions(r.actions)
	e.stats.rulesExecuted.Add(1)
	e.stats.execNanos.Add(int64(time.Since(start)))
}

// actionFailed reports a failed action: logged, counted, and the rule
// goes on with its next action (RULES.md §9).
func (e *Engine) actionFailed(x *execCtx, a *action, err error) {
	e.stats.actionsFailed.Add(1)
	e.log.Warn("rules: action failed", "engine", e.name, "rule", x.rule.id, "action", a.typ, "error", err.Error())
}

// processTemporal feeds an event to every active temporal rule and runs
// the rules whose pattern matched.
func (e *Engine) processTemporal(ctx context.Context, ev *Event, depth int) {
	now := e.nowMs()
	for _, r := range e.idx.temporal {
		if !e.active(r) {
			continue
		}
		for _, m := range e.temporalOnEvent(r, ev, now) {
			e.runTemporal(ctx, r, m, depth)
		}
	}
}

func (e *Engine) runTemporal(ctx context.Context, r *compiledRule, m temporalMatch, depth int) {
	e.stats.temporalMatches.Add(1)
	data, matched := r.temporal.triggerData(m)
	tr := trigger{data: data, matched: matched}
	if m.last != nil {
		tr.correlationID = m.last.CorrelationID
	}
	e.runRule(ctx, r, &tr, depth)
}

// absenceTimeout fires an absence match whose window elapsed without the
// expected event.
func (e *Engine) absenceTimeout(r *compiledRule, group string, in *absInstance) {
	if e.acquire(context.Background()) != nil {
		return
	}
	defer e.release()
	if e.rules[r.id] != r || r.temporal.absences[group] != in {
		return
	}
	delete(r.temporal.absences, group)
	if !e.active(r) {
		return
	}
	e.runTemporal(context.Background(), r, temporalMatch{events: []*Event{in.after}, last: in.after, group: group}, 0)
}

// callService calls services[service][method] with a context that lets the
// service call back into the engine inline.
func (e *Engine) callService(ctx context.Context, depth int, service, method string, args []any) (v any, err error) {
	s, ok := e.services[service]
	if !ok {
		return nil, fmt.Errorf("Service not found: %s", service)
	}
	fn, ok := s[method]
	if !ok || fn == nil {
		return nil, fmt.Errorf("Method not found: %s.%s", service, method)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ps := &procState{e: e, depth: depth}
	ps.live.Store(true)
	prev := e.bridge.serviceDepth.Swap(int32(depth + 1))
	defer func() {
		ps.live.Store(false)
		e.bridge.serviceDepth.Store(prev)
		if p := recover(); p != nil {
			err = fmt.Errorf("service %s.%s panicked: %v", service, method, p)
		}
	}()
	return fn(context.WithValue(ctx, procKey{}, ps), args)
}

// SetService registers (or, with nil, removes) a service after New.
func (e *Engine) SetService(ctx context.Context, name string, s Service) error {
	_, top, err := e.enter(ctx)
	if err != nil {
		return err
	}
	if top {
		defer e.release()
	}
	if s == nil {
		delete(e.services, name)
	} else {
		e.services[name] = s
	}
	return nil
}

// regex compiles a run-time "matches" pattern, cached; nil if invalid.
func (e *Engine) regex(p string) *regexp.Regexp {
	if re, ok := e.regexCache[p]; ok {
		return re
	}
	re, _ := compileJSRegex(p)
	if len(e.regexCache) >= maxRegexCache {
		clear(e.regexCache)
	}
	e.regexCache[p] = re
	return re
}
