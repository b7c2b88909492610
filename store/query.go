package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Queries: declarative queries (STORE.md §15) parsed and evaluated here,
// next to the data, so a result is built from the records' stored JSON
// without copying them; and the read context of Go-function queries, which
// records what each evaluation read (STORE.md §14.1).

// ErrQueryNotDefined is an unknown query.
type ErrQueryNotDefined struct{ Query string }

func (e *ErrQueryNotDefined) Error() string { return fmt.Sprintf("Query %q is not defined", e.Query) }

// ErrQueryExists is a query name already in use.
type ErrQueryExists struct{ Query string }

func (e *ErrQueryExists) Error() string { return fmt.Sprintf("Query %q is already defined", e.Query) }

// DeclarativeQuery is a parsed declarative query configuration.
type DeclarativeQuery struct {
	// Bucket is the bucket the query reads.
	Bucket string
	filter json.RawMessage // nil: every record
	// tmpl is filter decoded once (key order kept); each evaluation only
	// interpolates and compiles it. Read only: compiled filters share its
	// parts. When it has no placeholder, fixed holds it compiled (nil when
	// empty) and isFixed is set.
	tmpl    any
	fixed   *Filter
	isFixed bool
	shape   QueryShape
	config  json.RawMessage // as supplied

	// EqField is the first top-level plain equality of the filter, which
	// decides which instances a change can affect: an instance depends only
	// on records whose EqField equals its value. Empty when there is none.
	EqField string
	// EqParam is the parameter the equality takes its value from ("" when
	// the value is the constant EqConst).
	EqParam string
	// EqConst is the constant equality value when EqParam is empty.
	EqConst any
}

// Config returns the configuration as supplied.
func (q *DeclarativeQuery) Config() json.RawMessage { return q.config }

// ParseDeclarativeQuery checks a configuration (PROTOCOL.md §4.6.2). The
// bucket's existence is checked by the caller. Unlike the reference, the
// rest is checked now too (a malformed filter, sort, limit or aggregate is
// a *FilterError), so mistakes surface at definition rather than at the
// first subscribe.
func ParseDeclarativeQuery(config json.RawMessage) (*DeclarativeQuery, error) {
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(config, &parts); err != nil {
		return nil, &FilterError{Message: "Invalid query config: expected object"}
	}
	q := &DeclarativeQuery{config: append(json.RawMessage(nil), config...)}
	if err := json.Unmarshal(parts["bucket"], &q.Bucket); err != nil || q.Bucket == "" {
		return nil, &ErrBucketNotDefined{Bucket: "undefined"}
	}
	if raw, ok := parts["filter"]; ok && !isJSONNull(raw) {
		tmpl, err := decodeFilterTemplate(raw)
		if err != nil {
			return nil, err
		}
		if err := validateTemplate(tmpl); err != nil {
			return nil, err
		}
		q.filter, q.tmpl = raw, tmpl
		if !hasPlaceholder(tmpl) {
			f, err := compileFilter(tmpl)
			if err != nil {
				return nil, err
			}
			if !f.IsEmpty() {
				q.fixed = f
			}
			q.isFixed = true
		}
		q.findEquality()
	}
	if raw, ok := parts["sort"]; ok && !isJSONNull(raw) {
		keys, err := ParseSort(raw)
		if err != nil {
			return nil, err
		}
		q.shape.Sort = keys
	}
	num := func(name string) (*float64, error) {
		raw, ok := parts[name]
		if !ok || isJSONNull(raw) {
			return nil, nil
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, &FilterError{Message: fmt.Sprintf("Invalid query %q: expected number", name)}
		}
		return &f, nil
	}
	offset, err := num("offset")
	if err != nil {
		return nil, err
	}
	if offset != nil {
		q.shape.Offset = *offset
	}
	if q.shape.Limit, err = num("limit"); err != nil {
		return nil, err
	}
	if raw, ok := parts["fields"]; ok && !isJSONNull(raw) {
		if err := json.Unmarshal(raw, &q.shape.Fields); err != nil {
			return nil, &FilterError{Message: `Invalid query "fields": expected array of strings`}
		}
	}
	if raw, ok := parts["aggregate"]; ok && !isJSONNull(raw) {
		agg, err := parseQueryAggregate(raw)
		if err != nil {
			return nil, err
		}
		q.shape.Aggregate = agg
	}
	return q, nil
}

func isJSONNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func parseQueryAggregate(raw json.RawMessage) (*QueryAggregate, error) {
	var a struct {
		Function string          `json:"function"`
		Field    *string         `json:"field"`
		GroupBy  json.RawMessage `json:"groupBy"`
	}
	bad := &FilterError{Message: `Invalid query "aggregate": expected {"function": "count"|"sum"|"avg"|"min"|"max", "field"?, "groupBy"?}`}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, bad
	}
	switch a.Function {
	case "count", "sum", "avg", "min", "max":
	default:
		return nil, bad
	}
	agg := &QueryAggregate{Function: a.Function}
	if a.Field != nil {
		agg.Field = *a.Field
	} else if a.Function != "count" {
		return nil, &FilterError{Message: fmt.Sprintf(`Invalid query "aggregate": %q needs "field"`, a.Function)}
	}
	if len(a.GroupBy) > 0 && !isJSONNull(a.GroupBy) {
		var one string
		if json.Unmarshal(a.GroupBy, &one) == nil {
			agg.GroupBy = []string{one}
		} else if json.Unmarshal(a.GroupBy, &agg.GroupBy) != nil {
			return nil, bad
		}
	}
	return agg, nil
}

// findEquality records the first top-level entry, in document order, whose
// value is a plain scalar or a whole placeholder.
func (q *DeclarativeQuery) findEquality() {
	var fields map[string]json.RawMessage
	if json.Unmarshal(q.filter, &fields) != nil {
		return
	}
	for _, k := range ObjectKeys(q.filter) {
		if len(k) > 0 && k[0] == '$' {
			continue
		}
		var v any
		if json.Unmarshal(fields[k], &v) != nil {
			continue
		}
		if s, ok := v.(string); ok {
			if name, ok := placeholderName(s); ok {
				q.EqField, q.EqParam = k, name
				return
			}
		}
		if IsScalar(v) {
			q.EqField, q.EqConst = k, normKey(v)
			return
		}
	}
}

func eqValueOf(v any, ok bool) (value any, present bool, other bool) {
	if !ok {
		return nil, false, false
	}
	if !IsScalar(v) {
		return nil, false, true
	}
	return normKey(v), true, false
}

// EqValueForJSON returns the equality value an instance with these params
// (their JSON; empty: no params) filters on: (value, true) for a scalar,
// (nil, false) when the parameter is absent (the filter then matches
// records lacking the field). other is true when the value is neither (an
// object or array parameter).
func (q *DeclarativeQuery) EqValueForJSON(params []byte) (value any, present bool, other bool, err error) {
	if q.EqParam == "" {
		return q.EqConst, true, false, nil
	}
	var buf [8]paramEntry
	entries, err := decodeParamEntries(params, buf[:0])
	if err != nil {
		return nil, false, false, err
	}
	v, ok := lookupParam(entries, q.EqParam)
	value, present, other = eqValueOf(v, ok)
	return value, present, other, nil
}

// paramEntry is one top-level entry of a params object.
type paramEntry struct {
	name  string
	value any
}

// decodeParamEntries appends the entries of params, a JSON object, to out,
// without building a map: params decoded from JSON for one evaluation are
// only looked up by the placeholders. Params that are not an object (or
// empty: none) have no entries, as a params value that is not a
// map[string]any has none for RunDeclarative.
func decodeParamEntries(params []byte, out []paramEntry) ([]paramEntry, error) {
	if len(params) == 0 {
		return out, nil
	}
	d := decoder{data: params}
	d.space()
	if d.i == len(d.data) || d.data[d.i] != '{' {
		_, err := decodeValue(params) // still valid JSON
		return out, err
	}
	d.i++
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
	} else {
		for {
			d.space()
			if d.i >= len(d.data) || d.data[d.i] != '"' {
				return out, d.fail("expected a key")
			}
			k, err := d.string()
			if err != nil {
				return out, err
			}
			d.space()
			if d.i >= len(d.data) || d.data[d.i] != ':' {
				return out, d.fail("expected ':'")
			}
			d.i++
			d.space()
			v, err := d.value(1)
			if err != nil {
				return out, err
			}
			out = append(out, paramEntry{name: k.(string), value: v})
			d.space()
			if d.i >= len(d.data) {
				return out, d.fail("unexpected end")
			}
			if d.data[d.i] == '}' {
				d.i++
				break
			}
			if d.data[d.i] != ',' {
				return out, d.fail("expected ',' or '}'")
			}
			d.i++
		}
	}
	d.space()
	if d.i != len(d.data) {
		return out, d.fail("trailing data")
	}
	return out, nil
}

// lookupParam finds a parameter; of duplicate names the last counts, as
// when decoding into a map.
func lookupParam(entries []paramEntry, name string) (any, bool) {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].name == name {
			return entries[i].value, true
		}
	}
	return nil, false
}

// RunDeclarative evaluates q with params against the current state and
// returns the encoded result; hasValue is false when the result is "no
// value" (a min/max aggregate over nothing numeric).
func (s *Store) RunDeclarative(q *DeclarativeQuery, params any) (data []byte, hasValue bool, err error) {
	m, _ := params.(map[string]any)
	return s.runDeclarative(q, func(name string) (any, bool) {
		v, ok := m[name]
		return v, ok
	})
}

// RunDeclarativeJSON is RunDeclarative with the params given as their JSON
// (empty: no params), decoded only as far as the filter needs them: not at
// all when it has no placeholder, and without building a map otherwise.
func (s *Store) RunDeclarativeJSON(q *DeclarativeQuery, params []byte) (data []byte, hasValue bool, err error) {
	var entries []paramEntry
	var buf [8]paramEntry
	if !q.isFixed && q.tmpl != nil {
		if entries, err = decodeParamEntries(params, buf[:0]); err != nil {
			return nil, false, err
		}
	}
	return s.runDeclarative(q, func(name string) (any, bool) { return lookupParam(entries, name) })
}

// runDeclarative evaluates q, looking its parameters up with param.
func (s *Store) runDeclarative(q *DeclarativeQuery, param func(name string) (any, bool)) (data []byte, hasValue bool, err error) {
	var filter *Filter
	switch {
	case q.isFixed:
		filter = q.fixed
	case q.tmpl != nil:
		if filter, err = compileTemplate(q.tmpl, param); err != nil {
			return nil, false, err
		}
		if filter.IsEmpty() {
			filter = nil
		}
	}
	s.mu.RLock()
	b, err := s.bucketLocked(q.Bucket)
	if err != nil {
		s.mu.RUnlock()
		return nil, false, err
	}
	ents := s.matching(nil, b, filter, s.now(), 0)
	s.mu.RUnlock()

	shape := &q.shape
	if shape.Aggregate != nil {
		recs := make([]Record, len(ents))
		for i, e := range ents {
			recs[i] = e.rec
		}
		v, ok := shape.Apply(recs)
		if !ok {
			return nil, false, nil
		}
		enc, err := encodeJSON(v)
		return enc, true, err
	}
	if len(shape.Sort) > 0 {
		sort.SliceStable(ents, func(i, j int) bool { return CompareRecords(ents[i].rec, ents[j].rec, shape.Sort) < 0 })
	}
	if shape.Offset > 0 {
		ents = ents[jsSliceIndex(shape.Offset, len(ents)):]
	}
	if shape.Limit != nil {
		ents = ents[:jsSliceIndex(*shape.Limit, len(ents))]
	}
	out := make([]byte, 0, 2+len(ents)*64)
	out = append(out, '[')
	for i, e := range ents {
		if i > 0 {
			out = append(out, ',')
		}
		if len(shape.Fields) > 0 {
			if out, err = appendJSON(out, Project(e.rec, shape.Fields)); err != nil {
				return nil, false, err
			}
		} else {
			out = append(out, e.enc...)
		}
	}
	return append(out, ']'), true, nil
}

// Deps is what one evaluation of a Go-function query read: whole buckets
// (any read but get) and single records (get).
type Deps struct {
	Buckets map[string]bool
	Records map[string][]any
}

// QueryContext is the read-only view a Go-function query evaluates
// against. Each read records a dependency; records returned are copies.
type QueryContext struct {
	s    *Store
	deps Deps
}

// NewQueryContext starts an evaluation.
func (s *Store) NewQueryContext() *QueryContext {
	return &QueryContext{s: s, deps: Deps{Buckets: map[string]bool{}, Records: map[string][]any{}}}
}

// Deps returns what the evaluation read so far.
func (c *QueryContext) Deps() Deps { return c.deps }

// Get reads one record (a dependency on that record only, even if it does
// not exist yet).
func (c *QueryContext) Get(bucket string, key any) (Record, error) {
	c.deps.Records[bucket] = append(c.deps.Records[bucket], normKey(key))
	d, err := c.s.Get(bucket, key)
	if err != nil {
		return nil, err
	}
	return d.Record(), nil
}

// All reads every record of a bucket.
func (c *QueryContext) All(bucket string) ([]Record, error) {
	c.deps.Buckets[bucket] = true
	d, err := c.s.All(bucket)
	return d.Records(), err
}

// Where reads the records matching f.
func (c *QueryContext) Where(bucket string, f *Filter) ([]Record, error) {
	c.deps.Buckets[bucket] = true
	d, err := c.s.Where(bucket, f)
	return d.Records(), err
}

// FindOne reads the first record matching f, or nil.
func (c *QueryContext) FindOne(bucket string, f *Filter) (Record, error) {
	c.deps.Buckets[bucket] = true
	d, err := c.s.FindOne(bucket, f)
	return d.Record(), err
}

// Count counts the records matching f (all when nil).
func (c *QueryContext) Count(bucket string, f *Filter) (int, error) {
	c.deps.Buckets[bucket] = true
	return c.s.Count(bucket, f)
}

// Aggregate computes sum, avg, min or max over the records matching f.
func (c *QueryContext) Aggregate(bucket, fn, field string, f *Filter) (float64, bool, error) {
	c.deps.Buckets[bucket] = true
	return c.s.Aggregate(bucket, fn, field, f)
}

// EncodeResult encodes a query result as the store encodes records.
func EncodeResult(v any) ([]byte, error) { return encodeJSON(v) }

// AppendResult appends the encoding of v, as EncodeResult makes it, to b.
func AppendResult(b []byte, v any) ([]byte, error) { return appendJSON(b, v) }

// JSON wraps a generic value (a Record, a list of them, a number …) so the
// server writes it with the store's encoder, straight into a frame.
type JSON struct{ V any }

// AppendJSON appends the encoded value.
func (j JSON) AppendJSON(b []byte) ([]byte, error) { return appendJSON(b, j.V) }

// JSONSizeHint is a rough size.
func (j JSON) JSONSizeHint() int { return 256 }

// MarshalJSON encodes the value.
func (j JSON) MarshalJSON() ([]byte, error) { return appendJSON(nil, j.V) }
