package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Lookups (RULES.md §11): service calls resolved before a rule's
// conditions, optionally cached. They run one after another here (the
// reference runs them in parallel; the results are the same).

type lookupSpec struct {
	name     string
	service  string
	method   string
	args     []valueExpr
	ttl      time.Duration // 0: no cache
	failRule bool          // onError "fail"
}

func compileLookups(v any) ([]*lookupSpec, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("lookups must be an array")
	}
	out := make([]*lookupSpec, 0, len(list))
	for i, l := range list {
		m, ok := l.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("lookups[%d] must be an object", i)
		}
		s := &lookupSpec{}
		s.name, _ = m["name"].(string)
		s.service, _ = m["service"].(string)
		s.method, _ = m["method"].(string)
		args, _ := m["args"].([]any)
		for _, a := range args {
			s.args = append(s.args, compileValue(a))
		}
		if c, ok := m["cache"].(map[string]any); ok {
			d, err := ParseDuration(c["ttl"])
			if err != nil {
				return nil, fmt.Errorf("lookups[%d].cache.ttl: %w", i, err)
			}
			s.ttl = d
		}
		s.failRule = m["onError"] == "fail"
		out = append(out, s)
	}
	return out, nil
}

type lookupCacheEntry struct {
	value   any
	expires time.Time
}

// resolveLookups fills x.lookups. It reports false when the rule must not
// run: with onError "skip" silently, with "fail" with the error.
func (x *execCtx) resolveLookups(specs []*lookupSpec) (bool, error) {
	if len(specs) == 0 {
		return true, nil
	}
	x.lookups = make(map[string]any, len(specs))
	for _, s := range specs {
		v, err := x.lookup(s)
		if err != nil {
			if s.failRule {
				return false, fmt.Errorf("lookup %q failed: %w", s.name, err)
			}
			x.e.log.Debug("rules: lookup failed, rule skipped", "rule", x.rule.id, "lookup", s.name, "error", err.Error())
			return false, nil
		}
		x.lookups[s.name] = v
	}
	return true, nil
}

func (x *execCtx) lookup(s *lookupSpec) (any, error) {
	args := make([]any, len(s.args))
	for i, a := range s.args {
		v, err := a.eval(x)
		if err != nil {
			return nil, err
		}
		args[i] = orNull(v)
	}
	var key string
	if s.ttl > 0 {
		// Canonical JSON: encoding/json sorts object keys.
		b, err := json.Marshal(args)
		if err == nil {
			key = s.service + ":" + s.method + ":" + string(b)
			if c, ok := x.e.lookupCache[key]; ok && x.e.clock.Now().Before(c.expires) {
				return c.value, nil
			}
		}
	}
	v, err := x.e.callService(x.ctx, x.depth, s.service, s.method, args)
	if err != nil {
		return nil, err
	}
	if key != "" {
		if len(x.e.lookupCache) >= maxLookupCache {
			clear(x.e.lookupCache)
		}
		x.e.lookupCache[key] = lookupCacheEntry{value: v, expires: x.e.clock.Now().Add(s.ttl)}
	}
	return v, nil
}

// ServiceFunc is one method of a service, callable by call_service actions
// and lookups with the resolved arguments. The context carries the
// engine's processing state: calling the engine's mutating methods with it
// from the same goroutine, before returning, processes them inline (an
// emit becomes a nested event, subject to the forward-depth limit)
// instead of deadlocking.
type ServiceFunc func(ctx context.Context, args []any) (any, error)

// Service is a named set of methods (RULES.md §9 call_service; §19: the
// application's way to let rules write the store).
type Service map[string]ServiceFunc
