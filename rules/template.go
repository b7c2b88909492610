package rules

import (
	"fmt"
	"strings"
)

// References ({"ref": "..."}, RULES.md §7.3 and §8.1) and "${...}"
// interpolation (§8.2), compiled once per rule.

type refKind uint8

const (
	refTrigger  refKind = iota // event.<path> / trigger.<path>
	refFact                    // fact.<key>
	refVar                     // var.<name>[.<path>]
	refMatched                 // matched.<i>[.<path>]
	refLookup                  // lookup.<name>[.<path>]
	refBaseline                // baseline.<metric>[.<path>]
	refUnknown                 // anything else
)

type ref struct {
	kind   refKind
	raw    string
	source string   // the prefix before the first "."
	name   string   // variable, lookup or metric name
	index  int      // matched index; -1 when not a number
	path   []string // path after the root (after name/index)
	key    *template
}

func compileRef(s string) *ref {
	source, rest, hasDot := strings.Cut(s, ".")
	r := &ref{raw: s, source: source}
	switch source {
	case "event", "trigger":
		r.kind, r.path = refTrigger, splitPath(rest)
	case "fact":
		r.kind, r.key = refFact, compileTemplate(rest)
	case "var", "lookup", "baseline":
		r.kind = map[string]refKind{"var": refVar, "lookup": refLookup, "baseline": refBaseline}[source]
		r.name, rest, _ = strings.Cut(rest, ".")
		r.path = splitPath(rest)
		if !hasDot {
			r.index = -1 // no name at all: resolves to absent
		}
	case "matched":
		r.kind = refMatched
		var idx string
		idx, rest, _ = strings.Cut(rest, ".")
		r.index = parseLeadingInt(idx)
		r.path = splitPath(rest)
	default:
		r.kind = refUnknown
	}
	return r
}

// parseLeadingInt is JavaScript's parseInt(s, 10) for indexes: leading
// digits, -1 when there are none.
func parseLeadingInt(s string) int {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1e9 {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 0 {
		return -1
	}
	return n
}

// template is a string with "${ref}" placeholders: literal parts around
// compiled references. A string without any is returned unchanged.
type template struct {
	raw  string
	lits []string // len(refs)+1 literal parts
	refs []*ref
}

// compileTemplate follows the reference's /\$\{([^}]+)\}/g: a placeholder
// runs from "${" to the first "}" and must not be empty.
func compileTemplate(s string) *template {
	t := &template{raw: s}
	if !strings.Contains(s, "${") {
		return t
	}
	last := 0
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		start := i + j
		end := strings.IndexByte(s[start+2:], '}')
		if end < 0 {
			break
		}
		if end == 0 { // "${}" is not a placeholder
			i = start + 1
			continue
		}
		t.lits = append(t.lits, s[last:start])
		t.refs = append(t.refs, compileRef(s[start+2:start+2+end]))
		last = start + 2 + end + 1
		i = last
	}
	if len(t.refs) == 0 {
		return t
	}
	t.lits = append(t.lits, s[last:])
	return t
}

// render interpolates: absent and null become "", everything else its
// JavaScript string form. An unknown reference fails (RULES.md §8.2).
func (t *template) render(x *execCtx) (string, error) {
	if len(t.refs) == 0 {
		return t.raw, nil
	}
	var b strings.Builder
	for i, r := range t.refs {
		b.WriteString(t.lits[i])
		v, err := x.resolveRef(r)
		if err != nil {
			return "", err
		}
		if v != nil && !isAbsent(v) {
			b.WriteString(jsString(v))
		}
	}
	b.WriteString(t.lits[len(t.refs)])
	return b.String(), nil
}

// valueExpr is an action value: a literal, or a reference resolved when
// the action runs. Only the top level is a reference (RULES.md §8.1:
// nested objects are not scanned).
type valueExpr struct {
	lit any
	ref *ref
}

func compileValue(v any) valueExpr {
	if s, ok := refString(v); ok {
		return valueExpr{ref: compileRef(s)}
	}
	return valueExpr{lit: v}
}

// eval resolves the value. A literal object or array is copied, so what
// an action stores or hands to a service never aliases the rule's
// definition.
func (v valueExpr) eval(x *execCtx) (any, error) {
	if v.ref == nil {
		switch v.lit.(type) {
		case map[string]any, []any:
			return deepCopy(v.lit), nil
		}
		return v.lit, nil
	}
	return x.resolveRef(v.ref)
}

// resolveRef resolves a reference in an action (RULES.md §8.1); an
// unknown source is an error that fails the action.
func (x *execCtx) resolveRef(r *ref) (any, error) {
	switch r.kind {
	case refTrigger:
		return getPath(x.data, r.path), nil
	case refFact:
		key, err := r.key.render(x)
		if err != nil {
			return nil, err
		}
		return x.e.factValue(key), nil
	case refVar:
		if r.index < 0 {
			return absent, nil
		}
		v, ok := x.vars[r.name]
		if !ok {
			return absent, nil
		}
		return getPath(v, r.path), nil
	case refMatched:
		if r.index < 0 || r.index >= len(x.matched) {
			return absent, nil
		}
		return getPath(x.matched[r.index], r.path), nil
	case refLookup:
		v, ok := x.lookups[r.name]
		if !ok || r.index < 0 {
			return absent, nil
		}
		return getPath(v, r.path), nil
	}
	return nil, fmt.Errorf("Unknown reference source: %s", r.source)
}

// resolveConditionRef resolves a comparison value reference (RULES.md
// §7.3): variables use only their first segment, baseline has no module
// here (absent), and an unknown source leaves the {"ref"} object itself
// as the value.
func (x *execCtx) resolveConditionRef(r *ref, literal any) (any, error) {
	switch r.kind {
	case refTrigger, refFact, refLookup:
		return x.resolveRef(r)
	case refVar:
		v, ok := x.vars[r.name]
		if !ok || r.index < 0 {
			return absent, nil
		}
		return v, nil
	case refBaseline:
		return absent, nil
	}
	return literal, nil
}
