package rules

import "time"

// Every default of the engine lives here, each with what it bounds and why
// (RULES.md §1 "Engine configuration and defaults").

const (
	// DefaultName names the engine in messages ("RuleEngine "<name>" is not
	// running"), as the reference does.
	DefaultName = "rule-engine"

	// DefaultMaxForwardDepth bounds forward chaining: an event produced by
	// an action is processed at depth+1, and rules are no longer run for an
	// event at this depth. It is what cuts off a rule that re-triggers
	// itself (RULES.md §1: a chain stops after 10 levels).
	DefaultMaxForwardDepth = 10

	// DefaultMaxIterations bounds one for_each action (RULES.md §9).
	DefaultMaxIterations = 1000

	// DefaultRecentEvents is how many handled events are kept in memory for
	// RecentEvents (RULES.md §2.1: 10 000). A ring buffer, so indexes never
	// go stale.
	DefaultRecentEvents = 10000

	// DefaultTracingMaxEntries is reported in statistics; tracing itself is
	// not implemented, so the entry count stays 0 (RULES.md §18).
	DefaultTracingMaxEntries = 10000

	// DefaultBridgeQueue bounds the store events waiting for the engine
	// (EmitAsync and the store bridge). Producers never block; beyond this
	// events are dropped, counted and logged, so a burst of writes cannot
	// grow memory without bound.
	DefaultBridgeQueue = 65536

	// maxTemporalWindow bounds the events one count/aggregate rule keeps
	// for its window, so a hot topic with a long window stays bounded.
	maxTemporalWindow = 100000

	// maxSequenceInstances bounds the in-progress instances of one
	// sequence rule without groupBy (each first-matcher event starts one).
	maxSequenceInstances = 10000

	// maxRegexCache bounds the compiled `matches` patterns kept for
	// comparison values that are only known at run time (references).
	maxRegexCache = 1024

	// maxLookupCache bounds cached lookup results (RULES.md §11).
	maxLookupCache = 10000

	// sourceAPI, sourceRule, sourceTimer and sourceSystem are the event and
	// fact sources of RULES.md §2 and §4.
	sourceAPI    = "api"
	sourceRule   = "rule"
	sourceTimer  = "timer"
	sourceSystem = "system"

	// immediately is the delay used to fire a restored timer that came due
	// while the server was down.
	immediately = time.Duration(0)
)
