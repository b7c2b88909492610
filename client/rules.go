package client

import (
	"context"
	"encoding/json"
)

// Rules holds the rules.* operations (PROTOCOL.md §5). Without a rule
// engine on the server every call fails with RULES_NOT_AVAILABLE.
type Rules struct{ c *Client }

// Rules returns the rules.* operations.
func (c *Client) Rules() Rules { return Rules{c} }

// Emit publishes an event on topic with data (nil for {}) and returns it.
// Matching rules run and matching rules subscriptions receive it.
func (r Rules) Emit(ctx context.Context, topic string, data any) (Event, error) {
	p := map[string]any{"topic": topic}
	if data != nil {
		p["data"] = data
	}
	var ev Event
	err := r.c.call(ctx, "rules.emit", p, &ev)
	return ev, err
}

// EmitCorrelated is Emit with a correlation id and an optional causation
// id (nil for none), recorded on the event.
func (r Rules) EmitCorrelated(ctx context.Context, topic string, data any, correlationID string, causationID any) (Event, error) {
	p := map[string]any{"topic": topic, "correlationId": correlationID}
	if data != nil {
		p["data"] = data
	}
	if causationID != nil {
		p["causationId"] = causationID
	}
	var ev Event
	err := r.c.call(ctx, "rules.emit", p, &ev)
	return ev, err
}

// Fact is a rules fact (PROTOCOL.md §5.5).
type Fact struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Timestamp int64           `json:"timestamp"`
	Source    string          `json:"source"`
	Version   int64           `json:"version"`
}

// Decode unmarshals the fact's value into v.
func (f Fact) Decode(v any) error { return json.Unmarshal(f.Value, v) }

// SetFact sets a fact to value (any JSON value, nil for null).
func (r Rules) SetFact(ctx context.Context, key string, value any) (Fact, error) {
	var f Fact
	err := r.c.call(ctx, "rules.setFact", map[string]any{"key": key, "value": value}, &f)
	return f, err
}

// GetFact returns a fact's value, "null" when the fact does not exist. Use
// As to decode it: client.As[int](rules.GetFact(ctx, "k")).
func (r Rules) GetFact(ctx context.Context, key string) (json.RawMessage, error) {
	return r.c.Request(ctx, "rules.getFact", map[string]any{"key": key})
}

// DeleteFact deletes a fact and reports whether it existed.
func (r Rules) DeleteFact(ctx context.Context, key string) (bool, error) {
	var out struct {
		Deleted bool `json:"deleted"`
	}
	err := r.c.call(ctx, "rules.deleteFact", map[string]any{"key": key}, &out)
	return out.Deleted, err
}

// QueryFacts returns the facts whose keys match pattern ("user:*:name").
func (r Rules) QueryFacts(ctx context.Context, pattern string) ([]Fact, error) {
	var out []Fact
	err := r.c.call(ctx, "rules.queryFacts", map[string]any{"pattern": pattern}, &out)
	return out, err
}

// AllFacts returns every fact.
func (r Rules) AllFacts(ctx context.Context) ([]Fact, error) {
	var out []Fact
	err := r.c.call(ctx, "rules.getAllFacts", nil, &out)
	return out, err
}

// Subscribe receives every event whose topic matches pattern ("order.*").
// Updates are UpdateChange with the event (Update.Event), UpdateResumed
// after a reconnect (events of the gap are lost).
func (r Rules) Subscribe(ctx context.Context, pattern string, opts ...SubscribeOption) (*Subscription, error) {
	sub := newSubscription(r.c, eventSub, opts)
	sub.pattern = pattern
	return r.c.subscribe(ctx, sub)
}

// RulesStats are the engine statistics (PROTOCOL.md §5.5).
type RulesStats struct {
	RulesCount          int     `json:"rulesCount"`
	FactsCount          int     `json:"factsCount"`
	TimersCount         int     `json:"timersCount"`
	EventsProcessed     int64   `json:"eventsProcessed"`
	RulesExecuted       int64   `json:"rulesExecuted"`
	AvgProcessingTimeMs float64 `json:"avgProcessingTimeMs"`
	Tracing             struct {
		Enabled      bool `json:"enabled"`
		EntriesCount int  `json:"entriesCount"`
		MaxEntries   int  `json:"maxEntries"`
	} `json:"tracing"`
}

// Stats returns the engine statistics.
func (r Rules) Stats(ctx context.Context) (RulesStats, error) {
	var out RulesStats
	err := r.c.call(ctx, "rules.stats", nil, &out)
	return out, err
}

// Rule is a rule definition (PROTOCOL.md §5.5): what RegisterRule takes
// (ID, Name and Trigger are required) and GetRule returns (then with
// Version, CreatedAt and UpdatedAt). Trigger, Conditions, Actions and
// Lookups follow the rule engine's grammar (RULES.md); any JSON-encodable
// value works, e.g. map[string]any.
type Rule struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Priority    int      `json:"priority,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Group       string   `json:"group,omitempty"`
	Trigger     any      `json:"trigger,omitempty"`
	Conditions  []any    `json:"conditions,omitempty"`
	Actions     []any    `json:"actions,omitempty"`
	Lookups     any      `json:"lookups,omitempty"`
	Version     int64    `json:"version,omitempty"`
	CreatedAt   int64    `json:"createdAt,omitempty"`
	UpdatedAt   int64    `json:"updatedAt,omitempty"`
}

// RuleInfo is the result of RegisterRule.
type RuleInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Version   int64  `json:"version"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt"`
}

// RuleSummary is an entry of GetRules.
type RuleSummary struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Enabled  bool     `json:"enabled"`
	Priority int      `json:"priority"`
	Version  int64    `json:"version"`
	Tags     []string `json:"tags"`
	Group    string   `json:"group,omitempty"`
}

// RuleIssue is a validation problem of a rule definition.
type RuleIssue struct {
	Path     string `json:"path"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

// RuleValidation is the result of ValidateRule.
type RuleValidation struct {
	Valid    bool        `json:"valid"`
	Errors   []RuleIssue `json:"errors"`
	Warnings []RuleIssue `json:"warnings"`
}

// RegisterRule adds a rule (a Rule or any value encoding to a definition).
// An invalid definition fails with VALIDATION_ERROR whose details are
// []RuleIssue.
func (r Rules) RegisterRule(ctx context.Context, rule any) (RuleInfo, error) {
	var out RuleInfo
	err := r.c.call(ctx, "rules.registerRule", map[string]any{"rule": rule}, &out)
	return out, err
}

// UnregisterRule removes a rule.
func (r Rules) UnregisterRule(ctx context.Context, ruleID string) error {
	return r.c.call(ctx, "rules.unregisterRule", map[string]any{"ruleId": ruleID}, nil)
}

// UpdateRule overlays updates (the top-level fields to replace) on a rule
// and returns its new version.
func (r Rules) UpdateRule(ctx context.Context, ruleID string, updates any) (RuleInfo, error) {
	var out RuleInfo
	err := r.c.call(ctx, "rules.updateRule", map[string]any{"ruleId": ruleID, "updates": updates}, &out)
	return out, err
}

// EnableRule enables a rule.
func (r Rules) EnableRule(ctx context.Context, ruleID string) error {
	return r.c.call(ctx, "rules.enableRule", map[string]any{"ruleId": ruleID}, nil)
}

// DisableRule disables a rule.
func (r Rules) DisableRule(ctx context.Context, ruleID string) error {
	return r.c.call(ctx, "rules.disableRule", map[string]any{"ruleId": ruleID}, nil)
}

// GetRule returns a rule's full definition.
func (r Rules) GetRule(ctx context.Context, ruleID string) (Rule, error) {
	var out Rule
	err := r.c.call(ctx, "rules.getRule", map[string]any{"ruleId": ruleID}, &out)
	return out, err
}

// GetRules returns a summary of every rule.
func (r Rules) GetRules(ctx context.Context) ([]RuleSummary, error) {
	var out struct {
		Rules []RuleSummary `json:"rules"`
	}
	err := r.c.call(ctx, "rules.getRules", nil, &out)
	return out.Rules, err
}

// ValidateRule checks a definition without registering it.
func (r Rules) ValidateRule(ctx context.Context, rule any) (RuleValidation, error) {
	var out RuleValidation
	err := r.c.call(ctx, "rules.validateRule", map[string]any{"rule": rule}, &out)
	return out, err
}
