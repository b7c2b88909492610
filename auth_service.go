package noex

import (
	"context"
	"errors"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/internal/wire"
)

// authOperations are the operations of external-token mode (PROTOCOL.md
// §6.3). They bypass the access gate but are rate-limited.
var authOperations = []string{"auth.login", "auth.logout", "auth.whoami"}

// authService serves auth.* in external-token mode.
type authService struct{ srv *Server }

type loginResult struct {
	UserID    string   `json:"userId"`
	Roles     []string `json:"roles"`
	ExpiresAt *int64   `json:"expiresAt"`
}

func expiresAt(a *AuthContext) *int64 {
	if a.ExpiresAt == 0 {
		return nil
	}
	v := a.ExpiresAt
	return &v
}

func (as authService) Handle(ctx context.Context, s *Session, req *Request) (any, error) {
	m := as.srv.auth
	switch req.Type {
	case "auth.login":
		token, werr := wire.RequireString(req.Fields, "token")
		if werr != nil {
			return nil, werr
		}
		c, err := m.validator.Validate(ctx, token)
		if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
			return nil, err // unexpected hook failure: INTERNAL_ERROR
		}
		if err != nil || c == nil || c.UserID == "" {
			// A failed login keeps the previous context (P§11 #16).
			return nil, wire.NewError(wire.CodeUnauthorized, "Invalid token")
		}
		if c.Expired(m.nowMs()) {
			return nil, wire.NewError(wire.CodeUnauthorized, "Token has expired")
		}
		a := fromAuthContext(c)
		s.SetAuth(a)
		if m.revoked.has(a.UserID, m.nowMs()) {
			// Bound, then unbound: the connection is now unauthenticated
			// even if it was logged in before (§6.3 step 5).
			s.SetAuth(nil)
			return nil, errSessionRevoked()
		}
		return loginResult{UserID: a.UserID, Roles: a.Roles, ExpiresAt: expiresAt(a)}, nil
	case "auth.logout":
		s.SetAuth(nil)
		return map[string]bool{"loggedOut": true}, nil
	case "auth.whoami":
		a := s.Auth()
		if a != nil && toAuthContext(a).Expired(m.nowMs()) {
			s.auth.CompareAndSwap(a, nil)
			a = nil
		}
		if a == nil {
			return map[string]bool{"authenticated": false}, nil
		}
		return map[string]any{
			"authenticated": true, "userId": a.UserID, "roles": a.Roles, "expiresAt": expiresAt(a),
		}, nil
	}
	return nil, UnknownOperation(NamespaceAuth, req.Type)
}
