package rules

import (
	"encoding/json"
	"fmt"
	"maps"
)

// Rule is a registered rule: the definition as supplied (with the
// defaults of RULES.md §5.1 applied) plus version and timestamps (§12.2).
// Its JSON form is the full rule object of PROTOCOL.md §5.5. A *Rule
// handed out by the engine is a snapshot; it is never changed afterwards.
type Rule struct {
	ID          string
	Name        string
	Description string
	Priority    float64
	Enabled     bool
	Tags        []string
	Group       string
	// Version comes from one engine-wide counter (RULES.md §12.2).
	Version int64
	// CreatedAt and UpdatedAt are Unix ms; an update keeps CreatedAt.
	CreatedAt int64
	UpdatedAt int64

	def map[string]any
}

// RuleSummary is one entry of rules.getRules (PROTOCOL.md §5.4).
type RuleSummary struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Enabled  bool     `json:"enabled"`
	Priority float64  `json:"priority"`
	Version  int64    `json:"version"`
	Tags     []string `json:"tags"`
	Group    string   `json:"group,omitempty"`
}

// Definition returns a copy of the rule's definition, without version
// and timestamps.
func (r *Rule) Definition() map[string]any { return deepCopy(r.def).(map[string]any) }

// Summary is the rule as listed by rules.getRules.
func (r *Rule) Summary() RuleSummary {
	return RuleSummary{ID: r.ID, Name: r.Name, Enabled: r.Enabled, Priority: r.Priority,
		Version: r.Version, Tags: r.Tags, Group: r.Group}
}

// MarshalJSON writes the definition plus version, createdAt, updatedAt.
func (r *Rule) MarshalJSON() ([]byte, error) {
	m := maps.Clone(r.def)
	m["version"] = r.Version
	m["createdAt"] = r.CreatedAt
	m["updatedAt"] = r.UpdatedAt
	return json.Marshal(m)
}

// metaKeys are added by the engine and never part of a definition.
var metaKeys = []string{"version", "createdAt", "updatedAt"}

// withDefaults copies a definition and fills the builder defaults the
// reference's engine relies on (RULES.md §5.1): name = id, priority 0,
// enabled true, tags, conditions and actions empty.
func withDefaults(def map[string]any) map[string]any {
	out := deepCopy(def).(map[string]any)
	for _, k := range metaKeys {
		delete(out, k)
	}
	if _, ok := out["name"]; !ok {
		out["name"] = out["id"]
	}
	defaults := map[string]func() any{
		"priority": func() any { return float64(0) }, "enabled": func() any { return true },
		"tags": func() any { return []any{} }, "conditions": func() any { return []any{} },
		"actions": func() any { return []any{} },
	}
	for k, f := range defaults {
		if _, ok := out[k]; !ok {
			out[k] = f()
		}
	}
	return out
}

// newRule builds the public snapshot of a definition.
func newRule(def map[string]any, version, createdAt, updatedAt int64) *Rule {
	r := &Rule{def: def, Version: version, CreatedAt: createdAt, UpdatedAt: updatedAt, Tags: []string{}}
	r.ID, _ = def["id"].(string)
	r.Name, _ = def["name"].(string)
	r.Description, _ = def["description"].(string)
	r.Priority, _ = toNumber(def["priority"])
	r.Enabled, _ = def["enabled"].(bool)
	r.Group, _ = def["group"].(string)
	if tags, ok := def["tags"].([]any); ok {
		for _, t := range tags {
			if s, ok := t.(string); ok {
				r.Tags = append(r.Tags, s)
			}
		}
	}
	return r
}

type triggerKind uint8

const (
	trigEvent triggerKind = iota
	trigFact
	trigTimer
	trigTemporal
)

// compiledRule is a rule ready to run: its trigger matcher, conditions,
// actions and lookups compiled once at registration.
type compiledRule struct {
	id       string
	rule     *Rule
	priority float64
	seq      int64 // the version: registration order
	enabled  bool
	group    string

	trig     triggerKind
	pattern  string // event topic, fact pattern or timer name pattern
	match    matcher
	temporal *temporalRule

	conds   []*condition
	actions []*action
	lookups []*lookupSpec
}

func compileRule(r *Rule) (*compiledRule, error) {
	c := &compiledRule{id: r.ID, rule: r, priority: r.Priority, seq: r.Version,
		enabled: r.Enabled, group: r.Group}
	trig, _ := r.def["trigger"].(map[string]any)
	if trig == nil {
		return nil, fmt.Errorf("rule %q: trigger must be an object", r.ID)
	}
	str := func(k string) string { s, _ := trig[k].(string); return s }
	switch t := str("type"); t {
	case "event":
		c.trig, c.pattern = trigEvent, str("topic")
		c.match = compileTopic(c.pattern)
	case "fact":
		c.trig, c.pattern = trigFact, str("pattern")
		c.match = compileKey(c.pattern)
	case "timer":
		c.trig, c.pattern = trigTimer, str("name")
		c.match = compileKey(c.pattern)
	case "temporal":
		c.trig = trigTemporal
		tr, err := compileTemporal(trig["pattern"])
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.ID, err)
		}
		c.temporal = tr
	default:
		return nil, fmt.Errorf("rule %q: unknown trigger type %q", r.ID, t)
	}
	var err error
	if c.conds, err = compileConditions(r.def["conditions"]); err != nil {
		return nil, fmt.Errorf("rule %q: %w", r.ID, err)
	}
	if c.actions, err = compileActions(r.def["actions"]); err != nil {
		return nil, fmt.Errorf("rule %q: %w", r.ID, err)
	}
	if c.lookups, err = compileLookups(r.def["lookups"]); err != nil {
		return nil, fmt.Errorf("rule %q: %w", r.ID, err)
	}
	return c, nil
}
