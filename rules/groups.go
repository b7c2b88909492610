package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Group is a rule group (RULES.md §12.3): a disabled group deactivates
// its rules. Not reachable over the wire; a rule's "group" must name an
// existing group at registration.
type Group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	CreatedAt   int64  `json:"createdAt"`
	UpdatedAt   int64  `json:"updatedAt"`
}

// GroupInput creates or updates a group; nil fields are left as they are
// (Enabled defaults to true on creation).
type GroupInput struct {
	ID          string
	Name        *string
	Description *string
	Enabled     *bool
}

// CreateGroup adds a group; a duplicate id is a *ValidationError (as the
// reference's RuleValidationError).
func (e *Engine) CreateGroup(ctx context.Context, in GroupInput) (Group, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return Group{}, err
	}
	if top {
		defer e.release()
	}
	if strings.TrimSpace(in.ID) == "" {
		return Group{}, &ValidationError{Message: "Group id is required",
			Issues: []Issue{{Path: "id", Message: "Group id is required", Severity: "error"}}}
	}
	if _, ok := e.groups[in.ID]; ok {
		msg := fmt.Sprintf("Group %q already exists", in.ID)
		return Group{}, &ValidationError{Message: msg, Issues: []Issue{{Path: "id", Message: msg, Severity: "error"}}}
	}
	now := e.nowMs()
	g := Group{ID: in.ID, Name: in.ID, Enabled: true, CreatedAt: now, UpdatedAt: now}
	applyGroupInput(&g, in)
	if err := e.saveGroup(persistCtx(ctx, top), &g); err != nil {
		return Group{}, err
	}
	e.mu.Lock()
	e.groups[g.ID] = &g
	e.mu.Unlock()
	return g, nil
}

func applyGroupInput(g *Group, in GroupInput) {
	if in.Name != nil {
		g.Name = *in.Name
	}
	if in.Description != nil {
		g.Description = *in.Description
	}
	if in.Enabled != nil {
		g.Enabled = *in.Enabled
	}
}

// UpdateGroup changes name, description or enabled.
func (e *Engine) UpdateGroup(ctx context.Context, in GroupInput) (Group, error) {
	_, top, err := e.enter(ctx)
	if err != nil {
		return Group{}, err
	}
	if top {
		defer e.release()
	}
	old, ok := e.groups[in.ID]
	if !ok {
		return Group{}, groupNotFound(in.ID)
	}
	g := *old
	applyGroupInput(&g, in)
	g.UpdatedAt = e.nowMs()
	if err := e.saveGroup(persistCtx(ctx, top), &g); err != nil {
		return Group{}, err
	}
	e.mu.Lock()
	e.groups[g.ID] = &g
	e.mu.Unlock()
	return g, nil
}

// EnableGroup and DisableGroup switch a group's rules on and off.
func (e *Engine) EnableGroup(ctx context.Context, id string) (Group, error) {
	t := true
	return e.UpdateGroup(ctx, GroupInput{ID: id, Enabled: &t})
}

// DisableGroup deactivates every rule of the group.
func (e *Engine) DisableGroup(ctx context.Context, id string) (Group, error) {
	f := false
	return e.UpdateGroup(ctx, GroupInput{ID: id, Enabled: &f})
}

// DeleteGroup removes a group; its rules become ungrouped (their
// definitions lose "group", version unchanged).
func (e *Engine) DeleteGroup(ctx context.Context, id string) error {
	_, top, err := e.enter(ctx)
	if err != nil {
		return err
	}
	if top {
		defer e.release()
	}
	if _, ok := e.groups[id]; !ok {
		return groupNotFound(id)
	}
	pctx := persistCtx(ctx, top)
	for _, r := range e.rulesInOrder() {
		if r.group != id {
			continue
		}
		def := cloneDef(r.rule.def)
		delete(def, "group")
		nr := newRule(def, r.rule.Version, r.rule.CreatedAt, e.nowMs())
		if err := e.saveRule(pctx, nr); err != nil {
			return err
		}
		e.mu.Lock()
		r.rule, r.group = nr, ""
		e.mu.Unlock()
	}
	if e.groupsP != nil {
		if err := e.groupsP.DeleteGroup(pctx, id); err != nil {
			return fmt.Errorf("persist group %q: %w", id, err)
		}
	}
	e.mu.Lock()
	delete(e.groups, id)
	e.mu.Unlock()
	return nil
}

// GetGroup returns a group.
func (e *Engine) GetGroup(id string) (Group, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if g, ok := e.groups[id]; ok {
		return *g, true
	}
	return Group{}, false
}

// Groups lists the groups by creation time.
func (e *Engine) Groups() []Group {
	e.mu.RLock()
	out := make([]Group, 0, len(e.groups))
	for _, g := range e.groups {
		out = append(out, *g)
	}
	e.mu.RUnlock()
	slices.SortFunc(out, func(a, b Group) int {
		if c := cmpInt(a.CreatedAt, b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// GroupRules lists the rules of a group in registration order.
func (e *Engine) GroupRules(id string) []*Rule {
	var out []*Rule
	for _, r := range e.GetRules() {
		if r.Group == id {
			out = append(out, r)
		}
	}
	return out
}

func (e *Engine) saveGroup(ctx context.Context, g *Group) error {
	if e.groupsP == nil {
		return nil
	}
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if err := e.groupsP.SaveGroup(ctx, g.ID, b); err != nil {
		return fmt.Errorf("persist group %q: %w", g.ID, err)
	}
	return nil
}
