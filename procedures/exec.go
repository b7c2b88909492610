package procedures

import (
	"context"
	"errors"
	"time"

	"github.com/noex-go/noex/store"
)

// Store is the data access of a call. Records are decoded JSON objects;
// a missing record is nil. Filters are resolved filter objects whose
// values may be Absent (a reference to nothing: as a plain value it
// matches records that lack the field, STORE.md §15); a nil filter
// matches everything. Data holds no Absent.
type Store interface {
	Get(ctx context.Context, bucket string, key any) (map[string]any, error)
	Where(ctx context.Context, bucket string, filter map[string]any) ([]any, error)
	FindOne(ctx context.Context, bucket string, filter map[string]any) (map[string]any, error)
	Insert(ctx context.Context, bucket string, data map[string]any) (map[string]any, error)
	Update(ctx context.Context, bucket string, key any, data map[string]any) (map[string]any, error)
	Delete(ctx context.Context, bucket string, key any) error
	Count(ctx context.Context, bucket string, filter map[string]any) (int, error)
}

// Tx is a store transaction: reads see its own writes; Commit applies
// every write at once or none.
type Tx interface {
	Store
	Commit() error
	Rollback()
}

// Rules is the rule engine as steps use it.
type Rules interface {
	Emit(ctx context.Context, topic string, data map[string]any) error
	SetFact(ctx context.Context, key string, value any) error
	// GetFact returns nil when there is no such fact.
	GetFact(ctx context.Context, key string) (any, error)
}

// Env is what one call runs against.
type Env struct {
	// Store serves the store steps of a procedure without "transaction".
	Store Store
	// Begin starts the transaction of a procedure with "transaction":
	// true; nil runs such procedures on Store.
	Begin func() Tx
	// Rules is nil when no rule engine is configured: rules steps fail.
	Rules Rules
	// Authorize is the access check of the direct operation op
	// ("store.insert", "rules.emit", …) on resource (the bucket, topic or
	// fact key); nil allows everything. Its error stops the call.
	Authorize func(op, resource string) error
}

// Runner executes calls.
type Runner struct {
	// DefaultTimeout applies to definitions without timeoutMs (default
	// DefaultTimeout).
	DefaultTimeout time.Duration
	// AfterFunc arms a call's timeout: it calls f once d has passed,
	// unless stop is called first. Default time.AfterFunc; tests replace
	// it to fire a timeout at a chosen moment.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

func (r *Runner) afterFunc(d time.Duration, f func()) func() bool {
	if r.AfterFunc != nil {
		return r.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f).Stop
}

// Call runs def with input (decoded JSON; nil or a non-object means {}).
// Its failures: *InputError, *TimeoutError, *StepError (with what the
// store, the rules engine, Authorize or the step itself reported), or the
// error of a transaction's Commit.
//
// On timeout ctx is cancelled: the running step is not interrupted (store
// steps do not block; rules steps see the cancelled context), but no
// further step runs and a transaction is rolled back instead of
// committed. A procedure without a transaction keeps the writes it made
// before.
func (r *Runner) Call(ctx context.Context, def *Definition, input any, env Env) (*Result, error) {
	in, err := checkInput(def, input)
	if err != nil {
		return nil, err
	}
	def0 := r.DefaultTimeout
	if def0 <= 0 {
		def0 = DefaultTimeout
	}
	d, ms := def.timeout(def0)
	timeout := &TimeoutError{Name: def.Name, TimeoutMs: ms}
	callCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := r.afterFunc(d, func() { cancel(timeout) })
	defer stop()

	x := &execution{ctx: callCtx, env: env}
	x.scope.input = in
	x.scope.results = &x.result.Results
	err = x.call(ctx, def)
	if err != nil && !x.committed && errors.Is(context.Cause(callCtx), timeout) {
		return nil, timeout
	}
	if err != nil {
		return nil, err
	}
	return &x.result, nil
}

// execution is the state of one call.
type execution struct {
	ctx    context.Context
	env    Env
	store  Store
	scope  scope
	result Result
	// deferred holds the rules side effects of a transactional procedure,
	// applied in order after the commit.
	deferred []effect
	inTx     bool
	// committed is set once a transaction committed: from then on the
	// call is not a timeout, whatever the timer does.
	committed bool
}

type effect struct {
	step  *Step
	apply func(ctx context.Context) error
}

func (x *execution) call(parent context.Context, def *Definition) error {
	if !def.Transaction || x.env.Begin == nil {
		x.store = x.env.Store
		return x.run(def.Steps)
	}
	tx := x.env.Begin()
	x.store, x.inTx = tx, true
	err := x.run(def.Steps)
	if err == nil {
		err = context.Cause(x.ctx) // timed out after the last step: discard
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	x.committed = true
	// The writes are in: their side effects follow, whatever the timer
	// does now.
	ctx := context.WithoutCancel(parent)
	for _, e := range x.deferred {
		if err := e.apply(ctx); err != nil {
			return &StepError{Path: e.step.Path, Action: e.step.Action, Err: err}
		}
	}
	return nil
}

// run executes steps in order until one fails or a return step ran.
func (x *execution) run(steps []*Step) error {
	for _, s := range steps {
		if x.result.Returned {
			return nil
		}
		if err := context.Cause(x.ctx); err != nil {
			return err
		}
		if err := x.step(s); err != nil {
			var se *StepError
			if errors.As(err, &se) {
				return err // from a branch: it names its own step
			}
			return &StepError{Path: s.Path, Action: s.Action, Err: err}
		}
	}
	return nil
}

func (x *execution) authorize(op, resource string) error {
	if x.env.Authorize == nil {
		return nil
	}
	return x.env.Authorize(op, resource)
}

func (x *execution) step(s *Step) error {
	sc, ctx := &x.scope, x.ctx
	results := &x.result.Results
	switch s.Action {
	case ActionStoreGet, ActionStoreWhere, ActionStoreFindOne, ActionStoreInsert,
		ActionStoreUpdate, ActionStoreDelete, ActionStoreCount:
		if err := x.authorize(s.Action, s.Bucket); err != nil {
			return err
		}
		return x.storeStep(ctx, s)
	case ActionAggregate:
		src, _ := results.Get(s.Source)
		arr, ok := src.([]any)
		if !ok {
			return failf(`aggregate: source "`, s.Source, `" is not an array`)
		}
		results.Set(s.As, aggregate(arr, s.Op, s.Field))
	case ActionRulesEmit, ActionRulesSetFact, ActionRulesGetFact:
		return x.rulesStep(ctx, s)
	case ActionIf:
		actual := sc.lookup(s.Cond.ref)
		expected := Absent
		if s.Cond.Value != nil {
			expected = s.Cond.Value.resolve(sc)
		}
		if evalCondition(s.Cond.Operator, actual, expected) {
			return x.run(s.Then)
		}
		if s.Else != nil {
			return x.run(s.Else)
		}
	case ActionTransform:
		src, ok := results.Get(s.Source)
		if !ok {
			src = Absent
		}
		v, err := transform(s.Operation, s.Source, src, s.Args.resolve(sc))
		if err != nil {
			return err
		}
		results.Set(s.As, v)
	case ActionReturn:
		x.result.Value = s.Value.resolve(sc)
		x.result.Returned = true
	}
	return nil
}

func (x *execution) storeStep(ctx context.Context, s *Step) error {
	sc, st := &x.scope, x.store
	results := &x.result.Results
	switch s.Action {
	case ActionStoreGet:
		rec, err := st.Get(ctx, s.Bucket, keyValue(s.Key.resolve(sc)))
		if err != nil {
			return err
		}
		results.Set(s.As, record(rec))
	case ActionStoreWhere:
		recs, err := st.Where(ctx, s.Bucket, filterValue(s.Filter, sc))
		if err != nil {
			return err
		}
		if recs == nil {
			recs = []any{}
		}
		results.Set(s.As, recs)
	case ActionStoreFindOne:
		rec, err := st.FindOne(ctx, s.Bucket, filterValue(s.Filter, sc))
		if err != nil {
			return err
		}
		results.Set(s.As, record(rec))
	case ActionStoreInsert:
		rec, err := st.Insert(ctx, s.Bucket, dataValue(s.Data, sc))
		if err != nil {
			return err
		}
		if s.As != "" {
			results.Set(s.As, record(rec))
		}
	case ActionStoreUpdate:
		rec, err := st.Update(ctx, s.Bucket, keyValue(s.Key.resolve(sc)), dataValue(s.Data, sc))
		if err != nil {
			return err
		}
		if s.As != "" {
			results.Set(s.As, record(rec))
		}
	case ActionStoreDelete:
		return st.Delete(ctx, s.Bucket, keyValue(s.Key.resolve(sc)))
	case ActionStoreCount:
		n, err := st.Count(ctx, s.Bucket, filterValue(s.Filter, sc))
		if err != nil {
			return err
		}
		results.Set(s.As, float64(n))
	}
	return nil
}

func (x *execution) rulesStep(ctx context.Context, s *Step) error {
	sc, rules := &x.scope, x.env.Rules
	if rules == nil {
		return failf(s.Action, ": rule engine is not configured")
	}
	var key string
	var err error
	if s.Action == ActionRulesEmit {
		key, err = x.nameValue(s, s.Topic, "topic")
	} else {
		key, err = x.nameValue(s, s.Key, "key")
	}
	if err != nil {
		return err
	}
	if err := x.authorize(s.Action, key); err != nil {
		return err
	}
	var apply func(ctx context.Context) error
	switch s.Action {
	case ActionRulesGetFact:
		v, err := rules.GetFact(ctx, key)
		if err != nil {
			return err
		}
		x.result.Results.Set(s.As, v)
		return nil
	case ActionRulesEmit:
		data := map[string]any{}
		if s.Data != nil {
			data = dataValue(s.Data, sc)
		}
		apply = func(ctx context.Context) error { return rules.Emit(ctx, key, data) }
	default: // rules.setFact
		value := Materialize(s.Value.resolve(sc))
		if store.IsAbsent(value) {
			value = nil
		}
		apply = func(ctx context.Context) error { return rules.SetFact(ctx, key, value) }
	}
	if x.inTx {
		x.deferred = append(x.deferred, effect{step: s, apply: apply})
		return nil
	}
	return apply(ctx)
}

// nameValue resolves a topic or fact key: a non-empty string, or a number
// or boolean written as text.
func (x *execution) nameValue(s *Step, t *template, field string) (string, error) {
	switch v := t.resolve(&x.scope).(type) {
	case string:
		if v != "" {
			return v, nil
		}
	case float64, bool:
		return store.Display(v), nil
	}
	return "", failf(s.Action, `: "`, field, `" must resolve to a non-empty string`)
}

// keyValue is a record key: absent means none (nil).
func keyValue(v any) any {
	if store.IsAbsent(v) {
		return nil
	}
	return Materialize(v)
}

func filterValue(t *template, sc *scope) map[string]any {
	if t == nil {
		return nil
	}
	m, _ := t.resolve(sc).(map[string]any)
	return m
}

func dataValue(t *template, sc *scope) map[string]any {
	m, _ := Materialize(t.resolve(sc)).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// record turns a missing record into null.
func record(rec map[string]any) any {
	if rec == nil {
		return nil
	}
	return rec
}
