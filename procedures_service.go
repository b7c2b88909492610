package noex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/procedures"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/store"
)

// proceduresService serves the procedures.* namespace (PROTOCOL.md §7.2
// with COMPATIBILITY.md P§11 #24, #30 and "persistence"): definitions
// persist through the store's meta entries, transactional procedures run
// in one store transaction, and every store and rules step passes the
// access check of the direct operation.
type proceduresService struct {
	srv    *Server
	reg    *procedures.Registry
	runner procedures.Runner
	st     *store.Store  // nil: store steps fail as for an unknown bucket
	rules  *rules.Engine // nil: rules steps fail
}

var procedureOperations = []string{
	"procedures.register", "procedures.unregister", "procedures.update",
	"procedures.get", "procedures.list", "procedures.call",
}

var knownProcedureOp = operationSet(procedureOperations)

// metaProcedure namespaces procedure definitions in the store's meta
// entries: "procedure:<name>" → {"seq":…,"definition":…}.
const metaProcedure = "procedure:"

// newProceduresService builds the service, loading the definitions
// persisted in the configured store. A stored definition that cannot be
// read is logged and left out (its entry stays, so nothing is lost).
func newProceduresService(srv *Server) *proceduresService {
	cfg := srv.cfg
	ps := &proceduresService{
		srv: srv, st: cfg.Store, rules: cfg.Rules,
		runner: procedures.Runner{DefaultTimeout: cfg.Procedures.DefaultTimeout, AfterFunc: cfg.Procedures.AfterFunc},
	}
	limits := procedures.Limits{MaxSteps: cfg.Procedures.MaxSteps, MaxConditionDepth: cfg.Procedures.MaxConditionDepth}
	var (
		persist procedures.Persister
		stored  []procedures.Stored
		errs    []error
	)
	if cfg.Store != nil {
		persist = procedurePersister{st: cfg.Store}
		for _, m := range cfg.Store.MetaWithPrefix(metaProcedure) {
			name := strings.TrimPrefix(m.Name, metaProcedure)
			var e storedProcedure
			if err := json.Unmarshal(m.Value, &e); err != nil {
				errs = append(errs, fmt.Errorf("procedure %q: %w", name, err))
				continue
			}
			stored = append(stored, procedures.Stored{Name: name, Seq: e.Seq, Definition: e.Definition})
		}
	}
	reg, loadErrs := procedures.NewRegistry(limits, persist, stored)
	for _, err := range append(errs, loadErrs...) {
		srv.log.Error("a stored procedure could not be loaded", "err", err)
	}
	ps.reg = reg
	return ps
}

type storedProcedure struct {
	Seq        uint64          `json:"seq"`
	Definition json.RawMessage `json:"definition"`
}

// procedurePersister writes definitions through the store's durable log;
// a request's audit entry (ctx's annex) is written in the same commit.
type procedurePersister struct{ st *store.Store }

func (p procedurePersister) Save(ctx context.Context, name string, seq uint64, def json.RawMessage) error {
	v, err := json.Marshal(storedProcedure{Seq: seq, Definition: def})
	if err != nil {
		return err
	}
	return p.st.SetMeta(metaProcedure+name, v, store.OptionsFrom(ctx)...)
}

func (p procedurePersister) Delete(ctx context.Context, name string) error {
	_, err := p.st.DeleteMeta(metaProcedure+name, store.OptionsFrom(ctx)...)
	return err
}

func (ps *proceduresService) Handle(ctx context.Context, s *Session, req *Request) (any, error) {
	data, err := ps.handle(ctx, s, req)
	if err != nil {
		return nil, procedureError(err, ps.srv.cfg.HideErrorDetails)
	}
	return data, nil
}

// procedureInfo is one entry of procedures.list.
type procedureInfo struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
	StepsCount  int     `json:"stepsCount"`
}

func (ps *proceduresService) handle(ctx context.Context, s *Session, req *Request) (any, error) {
	f := req.Fields
	if !knownProcedureOp[req.Type] {
		return nil, UnknownOperation(NamespaceProcedures, req.Type)
	}
	switch req.Type {
	case "procedures.register":
		raw, werr := wire.RequireObject(f, "procedure")
		if werr != nil {
			return nil, werr
		}
		def, err := ps.reg.Register(ctx, raw)
		if err != nil {
			return nil, err
		}
		return map[string]any{"name": def.Name, "registered": true}, nil
	case "procedures.list":
		list := ps.reg.List()
		out := make([]procedureInfo, len(list))
		for i, d := range list {
			out[i] = procedureInfo{Name: d.Name, StepsCount: len(d.Steps)}
			if d.HasDescription {
				out[i].Description = &d.Description
			}
		}
		return map[string]any{"procedures": out}, nil
	}
	name, werr := wire.RequireString(f, "name")
	if werr != nil {
		return nil, werr
	}
	switch req.Type {
	case "procedures.unregister":
		if err := ps.reg.Unregister(ctx, name); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "unregistered": true}, nil
	case "procedures.update":
		updates, werr := wire.RequireObject(f, "updates")
		if werr != nil {
			return nil, werr
		}
		if _, err := ps.reg.Update(ctx, name, updates); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "updated": true}, nil
	case "procedures.get":
		def, ok := ps.reg.Get(name)
		if !ok {
			return nil, &procedures.NotFoundError{Name: name}
		}
		return def.Raw(), nil
	default: // procedures.call
		def, ok := ps.reg.Get(name)
		if !ok {
			return nil, &procedures.NotFoundError{Name: name}
		}
		var input any
		if raw := f["input"]; !wire.IsNull(raw) {
			v, err := store.DecodeJSONFast(raw)
			if err != nil {
				return nil, wire.NewError(wire.CodeValidation, `Invalid "input": expected object`)
			}
			input = v
		}
		res, err := ps.runner.Call(ctx, def, input, ps.env(ctx, s))
		if err != nil {
			return nil, err
		}
		b, err := res.AppendJSON(nil)
		if err != nil {
			return nil, err
		}
		return json.RawMessage(b), nil
	}
}

// env is what a call of connection s runs against; its writes carry the
// request's audit entry (ctx's annex), so it commits with the first one.
func (ps *proceduresService) env(ctx context.Context, s *Session) procedures.Env {
	env := procedures.Env{
		Store:     noStore{},
		Begin:     func() procedures.Tx { return noStoreTx{} },
		Authorize: func(op, resource string) error { return ps.srv.Authorize(s, op, resource) },
	}
	if st := ps.st; st != nil {
		env.Store = directStore{st: st}
		env.Begin = func() procedures.Tx { return &txStore{tx: st.Begin(store.OptionsFrom(ctx)...)} }
	}
	if ps.rules != nil {
		env.Rules = engineRules{eng: ps.rules}
	}
	return env
}

// commitError marks the failure of a transactional procedure's commit,
// which is mapped as store.transaction's would be.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

// procedureError maps a procedure failure to its protocol error
// (PROTOCOL.md §7.2 "Error mapping"). A failing step keeps the code and
// message the protocol gives it and adds details {"step", "action"}
// naming it (docs/compatibility.md).
func procedureError(err error, hideInternal bool) error {
	var (
		we   *wire.Error
		val  *procedures.ValidationError
		in   *procedures.InputError
		nf   *procedures.NotFoundError
		ex   *procedures.AlreadyExistsError
		to   *procedures.TimeoutError
		step *procedures.StepError
		ce   *commitError
	)
	switch {
	case errors.As(err, &step):
		return stepError(step, hideInternal)
	case errors.As(err, &we):
		return we
	case errors.As(err, &val):
		return &wire.Error{Code: wire.CodeValidation, Message: val.Error(), Details: map[string]any{"issues": val.Issues}}
	case errors.As(err, &in):
		return &wire.Error{Code: wire.CodeValidation, Message: in.Error(), Details: map[string]any{"issues": in.Issues}}
	case errors.As(err, &nf):
		return wire.NewError(wire.CodeNotFound, nf.Error())
	case errors.As(err, &ex):
		return wire.NewError(wire.CodeAlreadyExists, ex.Error())
	case errors.As(err, &to):
		return wire.NewError(wire.CodeInternal, to.Error())
	case errors.As(err, &ce):
		return storeError(ce.err)
	}
	return fmt.Errorf("procedures: %w", err) // INTERNAL_ERROR, logged
}

func stepError(step *procedures.StepError, hideInternal bool) error {
	details := map[string]string{"step": step.Path, "action": step.Action}
	err := step.Err
	var (
		we  *wire.Error
		val *store.ValidationError
		fe  *store.FilterError
		nr  *rules.NotRunningError
		f   *procedures.Failure
	)
	switch {
	case errors.As(err, &we):
		return &wire.Error{Code: we.Code, Message: we.Message, Details: details}
	case errors.As(err, &val):
		return &wire.Error{Code: wire.CodeValidation, Message: val.Error(), Details: details}
	case errors.As(err, &fe):
		return &wire.Error{Code: wire.CodeValidation, Message: fe.Error(), Details: details}
	case errors.Is(err, store.ErrStoreFailed), errors.Is(err, store.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("procedure step %s: %w", step.Path, err) // INTERNAL_ERROR, logged
	case errors.As(err, &f), errors.As(err, &nr), isStoreFailure(err):
		return &wire.Error{Code: wire.CodeInternal, Message: err.Error(), Details: details}
	}
	// An unexpected rules engine failure: its text unless internal
	// details are hidden, as rules.* does.
	if hideInternal {
		return fmt.Errorf("procedure step %s: %w", step.Path, err)
	}
	return &wire.Error{Code: wire.CodeInternal, Message: err.Error(), Details: details}
}

// isStoreFailure reports a failure the store understood (unknown bucket,
// missing record, constraint…), whose message the protocol passes on.
func isStoreFailure(err error) bool {
	var (
		nd *store.ErrBucketNotDefined
		uq *store.ErrUniqueConstraint
		ke *store.ErrKeyExists
		nf *store.ErrRecordNotFound
		cf *store.ErrConflict
		ri *store.ErrReferentialIntegrity
	)
	return errors.As(err, &nd) || errors.As(err, &uq) || errors.As(err, &ke) ||
		errors.As(err, &nf) || errors.As(err, &cf) || errors.As(err, &ri) || errors.Is(err, store.ErrTxDone)
}

// directStore runs store steps on the live store.
type directStore struct{ st *store.Store }

func compileStepFilter(filter map[string]any) (*store.Filter, error) {
	if filter == nil {
		return nil, nil
	}
	return store.CompileFilterValue(filter)
}

func recordsOf(recs []store.Record) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = r
	}
	return out
}

func (d directStore) Get(_ context.Context, bucket string, key any) (map[string]any, error) {
	doc, err := d.st.Get(bucket, key)
	if err != nil {
		return nil, err
	}
	return doc.Record(), nil
}

func (d directStore) Where(_ context.Context, bucket string, filter map[string]any) ([]any, error) {
	f, err := compileStepFilter(filter)
	if err != nil {
		return nil, err
	}
	docs, err := d.st.Where(bucket, f)
	if err != nil {
		return nil, err
	}
	return recordsOf(docs.Records()), nil
}

func (d directStore) FindOne(_ context.Context, bucket string, filter map[string]any) (map[string]any, error) {
	f, err := compileStepFilter(filter)
	if err != nil {
		return nil, err
	}
	doc, err := d.st.FindOne(bucket, f)
	if err != nil {
		return nil, err
	}
	return doc.Record(), nil
}

func (d directStore) Insert(ctx context.Context, bucket string, data map[string]any) (map[string]any, error) {
	return d.st.Insert(bucket, data, store.OptionsFrom(ctx)...)
}

func (d directStore) Update(ctx context.Context, bucket string, key any, data map[string]any) (map[string]any, error) {
	return d.st.Update(bucket, key, data, store.OptionsFrom(ctx)...)
}

func (d directStore) Delete(ctx context.Context, bucket string, key any) error {
	return d.st.Delete(bucket, key, store.OptionsFrom(ctx)...)
}

func (d directStore) Count(_ context.Context, bucket string, filter map[string]any) (int, error) {
	f, err := compileStepFilter(filter)
	if err != nil {
		return 0, err
	}
	return d.st.Count(bucket, f)
}

// txStore runs the store steps of a transactional procedure in one
// store.Tx.
type txStore struct{ tx *store.Tx }

func (t *txStore) Get(_ context.Context, bucket string, key any) (map[string]any, error) {
	return t.tx.Get(bucket, key)
}

func (t *txStore) Where(_ context.Context, bucket string, filter map[string]any) ([]any, error) {
	f, err := compileStepFilter(filter)
	if err != nil {
		return nil, err
	}
	recs, err := t.tx.Where(bucket, f)
	if err != nil {
		return nil, err
	}
	return recordsOf(recs), nil
}

func (t *txStore) FindOne(_ context.Context, bucket string, filter map[string]any) (map[string]any, error) {
	f, err := compileStepFilter(filter)
	if err != nil {
		return nil, err
	}
	return t.tx.FindOne(bucket, f)
}

func (t *txStore) Insert(_ context.Context, bucket string, data map[string]any) (map[string]any, error) {
	return t.tx.Insert(bucket, data)
}

func (t *txStore) Update(_ context.Context, bucket string, key any, data map[string]any) (map[string]any, error) {
	return t.tx.Update(bucket, key, data)
}

func (t *txStore) Delete(_ context.Context, bucket string, key any) error {
	return t.tx.Delete(bucket, key)
}

func (t *txStore) Count(_ context.Context, bucket string, filter map[string]any) (int, error) {
	f, err := compileStepFilter(filter)
	if err != nil {
		return 0, err
	}
	return t.tx.Count(bucket, f)
}

func (t *txStore) Commit() error {
	if err := t.tx.Commit(); err != nil {
		return &commitError{err: err}
	}
	return nil
}

func (t *txStore) Rollback() { t.tx.Rollback() }

// noStore serves a server without a store: every bucket is unknown.
type noStore struct{}

func undefinedBucket(bucket string) error { return &store.ErrBucketNotDefined{Bucket: bucket} }

func (noStore) Get(_ context.Context, bucket string, _ any) (map[string]any, error) {
	return nil, undefinedBucket(bucket)
}

func (noStore) Where(_ context.Context, bucket string, _ map[string]any) ([]any, error) {
	return nil, undefinedBucket(bucket)
}

func (noStore) FindOne(_ context.Context, bucket string, _ map[string]any) (map[string]any, error) {
	return nil, undefinedBucket(bucket)
}

func (noStore) Insert(_ context.Context, bucket string, _ map[string]any) (map[string]any, error) {
	return nil, undefinedBucket(bucket)
}

func (noStore) Update(_ context.Context, bucket string, _ any, _ map[string]any) (map[string]any, error) {
	return nil, undefinedBucket(bucket)
}

func (noStore) Delete(_ context.Context, bucket string, _ any) error { return undefinedBucket(bucket) }

func (noStore) Count(_ context.Context, bucket string, _ map[string]any) (int, error) {
	return 0, undefinedBucket(bucket)
}

type noStoreTx struct{ noStore }

func (noStoreTx) Commit() error { return nil }
func (noStoreTx) Rollback()     {}

// engineRules lets steps use the rules engine.
type engineRules struct{ eng *rules.Engine }

func (r engineRules) Emit(ctx context.Context, topic string, data map[string]any) error {
	_, err := r.eng.Emit(ctx, topic, data)
	return err
}

func (r engineRules) SetFact(ctx context.Context, key string, value any) error {
	_, err := r.eng.SetFact(ctx, key, value)
	return err
}

func (r engineRules) GetFact(_ context.Context, key string) (any, error) {
	v, _ := r.eng.GetFact(key)
	return v, nil
}
