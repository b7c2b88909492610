package procedures

import (
	"github.com/noex-go/noex/store"
)

// Results are the values stored under "as" names during a call, in order
// of first storage (a later step storing under the same name replaces the
// value and keeps the position).
type Results struct {
	names  []string
	values map[string]any
}

// Set stores v under name.
func (r *Results) Set(name string, v any) {
	if r.values == nil {
		r.values = make(map[string]any)
	}
	if _, ok := r.values[name]; !ok {
		r.names = append(r.names, name)
	}
	r.values[name] = v
}

// Get returns the value stored under name.
func (r *Results) Get(name string) (any, bool) {
	v, ok := r.values[name]
	return v, ok
}

// Names returns the names in order of first storage.
func (r *Results) Names() []string { return r.names }

// Result is what a successful call returns (§7.2.5).
type Result struct {
	// Returned is set when a return step ran; Value is then its value
	// (Absent when it referred to nothing).
	Returned bool
	Value    any
	Results  Results
}

// AppendJSON appends the call's answer, {"success":true,"result":…,
// "results":{…}}; "result" is left out when no return step ran or its
// value is absent.
func (r *Result) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"success":true`...)
	var err error
	if r.Returned && !store.IsAbsent(r.Value) {
		b = append(b, `,"result":`...)
		if b, err = store.AppendResult(b, Materialize(r.Value)); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"results":{`...)
	first := true
	for _, name := range r.Results.names {
		v := r.Results.values[name]
		if store.IsAbsent(v) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		if b, err = store.AppendResult(b, name); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = store.AppendResult(b, Materialize(v)); err != nil {
			return nil, err
		}
	}
	return append(b, "}}"...), nil
}

// MarshalJSON is AppendJSON.
func (r *Result) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil) }
