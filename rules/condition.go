package rules

import (
	"fmt"
	"regexp"
	"strings"
)

// Conditions (RULES.md §7): a source value compared with an operator to a
// literal or referenced value.

type opKind uint8

const (
	opEq opKind = iota
	opNeq
	opGt
	opGte
	opLt
	opLte
	opIn
	opNotIn
	opContains
	opNotContains
	opMatches
	opExists
	opNotExists
)

// operatorNames lists the operators in the validator's order (its error
// message enumerates them).
var operatorNames = []string{
	"eq", "neq", "gt", "gte", "lt", "lte", "in", "not_in", "contains",
	"not_contains", "matches", "exists", "not_exists",
}

var operators = func() map[string]opKind {
	m := make(map[string]opKind, len(operatorNames))
	for i, n := range operatorNames {
		m[n] = opKind(i)
	}
	return m
}()

type srcKind uint8

const (
	srcEvent srcKind = iota
	srcFact
	srcContext
	srcLookup
	srcBaseline
)

type condition struct {
	src     srcKind
	path    []string  // event field; lookup field; context path after the variable
	name    string    // context variable or lookup name
	pattern *template // fact pattern
	op      opKind
	value   any // the literal comparison value (the ref object when ref is set)
	ref     *ref
	re      *regexp.Regexp // "matches" with a literal pattern, compiled once; nil if invalid
}

func compileConditions(v any) ([]*condition, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("conditions must be an array")
	}
	out := make([]*condition, 0, len(list))
	for i, c := range list {
		cc, err := compileCondition(c)
		if err != nil {
			return nil, fmt.Errorf("conditions[%d]: %w", i, err)
		}
		out = append(out, cc)
	}
	return out, nil
}

func compileCondition(v any) (*condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("condition must be an object")
	}
	src, _ := m["source"].(map[string]any)
	if src == nil {
		return nil, fmt.Errorf("condition must have a source")
	}
	c := &condition{}
	str := func(k string) string { s, _ := src[k].(string); return s }
	switch t, _ := src["type"].(string); t {
	case "event":
		c.src, c.path = srcEvent, splitPath(str("field"))
	case "fact":
		c.src, c.pattern = srcFact, compileTemplate(str("pattern"))
	case "context":
		c.src = srcContext
		name, rest, _ := strings.Cut(str("key"), ".")
		c.name, c.path = name, splitPath(rest)
	case "lookup":
		c.src, c.name, c.path = srcLookup, str("name"), splitPath(str("field"))
	case "baseline":
		c.src = srcBaseline
	default:
		return nil, fmt.Errorf("unknown condition source %q", t)
	}
	opName, _ := m["operator"].(string)
	op, ok := operators[opName]
	if !ok {
		return nil, fmt.Errorf("unknown operator %q", opName)
	}
	c.op = op
	value, has := m["value"]
	if !has {
		value = absent
	}
	c.value = value
	if s, ok := refString(value); ok {
		c.ref = compileRef(s)
	}
	if op == opMatches && c.ref == nil {
		if s, ok := value.(string); ok {
			c.re, _ = compileJSRegex(s)
		}
	}
	return c, nil
}

// evalConditions is the AND of the conditions, in order, stopping at the
// first false one (RULES.md §7.2). An error (an unknown reference in a
// fact pattern) aborts the evaluation.
func (x *execCtx) evalConditions(cs []*condition) (bool, error) {
	for _, c := range cs {
		ok, err := x.evalCondition(c)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func (x *execCtx) evalCondition(c *condition) (bool, error) {
	v, err := x.sourceValue(c)
	if err != nil {
		return false, err
	}
	cv := c.value
	if c.ref != nil {
		if cv, err = x.resolveConditionRef(c.ref, c.value); err != nil {
			return false, err
		}
	}
	return x.apply(c, v, cv), nil
}

func (x *execCtx) sourceValue(c *condition) (any, error) {
	switch c.src {
	case srcEvent:
		return getPath(x.data, c.path), nil
	case srcFact:
		pattern, err := c.pattern.render(x)
		if err != nil {
			return nil, err
		}
		return x.e.firstFact(pattern), nil
	case srcContext:
		v, ok := x.vars[c.name]
		if !ok {
			return absent, nil
		}
		return getPath(v, c.path), nil
	case srcLookup:
		v, ok := x.lookups[c.name]
		if !ok {
			return absent, nil
		}
		return getPath(v, c.path), nil
	}
	return absent, nil // baseline: no baseline module (RULES.md §21)
}

// apply is the operator table of RULES.md §7.2, asymmetries included.
func (x *execCtx) apply(c *condition, v, cv any) bool {
	switch c.op {
	case opEq:
		return strictEqual(v, cv)
	case opNeq:
		return !strictEqual(v, cv)
	case opGt, opGte, opLt, opLte:
		a, ok1 := toNumber(v)
		b, ok2 := toNumber(cv)
		if !ok1 || !ok2 {
			return false
		}
		switch c.op {
		case opGt:
			return a > b
		case opGte:
			return a >= b
		case opLt:
			return a < b
		}
		return a <= b
	case opIn, opNotIn:
		list, ok := cv.([]any)
		if !ok {
			return false
		}
		return includes(list, v) == (c.op == opIn)
	case opContains:
		return contains(v, cv)
	case opNotContains:
		switch v.(type) {
		case string, []any:
			return !contains(v, cv)
		}
		return true
	case opMatches:
		s, ok1 := v.(string)
		p, ok2 := cv.(string)
		if !ok1 || !ok2 {
			return false
		}
		re := c.re
		if c.ref != nil {
			re = x.e.regex(p)
		}
		return re != nil && re.MatchString(s)
	case opExists:
		return v != nil && !isAbsent(v)
	case opNotExists:
		return v == nil || isAbsent(v)
	}
	return false
}

// includes is Array.prototype.includes (SameValueZero).
func includes(list []any, v any) bool {
	for _, el := range list {
		if sameValueZero(el, v) {
			return true
		}
	}
	return false
}

func contains(v, cv any) bool {
	switch s := v.(type) {
	case string:
		sub, ok := cv.(string)
		return ok && strings.Contains(s, sub)
	case []any:
		return includes(s, cv)
	}
	return false
}

// compileJSRegex compiles a JavaScript regular expression (no flags) with
// Go's RE2 engine. \uXXXX escapes are translated; constructs RE2 lacks
// (lookaround, backreferences) fail to compile, which the "matches"
// operator treats as an invalid pattern (false). Other differences: "\s"
// is ASCII whitespace only, "." does not match "\n" but does match "\r",
// U+2028 and U+2029.
func compileJSRegex(src string) (*regexp.Regexp, error) {
	return regexp.Compile(translateJSRegex(src))
}

func translateJSRegex(src string) string {
	if !strings.Contains(src, `\u`) {
		return src
	}
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			if src[i+1] == 'u' && i+5 < len(src) && isHex4(src[i+2:i+6]) {
				b.WriteString(`\x{` + src[i+2:i+6] + `}`)
				i += 5
				continue
			}
			b.WriteByte(c)
			b.WriteByte(src[i+1])
			i++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
