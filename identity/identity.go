// Package identity is the built-in identity of PROTOCOL.md §6.7–§6.11, as
// changed by COMPATIBILITY.md: users, roles and their assignment, ACL
// entries and resource ownership kept in system buckets of the store,
// password and secret logins with lockout, login tokens, and the dynamic
// permission check every request of a logged-in connection passes.
package identity

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/store"
)

// SuperadminID is the user id and username of the virtual superadmin: it
// has no _users record and can only log in with the admin secret.
const SuperadminID = "__superadmin__"

// Defaults of the built-in identity configuration (§6.1).
const (
	DefaultSessionTTL         = 24 * time.Hour
	DefaultLoginMaxAttempts   = 5
	DefaultLoginWindow        = 15 * time.Minute
	DefaultPasswordMinLength  = 8
	DefaultMaxSessionsPerUser = 10
)

// Config configures the built-in identity.
type Config struct {
	// AdminSecret is the secret of identity.loginWithSecret (required).
	AdminSecret string
	// SessionTTL is the lifetime of a login token.
	SessionTTL time.Duration
	// LoginMaxAttempts failures within LoginWindow lock a username or an
	// address out of logging in (§6.11).
	LoginMaxAttempts int
	LoginWindow      time.Duration
	// PasswordMinLength is enforced on create, change and reset
	// (COMPATIBILITY.md P§11 #21).
	PasswordMinLength int
	// MaxSessionsPerUser caps a user's live tokens: a new login beyond it
	// deletes that user's oldest tokens (P§11 #21).
	MaxSessionsPerUser int
	// ScryptN is the scrypt cost of new password hashes (default 16384,
	// the reference's; tests lower it).
	ScryptN int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) withDefaults() {
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.LoginMaxAttempts <= 0 {
		c.LoginMaxAttempts = DefaultLoginMaxAttempts
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = DefaultLoginWindow
	}
	if c.PasswordMinLength <= 0 {
		c.PasswordMinLength = DefaultPasswordMinLength
	}
	if c.MaxSessionsPerUser <= 0 {
		c.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Identity is the built-in identity over one store.
type Identity struct {
	st      *store.Store
	cfg     Config
	hash    *hasher
	lockout *lockout

	// dummyHash is verified against when a username does not exist (it
	// matches no password), so the answer's timing does not reveal which
	// usernames exist.
	dummyHash string

	unbind func(userID string, keep *auth.Context)

	gen     atomic.Uint64 // bumped by every change of the access buckets
	rebuild sync.Mutex
	snap    atomic.Pointer[snapshot]

	decisions decisionCache
	off       []func()
}

// ErrNoSecret is returned by Open without an admin secret.
var ErrNoSecret = errors.New("identity: an admin secret is required")

// Open creates the missing system buckets and system roles of st
// (existing ones are left as they are, so a persistent store keeps its
// users across restarts) and returns the identity over them.
func Open(st *store.Store, cfg Config) (*Identity, error) {
	if cfg.AdminSecret == "" {
		return nil, ErrNoSecret
	}
	cfg.withDefaults()
	id := &Identity{st: st, cfg: cfg, hash: newHasher(cfg.ScryptN), unbind: func(string, *auth.Context) {},
		lockout: newLockout(cfg.LoginMaxAttempts, cfg.LoginWindow.Milliseconds())}
	dummy, err := id.hash.hash(context.Background(), store.NewUUID())
	if err != nil {
		return nil, err
	}
	id.dummyHash = dummy
	for _, b := range systemBuckets {
		if st.HasBucket(b.name) {
			continue
		}
		var exists *store.ErrBucketExists
		if err := st.DefineBucket(b.name, b.json()); err != nil && !errors.As(err, &exists) {
			return nil, err
		}
	}
	for _, r := range systemRoles {
		doc, err := st.FindOne(BucketRoles, eqFilter("name", r.name))
		if err != nil {
			return nil, err
		}
		if doc.Found() {
			continue
		}
		if _, err := st.Insert(BucketRoles, store.Record{"name": r.name, "description": r.description,
			"system": true, "permissions": r.permissions()}); err != nil {
			return nil, err
		}
	}
	for _, b := range []string{BucketRoles, BucketUserRoles, BucketACL, BucketOwners} {
		id.off = append(id.off, st.On("bucket."+b+".*", func(store.Event) { id.gen.Add(1) }))
	}
	id.off = append(id.off, st.OnDrop(func(string) { id.gen.Add(1) }))
	return id, nil
}

// OnUnbind sets what happens when a user's right to stay logged in ends:
// the user was disabled or deleted, or their password was changed or
// reset (COMPATIBILITY.md P§11 #26). The server unbinds and revokes that
// user's live connections, except the one bound to keep (nil: all of
// them). Set it before serving requests.
func (id *Identity) OnUnbind(fn func(userID string, keep *auth.Context)) { id.unbind = fn }

// Close detaches the identity from the store's events.
func (id *Identity) Close() {
	for _, off := range id.off {
		off()
	}
	id.off = nil
}

func (id *Identity) nowMs() int64 { return id.cfg.Now().UnixMilli() }

// current returns an up-to-date snapshot of roles, assignments, ACL and
// ownership.
func (id *Identity) current() (*snapshot, error) {
	gen := id.gen.Load()
	if s := id.snap.Load(); s != nil && s.gen == gen {
		return s, nil
	}
	id.rebuild.Lock()
	defer id.rebuild.Unlock()
	gen = id.gen.Load()
	if s := id.snap.Load(); s != nil && s.gen == gen {
		return s, nil
	}
	s, err := buildSnapshot(id.st, gen)
	if err != nil {
		return nil, err
	}
	id.snap.Store(s)
	return s, nil
}

// changed marks the snapshot stale; the store's events do it too, this is
// for changes whose events may be filtered (a dropped bucket).
func (id *Identity) changed() { id.gen.Add(1) }

// Allowed is the dynamic permission check of §6.8.1 for a request of
// userID: op on resource (auth.ResourceOf). Decisions are cached until the
// access buckets change; a cached decision costs two map lookups and no
// allocation. The arguments are not retained (the cache copies them).
func (id *Identity) Allowed(userID, op, resource string) (bool, error) {
	s, err := id.current()
	if err != nil {
		return false, err
	}
	k := decisionKey{userID, op, resource}
	c := &id.decisions
	c.mu.RLock()
	d, hit := c.m[k]
	fresh := c.gen == s.gen
	c.mu.RUnlock()
	if hit && fresh {
		return d, nil
	}
	d = s.allowed(userID, op, resource)
	c.mu.Lock()
	if c.m == nil || c.gen != s.gen || len(c.m) >= maxCachedDecisions {
		c.gen, c.m = s.gen, make(map[decisionKey]bool)
	}
	c.m[decisionKey{strings.Clone(userID), strings.Clone(op), strings.Clone(resource)}] = d
	c.mu.Unlock()
	return d, nil
}

// maxCachedDecisions bounds the decision cache (it is emptied when full).
const maxCachedDecisions = 1 << 16

type decisionKey struct{ user, op, resource string }

// decisionCache holds the decisions made on the snapshot of generation gen.
type decisionCache struct {
	mu  sync.RWMutex
	gen uint64
	m   map[decisionKey]bool
}

// AllowedQuery decides store.subscribe of a query that reads buckets
// (COMPATIBILITY.md P§11 #24): a read grant on the query itself (an ACL
// entry of type "query" or its ownership) makes the query a view the user
// may watch; otherwise the user must be allowed to read every bucket it
// reads. A query whose buckets are unknown (defined in Go by the embedding
// program) is checked as the reference does, with its name as resource.
func (id *Identity) AllowedQuery(userID, query string, buckets []string) (bool, error) {
	s, err := id.current()
	if err != nil {
		return false, err
	}
	if s.hasRole(userID, RoleSuperadmin) ||
		s.aclAllows(userID, "query", query, aclRead) || s.owns(userID, "query", query) {
		return true, nil
	}
	if buckets == nil {
		return s.allowed(userID, "store.subscribe", query), nil
	}
	for _, b := range buckets {
		if IsSystemBucket(b) || !s.allowed(userID, "store.subscribe", b) {
			return false, nil
		}
	}
	return true, nil
}

// HasCurrentRole reports whether userID currently holds role.
func (id *Identity) HasCurrentRole(userID, role string) bool {
	s, err := id.current()
	return err == nil && s.hasRole(userID, role)
}

// RoleNames are userID's current role names.
func (id *Identity) RoleNames(userID string) ([]string, error) {
	s, err := id.current()
	if err != nil {
		return nil, err
	}
	roles := s.rolesOf(userID)
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.name
	}
	return names, nil
}

func eqFilter(field string, value any) *store.Filter {
	f, err := store.CompileFilterValue(map[string]any{field: value})
	if err != nil {
		panic(err) // a plain equality always compiles
	}
	return f
}

// Handle context: operations get the caller's bound context through a
// Caller, so the package does not depend on the server's connection type.

// Caller is the connection a request comes from.
type Caller interface {
	// Auth is the bound context, or nil.
	Auth() *auth.Context
	// Bind binds c (nil unbinds).
	Bind(c *auth.Context)
	// RemoteAddress is the peer address (the lockout key and a token's ip).
	RemoteAddress() string
}
