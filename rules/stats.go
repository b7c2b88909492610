package rules

import (
	"sync/atomic"
	"time"
)

// Stats is the engine's statistics (RULES.md §18). Its JSON form is exactly
// rules.stats; the Go-only counters after Tracing are not part of it.
type Stats struct {
	RulesCount      int   `json:"rulesCount"`
	FactsCount      int   `json:"factsCount"`
	TimersCount     int   `json:"timersCount"`
	EventsProcessed int64 `json:"eventsProcessed"`
	// RulesExecuted counts rules whose conditions passed and whose
	// actions ran (action failures do not matter).
	RulesExecuted int64 `json:"rulesExecuted"`
	// AvgProcessingTimeMs is the wall time of executed rules divided by
	// RulesExecuted (0 if none).
	AvgProcessingTimeMs float64      `json:"avgProcessingTimeMs"`
	Tracing             TracingStats `json:"tracing"`

	// ActionsFailed counts failed actions (each logged; the rule went on).
	ActionsFailed int64 `json:"-"`
	// RulesFailed counts rule evaluations aborted by an error (a lookup
	// with onError "fail", an unknown reference in a fact pattern, a
	// panic).
	RulesFailed int64 `json:"-"`
	// DepthCutoffs counts events and facts whose rules were not run
	// because the forward-chaining depth limit was reached: the loop
	// guard.
	DepthCutoffs int64 `json:"-"`
	// BridgeDropped counts EmitAsync/bridge events dropped because the
	// queue was full.
	BridgeDropped int64 `json:"-"`
	// TemporalMatches counts temporal pattern matches.
	TemporalMatches int64 `json:"-"`
	// TimersFired counts timer expiries.
	TimersFired int64 `json:"-"`
	// SubscriberErrors counts panicking subscription handlers.
	SubscriberErrors int64 `json:"-"`
	// Subscriptions is the number of live subscriptions.
	Subscriptions int `json:"-"`
}

// TracingStats is always present in rules.stats; tracing is not
// implemented, so it reports disabled with no entries.
type TracingStats struct {
	Enabled      bool `json:"enabled"`
	EntriesCount int  `json:"entriesCount"`
	MaxEntries   int  `json:"maxEntries"`
}

type counters struct {
	eventsProcessed  atomic.Int64
	rulesExecuted    atomic.Int64
	execNanos        atomic.Int64
	actionsFailed    atomic.Int64
	rulesFailed      atomic.Int64
	depthCutoffs     atomic.Int64
	bridgeDropped    atomic.Int64
	temporalMatches  atomic.Int64
	timersFired      atomic.Int64
	subscriberErrors atomic.Int64
}

// Stats returns the current statistics; it never waits for processing.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	s := Stats{RulesCount: len(e.rules), FactsCount: e.facts.len(), TimersCount: len(e.timers)}
	e.mu.RUnlock()
	c := &e.stats
	s.EventsProcessed = c.eventsProcessed.Load()
	s.RulesExecuted = c.rulesExecuted.Load()
	if s.RulesExecuted > 0 {
		s.AvgProcessingTimeMs = float64(c.execNanos.Load()) / float64(time.Millisecond) / float64(s.RulesExecuted)
	}
	s.Tracing = TracingStats{MaxEntries: DefaultTracingMaxEntries}
	s.ActionsFailed = c.actionsFailed.Load()
	s.RulesFailed = c.rulesFailed.Load()
	s.DepthCutoffs = c.depthCutoffs.Load()
	s.BridgeDropped = c.bridgeDropped.Load()
	s.TemporalMatches = c.temporalMatches.Load()
	s.TimersFired = c.timersFired.Load()
	s.SubscriberErrors = c.subscriberErrors.Load()
	s.Subscriptions = e.SubscriptionCount()
	return s
}
