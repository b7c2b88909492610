// Package live makes store queries reactive: it keeps query definitions,
// shares one evaluation per distinct (query, params) pair among all its
// subscribers, re-evaluates only the pairs a change can affect, and hands
// every subscriber the same encoded result. It knows nothing of WebSocket:
// results go to a Sink.
package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/noex-go/noex/store"
)

// QueryFunc is a query written in Go: it reads through ctx, which records
// what it read, and returns any JSON-encodable value.
type QueryFunc func(ctx *store.QueryContext, params any) (any, error)

// Result is one encoded query result, shared by every subscriber of its
// instance.
type Result struct {
	// Data is the encoded result; nil with HasValue false means "no value"
	// (the push omits "data").
	Data     []byte
	HasValue bool

	tailOnce sync.Once
	tail     []byte
}

// PushTail returns the part of a push frame after the subscription id:
// `,"data":<Data>}`, or `}` when there is no value. It is built once and
// shared by every subscriber.
func (r *Result) PushTail() []byte {
	r.tailOnce.Do(func() {
		if !r.HasValue {
			r.tail = []byte("}")
			return
		}
		r.tail = make([]byte, 0, len(r.Data)+9)
		r.tail = append(r.tail, `,"data":`...)
		r.tail = append(r.tail, r.Data...)
		r.tail = append(r.tail, '}')
	})
	return r.tail
}

// emptyList is the result "[]", common to every instance whose query
// matches nothing: shared rather than kept once per instance (a Result is
// immutable once stored).
var emptyList = &Result{Data: []byte("[]"), HasValue: true}

func (r *Result) same(o *Result) bool {
	return r != nil && o != nil && r.HasValue == o.HasValue && bytes.Equal(r.Data, o.Data)
}

// Sink receives what subscriptions produce. Both methods must be quick
// (queue, do not write): Deliver is called with the instance's delivery
// order held.
type Sink interface {
	// Deliver hands a subscription a new result.
	Deliver(sub *Subscription, r *Result)
	// End tells a subscription it is over because its query was undefined
	// or its bucket dropped; code is QUERY_NOT_DEFINED or
	// BUCKET_NOT_DEFINED.
	End(sub *Subscription, code, message string)
}

// Options configure an Engine.
type Options struct {
	// Evaluators is the number of goroutines re-evaluating queries;
	// default GOMAXPROCS.
	Evaluators int
	// Logger receives the engine's logs; nil means slog.Default().
	Logger *slog.Logger
	// OnChange, when set, is told how many query instances each change
	// woke (for metrics).
	OnChange func(woken int)
}

// Engine is the registry of queries and their live instances.
type Engine struct {
	st     *store.Store
	logger *slog.Logger
	opts   Options

	mu       sync.Mutex
	queries  map[string]*query
	order    []string
	seq      uint64
	byBucket map[string]map[*query]struct{}
	// Go-function instances by what their last evaluation read, and what
	// each read (kept here rather than in every instance).
	bucketDeps map[string]map[*instance]struct{}
	recordDeps map[string]map[any]map[*instance]struct{}
	deps       map[*instance]*store.Deps
	subs       int
	changeSeq  uint64 // numbers the changes onChange sees
	queue      []*instance
	cond       *sync.Cond
	closed     bool

	wg      sync.WaitGroup
	offs    []func()
	evals   atomic.Int64
	changes atomic.Int64
}

type query struct {
	name      string
	seq       uint64
	decl      *store.DeclarativeQuery
	fn        QueryFunc
	instances map[string]*instance
	// For declarative queries with a parameterized equality: instances by
	// the value they filter on, those whose parameter is absent, and those
	// with a non-scalar parameter (always woken). instance.eqIdx is an
	// instance's position in its list.
	byValue map[any][]*instance
	absent  []*instance
	other   []*instance
}

type instance struct {
	q *query
	// key is the canonical JSON of the params ("" for none): equal params
	// share an instance, and each evaluation decodes its params from it
	// (the decoded value is not kept).
	key string
	// eqVal and eqKind place the instance in q's equality index; they are
	// computed once, when it is created.
	eqVal any

	// guarded by Engine.mu
	subs                   []*Subscription // Subscription.idx is the position
	eqIdx                  int32           // position in q.byValue[eqVal], q.absent or q.other
	eqKind                 eqKind
	queued, running, dirty bool
	woken                  uint64 // the last change (Engine.changeSeq) that woke it

	// deliver serializes evaluation and delivery for this instance, so a
	// subscriber never receives an older result after a newer one.
	deliver sync.Mutex
	latest  atomic.Pointer[Result]
}

type eqKind uint8

const (
	eqNone eqKind = iota
	eqValue
	eqAbsent
	eqOther
)

// Subscription is one subscriber of an instance.
type Subscription struct {
	// Tag is the caller's; the engine never reads it.
	Tag  any
	inst *instance
	sink Sink
	// guarded by inst.deliver
	initial *Result
	// guarded by Engine.mu: the position in inst.subs
	idx   int32
	ended atomic.Bool
	// guarded by inst.deliver
	active bool
}

// Latest returns the subscription's current result (for backpressure:
// the state a congested subscriber is given once it drains).
func (s *Subscription) Latest() *Result { return s.inst.latest.Load() }

// QueryInfo describes a defined query (PROTOCOL.md §4.6.5).
type QueryInfo struct {
	Name                string          `json:"name"`
	Type                string          `json:"type"`
	ActiveSubscriptions int             `json:"activeSubscriptions"`
	Config              json.RawMessage `json:"config,omitempty"`
}

// metaPrefix namespaces query definitions in the store's meta entries.
const metaPrefix = "query:"

type storedQuery struct {
	Seq    uint64          `json:"seq"`
	Config json.RawMessage `json:"config"`
}

// New starts an engine over st, loading the declarative queries persisted
// in it.
func New(st *store.Store, opts Options) (*Engine, error) {
	if opts.Evaluators <= 0 {
		opts.Evaluators = runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Engine{
		st: st, logger: opts.Logger, opts: opts,
		queries:    make(map[string]*query),
		byBucket:   make(map[string]map[*query]struct{}),
		bucketDeps: make(map[string]map[*instance]struct{}),
		recordDeps: make(map[string]map[any]map[*instance]struct{}),
		deps:       make(map[*instance]*store.Deps),
	}
	e.cond = sync.NewCond(&e.mu)
	type loaded struct {
		name string
		sq   storedQuery
	}
	var defs []loaded
	for _, m := range st.MetaWithPrefix(metaPrefix) {
		var sq storedQuery
		if err := json.Unmarshal(m.Value, &sq); err != nil {
			return nil, fmt.Errorf("live: stored query %q: %w", m.Name, err)
		}
		defs = append(defs, loaded{name: m.Name[len(metaPrefix):], sq: sq})
	}
	// Definition order, as listQueries reports it.
	for i := 1; i < len(defs); i++ {
		for j := i; j > 0 && defs[j].sq.Seq < defs[j-1].sq.Seq; j-- {
			defs[j], defs[j-1] = defs[j-1], defs[j]
		}
	}
	for _, d := range defs {
		decl, err := store.ParseDeclarativeQuery(d.sq.Config)
		if err != nil {
			return nil, fmt.Errorf("live: stored query %q: %w", d.name, err)
		}
		e.addQuery(&query{name: d.name, seq: d.sq.Seq, decl: decl})
		e.seq = max(e.seq, d.sq.Seq)
	}
	e.offs = append(e.offs, st.On("bucket.*", e.onChange), st.OnDrop(e.onDrop))
	for i := 0; i < opts.Evaluators; i++ {
		e.wg.Add(1)
		go e.evaluator()
	}
	return e, nil
}

// Close stops the evaluators. Subscriptions get nothing more.
func (e *Engine) Close() {
	for _, off := range e.offs {
		off()
	}
	e.mu.Lock()
	e.closed = true
	e.cond.Broadcast()
	e.mu.Unlock()
	e.wg.Wait()
}

func (e *Engine) addQuery(q *query) {
	q.instances = make(map[string]*instance)
	e.queries[q.name] = q
	e.order = append(e.order, q.name)
	if q.decl != nil {
		set := e.byBucket[q.decl.Bucket]
		if set == nil {
			set = make(map[*query]struct{})
			e.byBucket[q.decl.Bucket] = set
		}
		set[q] = struct{}{}
		if q.decl.EqParam != "" {
			q.byValue = make(map[any][]*instance)
		}
	}
}

// DefineQuery registers a Go-function query (not persisted: the program
// defines it again at every start).
func (e *Engine) DefineQuery(name string, fn QueryFunc) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.queries[name] != nil {
		return &store.ErrQueryExists{Query: name}
	}
	e.addQuery(&query{name: name, fn: fn})
	return nil
}

// DefineDeclarative registers and persists a declarative query.
func (e *Engine) DefineDeclarative(name string, config json.RawMessage, opts ...store.WriteOption) error {
	decl, err := store.ParseDeclarativeQuery(config)
	if err != nil {
		return err
	}
	if !e.st.HasBucket(decl.Bucket) {
		return &store.ErrBucketNotDefined{Bucket: decl.Bucket}
	}
	// The name is checked and reserved under the store's write lock, in
	// the same step as the durable write, so two defines of one name cannot
	// both succeed.
	q := &query{name: name, decl: decl}
	err = e.st.SetMetaFunc(metaPrefix+name, func() ([]byte, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.queries[name] != nil {
			return nil, &store.ErrQueryExists{Query: name}
		}
		e.seq++
		q.seq = e.seq
		e.addQuery(q)
		return json.Marshal(storedQuery{Seq: q.seq, Config: decl.Config()})
	}, opts...)
	if err != nil {
		var exists *store.ErrQueryExists
		if !errors.As(err, &exists) {
			// The write failed after the name was reserved: release it.
			e.mu.Lock()
			if e.queries[name] == q {
				e.removeQueryLocked(q)
			}
			e.mu.Unlock()
		}
		return err
	}
	return nil
}

// removeQueryLocked forgets a query definition.
func (e *Engine) removeQueryLocked(q *query) {
	delete(e.queries, q.name)
	for i, n := range e.order {
		if n == q.name {
			e.order = append(e.order[:i:i], e.order[i+1:]...)
			break
		}
	}
	if q.decl != nil {
		delete(e.byBucket[q.decl.Bucket], q)
	}
}

// Undefine removes a query. Its subscriptions end with QUERY_NOT_DEFINED.
func (e *Engine) Undefine(name string, opts ...store.WriteOption) (bool, error) {
	e.mu.Lock()
	q := e.queries[name]
	e.mu.Unlock()
	if q == nil {
		return false, nil
	}
	if q.decl != nil {
		if _, err := e.st.DeleteMeta(metaPrefix+name, opts...); err != nil {
			return false, err
		}
	}
	e.mu.Lock()
	if e.queries[name] != q {
		e.mu.Unlock()
		return false, nil
	}
	e.removeQueryLocked(q)
	ended := e.detachAllLocked(q)
	e.mu.Unlock()
	msg := (&store.ErrQueryNotDefined{Query: name}).Error()
	for _, sub := range ended {
		sub.sink.End(sub, "QUERY_NOT_DEFINED", msg)
	}
	return true, nil
}

// detachAllLocked removes every instance of q and returns their
// subscriptions, marked ended.
func (e *Engine) detachAllLocked(q *query) []*Subscription {
	var ended []*Subscription
	for _, inst := range q.instances {
		for _, sub := range inst.subs {
			if sub.ended.CompareAndSwap(false, true) {
				ended = append(ended, sub)
				e.subs--
			}
		}
		inst.subs = nil
		e.removeInstanceLocked(inst)
	}
	return ended
}

// List describes the defined queries in definition order.
func (e *Engine) List() []QueryInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]QueryInfo, 0, len(e.order))
	for _, name := range e.order {
		q := e.queries[name]
		info := QueryInfo{Name: name, Type: "programmatic"}
		if q.decl != nil {
			info.Type = "declarative"
			info.Config = q.decl.Config()
		}
		for _, inst := range q.instances {
			info.ActiveSubscriptions += len(inst.subs)
		}
		out = append(out, info)
	}
	return out
}

// Buckets returns the buckets a query reads: its bucket for a declarative
// query, nil for a query written in Go (what it reads is only known when
// it runs). ok is false when no query has that name.
func (e *Engine) Buckets(name string) (buckets []string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queries[name]
	if q == nil {
		return nil, false
	}
	if q.decl != nil {
		return []string{q.decl.Bucket}, true
	}
	return nil, true
}

// Counts returns the number of defined queries and live subscriptions.
func (e *Engine) Counts() (defined, subscriptions int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queries), e.subs
}

// Evaluations is how many query evaluations the engine has run.
func (e *Engine) Evaluations() int64 { return e.evals.Load() }

// paramsKey is the canonical form of params, their JSON with object keys
// sorted: equal params share an instance.
func paramsKey(params any) (string, error) {
	if params == nil {
		return "", nil
	}
	bp := keyBufs.Get().(*[]byte)
	b, err := store.AppendResult((*bp)[:0], params)
	key := string(b) // copy before the buffer goes back to the pool
	if err == nil && cap(b) <= 64<<10 {
		*bp = b[:0]
	}
	keyBufs.Put(bp)
	if err != nil {
		return "", err
	}
	return key, nil
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// decodeParams returns the params whose canonical form is key.
func decodeParams(key string) (any, error) {
	if key == "" {
		return nil, nil
	}
	return store.DecodeJSONFast([]byte(key))
}

// Subscribe adds a subscriber to the instance of (name, params) and
// returns its initial result. The subscription receives nothing until
// Activate: the caller sends the initial result first, then activates, so
// no push can overtake it.
func (e *Engine) Subscribe(name string, params any, sink Sink) (*Subscription, *Result, error) {
	key, err := paramsKey(params)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	q := e.queries[name]
	if q == nil {
		e.mu.Unlock()
		return nil, nil, &store.ErrQueryNotDefined{Query: name}
	}
	inst := q.instances[key]
	if inst == nil {
		inst = &instance{q: q, key: key}
		if err := e.indexInstanceLocked(inst); err != nil {
			e.mu.Unlock()
			return nil, nil, err
		}
		q.instances[key] = inst
	}
	sub := &Subscription{inst: inst, sink: sink, idx: int32(len(inst.subs))}
	inst.subs = append(inst.subs, sub)
	e.subs++
	// A change already queued for this instance must be in the initial
	// result (a client that wrote and then subscribes sees its write).
	stale := inst.latest.Load() == nil || inst.dirty || inst.queued
	e.mu.Unlock()

	inst.deliver.Lock()
	defer inst.deliver.Unlock()
	if stale {
		if err := e.evaluateLocked(inst); err != nil {
			e.cancel(sub)
			return nil, nil, err
		}
	}
	sub.initial = inst.latest.Load()
	return sub, sub.initial, nil
}

// Activate lets results flow to sub; if the result changed since its
// initial result, the latest is delivered at once.
func (e *Engine) Activate(sub *Subscription) {
	inst := sub.inst
	inst.deliver.Lock()
	defer inst.deliver.Unlock()
	if sub.ended.Load() {
		return
	}
	sub.active = true
	if r := inst.latest.Load(); r != nil && r != sub.initial && !r.same(sub.initial) {
		sub.sink.Deliver(sub, r)
	}
}

// Cancel ends a subscription (unsubscribe or disconnect). It reports
// false if it had already ended.
func (e *Engine) Cancel(sub *Subscription) bool { return e.cancel(sub) }

func (e *Engine) cancel(sub *Subscription) bool {
	if !sub.ended.CompareAndSwap(false, true) {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	inst := sub.inst
	if i := int(sub.idx); i < len(inst.subs) && inst.subs[i] == sub {
		last := len(inst.subs) - 1
		moved := inst.subs[last]
		inst.subs[i], moved.idx = moved, int32(i)
		inst.subs[last] = nil
		inst.subs = inst.subs[:last]
		e.subs--
		if len(inst.subs) == 0 {
			inst.subs = nil
			e.removeInstanceLocked(inst)
		}
	}
	return true
}

// indexInstanceLocked places a new instance of a query with a
// parameterized equality in the query's equality index, by its params as
// evaluations see them (decoded from its key).
func (e *Engine) indexInstanceLocked(inst *instance) error {
	q := inst.q
	if q.byValue == nil {
		return nil
	}
	v, present, other, err := q.decl.EqValueForJSON([]byte(inst.key))
	if err != nil {
		return err
	}
	switch {
	case other:
		inst.eqKind, inst.eqIdx = eqOther, int32(len(q.other))
		q.other = append(q.other, inst)
	case !present:
		inst.eqKind, inst.eqIdx = eqAbsent, int32(len(q.absent))
		q.absent = append(q.absent, inst)
	default:
		list := q.byValue[v]
		inst.eqKind, inst.eqVal, inst.eqIdx = eqValue, v, int32(len(list))
		q.byValue[v] = append(list, inst)
	}
	return nil
}

// removeFrom removes inst from list, where it is at inst.eqIdx, moving
// the last instance into its place.
func removeFrom(list []*instance, inst *instance) []*instance {
	i := int(inst.eqIdx)
	if i >= len(list) || list[i] != inst {
		return list // not there
	}
	last := len(list) - 1
	moved := list[last]
	list[i], moved.eqIdx = moved, int32(i)
	list[last] = nil
	if last == 0 {
		return nil
	}
	return list[:last]
}

func (e *Engine) removeInstanceLocked(inst *instance) {
	q := inst.q
	if q.instances[inst.key] == inst {
		delete(q.instances, inst.key)
	}
	switch inst.eqKind {
	case eqOther:
		q.other = removeFrom(q.other, inst)
	case eqAbsent:
		q.absent = removeFrom(q.absent, inst)
	case eqValue:
		if list := removeFrom(q.byValue[inst.eqVal], inst); list == nil {
			delete(q.byValue, inst.eqVal)
		} else {
			q.byValue[inst.eqVal] = list
		}
	}
	inst.eqKind = eqNone // removed once only
	e.setDepsLocked(inst, nil)
}

// onChange runs in commit order for every record event: it marks the
// affected instances dirty and queues them. It only looks things up.
func (e *Engine) onChange(ev store.Event) {
	e.changes.Add(1)
	woken := 0
	e.mu.Lock()
	e.changeSeq++
	seq := e.changeSeq
	wake := func(inst *instance) {
		if inst.woken == seq {
			return // already woken by this change (an update's old and new record)
		}
		inst.woken = seq
		woken++
		inst.dirty = true
		if !inst.queued && !inst.running {
			inst.queued = true
			e.queue = append(e.queue, inst)
			e.cond.Signal()
		}
	}
	for q := range e.byBucket[ev.Bucket] {
		d := q.decl
		if d.EqField == "" {
			for _, inst := range q.instances {
				wake(inst)
			}
			continue
		}
		for _, rec := range [...]store.Record{ev.Record, ev.OldRecord, ev.NewRecord} {
			if rec == nil {
				continue
			}
			v, has := rec[d.EqField]
			if d.EqParam == "" {
				if has && store.StrictEqual(normKey(v), d.EqConst) {
					for _, inst := range q.instances {
						wake(inst)
					}
					break
				}
				continue
			}
			switch {
			case !has:
				for _, inst := range q.absent {
					wake(inst)
				}
			case store.IsScalar(v):
				for _, inst := range q.byValue[normKey(v)] {
					wake(inst)
				}
			}
		}
		for _, inst := range q.other {
			wake(inst)
		}
	}
	for inst := range e.bucketDeps[ev.Bucket] {
		wake(inst)
	}
	if byKey := e.recordDeps[ev.Bucket]; byKey != nil {
		for inst := range byKey[normKey(ev.Key)] {
			wake(inst)
		}
	}
	e.mu.Unlock()
	if e.opts.OnChange != nil {
		e.opts.OnChange(woken)
	}
}

func normKey(v any) any {
	if f, ok := v.(float64); ok && f == 0 {
		return float64(0)
	}
	return v
}

// onDrop ends the subscriptions of every query that reads the dropped
// bucket (COMPATIBILITY.md P§11 #12); the definitions stay.
func (e *Engine) onDrop(bucket string) {
	e.mu.Lock()
	var ended []*Subscription
	for q := range e.byBucket[bucket] {
		ended = append(ended, e.detachAllLocked(q)...)
	}
	for inst := range e.bucketDeps[bucket] {
		for _, sub := range inst.subs {
			if sub.ended.CompareAndSwap(false, true) {
				ended = append(ended, sub)
				e.subs--
			}
		}
		inst.subs = nil
		e.removeInstanceLocked(inst)
	}
	e.mu.Unlock()
	msg := (&store.ErrBucketNotDefined{Bucket: bucket}).Error()
	for _, sub := range ended {
		sub.sink.End(sub, "BUCKET_NOT_DEFINED", msg)
	}
}

// evaluator re-evaluates queued instances, one evaluation per instance at
// a time; an instance dirtied while it runs is queued again after.
func (e *Engine) evaluator() {
	defer e.wg.Done()
	e.mu.Lock()
	for {
		for len(e.queue) == 0 && !e.closed {
			e.cond.Wait()
		}
		if e.closed {
			e.mu.Unlock()
			return
		}
		inst := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		inst.queued, inst.running, inst.dirty = false, true, false
		e.mu.Unlock()

		inst.deliver.Lock()
		if err := e.evaluateLocked(inst); err != nil {
			// The result stays as it was and the subscription stays
			// (PROTOCOL.md §3.3).
			e.logger.Debug("query re-evaluation failed", "query", inst.q.name, "err", err)
		}
		inst.deliver.Unlock()

		e.mu.Lock()
		inst.running = false
		if inst.dirty && !inst.queued && len(inst.subs) > 0 {
			inst.queued = true
			e.queue = append(e.queue, inst)
		}
	}
}

// evaluateLocked runs the query of inst (inst.deliver held) with its params
// decoded from inst.key, and if the result changed, stores it and delivers
// it to every active subscriber.
func (e *Engine) evaluateLocked(inst *instance) error {
	e.evals.Add(1)
	var data []byte
	var has bool
	q := inst.q
	if q.decl != nil {
		var err error
		if data, has, err = e.st.RunDeclarativeJSON(q.decl, []byte(inst.key)); err != nil {
			return err
		}
	} else {
		params, err := decodeParams(inst.key)
		if err != nil {
			return err
		}
		ctx := e.st.NewQueryContext()
		v, err := runFunc(q.fn, ctx, params)
		d := ctx.Deps()
		e.mu.Lock()
		e.setDepsLocked(inst, &d)
		e.mu.Unlock()
		if err != nil {
			return err
		}
		if data, err = store.EncodeResult(v); err != nil {
			return err
		}
		has = true
	}
	if old := inst.latest.Load(); old != nil && old.HasValue == has && bytes.Equal(old.Data, data) {
		return nil
	}
	r := emptyList
	if !has || string(data) != "[]" {
		r = &Result{Data: data, HasValue: has}
	}
	inst.latest.Store(r)
	// Most instances have one subscriber or a few: no allocation for them.
	var buf [8]*Subscription
	e.mu.Lock()
	subs := append(buf[:0], inst.subs...)
	e.mu.Unlock()
	for _, sub := range subs {
		if sub.active && !sub.ended.Load() {
			sub.sink.Deliver(sub, r)
		}
	}
	return nil
}

func runFunc(fn QueryFunc, ctx *store.QueryContext, params any) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("live: query panicked: %v", r)
		}
	}()
	return fn(ctx, params)
}

// setDepsLocked replaces what a Go-function instance depends on.
func (e *Engine) setDepsLocked(inst *instance, deps *store.Deps) {
	if old := e.deps[inst]; old != nil {
		for b := range old.Buckets {
			delete(e.bucketDeps[b], inst)
		}
		for b, keys := range old.Records {
			for _, k := range keys {
				if set := e.recordDeps[b][k]; set != nil {
					delete(set, inst)
					if len(set) == 0 {
						delete(e.recordDeps[b], k)
					}
				}
			}
		}
	}
	if deps == nil || inst.q.instances[inst.key] != inst {
		delete(e.deps, inst) // a removed instance depends on nothing
		return
	}
	e.deps[inst] = deps
	for b := range deps.Buckets {
		set := e.bucketDeps[b]
		if set == nil {
			set = make(map[*instance]struct{})
			e.bucketDeps[b] = set
		}
		set[inst] = struct{}{}
	}
	for b, keys := range deps.Records {
		byKey := e.recordDeps[b]
		if byKey == nil {
			byKey = make(map[any]map[*instance]struct{})
			e.recordDeps[b] = byKey
		}
		for _, k := range keys {
			set := byKey[k]
			if set == nil {
				set = make(map[*instance]struct{})
				byKey[k] = set
			}
			set[inst] = struct{}{}
		}
	}
}
