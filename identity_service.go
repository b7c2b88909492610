package noex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// Built-in identity mode (PROTOCOL.md §6.7–§6.11 with COMPATIBILITY.md):
// the identity package keeps users, roles, ACL entries and ownership in
// system buckets; this file binds it to connections, the access gate and
// the store operations.

// openIdentity opens the built-in identity over st and mounts identity.*
// and auth.* (auth.login re-uses identity tokens).
func (srv *Server) openIdentity(st *store.Store, cfg identity.Config) error {
	id, err := identity.Open(st, cfg)
	if err != nil {
		return err
	}
	id.OnUnbind(srv.unbindUser)
	m := &authMode{
		identity:  id,
		validator: auth.ValidatorFunc(id.ValidateToken),
		gate:      auth.Gate{Required: true},
		now:       cfg.Now,
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.revoked.ttl = defaultRevocationTTL
	srv.auth = m
	srv.Mount(NamespaceAuth, authService{srv}, authOperations...)
	srv.Mount(NamespaceIdentity, identityService{id: id}, identity.Operations...)
	return nil
}

// Identity returns the built-in identity, or nil in other modes.
func (srv *Server) Identity() *identity.Identity {
	if srv.auth == nil {
		return nil
	}
	return srv.auth.identity
}

// unbindUser revokes every live connection bound to userID except the one
// bound to keep: the user was disabled or deleted, or their password
// changed (COMPATIBILITY.md P§11 #26).
func (srv *Server) unbindUser(userID string, keep *auth.Context) {
	for _, s := range srv.registry.list() {
		if a := s.Auth(); a != nil && a.UserID == userID && a != keep {
			srv.revokeConn(s)
		}
	}
}

// sessionCaller is a connection as the identity package sees it.
type sessionCaller struct{ s *Session }

func (c sessionCaller) Auth() *auth.Context   { return c.s.Auth() }
func (c sessionCaller) RemoteAddress() string { return c.s.remoteAddr }
func (c sessionCaller) Bind(a *auth.Context)  { c.s.SetAuth(a) }

type identityService struct{ id *identity.Identity }

func (is identityService) Handle(ctx context.Context, s *Session, req *Request) (any, error) {
	data, err := is.id.Handle(ctx, sessionCaller{s}, req.Type, req.Fields)
	if err != nil {
		// Store failures inside identity operations keep their codes
		// (a bad email is a VALIDATION_ERROR, COMPATIBILITY.md P§11 #22).
		return nil, storeError(err)
	}
	return data, nil
}

func errNoAccess(op, resource string) *wire.Error {
	return wire.NewError(wire.CodeForbidden, fmt.Sprintf("No access to %s on %s", op, resource))
}

func errSystemBucket(name, where string) *wire.Error {
	return wire.NewError(wire.CodeForbidden, fmt.Sprintf("Cannot access system bucket %q %s", name, where))
}

// identityGate is the access gate in built-in mode (§6.4 steps 1–5,
// §6.8.1, §6.8.3).
func (srv *Server) identityGate(s *Session, req *Request, bound *AuthContext) error {
	m := srv.auth
	op := req.Type
	if auth.Ungated(op) {
		return nil
	}
	if bound == nil {
		return denialError(auth.ErrAuthRequired)
	}
	if bound.Expired(m.nowMs()) {
		s.auth.CompareAndSwap(bound, nil)
		return denialError(auth.ErrSessionExpired)
	}
	if strings.HasPrefix(op, "identity.") {
		return nil // each identity operation applies its own rule (§6.8.2)
	}
	switch op {
	case "store.transaction":
		// Each element is checked as its direct operation when the
		// transaction runs (COMPATIBILITY.md P§11 #24).
	case "store.subscribe":
		// Checked against the query and the buckets it reads, once the
		// query is known (storeService.subscribe).
	case "store.unsubscribe", "rules.unsubscribe":
		// Cancelling one's own subscription needs no right.
	default:
		resource := requestResource(op, req.Fields)
		ok, err := m.identity.Allowed(bound.UserID, op, resource)
		if err != nil {
			return err
		}
		if !ok {
			return errNoAccess(op, resource)
		}
	}
	if strings.HasPrefix(op, "store.") {
		return systemBucketGuard(op, req.Fields)
	}
	return nil
}

// requestResource is auth.ResourceOf without allocating for the common
// case of a plain string field: the result may point into the request's
// buffer, so it must not outlive the check (Allowed copies what it keeps,
// errors format a copy).
func requestResource(op string, f map[string]json.RawMessage) string {
	var names [3]string
	switch {
	case op == "store.subscribe":
		names[0] = "query"
	case op == "store.unsubscribe":
		names[0] = "subscriptionId"
	case strings.HasPrefix(op, "store."):
		names[0], names[1] = "bucket", "name"
	case strings.HasPrefix(op, "rules."):
		names = [3]string{"topic", "key", "pattern"}
	default:
		return "*"
	}
	for _, n := range names {
		if n == "" {
			break
		}
		raw, ok := f[n]
		if !ok || len(raw) < 2 || raw[0] != '"' {
			continue
		}
		if s, plain := plainString(raw); plain {
			return s
		}
		return auth.ResourceOf(op, f) // escapes: decode properly
	}
	return "*"
}

// plainString views a JSON string without escapes as a Go string sharing
// raw's memory.
func plainString(raw json.RawMessage) (string, bool) {
	body := raw[1 : len(raw)-1]
	if raw[len(raw)-1] != '"' || bytes.IndexByte(body, '\\') >= 0 {
		return "", false
	}
	if len(body) == 0 {
		return "", true
	}
	return unsafe.String(&body[0], len(body)), true
}

// systemBucketGuard refuses store requests naming a system bucket, for
// everyone including the superadmin (§6.8.3), and declarative queries
// over one (COMPATIBILITY.md P§11 #25: password hashes never leave the
// server).
func systemBucketGuard(op string, f map[string]json.RawMessage) error {
	for _, field := range []string{"bucket", "name"} {
		raw := f[field]
		if len(raw) < 2 || raw[0] != '"' || (raw[1] != '_' && raw[1] != '\\') {
			continue // not a string, or one that cannot start with "_"
		}
		if name, ok := wire.NonEmptyString(raw); ok && identity.IsSystemBucket(name) {
			return errSystemBucket(name, "directly")
		}
	}
	switch op {
	case "store.transaction":
		var elems []struct {
			Bucket any `json:"bucket"`
		}
		if json.Unmarshal(f["operations"], &elems) == nil {
			for _, e := range elems {
				if b, ok := e.Bucket.(string); ok && identity.IsSystemBucket(b) {
					return errSystemBucket(b, "in transaction")
				}
			}
		}
	case "store.defineQuery":
		var cfg struct {
			Bucket any `json:"bucket"`
		}
		if json.Unmarshal(f["config"], &cfg) == nil {
			if b, ok := cfg.Bucket.(string); ok && identity.IsSystemBucket(b) {
				return errSystemBucket(b, "in a query")
			}
		}
	}
	return nil
}

// identityAuthorize is Authorize in built-in mode: a step (transaction
// element, procedure step) passes the check its direct operation would.
func (srv *Server) identityAuthorize(c *auth.Context, op, resource string) error {
	if c == nil {
		return denialError(auth.ErrAuthRequired)
	}
	if strings.HasPrefix(op, "store.") && identity.IsSystemBucket(resource) {
		return errSystemBucket(resource, "directly")
	}
	ok, err := srv.auth.identity.Allowed(c.UserID, op, resource)
	if err != nil {
		return err
	}
	if !ok {
		return errNoAccess(op, resource)
	}
	return nil
}

// authorizeQuery checks store.subscribe of query for s: in built-in mode
// against the query and every bucket it reads; with external tokens the
// gate checked the query name, and each bucket it reads must pass the
// permission check too (COMPATIBILITY.md P§11 #24).
func (srv *Server) authorizeQuery(s *Session, query string, buckets []string) error {
	m := srv.auth
	if m == nil {
		return nil
	}
	if m.identity == nil {
		for _, b := range buckets {
			if err := srv.Authorize(s, "store.subscribe", b); err != nil {
				return err
			}
		}
		return nil
	}
	c := s.Auth()
	if c == nil {
		return denialError(auth.ErrAuthRequired)
	}
	ok, err := m.identity.AllowedQuery(c.UserID, query, buckets)
	if err != nil {
		return err
	}
	if !ok {
		return errNoAccess("store.subscribe", query)
	}
	return nil
}

// hideSystemBuckets reports whether s must not see system buckets in
// bucket listings and statistics: always in built-in mode for
// store.buckets (§2.15), and for store.stats unless the caller is an admin
// (COMPATIBILITY.md P§11 #11).
func (srv *Server) hideSystemBuckets(s *Session, forStats bool) bool {
	m := srv.auth
	if m == nil || m.identity == nil {
		return false
	}
	if !forStats {
		return true
	}
	a := s.Auth()
	return a == nil || !(m.identity.HasCurrentRole(a.UserID, identity.RoleAdmin) ||
		m.identity.HasCurrentRole(a.UserID, identity.RoleSuperadmin))
}

// trackOwnership records §6.8.4's ownership changes after a successful
// defineBucket/defineQuery (the caller becomes the owner) or
// dropBucket/undefineQuery (owner and ACL entries are forgotten).
func (srv *Server) trackOwnership(s *Session, resourceType, name string, created bool) error {
	m := srv.auth
	if m == nil || m.identity == nil {
		return nil
	}
	if !created {
		return m.identity.ForgetResource(srv.ctx, resourceType, name)
	}
	a := s.Auth()
	if a == nil {
		return nil
	}
	return m.identity.SetOwner(srv.ctx, resourceType, name, a.UserID)
}
