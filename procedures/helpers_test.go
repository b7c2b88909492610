package procedures

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/noex-go/noex/store"
)

// memStore is a fake Store: buckets of records keyed by "id", kept in
// insertion order. Filters are plain-equality only (Absent matches a
// missing field). onOp, when set, runs before every operation.
type memStore struct {
	mu      sync.Mutex
	buckets map[string][]map[string]any
	onOp    func(op, bucket string)
	ops     []string
}

func newMemStore(buckets ...string) *memStore {
	m := &memStore{buckets: map[string][]map[string]any{}}
	for _, b := range buckets {
		m.buckets[b] = nil
	}
	return m
}

func (m *memStore) hook(op, bucket string) error {
	if m.onOp != nil {
		m.onOp(op, bucket)
	}
	m.ops = append(m.ops, op+" "+bucket)
	if _, ok := m.buckets[bucket]; !ok {
		return &store.ErrBucketNotDefined{Bucket: bucket}
	}
	return nil
}

func matches(rec, filter map[string]any) bool {
	for k, v := range filter {
		got, ok := rec[k]
		if store.IsAbsent(v) {
			if ok {
				return false
			}
			continue
		}
		if !ok || !store.DeepEqual(got, v) {
			return false
		}
	}
	return true
}

func (m *memStore) find(bucket string, key any) int {
	for i, r := range m.buckets[bucket] {
		if store.StrictEqual(r["id"], key) {
			return i
		}
	}
	return -1
}

func (m *memStore) Get(_ context.Context, bucket string, key any) (map[string]any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.hook("get", bucket); err != nil {
		return nil, err
	}
	if i := m.find(bucket, key); i >= 0 {
		return store.CloneValue(m.buckets[bucket][i]).(map[string]any), nil
	}
	return nil, nil
}

func (m *memStore) Where(_ context.Context, bucket string, filter map[string]any) ([]any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.hook("where", bucket); err != nil {
		return nil, err
	}
	var out []any
	for _, r := range m.buckets[bucket] {
		if matches(r, filter) {
			out = append(out, store.CloneValue(r))
		}
	}
	return out, nil
}

func (m *memStore) FindOne(ctx context.Context, bucket string, filter map[string]any) (map[string]any, error) {
	all, err := m.Where(ctx, bucket, filter)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[0].(map[string]any), nil
}

func (m *memStore) Insert(_ context.Context, bucket string, data map[string]any) (map[string]any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.hook("insert", bucket); err != nil {
		return nil, err
	}
	rec := store.CloneValue(data).(map[string]any)
	if _, ok := rec["id"]; !ok {
		rec["id"] = fmt.Sprintf("%s-%d", bucket, len(m.buckets[bucket])+1)
	}
	if name, ok := rec["name"]; ok && name == nil {
		return nil, &store.ValidationError{Bucket: bucket}
	}
	if m.find(bucket, rec["id"]) >= 0 {
		return nil, &store.ErrKeyExists{Bucket: bucket, Key: rec["id"]}
	}
	rec["_version"] = 1.0
	m.buckets[bucket] = append(m.buckets[bucket], rec)
	return store.CloneValue(rec).(map[string]any), nil
}

func (m *memStore) Update(_ context.Context, bucket string, key any, data map[string]any) (map[string]any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.hook("update", bucket); err != nil {
		return nil, err
	}
	i := m.find(bucket, key)
	if i < 0 {
		return nil, &store.ErrRecordNotFound{Bucket: bucket, Key: key}
	}
	rec := store.CloneValue(m.buckets[bucket][i]).(map[string]any)
	for k, v := range data {
		rec[k] = store.CloneValue(v)
	}
	rec["_version"] = rec["_version"].(float64) + 1
	m.buckets[bucket][i] = rec
	return store.CloneValue(rec).(map[string]any), nil
}

func (m *memStore) Delete(_ context.Context, bucket string, key any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.hook("delete", bucket); err != nil {
		return err
	}
	if i := m.find(bucket, key); i >= 0 {
		m.buckets[bucket] = append(m.buckets[bucket][:i:i], m.buckets[bucket][i+1:]...)
	}
	return nil
}

func (m *memStore) Count(ctx context.Context, bucket string, filter map[string]any) (int, error) {
	all, err := m.Where(ctx, bucket, filter)
	return len(all), err
}

func (m *memStore) records(bucket string) []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buckets[bucket]
}

// memTx buffers on a copy of the store and swaps it in on commit.
type memTx struct {
	base      *memStore
	work      *memStore
	committed bool
	rolled    bool
	commitErr error
}

func (m *memStore) begin() *memTx {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := &memStore{buckets: map[string][]map[string]any{}, onOp: m.onOp}
	for b, recs := range m.buckets {
		w.buckets[b] = append([]map[string]any(nil), recs...)
	}
	return &memTx{base: m, work: w}
}

func (t *memTx) Get(ctx context.Context, b string, k any) (map[string]any, error) {
	return t.work.Get(ctx, b, k)
}
func (t *memTx) Where(ctx context.Context, b string, f map[string]any) ([]any, error) {
	return t.work.Where(ctx, b, f)
}
func (t *memTx) FindOne(ctx context.Context, b string, f map[string]any) (map[string]any, error) {
	return t.work.FindOne(ctx, b, f)
}
func (t *memTx) Insert(ctx context.Context, b string, d map[string]any) (map[string]any, error) {
	return t.work.Insert(ctx, b, d)
}
func (t *memTx) Update(ctx context.Context, b string, k any, d map[string]any) (map[string]any, error) {
	return t.work.Update(ctx, b, k, d)
}
func (t *memTx) Delete(ctx context.Context, b string, k any) error { return t.work.Delete(ctx, b, k) }
func (t *memTx) Count(ctx context.Context, b string, f map[string]any) (int, error) {
	return t.work.Count(ctx, b, f)
}
func (t *memTx) Commit() error {
	if t.commitErr != nil {
		return t.commitErr
	}
	t.base.mu.Lock()
	t.base.buckets = t.work.buckets
	t.base.mu.Unlock()
	t.committed = true
	return nil
}
func (t *memTx) Rollback() { t.rolled = true }

// memRules records what steps did to the rule engine.
type memRules struct {
	mu      sync.Mutex
	facts   map[string]any
	emitted []string
	fail    error
}

func newMemRules() *memRules { return &memRules{facts: map[string]any{}} }

func (r *memRules) Emit(_ context.Context, topic string, data map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	b, _ := json.Marshal(data)
	r.emitted = append(r.emitted, topic+" "+string(b))
	return nil
}

func (r *memRules) SetFact(_ context.Context, key string, value any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.facts[key] = value
	return nil
}

func (r *memRules) GetFact(_ context.Context, key string) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.facts[key], nil
}

// harness runs definitions against a memStore and memRules.
type harness struct {
	t      *testing.T
	st     *memStore
	rules  *memRules
	txs    []*memTx
	runner Runner
	authz  func(op, resource string) error
}

func newHarness(t *testing.T, buckets ...string) *harness {
	return &harness{t: t, st: newMemStore(buckets...), rules: newMemRules()}
}

func (h *harness) env() Env {
	return Env{
		Store: h.st,
		Begin: func() Tx {
			tx := h.st.begin()
			h.txs = append(h.txs, tx)
			return tx
		},
		Rules:     h.rules,
		Authorize: h.authz,
	}
}

func mustParse(t *testing.T, def string) *Definition {
	t.Helper()
	d, err := Parse(json.RawMessage(def), Limits{})
	if err != nil {
		t.Fatalf("Parse(%s): %v", def, err)
	}
	return d
}

// call runs def with input (JSON) and returns the answer as JSON.
func (h *harness) call(def, input string) (string, error) {
	h.t.Helper()
	d := mustParse(h.t, def)
	var in any
	if input != "" {
		var err error
		if in, err = store.DecodeJSON([]byte(input)); err != nil {
			h.t.Fatal(err)
		}
	}
	res, err := h.runner.Call(context.Background(), d, in, h.env())
	if err != nil {
		return "", err
	}
	b, err := res.AppendJSON(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b), nil
}

// canon re-encodes JSON with sorted keys so answers compare as text.
func canon(t *testing.T, s string) string {
	t.Helper()
	v, err := store.DecodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	b, err := store.AppendResult(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func stepErr(t *testing.T, err error) *StepError {
	t.Helper()
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want a *StepError", err, err)
	}
	return se
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
