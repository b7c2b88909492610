package client

import (
	"context"
	"encoding/json"
)

// Auth holds the auth.* operations (PROTOCOL.md §6.3): token login, in
// external-token mode and, for token re-use, in built-in identity mode.
type Auth struct{ c *Client }

// Auth returns the auth.* operations.
func (c *Client) Auth() Auth { return Auth{c} }

// Session is the auth context bound by auth.login.
type Session struct {
	UserID string   `json:"userId"`
	Roles  []string `json:"roles"`
	// ExpiresAt is in Unix ms; nil when the session never expires.
	ExpiresAt *int64 `json:"expiresAt"`
}

// Login binds the connection to the user the token stands for. The client
// remembers the call and repeats it after every reconnect, until Logout,
// another login, or a refused repeat.
func (a Auth) Login(ctx context.Context, token string) (Session, error) {
	p := map[string]any{"token": token}
	var out Session
	err := a.c.callThen(ctx, "auth.login", p, &out, func(json.RawMessage) { a.c.setLogin(&loginCall{typ: "auth.login", params: p}) })
	return out, err
}

// Logout unbinds the connection and forgets the login.
func (a Auth) Logout(ctx context.Context) error {
	return a.c.callThen(ctx, "auth.logout", nil, nil, func(json.RawMessage) { a.c.setLogin(nil) })
}

// Whoami describes the connection's auth context.
type Whoami struct {
	Authenticated bool     `json:"authenticated"`
	UserID        string   `json:"userId,omitempty"`
	Roles         []string `json:"roles,omitempty"`
	ExpiresAt     *int64   `json:"expiresAt,omitempty"`
}

// Whoami returns the connection's auth context; it never fails for being
// logged out.
func (a Auth) Whoami(ctx context.Context) (Whoami, error) {
	var out Whoami
	err := a.c.call(ctx, "auth.whoami", nil, &out)
	return out, err
}
