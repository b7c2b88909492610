package noex

import (
	"slices"
	"sync"
	"time"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/internal/wire"
)

// authMode is the resolved external-token configuration; nil on a server
// without auth (mode "none": every request passes the gate).
type authMode struct {
	// identity is set in built-in identity mode (the gate then applies
	// the dynamic permission check of §6.8 instead of tiers).
	identity  *identity.Identity
	validator auth.Validator
	gate      auth.Gate
	now       func() time.Time
	revoked   blacklist
}

func newAuthMode(c *AuthConfig) *authMode {
	if c == nil {
		return nil
	}
	m := &authMode{
		validator: c.Validator,
		gate:      auth.Gate{Required: c.required(), Permissions: c.Permissions},
		now:       c.Now,
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.revoked.ttl = c.RevocationTTL
	if m.revoked.ttl == 0 {
		m.revoked.ttl = defaultRevocationTTL
	}
	return m
}

func (m *authMode) nowMs() int64 { return m.now().UnixMilli() }

// gate is the access gate of PROTOCOL.md §6.4; it runs before the rate
// limiter. Expiry is checked here on every gated request: an expired
// context is unbound and that request fails with "Session expired".
func (srv *Server) gate(s *Session, req *Request) error {
	m := srv.auth
	if m == nil {
		return nil
	}
	bound := s.Auth()
	if bound != nil && !auth.Ungated(req.Type) && !toAuthContext(bound).Expired(m.nowMs()) &&
		m.revoked.has(bound.UserID, m.nowMs()) {
		// The blacklist is checked on every request of a bound connection
		// (COMPATIBILITY.md P§11 #18).
		s.auth.CompareAndSwap(bound, nil)
		return errSessionRevoked()
	}
	if m.identity != nil {
		return srv.identityGate(s, req, bound)
	}
	unbind, d := m.gate.Check(toAuthContext(bound), req.Type, req.Fields, m.nowMs())
	if unbind {
		// Only unbind what was checked: a concurrent login is not undone.
		s.auth.CompareAndSwap(bound, nil)
	}
	if d != nil {
		return denialError(d)
	}
	return nil
}

func denialError(d *auth.Denial) *wire.Error {
	return wire.NewError(wire.Code(d.Code), d.Message)
}

// toAuthContext views a session's context as an auth.Context: the same
// value, as AuthContext is auth.Context.
func toAuthContext(a *AuthContext) *auth.Context { return a }

// fromAuthContext copies a validated context into the session's form; the
// roles are copied so they stay fixed at login time.
func fromAuthContext(c *auth.Context) *AuthContext {
	roles := slices.Clone(c.Roles)
	if roles == nil {
		roles = []string{}
	}
	return &AuthContext{UserID: c.UserID, Roles: roles, Metadata: c.Metadata, ExpiresAt: c.ExpiresAt}
}

// nowMs is the server's clock in ms: the auth mode's (a test may set it),
// otherwise the wall clock.
func (srv *Server) nowMs() int64 {
	if srv.auth != nil {
		return srv.auth.nowMs()
	}
	return time.Now().UnixMilli()
}

// defaultRevocationTTL is revocation.blacklistTtlMs's default.
const defaultRevocationTTL = time.Hour

func errSessionRevoked() *wire.Error {
	return wire.NewError(wire.CodeSessionRevoked, "Session has been revoked")
}

// blacklist is the in-memory revocation list of PROTOCOL.md §6.6.
type blacklist struct {
	ttl   time.Duration
	mu    sync.Mutex
	until map[string]int64 // userId → ms
}

func (b *blacklist) add(userID string, nowMs int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.until == nil {
		b.until = make(map[string]int64)
	}
	b.until[userID] = nowMs + b.ttl.Milliseconds()
	for id, u := range b.until { // prune expired entries
		if u <= nowMs {
			delete(b.until, id)
		}
	}
}

func (b *blacklist) has(userID string, nowMs int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.until[userID]
	if ok && u <= nowMs {
		delete(b.until, userID)
		return false
	}
	return ok
}

// RevokeFilter selects connections for RevokeSessions; empty fields match
// everything.
type RevokeFilter struct {
	UserID string
	Role   string
}

var sessionRevokedFrame = []byte(`{"type":"system","event":"session_revoked","reason":"Session revoked by administrator"}`)

// RevokeSession blacklists userID (Config.Auth.RevocationTTL) and revokes
// every connection bound to it: each gets the session_revoked system frame
// and is closed with 4002 session_revoked (PROTOCOL.md §6.6). It returns
// the number of connections revoked.
func (srv *Server) RevokeSession(userID string) int {
	if m := srv.auth; m != nil {
		m.revoked.add(userID, m.nowMs())
	}
	n := 0
	for _, s := range srv.registry.list() {
		info := s.Info()
		if info.UserID != nil && *info.UserID == userID {
			srv.revokeConn(s)
			n++
		}
	}
	return n
}

// RevokeSessions revokes every authenticated connection that matches f
// (userId equal, login-time roles containing Role), blacklisting each
// selected connection's user. An empty filter selects every authenticated
// connection. It returns the number of connections revoked.
func (srv *Server) RevokeSessions(f RevokeFilter) int {
	n := 0
	for _, s := range srv.registry.list() {
		info := s.Info()
		if !info.Authenticated || info.UserID == nil {
			continue
		}
		if f.UserID != "" && *info.UserID != f.UserID {
			continue
		}
		if f.Role != "" && !slices.Contains(info.Roles, f.Role) {
			continue
		}
		if m := srv.auth; m != nil {
			m.revoked.add(*info.UserID, m.nowMs())
		}
		srv.revokeConn(s)
		n++
	}
	return n
}

func (srv *Server) revokeConn(s *Session) {
	s.SetAuth(nil)
	s.send(sessionRevokedFrame)
	s.closeWith(CloseSessionRevoked, reasonSessionRevoked)
}

// Authorize applies to a step the access check of the equivalent direct
// operation: op (e.g. "store.insert") on resource (a bucket, topic, …),
// on behalf of the connection s. Transactions, procedures and
// subscriptions call it for each operation they run and each bucket they
// read (COMPATIBILITY.md P§11 #24). nil means allowed; a denial is the
// FORBIDDEN error the direct operation would get. Authentication and
// expiry were already checked by the gate for the enclosing request.
func (srv *Server) Authorize(s *Session, op, resource string) error {
	m := srv.auth
	if m == nil || s == nil {
		return nil
	}
	c := toAuthContext(s.Auth())
	if m.identity != nil {
		return srv.identityAuthorize(c, op, resource)
	}
	if c == nil {
		return nil // optional mode, unauthenticated: everything is allowed
	}
	if d := auth.CheckTier(op, c.Roles); d != nil {
		return denialError(d)
	}
	if m.gate.Permissions != nil {
		if d := m.gate.Permissions.CheckPermission(c, op, resource); d != nil {
			return denialError(d)
		}
	}
	return nil
}
