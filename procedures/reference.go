package procedures

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/noex-go/noex/store"
)

// References (PROTOCOL.md §7.2.3): strings in step values may hold
// `{{ path }}` placeholders. A template is a step value compiled once, at
// registration, so a call only walks it.

// Absent is the value of a reference to nothing (JavaScript undefined).
// It is store.Absent, so a filter that holds it means what a declarative
// query's missing parameter means to the store.
var Absent = store.Absent

type templateKind uint8

const (
	tmplLiteral templateKind = iota // no placeholder anywhere below
	tmplRef                         // a string that is exactly one placeholder
	tmplText                        // a string mixing placeholders and text
	tmplObject
	tmplArray
)

type template struct {
	kind  templateKind
	lit   any        // tmplLiteral
	ref   []string   // tmplRef: the path split at dots
	parts []textPart // tmplText
	keys  []string   // tmplObject
	elems []*template
}

// textPart is literal text, or (ref != nil) a placeholder.
type textPart struct {
	text string
	ref  []string
}

func compileTemplate(v any) *template {
	switch x := v.(type) {
	case string:
		parts := parseText(x)
		switch {
		case parts == nil:
			return &template{kind: tmplLiteral, lit: x}
		case len(parts) == 1 && parts[0].ref != nil:
			return &template{kind: tmplRef, ref: parts[0].ref}
		}
		return &template{kind: tmplText, parts: parts}
	case map[string]any:
		t := &template{kind: tmplObject}
		literal := true
		for k, e := range x {
			et := compileTemplate(e)
			t.keys = append(t.keys, k)
			t.elems = append(t.elems, et)
			literal = literal && et.kind == tmplLiteral
		}
		if literal {
			return &template{kind: tmplLiteral, lit: x}
		}
		return t
	case []any:
		t := &template{kind: tmplArray}
		literal := true
		for _, e := range x {
			et := compileTemplate(e)
			t.elems = append(t.elems, et)
			literal = literal && et.kind == tmplLiteral
		}
		if literal {
			return &template{kind: tmplLiteral, lit: x}
		}
		return t
	}
	return &template{kind: tmplLiteral, lit: v}
}

// parseText splits s at its placeholders, or returns nil when it has
// none. A placeholder is what the reference's /\{\{\s*([^}]+?)\s*\}\}/
// matches: "{{", a path of at least one character that holds no "}", and
// "}}", with whitespace around the path ignored.
func parseText(s string) []textPart {
	var parts []textPart
	last, i := 0, 0
	for {
		open := strings.Index(s[i:], "{{")
		if open < 0 {
			break
		}
		open += i
		close := strings.IndexByte(s[open+2:], '}')
		if close < 0 {
			break // no "}" left: no later placeholder either
		}
		close += open + 2
		if close == open+2 || close+1 >= len(s) || s[close+1] != '}' {
			i = open + 1
			continue
		}
		if open > last {
			parts = append(parts, textPart{text: s[last:open]})
		}
		path := strings.TrimFunc(s[open+2:close], isJSSpace)
		parts = append(parts, textPart{ref: strings.Split(path, ".")})
		last = close + 2
		i = last
	}
	if parts == nil {
		return nil
	}
	if last < len(s) {
		parts = append(parts, textPart{text: s[last:]})
	}
	return parts
}

// isJSSpace is JavaScript's \s.
func isJSSpace(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }

// scope is what references read during a call.
type scope struct {
	input   any
	results *Results
}

// lookup resolves a dotted path split at dots: input.<a>… reads the call's
// input, <name>.<a>… the result stored under that name.
func (sc *scope) lookup(path []string) any {
	var v any
	if path[0] == "input" {
		v = sc.input
	} else {
		var ok bool
		if v, ok = sc.results.Get(path[0]); !ok {
			return Absent
		}
	}
	for _, p := range path[1:] {
		v = property(v, p)
	}
	return v
}

// property reads v[name] as JavaScript would for decoded JSON: objects by
// own key, arrays by index and "length"; anything else (absent included)
// has no properties.
func property(v any, name string) any {
	switch x := v.(type) {
	case map[string]any:
		if e, ok := x[name]; ok {
			return e
		}
	case []any:
		if name == "length" {
			return float64(len(x))
		}
		if isArrayIndex(name) {
			if i, _ := strconv.Atoi(name); i < len(x) {
				return x[i]
			}
		}
	}
	return Absent
}

// resolve evaluates the template. Values a placeholder refers to are
// returned as they are stored (not copied); nothing resolved is ever
// modified in place.
func (t *template) resolve(sc *scope) any {
	switch t.kind {
	case tmplLiteral:
		return t.lit
	case tmplRef:
		return sc.lookup(t.ref)
	case tmplText:
		var b strings.Builder
		for _, p := range t.parts {
			if p.ref == nil {
				b.WriteString(p.text)
				continue
			}
			b.WriteString(textForm(sc.lookup(p.ref)))
		}
		return b.String()
	case tmplObject:
		out := make(map[string]any, len(t.keys))
		for i, k := range t.keys {
			out[k] = t.elems[i].resolve(sc)
		}
		return out
	default: // tmplArray
		out := make([]any, len(t.elems))
		for i, e := range t.elems {
			out[i] = e.resolve(sc)
		}
		return out
	}
}

// textForm is a value inside mixed text: "" for absent and null, JSON
// for objects and arrays, JavaScript's String(v) otherwise.
func textForm(v any) string {
	switch v.(type) {
	case nil:
		return ""
	case map[string]any, []any:
		b, err := store.AppendResult(nil, Materialize(v))
		if err != nil {
			return ""
		}
		return string(b)
	}
	if store.IsAbsent(v) {
		return ""
	}
	return store.Display(v)
}

// Materialize returns v as JSON would carry it: absent object members are
// dropped, absent array elements and non-finite numbers become null; a
// top-level absent stays Absent. v itself is returned when it needs no
// change: the store copies what it is given, the rules engine and the
// encoder only read, and nothing here modifies a value in place.
func Materialize(v any) any {
	if isPlain(v) {
		return v
	}
	return materialize(v)
}

// isPlain reports whether v is already what JSON would carry: no absent
// values, no non-finite numbers (records read from the store always are).
func isPlain(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if !isPlain(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !isPlain(e) {
				return false
			}
		}
	case float64:
		return x-x == 0
	case nil, string, bool:
	default:
		return false // Absent
	}
	return true
}

func materialize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if store.IsAbsent(e) {
				continue
			}
			out[k] = materialize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			if store.IsAbsent(e) {
				continue // nil
			}
			out[i] = materialize(e)
		}
		return out
	case float64:
		if x-x != 0 { // NaN or ±Inf
			return nil
		}
	}
	return v
}
