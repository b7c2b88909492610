package noex

import (
	"context"
	"fmt"
	"strings"

	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/store"
)

// The rules engine next to the store: its rules, facts, timers and groups
// persist through the store's durable commit log (meta entries), store
// changes reach it as events (RULES.md §19), and rules can write the store
// through call_service actions on the "store" service.

const (
	metaRule  = "rule:"
	metaFact  = "fact:"
	metaTimer = "timer:"
	metaGroup = "rulegroup:"
)

// rulesPersister implements rules.Persister and rules.GroupPersister over
// the store's meta entries; every call is a durable write. ctx is the
// context of the engine call that caused the change: a request's carries
// its audit entry (store.OptionsFrom), written in the same commit.
type rulesPersister struct{ st *store.Store }

var (
	_ rules.Persister      = rulesPersister{}
	_ rules.GroupPersister = rulesPersister{}
)

func (p rulesPersister) set(ctx context.Context, prefix, id string, v []byte) error {
	return p.st.SetMeta(prefix+id, v, store.OptionsFrom(ctx)...)
}

func (p rulesPersister) del(ctx context.Context, prefix, id string) error {
	_, err := p.st.DeleteMeta(prefix+id, store.OptionsFrom(ctx)...)
	return err
}

func (p rulesPersister) SaveRule(ctx context.Context, id string, def []byte) error {
	return p.set(ctx, metaRule, id, def)
}
func (p rulesPersister) DeleteRule(ctx context.Context, id string) error {
	return p.del(ctx, metaRule, id)
}
func (p rulesPersister) SaveFact(ctx context.Context, key string, value []byte) error {
	return p.set(ctx, metaFact, key, value)
}
func (p rulesPersister) DeleteFact(ctx context.Context, key string) error {
	return p.del(ctx, metaFact, key)
}
func (p rulesPersister) SaveTimer(ctx context.Context, name string, state []byte) error {
	return p.set(ctx, metaTimer, name, state)
}
func (p rulesPersister) DeleteTimer(ctx context.Context, name string) error {
	return p.del(ctx, metaTimer, name)
}
func (p rulesPersister) SaveGroup(ctx context.Context, id string, def []byte) error {
	return p.set(ctx, metaGroup, id, def)
}
func (p rulesPersister) DeleteGroup(ctx context.Context, id string) error {
	return p.del(ctx, metaGroup, id)
}

func rulesSnapshot(st *store.Store) *rules.Snapshot {
	load := func(prefix string) map[string][]byte {
		out := map[string][]byte{}
		for _, m := range st.MetaWithPrefix(prefix) {
			out[strings.TrimPrefix(m.Name, prefix)] = m.Value
		}
		return out
	}
	return &rules.Snapshot{Rules: load(metaRule), Groups: load(metaGroup), Facts: load(metaFact), Timers: load(metaTimer)}
}

// RulesRuntime is a rules engine wired to a store.
type RulesRuntime struct {
	Engine   *rules.Engine
	unbridge func()
}

// Stop disconnects the engine from the store and stops it.
func (r *RulesRuntime) Stop(ctx context.Context) error {
	r.unbridge()
	return r.Engine.Stop(ctx)
}

// OpenRules starts a rules engine whose state persists in st (restored
// from it now: a timer that came due while the server was down fires
// once), which receives st's record changes as events, and whose rules can
// call the "store" service (insert, update, delete, get). opts.Persister,
// opts.Restore and the "store" service are filled in.
func OpenRules(st *store.Store, opts rules.Options) (*RulesRuntime, error) {
	opts.Persister = rulesPersister{st: st}
	opts.Restore = rulesSnapshot(st)
	services := map[string]rules.Service{"store": storeRulesService(st)}
	for name, svc := range opts.Services {
		services[name] = svc
	}
	opts.Services = services
	eng, err := rules.New(opts)
	if err != nil {
		return nil, err
	}
	off := eng.Bridge(func(handler func(topic string, data map[string]any)) func() {
		return st.On("bucket.*", func(ev store.Event) {
			if identity.IsSystemBucket(ev.Bucket) {
				return // users, tokens and grants never reach rules or their subscribers
			}
			handler(ev.Topic(), rules.StoreEventData(ev.Type, ev.Bucket, ev.Key, ev.Record, ev.OldRecord, ev.NewRecord))
		})
	}, rules.BridgeOptions{})
	return &RulesRuntime{Engine: eng, unbridge: off}, nil
}

// storeRulesService lets rules write the store: call_service with service
// "store" and method insert(bucket, data), update(bucket, key, changes),
// delete(bucket, key) or get(bucket, key).
func storeRulesService(st *store.Store) rules.Service {
	bucketArg := func(args []any, n int) (string, error) {
		if len(args) < n {
			return "", fmt.Errorf("store service: expected %d arguments, got %d", n, len(args))
		}
		b, ok := args[0].(string)
		if !ok || b == "" {
			return "", fmt.Errorf("store service: the first argument must be a bucket name")
		}
		if identity.IsSystemBucket(b) {
			return "", fmt.Errorf("store service: system bucket %q is not accessible", b)
		}
		return b, nil
	}
	record := func(v any) (store.Record, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("store service: expected an object")
		}
		return m, nil
	}
	return rules.Service{
		"insert": func(_ context.Context, args []any) (any, error) {
			b, err := bucketArg(args, 2)
			if err != nil {
				return nil, err
			}
			data, err := record(args[1])
			if err != nil {
				return nil, err
			}
			return st.Insert(b, data)
		},
		"update": func(_ context.Context, args []any) (any, error) {
			b, err := bucketArg(args, 3)
			if err != nil {
				return nil, err
			}
			data, err := record(args[2])
			if err != nil {
				return nil, err
			}
			return st.Update(b, args[1], data)
		},
		"delete": func(_ context.Context, args []any) (any, error) {
			b, err := bucketArg(args, 2)
			if err != nil {
				return nil, err
			}
			return nil, st.Delete(b, args[1])
		},
		"get": func(_ context.Context, args []any) (any, error) {
			b, err := bucketArg(args, 2)
			if err != nil {
				return nil, err
			}
			d, err := st.Get(b, args[1])
			if err != nil {
				return nil, err
			}
			return d.Record(), nil
		},
	}
}
