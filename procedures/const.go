package procedures

import "time"

// Limits of a definition and of a call (PROTOCOL.md §7.2.1, server
// configuration "procedures").
const (
	// DefaultMaxSteps bounds the steps of one definition, counting the
	// steps of every if branch: a definition is data the server walks on
	// every call, so its size is bounded like any request.
	DefaultMaxSteps = 100
	// DefaultMaxConditionDepth bounds the nesting of if steps: an if at
	// this depth is rejected (the top level is depth 0).
	DefaultMaxConditionDepth = 5
	// DefaultTimeout is a call's timeout when its definition sets no
	// timeoutMs.
	DefaultTimeout = 30 * time.Second
)

// The step actions (§7.2.2), in the order the validation message lists
// them.
const (
	ActionStoreGet     = "store.get"
	ActionStoreWhere   = "store.where"
	ActionStoreFindOne = "store.findOne"
	ActionStoreInsert  = "store.insert"
	ActionStoreUpdate  = "store.update"
	ActionStoreDelete  = "store.delete"
	ActionStoreCount   = "store.count"
	ActionAggregate    = "aggregate"
	ActionRulesEmit    = "rules.emit"
	ActionRulesSetFact = "rules.setFact"
	ActionRulesGetFact = "rules.getFact"
	ActionIf           = "if"
	ActionTransform    = "transform"
	ActionReturn       = "return"
)

var (
	actions = []string{ActionStoreGet, ActionStoreWhere, ActionStoreFindOne, ActionStoreInsert,
		ActionStoreUpdate, ActionStoreDelete, ActionStoreCount, ActionAggregate, ActionRulesEmit,
		ActionRulesSetFact, ActionRulesGetFact, ActionIf, ActionTransform, ActionReturn}
	inputTypes   = []string{"string", "number", "boolean", "object", "array"}
	aggregateOps = []string{"sum", "avg", "min", "max", "count"}
	transformOps = []string{"map", "filter", "pick", "pluck"}
	conditionOps = []string{"eq", "neq", "gt", "gte", "lt", "lte", "exists", "not_exists"}
)
