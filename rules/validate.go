package rules

import (
	"fmt"
	"math"
	"strings"
)

// Issue is one validation finding (RULES.md §10.1).
type Issue struct {
	// Path uses dots and [i] (actions[2].timer.duration); "(root)" for the
	// rule itself.
	Path     string `json:"path"`
	Message  string `json:"message"`
	Severity string `json:"severity"` // "error" or "warning"
}

// ValidationResult is what rules.validateRule returns.
type ValidationResult struct {
	Valid    bool    `json:"valid"`
	Errors   []Issue `json:"errors"`
	Warnings []Issue `json:"warnings"`
}

// Validate checks a rule definition and reports every problem, not just
// the first (RULES.md §10.2). It never fails and never looks at groups.
func Validate(input any) ValidationResult {
	var c collector
	m, ok := input.(map[string]any)
	if !ok {
		c.err("", "Rule must be an object")
		return c.result()
	}
	validateRequired(m, &c)
	validateOptional(m, &c)
	if t, ok := m["trigger"]; ok {
		validateTrigger(t, "trigger", &c)
	}
	if v, ok := m["conditions"]; ok {
		validateConditions(v, "conditions", &c)
	}
	if v, ok := m["actions"]; ok {
		validateActions(v, "actions", &c)
	}
	if v, ok := m["lookups"]; ok {
		validateLookups(v, "lookups", &c)
	}
	return c.result()
}

type collector struct {
	errors, warnings []Issue
}

func (c *collector) err(path, msg string) {
	if path == "" {
		path = "(root)"
	}
	c.errors = append(c.errors, Issue{Path: path, Message: msg, Severity: "error"})
}

func (c *collector) warn(path, msg string) {
	if path == "" {
		path = "(root)"
	}
	c.warnings = append(c.warnings, Issue{Path: path, Message: msg, Severity: "warning"})
}

func (c *collector) result() ValidationResult {
	r := ValidationResult{Valid: len(c.errors) == 0, Errors: c.errors, Warnings: c.warnings}
	if r.Errors == nil {
		r.Errors = []Issue{}
	}
	if r.Warnings == nil {
		r.Warnings = []Issue{}
	}
	return r
}

// isBlank is JavaScript's s.trim() === "" (strings.TrimSpace differs only
// for U+0085 and U+FEFF).
func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// knownLevel reports a log action level.
func knownLevel(s string) bool { _, ok := logLevels[s]; return ok }

func validateRequired(m map[string]any, c *collector) {
	for _, f := range []string{"id", "name"} {
		v, ok := m[f]
		switch s, isStr := v.(string); {
		case !ok:
			c.err(f, fmt.Sprintf("Required field %q is missing", f))
		case !isStr:
			c.err(f, fmt.Sprintf("Field %q must be a string", f))
		case isBlank(s):
			c.err(f, fmt.Sprintf("Field %q cannot be empty", f))
		}
	}
	if _, ok := m["trigger"]; !ok {
		c.err("trigger", `Required field "trigger" is missing`)
	}
}

func validateOptional(m map[string]any, c *collector) {
	if v, ok := m["description"]; ok {
		if _, isStr := v.(string); !isStr {
			c.err("description", `Field "description" must be a string`)
		}
	}
	if v, ok := m["priority"]; ok {
		if n, isNum := toNumber(v); !isNum {
			c.err("priority", `Field "priority" must be a number`)
		} else if n != math.Trunc(n) || math.IsInf(n, 0) {
			c.warn("priority", `Field "priority" should be an integer`)
		}
	}
	if v, ok := m["enabled"]; ok {
		if _, isBool := v.(bool); !isBool {
			c.err("enabled", `Field "enabled" must be a boolean`)
		}
	}
	if v, ok := m["tags"]; ok {
		tags, isArr := v.([]any)
		if !isArr {
			c.err("tags", `Field "tags" must be an array`)
		}
		for i, t := range tags {
			if _, isStr := t.(string); !isStr {
				c.err(fmt.Sprintf("tags[%d]", i), "Tag must be a string")
			}
		}
	}
	if v, ok := m["group"]; ok {
		if s, isStr := v.(string); !isStr {
			c.err("group", `Field "group" must be a string`)
		} else if isBlank(s) {
			c.err("group", `Field "group" cannot be empty`)
		}
	}
}

var triggerTypes = []string{"event", "fact", "timer", "temporal"}

func validateTrigger(v any, path string, c *collector) {
	t, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Trigger must be an object")
		return
	}
	tv, ok := t["type"]
	if !ok {
		c.err(path+".type", `Trigger must have a "type" field`)
		return
	}
	typ, ok := tv.(string)
	if !ok {
		c.err(path+".type", "Trigger type must be a string")
		return
	}
	field := map[string]string{"event": "topic", "fact": "pattern", "timer": "name"}
	label := map[string]string{"event": "Event", "fact": "Fact", "timer": "Timer"}
	switch typ {
	case "event", "fact", "timer":
		f := field[typ]
		p := path + "." + f
		v, ok := t[f]
		switch s, isStr := v.(string); {
		case !ok:
			c.err(p, fmt.Sprintf("%s trigger must have a %q field", label[typ], f))
		case !isStr:
			c.err(p, fmt.Sprintf("%s trigger %s must be a string", label[typ], f))
		case isBlank(s):
			c.err(p, fmt.Sprintf("%s trigger %s cannot be empty", label[typ], f))
		}
	case "temporal":
		p, ok := t["pattern"]
		if !ok {
			c.err(path+".pattern", `Temporal trigger must have a "pattern" field`)
			return
		}
		validateTemporalPattern(p, path+".pattern", c)
	default:
		c.err(path+".type", fmt.Sprintf("Invalid trigger type: %s. Valid types: %s", typ, strings.Join(triggerTypes, ", ")))
	}
}

var sourceTypes = []string{"event", "fact", "context", "lookup", "baseline"}

var baselineComparisons = []string{"above", "below", "outside", "above_percentile", "below_percentile"}

func validateConditions(v any, path string, c *collector) {
	list, ok := v.([]any)
	if !ok {
		c.err(path, "Conditions must be an array")
		return
	}
	for i, cond := range list {
		validateCondition(cond, fmt.Sprintf("%s[%d]", path, i), c)
	}
}

func validateCondition(v any, path string, c *collector) {
	m, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Condition must be an object")
		return
	}
	if src, ok := m["source"]; !ok {
		c.err(path+".source", `Condition must have a "source" field`)
	} else {
		validateSource(src, path+".source", c)
	}
	opv, hasOp := m["operator"]
	op, opIsStr := opv.(string)
	switch {
	case !hasOp:
		c.err(path+".operator", `Condition must have an "operator" field`)
	case !opIsStr:
		c.err(path+".operator", "Condition operator must be a string")
	default:
		if _, known := operators[op]; !known {
			c.err(path+".operator", fmt.Sprintf("Invalid operator: %s. Valid operators: %s", op, strings.Join(operatorNames, ", ")))
		}
	}
	if opIsStr && op != "exists" && op != "not_exists" {
		if _, ok := m["value"]; !ok {
			c.err(path+".value", `Condition must have a "value" field`)
		}
	}
}

// requireString reports a missing or non-string key with the validator's
// "<Label> must have a "<key>" field" / "<Label> <key> must be a string".
func requireString(m map[string]any, key, path, label string, c *collector) (string, bool) {
	v, ok := m[key]
	if !ok {
		c.err(path+"."+key, fmt.Sprintf("%s must have a %q field", label, key))
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		c.err(path+"."+key, fmt.Sprintf("%s %s must be a string", label, key))
		return "", false
	}
	return s, true
}

func validateSource(v any, path string, c *collector) {
	src, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Condition source must be an object")
		return
	}
	tv, ok := src["type"]
	if !ok {
		c.err(path+".type", `Condition source must have a "type" field`)
		return
	}
	typ, ok := tv.(string)
	if !ok {
		c.err(path+".type", "Condition source type must be a string")
		return
	}
	switch typ {
	case "fact":
		requireString(src, "pattern", path, "Fact source", c)
	case "event":
		requireString(src, "field", path, "Event source", c)
	case "context":
		requireString(src, "key", path, "Context source", c)
	case "lookup":
		requireString(src, "name", path, "Lookup source", c)
		if f, ok := src["field"]; ok {
			if _, isStr := f.(string); !isStr {
				c.err(path+".field", "Lookup source field must be a string")
			}
		}
	case "baseline":
		if s, ok := requireString(src, "metric", path, "Baseline source", c); ok && isBlank(s) {
			c.err(path+".metric", "Baseline source metric cannot be empty")
		}
		if s, ok := requireString(src, "comparison", path, "Baseline source", c); ok && !oneOf(s, baselineComparisons) {
			c.err(path+".comparison", fmt.Sprintf("Invalid baseline comparison: %s. Valid comparisons: %s", s, strings.Join(baselineComparisons, ", ")))
		}
		if s, ok := src["sensitivity"]; ok {
			if n, isNum := toNumber(s); !isNum || math.IsInf(n, 0) || math.IsNaN(n) || n <= 0 {
				c.err(path+".sensitivity", "Baseline source sensitivity must be a positive number")
			}
		}
	default:
		c.err(path+".type", fmt.Sprintf("Invalid source type: %s. Valid types: %s", typ, strings.Join(sourceTypes, ", ")))
	}
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validateActions(v any, path string, c *collector) {
	list, ok := v.([]any)
	if !ok {
		c.err(path, "Actions must be an array")
		return
	}
	if len(list) == 0 {
		c.warn(path, "Rule has no actions")
	}
	validateActionList(list, path, c)
}

func validateActionList(list []any, path string, c *collector) {
	for i, a := range list {
		validateAction(a, fmt.Sprintf("%s[%d]", path, i), c)
	}
}

// validateNested checks a nested action list: it must be an array and,
// unless emptyWarn, not empty ("<typ> action <field> ...").
func validateNested(m map[string]any, field, path, typ string, required, emptyIsError bool, c *collector) {
	v, ok := m[field]
	p := path + "." + field
	if !ok {
		if required {
			article := "a"
			if strings.ContainsRune("aeiou", rune(field[0])) {
				article = "an"
			}
			c.err(p, fmt.Sprintf("%s action must have %s %q field", typ, article, field))
		}
		return
	}
	list, isArr := v.([]any)
	switch {
	case !isArr:
		c.err(p, fmt.Sprintf("%s action %s must be an array", typ, field))
	case len(list) == 0 && emptyIsError:
		c.err(p, fmt.Sprintf("%s action %s must not be empty", typ, field))
	case len(list) == 0:
		c.warn(p, fmt.Sprintf("%s action %s is empty", typ, field))
	default:
		validateActionList(list, p, c)
	}
}

func validateAction(v any, path string, c *collector) {
	a, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Action must be an object")
		return
	}
	tv, ok := a["type"]
	if !ok {
		c.err(path+".type", `Action must have a "type" field`)
		return
	}
	typ, ok := tv.(string)
	if !ok {
		c.err(path+".type", "Action type must be a string")
		return
	}
	switch typ {
	case "set_fact":
		requireString(a, "key", path, "set_fact action", c)
		if _, ok := a["value"]; !ok {
			c.err(path+".value", `set_fact action must have a "value" field`)
		}
	case "delete_fact":
		requireString(a, "key", path, "delete_fact action", c)
	case "emit_event":
		requireString(a, "topic", path, "emit_event action", c)
		if d, ok := a["data"]; !ok {
			c.err(path+".data", `emit_event action must have a "data" field`)
		} else if !isObject(d) {
			c.err(path+".data", "emit_event action data must be an object")
		}
	case "set_timer":
		validateSetTimer(a, path, c)
	case "cancel_timer":
		requireString(a, "name", path, "cancel_timer action", c)
	case "call_service":
		requireString(a, "service", path, "call_service action", c)
		requireString(a, "method", path, "call_service action", c)
		if args, ok := a["args"]; ok && !isArray(args) {
			c.err(path+".args", "call_service action args must be an array")
		}
	case "log":
		if lv, ok := a["level"]; !ok {
			c.err(path+".level", `log action must have a "level" field`)
		} else if s, isStr := lv.(string); !isStr || !knownLevel(s) {
			c.err(path+".level", fmt.Sprintf("Invalid log level: %s. Valid levels: debug, info, warn, error", jsString(lv)))
		}
		requireString(a, "message", path, "log action", c)
	case "conditional":
		cv, ok := a["conditions"]
		list, isArr := cv.([]any)
		switch {
		case !ok:
			c.err(path+".conditions", `conditional action must have a "conditions" field`)
		case !isArr:
			c.err(path+".conditions", "conditional action conditions must be an array")
		case len(list) == 0:
			c.err(path+".conditions", "conditional action conditions must not be empty")
		default:
			validateConditions(list, path+".conditions", c)
		}
		validateNested(a, "then", path, "conditional", true, true, c)
		validateNested(a, "else", path, "conditional", false, false, c)
	case "try_catch":
		validateTryCatch(a, path, c)
	case "for_each":
		validateForEach(a, path, c)
	default:
		c.err(path+".type", fmt.Sprintf("Invalid action type: %s. Valid types: %s", typ, strings.Join(actionNames, ", ")))
	}
}

func validateSetTimer(a map[string]any, path string, c *collector) {
	tv, ok := a["timer"]
	if !ok {
		c.err(path+".timer", `set_timer action must have a "timer" field`)
		return
	}
	t, ok := tv.(map[string]any)
	if !ok {
		c.err(path+".timer", "set_timer action timer must be an object")
		return
	}
	p := path + ".timer"
	requireString(t, "name", p, "Timer", c)
	if d, ok := t["duration"]; !ok {
		c.err(p+".duration", `Timer must have a "duration" field`)
	} else if s, isStr := d.(string); isStr {
		if !validDurationString(s) {
			c.err(p+".duration", "Invalid duration format: "+s)
		}
	} else if n, isNum := toNumber(d); isNum {
		if n <= 0 {
			c.err(p+".duration", "Timer duration must be positive")
		}
	} else {
		c.err(p+".duration", "Timer duration must be a string or number")
	}
	if ov, ok := t["onExpire"]; !ok {
		c.err(p+".onExpire", `Timer must have an "onExpire" field`)
	} else if on, isObj := ov.(map[string]any); isObj {
		if _, ok := on["topic"]; !ok {
			c.err(p+".onExpire.topic", `Timer onExpire must have a "topic" field`)
		}
		if _, ok := on["data"]; !ok {
			c.err(p+".onExpire.data", `Timer onExpire must have a "data" field`)
		}
	} else {
		c.err(p+".onExpire", "Timer onExpire must be an object")
	}
}

func validateTryCatch(a map[string]any, path string, c *collector) {
	validateNested(a, "try", path, "try_catch", true, true, c)
	cv, hasCatch := a["catch"]
	_, hasFinally := a["finally"]
	if !hasCatch && !hasFinally {
		c.err(path, `try_catch action must have at least "catch" or "finally"`)
	}
	if hasCatch {
		if cm, ok := cv.(map[string]any); !ok {
			c.err(path+".catch", "try_catch action catch must be an object")
		} else {
			p := path + ".catch.actions"
			av, ok := cm["actions"]
			list, isArr := av.([]any)
			switch {
			case !ok:
				c.err(p, `try_catch catch must have an "actions" field`)
			case !isArr:
				c.err(p, "try_catch catch actions must be an array")
			case len(list) == 0:
				c.err(p, "try_catch catch actions must not be empty")
			default:
				validateActionList(list, p, c)
			}
			if as, ok := cm["as"]; ok {
				if _, isStr := as.(string); !isStr {
					c.err(path+".catch.as", "try_catch catch as must be a string")
				}
			}
		}
	}
	if hasFinally {
		validateNested(a, "finally", path, "try_catch", false, false, c)
	}
}

// validateForEach is a Go addition (RULES.md §22 #14): the reference
// validates nothing for for_each.
func validateForEach(a map[string]any, path string, c *collector) {
	if col, ok := a["collection"]; !ok {
		c.err(path+".collection", `for_each action must have a "collection" field`)
	} else if _, isRef := refString(col); !isRef && !isArray(col) {
		c.err(path+".collection", "for_each action collection must be an array or a reference")
	}
	if s, ok := requireString(a, "as", path, "for_each action", c); ok && isBlank(s) {
		c.err(path+".as", "for_each action as cannot be empty")
	}
	validateNested(a, "actions", path, "for_each", true, false, c)
	if mv, ok := a["maxIterations"]; ok {
		if n, isNum := toNumber(mv); !isNum || n <= 0 || n != math.Trunc(n) {
			c.err(path+".maxIterations", "for_each action maxIterations must be a positive integer")
		}
	}
}

var lookupErrorStrategies = []string{"skip", "fail"}

func validateLookups(v any, path string, c *collector) {
	list, ok := v.([]any)
	if !ok {
		c.err(path, "Lookups must be an array")
		return
	}
	names := map[string]bool{}
	for i, l := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, ok := l.(map[string]any)
		if !ok {
			c.err(p, "Lookup must be an object")
			continue
		}
		if name, ok := requireString(m, "name", p, "Lookup", c); ok {
			if isBlank(name) {
				c.err(p+".name", "Lookup name cannot be empty")
			} else if names[name] {
				c.err(p+".name", "Duplicate lookup name: "+name)
			} else {
				names[name] = true
			}
		}
		for _, f := range []string{"service", "method"} {
			if s, ok := requireString(m, f, p, "Lookup", c); ok && isBlank(s) {
				c.err(p+"."+f, fmt.Sprintf("Lookup %s cannot be empty", f))
			}
		}
		if args, ok := m["args"]; ok && !isArray(args) {
			c.err(p+".args", "Lookup args must be an array")
		}
		if cv, ok := m["cache"]; ok {
			validateLookupCache(cv, p+".cache", c)
		}
		if ov, ok := m["onError"]; ok {
			if s, isStr := ov.(string); !isStr {
				c.err(p+".onError", "Lookup onError must be a string")
			} else if !oneOf(s, lookupErrorStrategies) {
				c.err(p+".onError", fmt.Sprintf("Invalid onError strategy: %s. Valid strategies: skip, fail", s))
			}
		}
	}
}

func validateLookupCache(v any, path string, c *collector) {
	m, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Lookup cache must be an object")
		return
	}
	ttl, ok := m["ttl"]
	if !ok {
		c.err(path+".ttl", `Lookup cache must have a "ttl" field`)
		return
	}
	if s, isStr := ttl.(string); isStr {
		if !validDurationString(s) {
			c.err(path+".ttl", fmt.Sprintf(`Invalid cache ttl duration: %s. Use a duration like "5m", "1h", "30s" or milliseconds`, s))
		}
	} else if n, isNum := toNumber(ttl); isNum {
		if n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			c.err(path+".ttl", "Lookup cache ttl must be a positive number")
		}
	} else {
		c.err(path+".ttl", "Lookup cache ttl must be a string or number")
	}
}

var (
	temporalTypes      = []string{"sequence", "absence", "count", "aggregate"}
	comparisons        = []string{"gte", "lte", "eq"}
	aggregateFunctions = []string{"sum", "avg", "min", "max", "count"}
)

func validateTemporalPattern(v any, path string, c *collector) {
	p, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Temporal pattern must be an object")
		return
	}
	tv, ok := p["type"]
	if !ok {
		c.err(path+".type", `Temporal pattern must have a "type" field`)
		return
	}
	typ, ok := tv.(string)
	if !ok {
		c.err(path+".type", "Temporal pattern type must be a string")
		return
	}
	switch typ {
	case "sequence":
		if ev, ok := p["events"]; !ok {
			c.err(path+".events", `Sequence pattern must have an "events" field`)
		} else if list, isArr := ev.([]any); !isArr {
			c.err(path+".events", "Sequence pattern events must be an array")
		} else {
			if len(list) < 2 {
				c.err(path+".events", "Sequence pattern must have at least 2 events")
			}
			for i, m := range list {
				validateEventMatcher(m, fmt.Sprintf("%s.events[%d]", path, i), c)
			}
		}
		validateWindow(p, "within", path, c)
	case "absence":
		for _, f := range []string{"after", "expected"} {
			if m, ok := p[f]; !ok {
				c.err(path+"."+f, fmt.Sprintf("Absence pattern must have an %q field", f))
			} else {
				validateEventMatcher(m, path+"."+f, c)
			}
		}
		validateWindow(p, "within", path, c)
	case "count":
		if m, ok := p["event"]; !ok {
			c.err(path+".event", `Count pattern must have an "event" field`)
		} else {
			validateEventMatcher(m, path+".event", c)
		}
		if th, ok := p["threshold"]; !ok {
			c.err(path+".threshold", `Count pattern must have a "threshold" field`)
		} else if n, isNum := toNumber(th); !isNum || n < 1 {
			c.err(path+".threshold", "Count pattern threshold must be a positive number")
		}
		validateComparison(p, path, c)
		validateWindow(p, "window", path, c)
	case "aggregate":
		if m, ok := p["event"]; !ok {
			c.err(path+".event", `Aggregate pattern must have an "event" field`)
		} else {
			validateEventMatcher(m, path+".event", c)
		}
		if f, ok := p["field"]; !ok {
			c.err(path+".field", `Aggregate pattern must have a "field" field`)
		} else if _, isStr := f.(string); !isStr {
			c.err(path+".field", "Aggregate pattern field must be a string")
		}
		if fv, ok := p["function"]; !ok {
			c.err(path+".function", `Aggregate pattern must have a "function" field`)
		} else if s, isStr := fv.(string); !isStr || !oneOf(s, aggregateFunctions) {
			c.err(path+".function", fmt.Sprintf("Invalid aggregate function: %s. Valid values: %s", jsString(fv), strings.Join(aggregateFunctions, ", ")))
		}
		if th, ok := p["threshold"]; !ok {
			c.err(path+".threshold", `Aggregate pattern must have a "threshold" field`)
		} else if !isNumber(th) {
			c.err(path+".threshold", "Aggregate pattern threshold must be a number")
		}
		validateComparison(p, path, c)
		validateWindow(p, "window", path, c)
	default:
		c.err(path+".type", fmt.Sprintf("Invalid temporal pattern type: %s. Valid types: %s", typ, strings.Join(temporalTypes, ", ")))
	}
}

func validateComparison(p map[string]any, path string, c *collector) {
	cv, ok := p["comparison"]
	if !ok {
		return
	}
	if s, isStr := cv.(string); !isStr || !oneOf(s, comparisons) {
		c.err(path+".comparison", fmt.Sprintf("Invalid comparison: %s. Valid values: %s", jsString(cv), strings.Join(comparisons, ", ")))
	}
}

func validateEventMatcher(v any, path string, c *collector) {
	m, ok := v.(map[string]any)
	if !ok {
		c.err(path, "Event matcher must be an object")
		return
	}
	requireString(m, "topic", path, "Event matcher", c)
	if as, ok := m["as"]; ok {
		if _, isStr := as.(string); !isStr {
			c.err(path+".as", "Event matcher alias must be a string")
		}
	}
}

func validateWindow(p map[string]any, field, path string, c *collector) {
	v, ok := p[field]
	fp := path + "." + field
	if !ok {
		c.err(fp, fmt.Sprintf("Field %q is required", field))
		return
	}
	if s, isStr := v.(string); isStr {
		if !validDurationString(s) {
			c.err(fp, fmt.Sprintf(`Invalid duration format: %s. Use formats like "5m", "1h", "7d"`, s))
		}
		return
	}
	n, isNum := toNumber(v)
	if !isNum {
		c.err(fp, fmt.Sprintf(`Field %q must be a string (e.g., "5m") or number (milliseconds)`, field))
		return
	}
	if n <= 0 {
		c.err(fp, "Duration must be positive")
	}
}
