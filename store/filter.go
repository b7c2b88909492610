package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Filters (STORE.md §8, PROTOCOL.md §2.1).
//
// A filter is compiled once into a *Filter and then matched against any
// number of records. Decisions taken where the reference is loose
// (STORE.md §8 "Further exact rules", §23 #5 and #6, COMPATIBILITY.md):
//
//   - Unknown "$" operators inside an operator object, and top-level keys
//     starting with "$" other than "$and"/"$or", are rejected with a
//     *FilterError (mapped to VALIDATION_ERROR). The reference ignores them.
//   - "$and"/"$or" must be arrays of filter objects; "$in"/"$nin" arrays;
//     "$between" a two-element array; "$exists" a boolean;
//     "$contains"/"$startsWith"/"$endsWith" strings. Anything else,
//     including null, is a *FilterError.
//   - "$gt", "$gte", "$lt", "$lte" and the bounds of "$between" accept any
//     operand, but only a number or a string can ever match: a number
//     compares with stored numbers, a string with stored strings (UTF-16
//     code-unit order). A null, boolean, object or array operand, or a
//     stored value of another type, never matches (no JavaScript
//     coercion; `{"$gt": null}` matches nothing).
//   - "$contains" lower-cases both sides the way JavaScript's toLowerCase
//     does for the common cases (Unicode simple lowercase mapping, plus
//     "İ" → "i̇" and the Greek final sigma). The case tables are Go's
//     unicode package, which may differ from V8's ICU for very recent
//     Unicode additions.
//   - Strings are compared on their UTF-8 form, which is equivalent to
//     JavaScript's code-unit comparison for valid text; lone surrogates
//     cannot be represented (JSON decoding turns them into U+FFFD).
//   - Field names address top-level record fields only (no dot paths).
//
// Index use (STORE.md §7): IndexCandidate only offers a plain scalar
// equality (never null), so a plain null equality always falls back to a
// scan and matches stored null, on indexed and non-indexed fields alike
// (§23 #5, full-scan semantics).

// FilterError reports a malformed filter; callers map it to VALIDATION_ERROR.
type FilterError struct {
	Message string
}

// Error returns the message.
func (e *FilterError) Error() string { return e.Message }

func filterErrorf(format string, args ...any) *FilterError {
	return &FilterError{Message: fmt.Sprintf(format, args...)}
}

// Filter is a compiled filter; it is immutable and safe for concurrent use.
type Filter struct {
	fields []fieldCond
	and    []*Filter
	or     []*Filter
	hasAnd bool
	hasOr  bool
	nkeys  int
}

// plain-value kinds of a field condition
const (
	plainEqual  = iota // present and strictly equal (null, boolean)
	plainString        // present and the same string
	plainNumber        // present and the same number
	plainAbsent        // Absent: field must be missing
	plainNever         // object, array or placeholder: never equal
)

type fieldCond struct {
	field string
	isOps bool
	kind  int // plain kinds
	value any
	str   string
	num   float64
	ops   []opCond
}

type opKind uint8

const (
	opEq opKind = iota
	opNeq
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opContains
	opStartsWith
	opEndsWith
	opExists
	opBetween
)

var opNames = map[string]opKind{
	"$eq": opEq, "$neq": opNeq,
	"$gt": opGt, "$gte": opGte, "$lt": opLt, "$lte": opLte,
	"$in": opIn, "$nin": opNin,
	"$contains": opContains, "$startsWith": opStartsWith, "$endsWith": opEndsWith,
	"$exists": opExists, "$between": opBetween,
}

// bound is a relational operand.
type bound struct {
	kind uint8 // boundNum, boundStr, boundNever
	num  float64
	str  string
}

const (
	boundNever = iota
	boundNum
	boundStr
)

func makeBound(v any) bound {
	switch x := v.(type) {
	case float64:
		return bound{kind: boundNum, num: x}
	case string:
		return bound{kind: boundStr, str: x}
	}
	return bound{kind: boundNever}
}

// cmp compares a stored value with the bound; ok is false when they are
// not comparable (different types, null, absent, never).
func (b *bound) cmp(v any) (c int, ok bool) {
	switch b.kind {
	case boundNum:
		x, isNum := v.(float64)
		if !isNum {
			return 0, false
		}
		switch {
		case x < b.num:
			return -1, true
		case x > b.num:
			return 1, true
		case x == b.num:
			return 0, true
		}
		return 0, false
	case boundStr:
		s, isStr := v.(string)
		if !isStr {
			return 0, false
		}
		return compareUTF16(s, b.str), true
	}
	return 0, false
}

type opCond struct {
	kind    opKind
	value   any // $eq/$neq operand
	eqNever bool
	b       bound // relational, $between low
	hi      bound // $between high
	list    []any
	set     map[any]struct{}
	listAbs bool // $in/$nin list holds Absent
	str     string
	lower   string // $contains operand, lower-cased
	lowerOK bool   // lower is ASCII
	flag    bool   // $exists
}

// Absent is the "no value" produced by interpolating a missing parameter
// (STORE.md §15 step 1, JavaScript undefined). As a plain field value it
// matches only records that lack the field; as an operator operand it
// disables that operator; inside "$in"/"$nin" it stands for a missing
// field; as a "$between" bound it never matches.
var Absent any = absentValue{}

type absentValue struct{}

// placeholderValue stands for an unresolved {{ params.x }} while a query
// filter template is validated.
type placeholderValue struct{}

// IsAbsent reports whether v is Absent.
func IsAbsent(v any) bool {
	_, ok := v.(absentValue)
	return ok
}

func isPlaceholder(v any) bool {
	_, ok := v.(placeholderValue)
	return ok
}

// jsonObject is a decoded JSON object that remembers its key order.
type jsonObject struct {
	keys []string
	vals map[string]any
}

// asObject views v as an object: a *jsonObject keeps document order, a
// map[string]any gets its keys sorted.
func asObject(v any) (*jsonObject, bool) {
	switch x := v.(type) {
	case *jsonObject:
		return x, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return &jsonObject{keys: keys, vals: x}, true
	}
	return nil, false
}

// CompileFilter compiles a JSON filter object (STORE.md §8); top-level
// entries keep their document order, and errors are *FilterError.
func CompileFilter(raw json.RawMessage) (*Filter, error) {
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, &FilterError{Message: "Invalid filter: " + err.Error()}
	}
	return compileFilter(v)
}

// CompileFilterValue compiles a decoded filter; its keys are taken in
// sorted order, which only affects IndexCandidate and error precedence.
func CompileFilterValue(v map[string]any) (*Filter, error) {
	if v == nil {
		return &Filter{}, nil
	}
	return compileFilter(v)
}

func compileFilter(v any) (*Filter, error) {
	obj, ok := asObject(v)
	if !ok {
		return nil, &FilterError{Message: "Invalid filter: expected object"}
	}
	f := &Filter{nkeys: len(obj.keys)}
	for _, k := range obj.keys {
		val := obj.vals[k]
		switch {
		case k == "$and" || k == "$or":
			if IsAbsent(val) || isPlaceholder(val) {
				continue // an undefined operand is skipped, as in the reference
			}
			subs, err := compileFilterList(k, val)
			if err != nil {
				return nil, err
			}
			if k == "$and" {
				f.and, f.hasAnd = subs, true
			} else {
				f.or, f.hasOr = subs, true
			}
		case strings.HasPrefix(k, "$"):
			return nil, filterErrorf("Unknown filter operator %q", k)
		default:
			c, err := compileField(k, val)
			if err != nil {
				return nil, err
			}
			f.fields = append(f.fields, c)
		}
	}
	return f, nil
}

func compileFilterList(op string, v any) ([]*Filter, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, filterErrorf("Invalid filter: %q expects an array of filter objects", op)
	}
	subs := make([]*Filter, 0, len(arr))
	for _, e := range arr {
		if isPlaceholder(e) {
			continue
		}
		if _, ok := asObject(e); !ok {
			return nil, filterErrorf("Invalid filter: %q expects an array of filter objects", op)
		}
		sub, err := compileFilter(e)
		if err != nil {
			return nil, err
		}
		subs = append(subs, sub)
	}
	return subs, nil
}

// isOperatorObject: a non-null, non-array object with at least one key,
// every key starting with "$".
func isOperatorObject(obj *jsonObject) bool {
	if len(obj.keys) == 0 {
		return false
	}
	for _, k := range obj.keys {
		if !strings.HasPrefix(k, "$") {
			return false
		}
	}
	return true
}

func compileField(field string, val any) (fieldCond, error) {
	obj, isObj := asObject(val)
	if !isObj || !isOperatorObject(obj) {
		c := fieldCond{field: field, value: val}
		switch x := val.(type) {
		case string:
			c.kind, c.str = plainString, x
		case float64:
			c.kind, c.num = plainNumber, x
		case nil, bool:
			c.kind = plainEqual
		case absentValue:
			c.kind = plainAbsent
		default:
			c.kind = plainNever
		}
		return c, nil
	}
	c := fieldCond{field: field, isOps: true}
	for _, name := range obj.keys {
		kind, known := opNames[name]
		if !known {
			return c, filterErrorf("Unknown filter operator %q", name)
		}
		operand := obj.vals[name]
		if IsAbsent(operand) || isPlaceholder(operand) {
			continue // an undefined operand is inactive, as in the reference
		}
		o := opCond{kind: kind}
		switch kind {
		case opEq, opNeq:
			o.value = operand
			o.eqNever = !(operand == nil || IsScalar(operand))
		case opGt, opGte, opLt, opLte:
			o.b = makeBound(operand)
		case opIn, opNin:
			arr, ok := operand.([]any)
			if !ok {
				return c, filterErrorf("Invalid filter: %q for field %q expects an array", name, field)
			}
			o.setList(arr)
		case opContains, opStartsWith, opEndsWith:
			s, ok := operand.(string)
			if !ok {
				return c, filterErrorf("Invalid filter: %q for field %q expects a string", name, field)
			}
			o.str = s
			if kind == opContains {
				o.lower = jsLower(s)
				o.lowerOK = isASCII(o.lower)
			}
		case opExists:
			b, ok := operand.(bool)
			if !ok {
				return c, filterErrorf("Invalid filter: %q for field %q expects a boolean", name, field)
			}
			o.flag = b
		case opBetween:
			arr, ok := operand.([]any)
			if !ok || len(arr) != 2 {
				return c, filterErrorf("Invalid filter: %q for field %q expects an array [low, high]", name, field)
			}
			o.b, o.hi = makeBound(arr[0]), makeBound(arr[1])
		}
		c.ops = append(c.ops, o)
	}
	return c, nil
}

// setListThreshold is the list length from which $in/$nin use a set.
const setListThreshold = 12

func (o *opCond) setList(arr []any) {
	for _, e := range arr {
		switch {
		case IsAbsent(e):
			o.listAbs = true
		case e == nil || IsScalar(e):
			o.list = append(o.list, e)
		}
		// objects, arrays and placeholders never equal a stored value
	}
	if len(o.list) >= setListThreshold {
		o.set = make(map[any]struct{}, len(o.list))
		for _, e := range o.list {
			o.set[e] = struct{}{}
		}
	}
}

func (o *opCond) listHas(v any, present bool) bool {
	if !present {
		return o.listAbs
	}
	if o.set != nil {
		switch v.(type) {
		case nil, float64, string, bool:
			_, ok := o.set[v]
			return ok
		}
		return false
	}
	for _, e := range o.list {
		if StrictEqual(v, e) {
			return true
		}
	}
	return false
}

func (o *opCond) match(v any, present bool) bool {
	switch o.kind {
	case opEq:
		return present && !o.eqNever && StrictEqual(v, o.value)
	case opNeq:
		return !present || o.eqNever || !StrictEqual(v, o.value)
	case opGt:
		c, ok := o.b.cmp(v)
		return ok && c > 0
	case opGte:
		c, ok := o.b.cmp(v)
		return ok && c >= 0
	case opLt:
		c, ok := o.b.cmp(v)
		return ok && c < 0
	case opLte:
		c, ok := o.b.cmp(v)
		return ok && c <= 0
	case opIn:
		return o.listHas(v, present)
	case opNin:
		return !o.listHas(v, present)
	case opContains:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if o.lowerOK && isASCII(s) {
			return containsFoldASCII(s, o.lower)
		}
		return strings.Contains(jsLower(s), o.lower)
	case opStartsWith:
		s, ok := v.(string)
		return ok && strings.HasPrefix(s, o.str)
	case opEndsWith:
		s, ok := v.(string)
		return ok && strings.HasSuffix(s, o.str)
	case opExists:
		return (present && v != nil) == o.flag
	case opBetween:
		lo, ok := o.b.cmp(v)
		if !ok || lo < 0 {
			return false
		}
		hi, ok := o.hi.cmp(v)
		return ok && hi <= 0
	}
	return false
}

func (c *fieldCond) match(v any, present bool) bool {
	if !c.isOps {
		switch c.kind {
		case plainString:
			s, ok := v.(string)
			return ok && s == c.str
		case plainNumber:
			x, ok := v.(float64)
			return ok && x == c.num
		case plainEqual:
			return present && StrictEqual(v, c.value)
		case plainAbsent:
			return !present
		}
		return false
	}
	for i := range c.ops {
		if !c.ops[i].match(v, present) {
			return false
		}
	}
	return true
}

// Match reports whether the record satisfies the filter; a nil filter
// matches every record.
func (f *Filter) Match(rec Record) bool {
	if f == nil {
		return true
	}
	for i := range f.fields {
		c := &f.fields[i]
		v, present := rec[c.field]
		if !c.match(v, present) {
			return false
		}
	}
	if f.hasOr {
		matched := false
		for _, sub := range f.or {
			if sub.Match(rec) {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	if f.hasAnd {
		for _, sub := range f.and {
			if !sub.Match(rec) {
				return false
			}
		}
	}
	return true
}

// IsEmpty reports whether the filter has no top-level key (matches all).
func (f *Filter) IsEmpty() bool { return f == nil || f.nkeys == 0 }

// IndexCandidate returns the first top-level entry, in key order, whose
// value is a plain string, number or boolean and whose field is indexed;
// Match must still be applied to the records the index yields.
func (f *Filter) IndexCandidate(indexed func(field string) bool) (field string, value any, ok bool) {
	if f == nil {
		return "", nil, false
	}
	for i := range f.fields {
		c := &f.fields[i]
		if c.isOps || !IsScalar(c.value) {
			continue
		}
		if indexed(c.field) {
			return c.field, c.value, true
		}
	}
	return "", nil, false
}

// maxFilterDepth bounds the nesting of decoded filter JSON, like
// encoding/json does.
const maxFilterDepth = 10000

// decodeOrdered decodes JSON, keeping the key order of objects
// (*jsonObject); a duplicate key keeps its first position and its last
// value, as JavaScript does.
func decodeOrdered(raw []byte) (any, error) {
	// The store's decoder does it without reflection; on an error the
	// encoding/json path below runs, so messages stay as they were.
	d := decoder{data: raw, ordered: true}
	d.space()
	if v, err := d.value(0); err == nil {
		if d.space(); d.i == len(d.data) {
			return v, nil
		}
	}
	return decodeOrderedStd(raw)
}

// decodeOrderedStd is decodeOrdered on encoding/json's tokenizer.
func decodeOrderedStd(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	v, err := decodeOrderedValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON after the top-level value")
	}
	return v, nil
}

func decodeOrderedValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxFilterDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end of JSON input")
		}
		return nil, err
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return tok, nil // nil, bool, float64, string
	}
	switch d {
	case '{':
		obj := &jsonObject{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, ok := kt.(string)
			if !ok {
				return nil, errors.New("invalid object key")
			}
			v, err := decodeOrderedValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := obj.vals[k]; !dup {
				obj.keys = append(obj.keys, k)
			}
			obj.vals[k] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return obj, nil
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeOrderedValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unexpected %q", rune(d))
}
