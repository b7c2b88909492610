package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Context is the identity bound to a connection (PROTOCOL.md §6.2).
type Context struct {
	UserID string
	// Roles are fixed at the moment of login.
	Roles []string
	// Metadata is kept server-side and never sent to clients.
	Metadata map[string]any
	// ExpiresAt is a Unix time in milliseconds; 0 means "never expires".
	ExpiresAt int64
	// Token is, in built-in identity mode, the login token the connection
	// holds (from identity.login, loginWithSecret or refreshSession; "" after
	// auth.login). It is never sent to clients.
	Token string
}

// Expired reports whether c has an expiry that is before nowMs.
func (c *Context) Expired(nowMs int64) bool {
	return c != nil && c.ExpiresAt != 0 && c.ExpiresAt < nowMs
}

// HasRole reports whether c holds role.
func (c *Context) HasRole(role string) bool { return c != nil && slices.Contains(c.Roles, role) }

// ErrInvalidToken is matched (errors.Is) by every *InvalidTokenError.
var ErrInvalidToken = errors.New("invalid token")

// InvalidTokenError is what a Validator returns for a token it rejects.
// Reason is for logs only; the client is told "Invalid token".
type InvalidTokenError struct{ Reason string }

func (e *InvalidTokenError) Error() string {
	if e.Reason == "" {
		return "invalid token"
	}
	return "invalid token: " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidToken) true.
func (e *InvalidTokenError) Is(target error) bool { return target == ErrInvalidToken }

// Invalid builds an *InvalidTokenError.
func Invalid(format string, args ...any) error {
	return &InvalidTokenError{Reason: fmt.Sprintf(format, args...)}
}

// Validator is the external-token hook (PROTOCOL.md §6.1 "validate"): it
// turns a token into an auth context. A rejected token is reported as an
// error matching ErrInvalidToken, or as (nil, nil); any other error is an
// unexpected failure (the server answers INTERNAL_ERROR).
type Validator interface {
	Validate(ctx context.Context, token string) (*Context, error)
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(ctx context.Context, token string) (*Context, error)

// Validate calls f.
func (f ValidatorFunc) Validate(ctx context.Context, token string) (*Context, error) {
	return f(ctx, token)
}

// Denial is a refusal of the access gate: Code is "UNAUTHORIZED" or
// "FORBIDDEN" and Message the exact protocol text.
type Denial struct {
	Code    string
	Message string
}

func (d *Denial) Error() string { return d.Code + ": " + d.Message }

// Denial codes.
const (
	CodeUnauthorized = "UNAUTHORIZED"
	CodeForbidden    = "FORBIDDEN"
)

// The fixed denials of §6.3–§6.4.
var (
	ErrAuthRequired   = &Denial{CodeUnauthorized, "Authentication required"}
	ErrSessionExpired = &Denial{CodeUnauthorized, "Session expired"}
)

// CheckTier is §6.4 step 6: when roles contain reader, writer or admin, the
// highest of them must reach op's tier. Operations without a tier, and
// role sets with none of those names, pass.
func CheckTier(op string, roles []string) *Denial {
	t := TierOf(op)
	if t == TierNone {
		return nil
	}
	level, ok := RoleLevel(roles)
	if !ok || level >= t {
		return nil
	}
	return &Denial{CodeForbidden, fmt.Sprintf("Role level insufficient for %s (requires %s)", op, t)}
}

// Decision is the answer of a permission hook.
type Decision int

// Abstain (the zero value) means "no opinion": the declarative rules
// decide.
const (
	Abstain Decision = iota
	Allow
	Deny
)

// CheckFunc is the custom permission hook of §6.5: it sees the bound
// context, the operation and its resource (ResourceOf).
type CheckFunc func(c *Context, operation, resource string) Decision

// Rule is one declarative permission rule (§6.5).
type Rule struct {
	Role string
	// Allow holds operation patterns: "*", "<prefix>.*" or an exact name.
	Allow []string
	// Buckets, when non-nil, restricts store.* operations to these exact
	// resources.
	Buckets []string
	// Topics, when non-nil, restricts rules.* operations to resources
	// matching one of these patterns.
	Topics []string
}

// Permissions is the external-mode permission configuration (§6.5).
type Permissions struct {
	// DefaultDeny makes "no rule matched" a denial (default: allow).
	DefaultDeny bool
	Rules       []Rule
	Check       CheckFunc
}

// Allowed evaluates p for a bound context (§6.5 "Evaluation").
func (p *Permissions) Allowed(c *Context, op, resource string) bool {
	if p == nil {
		return true
	}
	if p.Check != nil {
		switch p.Check(c, op, resource) {
		case Allow:
			return true
		case Deny:
			return false
		}
	}
	for _, r := range p.Rules {
		if !c.HasRole(r.Role) || !matchAny(r.Allow, op) {
			continue
		}
		if r.Buckets != nil && strings.HasPrefix(op, "store.") && !slices.Contains(r.Buckets, resource) {
			continue
		}
		if r.Topics != nil && strings.HasPrefix(op, "rules.") && !matchAny(r.Topics, resource) {
			continue
		}
		return true
	}
	return !p.DefaultDeny
}

// CheckPermission is §6.4 step 7: nil when allowed, else the FORBIDDEN denial.
func (p *Permissions) CheckPermission(c *Context, op, resource string) *Denial {
	if p.Allowed(c, op, resource) {
		return nil
	}
	return &Denial{CodeForbidden, fmt.Sprintf("No permission for %s on %s", op, resource)}
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}

// Match is the permission pattern match of §6.5: "*" matches anything,
// "<prefix>.*" anything starting with "<prefix>.", anything else only
// itself.
func Match(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, ".*"); ok {
		return strings.HasPrefix(s, prefix+".")
	}
	return pattern == s
}

// ResourceOf extracts an operation's resource from the request's fields
// (§6.5 "Resource extraction").
func ResourceOf(op string, fields map[string]json.RawMessage) string {
	str := func(name string) (string, bool) {
		raw, ok := fields[name]
		if !ok || len(raw) == 0 || raw[0] != '"' { // null is not a string
			return "", false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	first := func(names ...string) string {
		for _, n := range names {
			if s, ok := str(n); ok {
				return s
			}
		}
		return "*"
	}
	switch {
	case op == "store.subscribe":
		return first("query")
	case op == "store.unsubscribe":
		return first("subscriptionId")
	case strings.HasPrefix(op, "store."):
		return first("bucket", "name")
	case strings.HasPrefix(op, "rules."):
		return first("topic", "key", "pattern")
	}
	return "*"
}

// Gate is the access gate of §6.4 for external-token mode.
type Gate struct {
	// Required refuses unauthenticated requests (step 3).
	Required    bool
	Permissions *Permissions
}

// Check runs the gate for one request. c is the bound context (nil when
// unauthenticated), nowMs the current time. unbind is true when c has
// expired and must be unbound (the request then fails with
// ErrSessionExpired, in optional mode too: PROTOCOL.md §6.2).
func (g *Gate) Check(c *Context, op string, fields map[string]json.RawMessage, nowMs int64) (unbind bool, d *Denial) {
	if Ungated(op) {
		return false, nil
	}
	if c == nil {
		if g.Required {
			return false, ErrAuthRequired
		}
		return false, nil
	}
	if c.Expired(nowMs) {
		return true, ErrSessionExpired
	}
	if d := CheckTier(op, c.Roles); d != nil {
		return false, d
	}
	if g.Permissions != nil {
		if d := g.Permissions.CheckPermission(c, op, ResourceOf(op, fields)); d != nil {
			return false, d
		}
	}
	return false, nil
}
