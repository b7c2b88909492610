package noex

import (
	"context"
	"encoding/json"
	"math"

	"github.com/noex-go/noex/audit"
	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// The audit log (PROTOCOL.md §7.1): the request pipeline opens an entry
// for every request whose operation tier is recorded, hands its store
// annex to the services through the request context (so a change and its
// entry commit together), and finishes it once the answer is queued.

// auditOperations are the operations of the audit namespace.
var auditOperations = []string{"audit.query"}

// changesIdentity lists the audited operations that bind or unbind the
// connection: their entries name the identity the request left behind,
// so they are written after the request, not with its change.
var changesIdentity = map[string]bool{
	"identity.login": true, "identity.loginWithSecret": true, "identity.logout": true,
}

// auditBegin opens the entry of req, or returns nil when it is not
// recorded; ctx is what the services receive.
func (srv *Server) auditBegin(s *Session, req *Request) (*audit.Pending, context.Context) {
	l := srv.audit
	if l == nil || !l.Records(req.Type) {
		return nil, srv.ctx
	}
	base := audit.Entry{
		SessionID:     s.idStr,
		Operation:     req.Type,
		Resource:      audit.Resource(req.Fields),
		Details:       audit.Details(req.Type, req.Fields),
		RemoteAddress: s.remoteAddr,
	}
	if a := s.Auth(); a != nil {
		uid := a.UserID
		base.UserID = &uid
	}
	p := l.Begin(base, changesIdentity[req.Type])
	if p.Annex() == nil {
		return p, srv.ctx
	}
	return p, store.ContextWithAnnex(srv.ctx, p.Annex())
}

// auditFinish records the outcome of an answered request.
func (s *Session) auditFinish(p *audit.Pending, err error) {
	var uid *string
	if a := s.Auth(); a != nil {
		id := a.UserID
		uid = &id
	}
	msg := ""
	if err != nil {
		msg = wire.AsError(err).Message
	}
	p.Finish(uid, msg)
}

type auditService struct{ log *audit.Log }

func (as auditService) Handle(_ context.Context, _ *Session, req *Request) (any, error) {
	if req.Type != "audit.query" {
		return nil, UnknownOperation(NamespaceAudit, req.Type)
	}
	f, err := parseAuditFilter(req.Fields)
	if err != nil {
		return nil, err
	}
	return map[string]any{"entries": as.log.Query(f)}, nil
}

// parseAuditFilter checks audit.query's fields (§7.1): a key present with
// null is a type error; only absent keys do not filter.
func parseAuditFilter(fields map[string]json.RawMessage) (audit.Filter, error) {
	var f audit.Filter
	invalid := func(msg string) (audit.Filter, error) {
		return audit.Filter{}, wire.NewError(wire.CodeValidation, msg)
	}
	str := func(key string) (*string, bool) {
		raw, ok := fields[key]
		if !ok {
			return nil, true
		}
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return &s, true
	}
	num := func(key string) (*float64, bool) {
		raw, ok := fields[key]
		if !ok {
			return nil, true
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return nil, false
		}
		n, isNum := v.(float64)
		if !isNum {
			return nil, false
		}
		return &n, true
	}
	var ok bool
	if f.UserID, ok = str("userId"); !ok {
		return invalid(`Invalid "userId": expected string`)
	}
	if f.Operation, ok = str("operation"); !ok {
		return invalid(`Invalid "operation": expected string`)
	}
	if f.Result, ok = str("result"); !ok || (f.Result != nil && *f.Result != audit.Success && *f.Result != audit.Failure) {
		return invalid(`Invalid "result": expected "success" or "error"`)
	}
	from, ok := num("from")
	if !ok {
		return invalid(`Invalid "from": expected number`)
	}
	to, ok := num("to")
	if !ok {
		return invalid(`Invalid "to": expected number`)
	}
	limit, ok := num("limit")
	if !ok || (limit != nil && (*limit < 1 || *limit != math.Trunc(*limit) || *limit > math.MaxInt32)) {
		return invalid(`Invalid "limit": expected positive integer`)
	}
	if from != nil {
		v := int64(math.Ceil(*from))
		f.From = &v
	}
	if to != nil {
		v := int64(math.Floor(*to))
		f.To = &v
	}
	if limit != nil {
		f.Limit = int(*limit)
	}
	return f, nil
}
