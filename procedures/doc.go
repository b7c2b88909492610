// Package procedures runs named, server-side scripts of declarative steps
// (PROTOCOL.md §7.2): their definitions are parsed and validated with the
// protocol's issue texts, `{{ … }}` references are resolved against the
// call's input and earlier results, and the steps execute against small
// interfaces (Store, Tx, Rules) so the package works, and is tested,
// without a server.
//
// Differences from the reference, decided in COMPATIBILITY.md:
//
//   - "transaction": true is atomic: every store step runs inside one
//     transaction that commits at the end or not at all, and the rules
//     side effects (rules.emit, rules.setFact) of such a procedure are
//     applied only once the commit succeeded (P§11 #30).
//   - A timeout cancels the call: a transactional procedure's writes are
//     discarded; any other procedure stops before its next step (writes
//     already done stay) (P§11 #30, "P§7.2").
//   - Every store and rules step passes the access check of the direct
//     operation (Env.Authorize, P§11 #24).
//   - A failing step's error names the step (StepError).
package procedures
