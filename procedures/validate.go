package procedures

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/noex-go/noex/store"
)

// Limits bound a definition (PROTOCOL.md §7.2.1); zero fields take the
// defaults.
type Limits struct {
	MaxSteps          int
	MaxConditionDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	if l.MaxConditionDepth <= 0 {
		l.MaxConditionDepth = DefaultMaxConditionDepth
	}
	return l
}

// Parse validates a definition (the JSON a client sent, or an update
// merged over a stored one) and builds it. Every problem is collected: an
// invalid definition is a *ValidationError listing them all, with the
// issue texts of §7.2.1.
func Parse(raw json.RawMessage, lim Limits) (*Definition, error) {
	lim = lim.withDefaults()
	v, err := store.DecodeJSON(raw)
	if err != nil {
		return nil, &ValidationError{Issues: []string{"Procedure config must be an object"}}
	}
	c, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{Issues: []string{"Procedure config must be an object"}}
	}
	var inputKeys []string
	if _, ok := c["input"].(map[string]any); ok {
		inputKeys = inputKeyOrder(raw)
	}
	if issues := validate(c, inputKeys, lim); len(issues) > 0 {
		return nil, &ValidationError{Issues: issues}
	}
	return build(c, inputKeys, raw), nil
}

// validate returns the problems of a decoded definition, in the
// reference's order.
func validate(c map[string]any, inputKeys []string, lim Limits) []string {
	var issues []string
	add := func(parts ...string) { issues = append(issues, strings.Join(parts, "")) }
	if !isNonEmptyString(c["name"]) {
		add(`Missing or invalid "name": expected non-empty string`)
	}
	if d, ok := c["description"]; ok {
		if _, ok := d.(string); !ok {
			add(`"description" must be a string`)
		}
	}
	if in, ok := c["input"]; ok {
		if m, ok := in.(map[string]any); !ok {
			add(`"input" must be an object`)
		} else {
			for _, k := range inputKeys {
				f, ok := m[k].(map[string]any)
				if !ok {
					add("input.", k, ": expected field definition object")
					continue
				}
				if t, _ := f["type"].(string); !slices.Contains(inputTypes, t) {
					add("input.", k, ".type: expected one of: ", strings.Join(inputTypes, ", "))
				}
			}
		}
	}
	if t, ok := c["transaction"]; ok {
		if _, ok := t.(bool); !ok {
			add(`"transaction" must be a boolean`)
		}
	}
	if t, ok := c["timeoutMs"]; ok {
		if n, ok := t.(float64); !ok || n <= 0 {
			add(`"timeoutMs" must be a positive number`)
		}
	}
	steps, ok := c["steps"].([]any)
	switch {
	case !ok:
		add(`Missing or invalid "steps": expected array`)
	case len(steps) == 0:
		add(`"steps" must contain at least one step`)
	default:
		if n := countSteps(steps); n > lim.MaxSteps {
			add("Total step count (", strconv.Itoa(n), ") exceeds maximum (", strconv.Itoa(lim.MaxSteps), ")")
		}
		validateSteps(steps, "steps", 0, lim.MaxConditionDepth, add)
	}
	return issues
}

// countSteps counts steps recursively: an if counts itself plus its
// branches.
func countSteps(steps []any) int {
	n := 0
	for _, s := range steps {
		n++
		if m, ok := s.(map[string]any); ok && m["action"] == ActionIf {
			if then, ok := m["then"].([]any); ok {
				n += countSteps(then)
			}
			if els, ok := m["else"].([]any); ok {
				n += countSteps(els)
			}
		}
	}
	return n
}

func validateSteps(steps []any, prefix string, depth, maxDepth int, add func(...string)) {
	for i, s := range steps {
		path := childPath(prefix, i)
		m, ok := s.(map[string]any)
		if !ok {
			add(path, ": expected step object")
			continue
		}
		action, _ := m["action"].(string)
		if !slices.Contains(actions, action) {
			add(path, ".action: expected one of: ", strings.Join(actions, ", "))
			continue
		}
		validateStep(m, action, path, depth, maxDepth, add)
	}
}

func validateStep(s map[string]any, action, path string, depth, maxDepth int, add func(...string)) {
	str := func(field string) {
		if !isNonEmptyString(s[field]) {
			add(path, ".", field, ": expected non-empty string")
		}
	}
	obj := func(field string) {
		if _, ok := s[field].(map[string]any); !ok {
			add(path, ".", field, ": expected object")
		}
	}
	optional := func(field string, check func(string)) {
		if _, ok := s[field]; ok {
			check(field)
		}
	}
	required := func(field string) {
		if _, ok := s[field]; !ok {
			add(path, ".", field, ": required")
		}
	}
	switch action {
	case ActionStoreGet:
		str("bucket")
		str("key")
		str("as")
	case ActionStoreWhere, ActionStoreFindOne:
		str("bucket")
		obj("filter")
		str("as")
	case ActionStoreInsert:
		str("bucket")
		obj("data")
		optional("as", str)
	case ActionStoreUpdate:
		str("bucket")
		str("key")
		obj("data")
		optional("as", str)
	case ActionStoreDelete:
		str("bucket")
		str("key")
	case ActionStoreCount:
		str("bucket")
		optional("filter", obj)
		str("as")
	case ActionAggregate:
		str("source")
		str("as")
		op, _ := s["op"].(string)
		if !slices.Contains(aggregateOps, op) {
			add(path, ".op: expected one of: ", strings.Join(aggregateOps, ", "))
		}
		if op != "count" {
			str("field")
		}
	case ActionRulesEmit:
		str("topic")
		optional("data", obj)
	case ActionRulesSetFact:
		str("key")
		required("value")
	case ActionRulesGetFact:
		str("key")
		str("as")
	case ActionIf:
		validateIf(s, path, depth, maxDepth, add)
	case ActionTransform:
		str("source")
		str("as")
		op, _ := s["operation"].(string)
		if !slices.Contains(transformOps, op) {
			add(path, ".operation: expected one of: ", strings.Join(transformOps, ", "))
		}
		required("args")
	case ActionReturn:
		required("value")
	}
}

func validateIf(s map[string]any, path string, depth, maxDepth int, add func(...string)) {
	if depth >= maxDepth {
		add(path, ": condition nesting depth exceeds maximum (", strconv.Itoa(maxDepth), ")")
		return
	}
	if c, ok := s["condition"].(map[string]any); !ok {
		add(path, ".condition: expected object")
	} else {
		if !isNonEmptyString(c["ref"]) {
			add(path, ".condition.ref: expected non-empty string")
		}
		if op, _ := c["operator"].(string); !slices.Contains(conditionOps, op) {
			add(path, ".condition.operator: expected one of: ", strings.Join(conditionOps, ", "))
		}
	}
	if then, ok := s["then"].([]any); !ok || len(then) == 0 {
		add(path, ".then: expected non-empty array of steps")
	} else {
		validateSteps(then, path+".then", depth+1, maxDepth, add)
	}
	if v, ok := s["else"]; ok {
		if els, ok := v.([]any); !ok || len(els) == 0 {
			add(path, ".else: expected non-empty array of steps")
		} else {
			validateSteps(els, path+".else", depth+1, maxDepth, add)
		}
	}
}

func isNonEmptyString(v any) bool {
	s, ok := v.(string)
	return ok && s != ""
}

// inputKeyOrder returns the keys of the definition's "input" object in
// JavaScript's property order (array-index keys ascending first, then the
// others as written), which is the order issues and input checks follow.
func inputKeyOrder(raw json.RawMessage) []string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	return jsKeyOrder(store.ObjectKeys(top["input"]))
}

func jsKeyOrder(keys []string) []string {
	var idx, rest []string
	for _, k := range keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	if len(idx) == 0 {
		return keys
	}
	slices.SortStableFunc(idx, func(a, b string) int {
		x, _ := strconv.ParseUint(a, 10, 32)
		y, _ := strconv.ParseUint(b, 10, 32)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return append(idx, rest...)
}

// isArrayIndex: a canonical decimal integer below 2^32-1.
func isArrayIndex(k string) bool {
	if k == "" || (len(k) > 1 && k[0] == '0') {
		return false
	}
	n, err := strconv.ParseUint(k, 10, 32)
	return err == nil && n < 1<<32-1
}

// build turns a valid decoded definition into a Definition.
func build(c map[string]any, inputKeys []string, raw json.RawMessage) *Definition {
	d := &Definition{raw: raw}
	d.Name, _ = c["name"].(string)
	d.Description, d.HasDescription = c["description"].(string)
	if in, ok := c["input"].(map[string]any); ok {
		d.HasInput = true
		d.Input = make([]InputField, 0, len(inputKeys))
		for _, k := range inputKeys {
			f := in[k].(map[string]any)
			field := InputField{Name: k, Required: f["required"] != false}
			field.Type, _ = f["type"].(string)
			field.Default, field.HasDefault = f["default"]
			d.Input = append(d.Input, field)
		}
	}
	d.Transaction, _ = c["transaction"].(bool)
	d.TimeoutMs, _ = c["timeoutMs"].(float64)
	d.Steps = buildSteps(c["steps"].([]any), "steps")
	return d
}

func buildSteps(list []any, prefix string) []*Step {
	out := make([]*Step, len(list))
	for i, v := range list {
		s := v.(map[string]any)
		st := &Step{Path: childPath(prefix, i)}
		st.Action, _ = s["action"].(string)
		st.Bucket, _ = s["bucket"].(string)
		st.As, _ = s["as"].(string)
		st.Source, _ = s["source"].(string)
		st.Field, _ = s["field"].(string)
		st.Op, _ = s["op"].(string)
		st.Operation, _ = s["operation"].(string)
		tmpl := func(field string) *template {
			if v, ok := s[field]; ok {
				return compileTemplate(v)
			}
			return nil
		}
		switch st.Action {
		case ActionStoreGet, ActionStoreUpdate, ActionStoreDelete, ActionRulesSetFact, ActionRulesGetFact:
			st.Key = tmpl("key")
		}
		switch st.Action {
		case ActionStoreWhere, ActionStoreFindOne, ActionStoreCount:
			st.Filter = tmpl("filter")
		case ActionStoreInsert, ActionStoreUpdate, ActionRulesEmit:
			st.Data = tmpl("data")
		case ActionRulesSetFact, ActionReturn:
			st.Value = tmpl("value")
		case ActionTransform:
			st.Args = tmpl("args")
		case ActionIf:
			c := s["condition"].(map[string]any)
			st.Cond = &Condition{}
			st.Cond.Ref, _ = c["ref"].(string)
			st.Cond.ref = strings.Split(st.Cond.Ref, ".")
			st.Cond.Operator, _ = c["operator"].(string)
			if v, ok := c["value"]; ok {
				st.Cond.Value = compileTemplate(v)
			}
			st.Then = buildSteps(s["then"].([]any), st.Path+".then")
			if els, ok := s["else"].([]any); ok {
				st.Else = buildSteps(els, st.Path+".else")
			}
		}
		if st.Action == ActionRulesEmit {
			st.Topic = tmpl("topic")
		}
		out[i] = st
	}
	return out
}
