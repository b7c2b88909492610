package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Persister makes rules, facts and pending timers durable. The engine
// calls it on every change, with the processing lock held (so calls for one
// engine never overlap and arrive in the order of the changes), and before
// the change takes effect: when a call fails, the change is abandoned and
// the error returned to the caller (for an action: the action fails).
//
// The bytes are opaque to the implementation; hand them back unchanged in
// a Snapshot. A Save replaces whatever was saved under the same id, key or
// name. Implementations must not call back into the engine.
//
// ctx is the context of the call that caused the change, as its caller
// passed it (RegisterRule, SetFact, SetTimer, CreateGroup, ...), so that
// a write can carry what the caller's context carries (the server attaches
// a request's audit entry this way). A change caused by the engine itself
// — an action of a firing rule, a call a service makes back into the
// engine while a rule runs, a timer firing — gets context.Background().
type Persister interface {
	SaveRule(ctx context.Context, id string, def []byte) error
	DeleteRule(ctx context.Context, id string) error
	SaveFact(ctx context.Context, key string, value []byte) error
	DeleteFact(ctx context.Context, key string) error
	SaveTimer(ctx context.Context, name string, state []byte) error
	DeleteTimer(ctx context.Context, name string) error
}

// GroupPersister is implemented by a Persister that also keeps rule groups
// (RULES.md §12.3); without it groups live in memory only. ctx is as for
// Persister.
type GroupPersister interface {
	SaveGroup(ctx context.Context, id string, def []byte) error
	DeleteGroup(ctx context.Context, id string) error
}

// persistCtx is the context the Persister gets for a mutating call made
// with ctx: ctx itself for a top-level call (one that took the processing
// lock), context.Background() for one made inline while a rule runs.
func persistCtx(ctx context.Context, top bool) context.Context {
	if !top || ctx == nil {
		return context.Background()
	}
	return ctx
}

// ruleCtx is what the Persister gets for a change made by an action of a
// firing rule: the change was not made by the call whose trigger fired it.
var ruleCtx = context.Background()

// Snapshot is the persisted state an engine starts from (Options.Restore):
// the last bytes saved under each id, key and name, deletions applied.
// Rules come back in registration order, facts in insertion order (both
// are recorded inside the bytes), timers rescheduled with their remaining
// time; a timer that came due meanwhile fires once, as soon as possible.
type Snapshot struct {
	Rules  map[string][]byte
	Groups map[string][]byte
	Facts  map[string][]byte
	Timers map[string][]byte
}

// persistedFact is a fact plus its insertion order.
type persistedFact struct {
	Fact
	Seq uint64 `json:"seq"`
}

func encodeFact(f Fact, seq uint64) ([]byte, error) {
	return json.Marshal(persistedFact{Fact: f, Seq: seq})
}

func (e *Engine) saveRule(ctx context.Context, r *Rule) error {
	if e.persister == nil {
		return nil
	}
	b, err := r.MarshalJSON()
	if err != nil {
		return err
	}
	if err := e.persister.SaveRule(ctx, r.ID, b); err != nil {
		return fmt.Errorf("persist rule %q: %w", r.ID, err)
	}
	return nil
}

func (e *Engine) deleteRule(ctx context.Context, id string) error {
	if e.persister == nil {
		return nil
	}
	if err := e.persister.DeleteRule(ctx, id); err != nil {
		return fmt.Errorf("persist rule %q: %w", id, err)
	}
	return nil
}

func (e *Engine) saveTimer(ctx context.Context, t *Timer) error {
	if e.persister == nil {
		return nil
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := e.persister.SaveTimer(ctx, t.Name, b); err != nil {
		return fmt.Errorf("persist timer %q: %w", t.Name, err)
	}
	return nil
}

func (e *Engine) deleteTimer(ctx context.Context, name string) error {
	if e.persister == nil {
		return nil
	}
	if err := e.persister.DeleteTimer(ctx, name); err != nil {
		return fmt.Errorf("persist timer %q: %w", name, err)
	}
	return nil
}

// restore loads a snapshot into a new engine. Rules are loaded without
// validation (as the reference does); a rule that cannot even be compiled
// is logged and left out.
func (e *Engine) restore(s *Snapshot) error {
	for id, b := range s.Groups {
		var g Group
		if err := json.Unmarshal(b, &g); err != nil {
			return fmt.Errorf("restore group %q: %w", id, err)
		}
		e.groups[g.ID] = &g
	}

	rules := make([]*Rule, 0, len(s.Rules))
	for id, b := range s.Rules {
		var def map[string]any
		if err := json.Unmarshal(b, &def); err != nil {
			return fmt.Errorf("restore rule %q: %w", id, err)
		}
		version, _ := toNumber(def["version"])
		created, _ := toNumber(def["createdAt"])
		updated, _ := toNumber(def["updatedAt"])
		rules = append(rules, newRule(withDefaults(def), int64(version), int64(created), int64(updated)))
	}
	slices.SortFunc(rules, func(a, b *Rule) int { return cmpInt(a.Version, b.Version) })
	for _, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			e.log.Error("rules: restored rule cannot be compiled, skipped", "engine", e.name, "rule", r.ID, "error", err.Error())
			continue
		}
		e.rules[r.ID] = c
		e.idx.add(c)
		if r.Version >= e.nextVersion {
			e.nextVersion = r.Version + 1
		}
	}

	facts := make([]persistedFact, 0, len(s.Facts))
	for key, b := range s.Facts {
		var f persistedFact
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("restore fact %q: %w", key, err)
		}
		facts = append(facts, f)
	}
	slices.SortFunc(facts, func(a, b persistedFact) int { return cmpInt(a.Seq, b.Seq) })
	for _, f := range facts {
		e.facts.put(f.Fact, f.Seq)
	}

	// Decode every timer before scheduling any, so a failed restore leaves
	// nothing running.
	var entries []*timerEntry
	for name, b := range s.Timers {
		var t Timer
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("restore timer %q: %w", name, err)
		}
		ent := &timerEntry{t: t}
		if t.Cron != "" {
			spec, err := parseCron(t.Cron)
			if err != nil {
				e.log.Error("rules: restored timer has an invalid cron expression, dropped", "timer", name, "error", err.Error())
				continue
			}
			ent.cron = spec
		}
		entries = append(entries, ent)
	}
	now := e.clock.Now()
	for _, ent := range entries {
		delay := time.UnixMilli(ent.t.ExpiresAt).Sub(now)
		if delay < 0 {
			delay = immediately // came due while down: fire once
		}
		e.timerGen++
		ent.gen = e.timerGen
		e.timers[ent.t.Name] = ent
		e.schedule(ent, delay)
	}
	return nil
}

func cmpInt[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
