// Package rules is the embedded rules engine of noex (RULES.md): events,
// facts, rules with event/fact/timer/temporal triggers, conditions,
// actions, timers, temporal (CEP) patterns, engine subscriptions and
// statistics. It imports nothing of this module; the server wires it to
// the wire protocol, the store (Bridge, services) and the commit log
// (Persister).
//
// # Concurrency
//
// Every mutation and all trigger processing are serialised by one
// processing lock (RULES.md §1: one top-level trigger at a time); reads
// take a read lock only and never wait for processing. Emit, SetFact and
// the other mutating calls take a context: waiting for the lock honours
// its cancellation. A context handed to a Service carries the engine's
// processing state, so a service may call back into the engine with it
// (it then runs inline, one forward-chaining level deeper) instead of
// deadlocking. Subscription handlers run on the processing goroutine and
// must not call mutating methods synchronously (use EmitAsync).
//
// Lock order inside the package: processing lock, then the data lock
// (Engine.mu), then the subscription lock. The Persister is called with
// the processing lock held; subscription handlers and services are called
// with only the processing lock held.
//
// # Deviations from the reference (RULES.md), on purpose
//
//   - Rules of one trigger run one after another by priority instead of
//     in concurrent chunks of maxConcurrency (RULES.md §1 "Go").
//   - Builder defaults are applied on registration (§5.1): name = id,
//     priority 0, enabled true, tags, conditions and actions empty.
//   - A duplicate rule id is refused (*AlreadyExistsError) instead of
//     leaving stale trigger indexes (§12.1); updateRule of an unknown id
//     is a *NotFoundError (COMPATIBILITY.md P§11 #15); an update keeps
//     createdAt (§12.2) and moves the rule to the end of the registration
//     order, as re-registration does.
//   - Patterns: in §3.1 and §3.2 every character but "*" is literal (the
//     reference leaves regex metacharacters unescaped).
//   - "matches" uses Go's RE2 (no new dependency): \uXXXX escapes are
//     translated; lookaround and backreferences do not compile and so
//     never match (the reference's "invalid regex → false"); "\s" is ASCII
//     whitespace only; "." matches "\r", U+2028 and U+2029 (not "\n").
//   - Durations: a digits-only string is milliseconds at run time too
//     (§22 #13). A repeat interval must be positive.
//   - Timers: repeat maxCount is always honoured (§14, §22 #12).
//   - for_each is validated (§22 #14); its messages are this package's.
//   - Temporal patterns fire (§15): see temporal.go for the trigger data a
//     match provides. count/aggregate match stored events by the §3.1
//     matcher (not the exact topic) and count the events seen since the
//     rule was registered (not the global recent-event store); an
//     aggregate without "comparison" compares with gte (the reference
//     never matches). Temporal state is not persisted.
//   - Persistence: rules, groups, facts and timers go through Persister on
//     every change, before the change takes effect (the reference persists
//     only rules, debounced, and never facts). Restored due timers fire
//     once.
//   - The forward-depth cut-off (§1) is logged as a warning and counted
//     (Stats.DepthCutoffs). The event at the limit is still recorded and
//     delivered to subscribers; only its rules are not run. Loops through
//     the store bridge are cut off the same way (see Bridge).
//   - A failing action is logged and counted (Stats.ActionsFailed); an
//     aborted rule evaluation too (Stats.RulesFailed). These Go-only
//     counters are not part of the rules.stats JSON.
//   - Lookups are resolved one after another (the reference: in parallel).
//   - A try_catch without catch.as sets no variable.
//   - Not implemented (RULES.md §16, §21): versioning history, hot reload,
//     baseline anomaly detection (a baseline condition source is absent,
//     baseline refs resolve to absent), backward chaining, audit, tracing
//     (stats report it disabled), metrics.
package rules
