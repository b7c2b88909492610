package noex

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/noex-go/noex/internal/wire"
)

// Request is one validated request as a service receives it.
type Request struct {
	ID   wire.ID
	Type string
	// Fields holds every top-level key of the request frame, undecoded.
	Fields map[string]json.RawMessage

	afterReply []func()
}

// AfterReply registers fn to run once the request's answer has been
// queued on the connection, before the next request is read: a
// subscription starts delivering there, so no push overtakes the result
// that announced it.
func (r *Request) AfterReply(fn func()) { r.afterReply = append(r.afterReply, fn) }

// Service handles the operations of one namespace. It returns the result
// data (wire.Absent to omit it) or an error; a *wire.Error reaches the
// client as is, anything else becomes INTERNAL_ERROR.
type Service interface {
	Handle(ctx context.Context, s *Session, req *Request) (any, error)
}

// ServiceFunc adapts a function to Service.
type ServiceFunc func(ctx context.Context, s *Session, req *Request) (any, error)

// Handle calls f.
func (f ServiceFunc) Handle(ctx context.Context, s *Session, req *Request) (any, error) {
	return f(ctx, s, req)
}

// namespace is one entry of the dispatch table of PROTOCOL.md §1.12.
type namespace struct {
	prefix string // "store." …
	word   string // used in "Unknown <word> operation"
	// service handles the namespace; nil means the feature is not
	// available and every request gets unavailable.
	service     Service
	unavailable *wire.Error
}

// Namespaces in the order §1.12 checks them.
const (
	NamespaceStore      = "store"
	NamespaceRules      = "rules"
	NamespaceIdentity   = "identity"
	NamespaceAuth       = "auth"
	NamespaceAudit      = "audit"
	NamespaceProcedures = "procedures"
	NamespaceServer     = "server"
)

func defaultNamespaces() []*namespace {
	return []*namespace{
		// The store is always available; until it is plugged in, every
		// store operation is unknown.
		{prefix: "store.", word: NamespaceStore},
		{prefix: "rules.", word: NamespaceRules,
			unavailable: wire.NewError(wire.CodeRulesNotAvailable, "Rule engine is not configured")},
		{prefix: "identity.", word: NamespaceIdentity,
			unavailable: wire.NewError(wire.CodeUnknownOperation, "Identity management is not configured")},
		{prefix: "auth.", word: NamespaceAuth,
			unavailable: wire.NewError(wire.CodeUnknownOperation, "Authentication is not configured")},
		{prefix: "audit.", word: NamespaceAudit,
			unavailable: wire.NewError(wire.CodeUnknownOperation, "Audit log is not configured")},
		// Procedures are always available (P§11 #3).
		{prefix: "procedures.", word: NamespaceProcedures},
		{prefix: "server.", word: NamespaceServer},
	}
}

// operationSet turns lists of operation names into a lookup set.
func operationSet(lists ...[]string) map[string]bool {
	m := make(map[string]bool)
	for _, list := range lists {
		for _, op := range list {
			m[op] = true
		}
	}
	return m
}

// UnknownOperation is the error for a name that no available namespace
// knows (§1.12).
func UnknownOperation(namespaceWord, typ string) *wire.Error {
	return wire.Errorf(wire.CodeUnknownOperation, "Unknown %s operation %q", namespaceWord, typ)
}

// route finds the namespace of typ, or nil.
func (srv *Server) route(typ string) *namespace {
	for _, ns := range srv.namespaces {
		if strings.HasPrefix(typ, ns.prefix) {
			return ns
		}
	}
	return nil
}

// handleRequest runs the request pipeline of PROTOCOL.md §1.11 and queues
// the answer.
func (s *Session) handleRequest(req *Request) {
	srv := s.srv
	start := time.Now()
	entry, ctx := srv.auditBegin(s, req)
	data, err := srv.pipeline(ctx, s, req)
	var frame []byte
	code := "ok"
	if err == nil {
		frame, err = wire.EncodeResult(req.ID, data)
		if err != nil {
			srv.log.Error("encoding a result failed", "type", req.Type, "err", err)
		}
	}
	if err != nil {
		we := wire.AsError(err)
		if we.Code == wire.CodeInternal && we.Message == wire.InternalMessage {
			srv.log.Error("request failed", "conn", s.idStr, "type", req.Type, "err", err)
		}
		code = string(we.Code)
		frame = wire.EncodeError(req.ID, we, srv.exposeDetails())
	}
	if entry != nil {
		// Recorded once the answer exists, before it is sent: a client that
		// got the answer finds the entry (audit.query never sees its own).
		s.auditFinish(entry, err)
	}
	s.send(frame)
	for _, fn := range req.afterReply {
		fn()
	}
	label := srv.typeLabel(req.Type)
	srv.metrics.requests.WithLabelValues(label, code).Inc()
	srv.metrics.latency.WithLabelValues(label).Observe(time.Since(start).Seconds())
	if srv.log.Enabled(srv.ctx, slog.LevelDebug) {
		srv.log.Debug("request", "conn", s.idStr, "type", req.Type, "code", code, "took", time.Since(start))
	}
}

// pipeline is access gate → rate limit → dispatch, with a panic in any of
// them turned into INTERNAL_ERROR for this request alone.
func (srv *Server) pipeline(ctx context.Context, s *Session, req *Request) (data any, err error) {
	defer func() {
		if r := recover(); r != nil {
			srv.metrics.panics.Inc()
			srv.log.Error("request handler panicked", "conn", s.idStr, "type", req.Type,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			data, err = nil, wire.NewError(wire.CodeInternal, wire.InternalMessage)
		}
	}()
	if err := srv.gate(s, req); err != nil {
		return nil, err
	}
	if srv.limiter != nil {
		key := s.remoteAddr
		if a := s.Auth(); a != nil {
			key = "user:" + a.UserID
		} else {
			key = "ip:" + key
		}
		if ok, retry := srv.limiter.allow(key); !ok {
			return nil, &wire.Error{
				Code:    wire.CodeRateLimited,
				Message: fmt.Sprintf("Rate limit exceeded. Retry after %dms", retry),
				Details: map[string]int64{"retryAfterMs": retry},
			}
		}
	}
	ns := srv.route(req.Type)
	if ns == nil {
		return nil, wire.Errorf(wire.CodeUnknownOperation, "Unknown operation %q", req.Type)
	}
	if ns.service == nil {
		if ns.unavailable != nil {
			return nil, ns.unavailable
		}
		return nil, UnknownOperation(ns.word, req.Type)
	}
	return ns.service.Handle(ctx, s, req)
}

// typeLabel bounds the metrics label set: known operation names are kept,
// anything a client invents is reported as "unknown".
func (srv *Server) typeLabel(typ string) string {
	if _, ok := srv.knownTypes[typ]; ok {
		return typ
	}
	return "unknown"
}
