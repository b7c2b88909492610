package noex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/rules"
)

// rulesService serves the rules.* namespace (PROTOCOL.md §5) and rules
// event subscriptions (§3.5) over a *rules.Engine.
type rulesService struct {
	eng   *rules.Engine
	conns sync.Map // *Session → *ruleSubs
	// hideInternal keeps the engine's own text of unexpected failures
	// from clients (exposeErrorDetails = false).
	hideInternal bool
}

var rulesOperations = []string{
	"rules.emit", "rules.setFact", "rules.getFact", "rules.deleteFact", "rules.queryFacts",
	"rules.getAllFacts", "rules.subscribe", "rules.unsubscribe", "rules.stats", "rules.registerRule",
	"rules.unregisterRule", "rules.updateRule", "rules.enableRule", "rules.disableRule",
	"rules.getRule", "rules.getRules", "rules.validateRule",
}

// Stats contributes the rules object of server.stats.
func (rs *rulesService) Stats() any { return rs.eng.Stats() }

// ruleSubs are one connection's rules subscriptions.
type ruleSubs struct {
	mu     sync.Mutex
	byID   map[string]func() // id → unsubscribe from the engine
	closed bool
}

func (rs *rulesService) Handle(ctx context.Context, s *Session, req *Request) (any, error) {
	data, err := rs.handle(ctx, s, req)
	if err != nil {
		return nil, rulesError(err, rs.hideInternal)
	}
	return data, nil
}

func decodeObjectField(raw json.RawMessage) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

var knownRulesOp = operationSet(rulesOperations)

func (rs *rulesService) handle(ctx context.Context, s *Session, req *Request) (any, error) {
	f := req.Fields
	if !knownRulesOp[req.Type] {
		return nil, UnknownOperation(NamespaceRules, req.Type)
	}
	if !rs.eng.Running() {
		return nil, &rules.NotRunningError{Name: rs.eng.Name()}
	}
	switch req.Type {
	case "rules.emit":
		topic, werr := wire.RequireString(f, "topic")
		if werr != nil {
			return nil, werr
		}
		data := map[string]any{}
		if raw := f["data"]; !wire.IsNull(raw) {
			if !wire.IsObject(raw) {
				return nil, wire.NewError(wire.CodeValidation, `Invalid "data": expected object`)
			}
			m, err := decodeObjectField(raw)
			if err != nil {
				return nil, wire.NewError(wire.CodeValidation, `Invalid "data": expected object`)
			}
			data = m
		}
		if raw := f["correlationId"]; !wire.IsNull(raw) {
			corr, ok := wire.NonEmptyString(raw)
			if !ok {
				return nil, wire.NewError(wire.CodeValidation, `Invalid "correlationId": expected non-empty string`)
			}
			// causationId is passed through unchecked; the engine keeps
			// strings, so other values are written as their JSON text.
			var causation string
			if raw := f["causationId"]; !wire.IsNull(raw) {
				if err := json.Unmarshal(raw, &causation); err != nil {
					causation = string(raw)
				}
			}
			return rs.eng.EmitCorrelated(ctx, topic, data, corr, causation)
		}
		return rs.eng.Emit(ctx, topic, data)
	case "rules.setFact":
		key, werr := wire.RequireString(f, "key")
		if werr != nil {
			return nil, werr
		}
		raw, ok := f["value"]
		if !ok {
			return nil, wire.NewError(wire.CodeValidation, `Missing "value": expected a value`)
		}
		var value any
		if err := json.Unmarshal(raw, &value); err != nil {
			return nil, wire.NewError(wire.CodeValidation, `Missing "value": expected a value`)
		}
		return rs.eng.SetFact(ctx, key, value)
	case "rules.getFact":
		key, werr := wire.RequireString(f, "key")
		if werr != nil {
			return nil, werr
		}
		v, _ := rs.eng.GetFact(key)
		return v, nil
	case "rules.deleteFact":
		key, werr := wire.RequireString(f, "key")
		if werr != nil {
			return nil, werr
		}
		deleted, err := rs.eng.DeleteFact(ctx, key)
		if err != nil {
			return nil, err
		}
		return map[string]bool{"deleted": deleted}, nil
	case "rules.queryFacts":
		pattern, werr := wire.RequireString(f, "pattern")
		if werr != nil {
			return nil, werr
		}
		return rs.eng.QueryFacts(pattern), nil
	case "rules.getAllFacts":
		facts := rs.eng.GetAllFacts()
		if facts == nil {
			facts = []rules.Fact{}
		}
		return facts, nil
	case "rules.stats":
		return rs.eng.Stats(), nil
	case "rules.subscribe":
		return rs.subscribe(s, req)
	case "rules.unsubscribe":
		id, werr := wire.RequireString(f, "subscriptionId")
		if werr != nil {
			return nil, werr
		}
		var off func()
		if v, ok := rs.conns.Load(s); ok {
			cs := v.(*ruleSubs)
			cs.mu.Lock()
			off = cs.byID[id]
			delete(cs.byID, id)
			cs.mu.Unlock()
		}
		if off == nil {
			return nil, wire.Errorf(wire.CodeNotFound, "Subscription %q not found", id)
		}
		off()
		s.ForgetSubscription(id)
		s.ReleaseSubscription(RulesSubscription)
		return map[string]bool{"unsubscribed": true}, nil
	case "rules.registerRule", "rules.validateRule":
		raw, werr := wire.RequireObject(f, "rule")
		if werr != nil {
			return nil, werr
		}
		def, err := decodeObjectField(raw)
		if err != nil {
			return nil, wire.NewError(wire.CodeValidation, `Missing or invalid "rule": expected object`)
		}
		if req.Type == "rules.validateRule" {
			return rs.eng.ValidateRule(def), nil
		}
		r, err := rs.eng.RegisterRule(ctx, def)
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": r.ID, "name": r.Name, "version": r.Version, "createdAt": r.CreatedAt, "updatedAt": r.UpdatedAt}, nil
	case "rules.getRules":
		list := rs.eng.GetRules()
		out := make([]rules.RuleSummary, len(list))
		for i, r := range list {
			out[i] = r.Summary()
		}
		return map[string]any{"rules": out}, nil
	}
	id, werr := wire.RequireString(f, "ruleId")
	if werr != nil {
		return nil, werr
	}
	switch req.Type {
	case "rules.unregisterRule":
		if err := rs.eng.UnregisterRule(ctx, id); err != nil {
			return nil, err
		}
		return map[string]any{"ruleId": id, "unregistered": true}, nil
	case "rules.updateRule":
		raw, werr := wire.RequireObject(f, "updates")
		if werr != nil {
			return nil, werr
		}
		updates, err := decodeObjectField(raw)
		if err != nil {
			return nil, wire.NewError(wire.CodeValidation, `Missing or invalid "updates": expected object`)
		}
		r, err := rs.eng.UpdateRule(ctx, id, updates)
		if err != nil {
			return nil, err
		}
		return map[string]any{"id": r.ID, "version": r.Version, "updatedAt": r.UpdatedAt}, nil
	case "rules.enableRule":
		if _, err := rs.eng.EnableRule(ctx, id); err != nil {
			return nil, err
		}
		return map[string]any{"ruleId": id, "enabled": true}, nil
	case "rules.disableRule":
		if _, err := rs.eng.DisableRule(ctx, id); err != nil {
			return nil, err
		}
		return map[string]any{"ruleId": id, "enabled": false}, nil
	case "rules.getRule":
		r, ok := rs.eng.GetRule(id)
		if !ok {
			return nil, wire.Errorf(wire.CodeNotFound, "Rule %q not found", id)
		}
		return r, nil
	}
	return nil, UnknownOperation(NamespaceRules, req.Type)
}

// subscribe registers a rules event subscription (§3.5). Pushes for a
// client's own rules.emit are queued before that request's result, as the
// engine notifies subscribers before Emit returns.
func (rs *rulesService) subscribe(s *Session, req *Request) (any, error) {
	if werr := s.ReserveSubscription(RulesSubscription); werr != nil {
		return nil, werr
	}
	pattern, werr := wire.RequireString(req.Fields, "pattern")
	if werr != nil {
		s.ReleaseSubscription(RulesSubscription)
		return nil, werr
	}
	id := s.srv.NextSubscriptionID()
	off := rs.eng.Subscribe(pattern, func(ev *rules.Event) {
		body, err := json.Marshal(map[string]any{"topic": ev.Topic, "event": ev})
		if err != nil {
			return
		}
		s.PushEvent(id, wire.EncodePush(wire.ChannelEvent, id, body))
	})
	cs := rs.conn(s)
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		off()
		s.ReleaseSubscription(RulesSubscription)
		return nil, errors.New("connection closed")
	}
	cs.byID[id] = off
	cs.mu.Unlock()
	return map[string]string{"subscriptionId": id}, nil
}

func (rs *rulesService) conn(s *Session) *ruleSubs {
	if v, ok := rs.conns.Load(s); ok {
		return v.(*ruleSubs)
	}
	cs := &ruleSubs{byID: make(map[string]func())}
	if v, loaded := rs.conns.LoadOrStore(s, cs); loaded {
		return v.(*ruleSubs)
	}
	s.OnClose(func() {
		cs.mu.Lock()
		cs.closed = true
		offs := cs.byID
		cs.byID = nil
		cs.mu.Unlock()
		rs.conns.Delete(s)
		for _, off := range offs {
			off()
			s.ReleaseSubscription(RulesSubscription)
		}
	})
	return cs
}

// rulesError maps an engine failure to its protocol error (PROTOCOL.md
// §5.1, COMPATIBILITY.md P§11 #15).
func rulesError(err error, hideInternal bool) error {
	var (
		we  *wire.Error
		nf  *rules.NotFoundError
		ex  *rules.AlreadyExistsError
		val *rules.ValidationError
		nr  *rules.NotRunningError
	)
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &nf):
		return wire.NewError(wire.CodeNotFound, nf.Error())
	case errors.As(err, &ex):
		return wire.NewError(wire.CodeAlreadyExists, ex.Error())
	case errors.As(err, &val):
		issues := val.Issues
		if issues == nil {
			issues = []rules.Issue{}
		}
		return &wire.Error{Code: wire.CodeValidation, Message: val.Error(), Details: issues}
	case errors.As(err, &nr):
		return wire.NewError(wire.CodeRulesNotAvailable, nr.Error())
	}
	// Anything else carries the engine's own message, as the reference
	// does, unless internal details are hidden.
	if hideInternal {
		return err // becomes INTERNAL_ERROR "Internal server error"
	}
	return wire.NewError(wire.CodeInternal, fmt.Sprint(err))
}
