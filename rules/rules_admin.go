package rules

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// Rule administration (RULES.md §12).

// RegisterRule validates and registers a rule definition (decoded JSON).
// A rule id already in use is an *AlreadyExistsError (the reference server
// refuses duplicates up front); an invalid definition or a group that
// does not exist is a *ValidationError. Warnings never block.
func (e *Engine) RegisterRule(ctx context.Context, def map[string]any) (*Rule, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	if top {
		defer e.release()
	}
	if id, ok := def["id"].(string); ok {
		if _, exists := e.rules[id]; exists {
			return nil, &AlreadyExistsError{Kind: "rule", ID: id}
		}
	}
	d, err := e.checkDefinition(def)
	if err != nil {
		return nil, err
	}
	now := e.nowMs()
	return e.install(persistCtx(ctx, top), newRule(d, e.nextVersion, now, now), nil)
}

// UpdateRule overlays updates on the stored definition (shallow merge:
// top-level keys replace wholesale; id cannot change), validates the
// result and re-registers it with a new version. createdAt is kept (a
// documented deviation: the reference resets it). An unknown id is a
// *NotFoundError with the reference's message "Rule '<id>' not found".
func (e *Engine) UpdateRule(ctx context.Context, id string, updates map[string]any) (*Rule, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	if top {
		defer e.release()
	}
	old, ok := e.rules[id]
	if !ok {
		return nil, ruleNotFoundForUpdate(id)
	}
	merged := cloneDef(old.rule.def)
	for k, v := range updates {
		merged[k] = v
	}
	merged["id"] = id
	for _, k := range metaKeys {
		delete(merged, k)
	}
	d, err := e.checkDefinition(merged)
	if err != nil {
		return nil, err
	}
	return e.install(persistCtx(ctx, top), newRule(d, e.nextVersion, old.rule.CreatedAt, e.nowMs()), old)
}

// checkDefinition validates a definition, applies the defaults and checks
// its group.
func (e *Engine) checkDefinition(def map[string]any) (map[string]any, error) {
	if res := Validate(def); !res.Valid {
		return nil, &ValidationError{Message: ValidationFailed, Issues: res.Errors}
	}
	d := withDefaults(def)
	if g, ok := d["group"].(string); ok {
		if _, exists := e.groups[g]; !exists {
			msg := fmt.Sprintf("Rule references non-existent group: %q", g)
			return nil, &ValidationError{Message: msg, Issues: []Issue{{Path: "group", Message: msg, Severity: "error"}}}
		}
	}
	return d, nil
}

// install compiles, persists (with ctx) and indexes a rule, replacing old
// (serial held). A replaced rule moves to the end of the registration
// order, as re-registration does in the reference.
func (e *Engine) install(ctx context.Context, r *Rule, old *compiledRule) (*Rule, error) {
	c, err := compileRule(r)
	if err != nil {
		return nil, err
	}
	if err := e.saveRule(ctx, r); err != nil {
		return nil, err
	}
	e.mu.Lock()
	if old != nil {
		e.idx.remove(old)
		if old.temporal != nil {
			old.temporal.stop()
		}
	}
	e.nextVersion++
	e.rules[r.ID] = c
	e.idx.add(c)
	e.mu.Unlock()
	return r, nil
}

// UnregisterRule removes a rule; it affects only future triggers. An
// unknown id is a *NotFoundError.
func (e *Engine) UnregisterRule(ctx context.Context, id string) error {
	_, top, err := e.enter(ctx)
	if err != nil {
		return err
	}
	if top {
		defer e.release()
	}
	c, ok := e.rules[id]
	if !ok {
		return ruleNotFound(id)
	}
	if err := e.deleteRule(persistCtx(ctx, top), id); err != nil {
		return err
	}
	e.mu.Lock()
	delete(e.rules, id)
	e.idx.remove(c)
	e.mu.Unlock()
	if c.temporal != nil {
		c.temporal.stop()
	}
	return nil
}

// EnableRule enables a rule (bumping updatedAt, not the version); enabling
// an enabled rule succeeds. An unknown id is a *NotFoundError.
func (e *Engine) EnableRule(ctx context.Context, id string) (*Rule, error) {
	return e.setEnabled(ctx, id, true)
}

// DisableRule disables a rule; see EnableRule.
func (e *Engine) DisableRule(ctx context.Context, id string) (*Rule, error) {
	return e.setEnabled(ctx, id, false)
}

func (e *Engine) setEnabled(ctx context.Context, id string, on bool) (*Rule, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return nil, err
	}
	if top {
		defer e.release()
	}
	c, ok := e.rules[id]
	if !ok {
		return nil, ruleNotFound(id)
	}
	def := cloneDef(c.rule.def)
	def["enabled"] = on
	r := newRule(def, c.rule.Version, c.rule.CreatedAt, e.nowMs())
	if err := e.saveRule(persistCtx(ctx, top), r); err != nil {
		return nil, err
	}
	e.mu.Lock()
	c.rule, c.enabled = r, on
	e.mu.Unlock()
	return r, nil
}

// GetRule returns a rule.
func (e *Engine) GetRule(id string) (*Rule, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if c, ok := e.rules[id]; ok {
		return c.rule, true
	}
	return nil, false
}

// GetRules returns every rule in registration order.
func (e *Engine) GetRules() []*Rule {
	e.mu.RLock()
	list := e.rulesInOrder()
	e.mu.RUnlock()
	out := make([]*Rule, len(list))
	for i, c := range list {
		out[i] = c.rule
	}
	return out
}

// ValidateRule is Validate: a dry run that never registers anything and
// does not check groups.
func (e *Engine) ValidateRule(input any) ValidationResult { return Validate(input) }

// rulesInOrder lists the compiled rules by version (mu or serial held).
func (e *Engine) rulesInOrder() []*compiledRule {
	out := make([]*compiledRule, 0, len(e.rules))
	for _, c := range e.rules {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *compiledRule) int { return cmpInt(a.seq, b.seq) })
	return out
}

// cloneDef copies a definition's top level; nested values are shared and
// never changed in place.
func cloneDef(def map[string]any) map[string]any { return maps.Clone(def) }
