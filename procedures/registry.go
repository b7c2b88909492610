package procedures

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/noex-go/noex/store"
)

// Persister keeps definitions durably; each call is one durable write,
// made before the change is visible. ctx is the context given to the
// Registry call that makes the change (the server's carries the request's
// audit entry, written with the change).
type Persister interface {
	Save(ctx context.Context, name string, seq uint64, definition json.RawMessage) error
	Delete(ctx context.Context, name string) error
}

// Stored is one persisted definition, as a Persister wrote it.
type Stored struct {
	Name       string
	Seq        uint64
	Definition json.RawMessage
}

// Registry holds the registered procedures. Calls read an immutable
// catalog without locking; changes are serialised, persisted, then
// published by swapping the catalog, so a call sees a definition whole,
// old or new.
type Registry struct {
	limits  Limits
	persist Persister // nil: memory only

	mu  sync.Mutex // serialises changes; held while persisting
	seq uint64
	cur atomic.Pointer[catalog]
}

type catalog struct {
	byName map[string]*Definition
	order  []*Definition // registration order
}

// NewRegistry builds a registry holding the stored definitions, in their
// registration order. A stored definition is loaded whatever the limits
// now are (it was valid when registered); one that cannot be parsed at
// all is left out and reported in the returned errors.
func NewRegistry(lim Limits, p Persister, stored []Stored) (*Registry, []error) {
	r := &Registry{limits: lim.withDefaults(), persist: p}
	c := &catalog{byName: make(map[string]*Definition)}
	var errs []error
	stored = slices.Clone(stored)
	slices.SortStableFunc(stored, func(a, b Stored) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	unlimited := Limits{MaxSteps: math.MaxInt, MaxConditionDepth: math.MaxInt}
	for _, s := range stored {
		r.seq = max(r.seq, s.Seq)
		def, err := Parse(s.Definition, unlimited)
		if err == nil && def.Name != s.Name {
			err = fmt.Errorf("stored under %q but named %q", s.Name, def.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("procedure %q: %w", s.Name, err))
			continue
		}
		if _, dup := c.byName[def.Name]; dup {
			continue
		}
		def.seq = s.Seq
		c.byName[def.Name] = def
		c.order = append(c.order, def)
	}
	r.cur.Store(c)
	return r, errs
}

// Get returns the procedure called name.
func (r *Registry) Get(name string) (*Definition, bool) {
	d, ok := r.cur.Load().byName[name]
	return d, ok
}

// List returns the procedures in registration order.
func (r *Registry) List() []*Definition { return r.cur.Load().order }

// Register validates and adds a definition; the name must be free. ctx
// reaches the Persister.
func (r *Registry) Register(ctx context.Context, raw json.RawMessage) (*Definition, error) {
	compact, err := compactJSON(raw)
	if err != nil {
		return nil, &ValidationError{Issues: []string{"Procedure config must be an object"}}
	}
	def, err := Parse(compact, r.limits)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cur.Load()
	if _, ok := c.byName[def.Name]; ok {
		return nil, &AlreadyExistsError{Name: def.Name}
	}
	r.seq++
	def.seq = r.seq
	if r.persist != nil {
		if err := r.persist.Save(ctx, def.Name, def.seq, def.raw); err != nil {
			return nil, err
		}
	}
	next := c.with(def)
	next.order = append(slices.Clone(c.order), def)
	r.cur.Store(next)
	return def, nil
}

// Update merges updates shallowly over the stored definition (a "name" in
// updates is ignored), validates the result and replaces the definition,
// which keeps its place in the registration order. ctx reaches the
// Persister.
func (r *Registry) Update(ctx context.Context, name string, updates json.RawMessage) (*Definition, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cur.Load()
	old, ok := c.byName[name]
	if !ok {
		return nil, &NotFoundError{Name: name}
	}
	merged, err := mergeDefinition(old.raw, updates)
	if err != nil {
		return nil, err
	}
	def, err := Parse(merged, r.limits)
	if err != nil {
		return nil, err
	}
	def.seq = old.seq
	if r.persist != nil {
		if err := r.persist.Save(ctx, def.Name, def.seq, def.raw); err != nil {
			return nil, err
		}
	}
	next := c.with(def)
	next.order = slices.Clone(c.order)
	next.order[slices.Index(c.order, old)] = def
	r.cur.Store(next)
	return def, nil
}

// Unregister removes the procedure called name. ctx reaches the
// Persister.
func (r *Registry) Unregister(ctx context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cur.Load()
	old, ok := c.byName[name]
	if !ok {
		return &NotFoundError{Name: name}
	}
	if r.persist != nil {
		if err := r.persist.Delete(ctx, name); err != nil {
			return err
		}
	}
	next := c.with(nil)
	delete(next.byName, name)
	next.order = slices.DeleteFunc(slices.Clone(c.order), func(d *Definition) bool { return d == old })
	r.cur.Store(next)
	return nil
}

// with copies the catalog's index, adding def (when not nil); the caller
// sets order.
func (c *catalog) with(def *Definition) *catalog {
	next := &catalog{byName: make(map[string]*Definition, len(c.byName)+1)}
	for k, v := range c.byName {
		next.byName[k] = v
	}
	if def != nil {
		next.byName[def.Name] = def
	}
	return next
}

// mergeDefinition is JavaScript's {...stored, ...updates, name:
// stored.name} on JSON text: stored keys keep their place, new keys
// follow in the order updates lists them.
func mergeDefinition(stored, updates json.RawMessage) (json.RawMessage, error) {
	var base, upd map[string]json.RawMessage
	if err := json.Unmarshal(stored, &base); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(updates, &upd); err != nil {
		return nil, &ValidationError{Issues: []string{"Procedure config must be an object"}}
	}
	keys := store.ObjectKeys(stored)
	for _, k := range store.ObjectKeys(updates) {
		if _, ok := base[k]; !ok && k != "name" {
			keys = append(keys, k)
		}
	}
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = store.AppendResult(b, k)
		b = append(b, ':')
		v, ok := upd[k]
		if !ok || k == "name" {
			v = base[k]
		}
		b = append(b, v...)
	}
	b = append(b, '}')
	return compactJSON(b)
}

func compactJSON(raw []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
