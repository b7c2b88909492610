package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"sort"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// Login tokens (§6.10) and the login operations (§6.9.2).

func errRateLimited(retryMs int64) *wire.Error {
	return &wire.Error{Code: wire.CodeRateLimited, Message: "Too many failed login attempts. Try again later.",
		Details: map[string]int64{"retryAfterMs": retryMs}}
}

var (
	errInvalidCredentials = wire.NewError(wire.CodeUnauthorized, "Invalid credentials")
	errAccountDisabled    = wire.NewError(wire.CodeUnauthorized, "Account disabled")
	errInvalidSecret      = wire.NewError(wire.CodeUnauthorized, "Invalid secret")
	errNoSession          = wire.NewError(wire.CodeUnauthorized, "No active session to refresh")
	errInvalidSession     = wire.NewError(wire.CodeUnauthorized, "Invalid or expired session")
	errUserGone           = wire.NewError(wire.CodeUnauthorized, "User not found or disabled")
)

// newToken stores a login token for userID, first deleting the user's
// oldest tokens beyond MaxSessionsPerUser - 1 and any that expired.
func (id *Identity) newToken(ctx context.Context, userID, ip string) (token string, expiresAt int64, err error) {
	now := id.nowMs()
	expiresAt = now + id.cfg.SessionTTL.Milliseconds()
	err = id.transaction(ctx, func(tx *store.Tx) error {
		existing, err := txWhere(tx, BucketSessions, map[string]any{"userId": userID})
		if err != nil {
			return err
		}
		live := existing[:0]
		for _, t := range existing {
			if exp, _ := t["expiresAt"].(float64); int64(exp) < now {
				if err := tx.Delete(BucketSessions, t["id"]); err != nil {
					return err
				}
				continue
			}
			live = append(live, t)
		}
		sort.SliceStable(live, func(i, j int) bool {
			a, _ := live[i]["createdAt"].(float64)
			b, _ := live[j]["createdAt"].(float64)
			return a < b
		})
		for excess := len(live) - (id.cfg.MaxSessionsPerUser - 1); excess > 0; excess-- {
			if err := tx.Delete(BucketSessions, live[0]["id"]); err != nil {
				return err
			}
			live = live[1:]
		}
		rec := store.Record{"userId": userID, "expiresAt": float64(expiresAt)}
		if ip != "" {
			rec["ip"] = ip
		}
		stored, err := tx.Insert(BucketSessions, rec)
		if err != nil {
			return err
		}
		token, _ = stored["id"].(string)
		return nil
	})
	return token, expiresAt, err
}

// tokenUser returns the user id of a valid token and its expiry; an
// expired token is deleted and reported as invalid.
func (id *Identity) tokenUser(ctx context.Context, token string) (userID string, expiresAt int64, ok bool, err error) {
	doc, err := id.st.Get(BucketSessions, token)
	if err != nil || !doc.Found() {
		return "", 0, false, err
	}
	rec := doc.Record()
	exp, _ := rec["expiresAt"].(float64)
	if int64(exp) < id.nowMs() {
		if err := id.st.Delete(BucketSessions, token, store.OptionsFrom(ctx)...); err != nil {
			var nf *store.ErrRecordNotFound
			if !asErr(err, &nf) {
				return "", 0, false, err
			}
		}
		return "", 0, false, nil
	}
	uid, _ := rec["userId"].(string)
	return uid, int64(exp), true, nil
}

func (id *Identity) deleteTokens(ctx context.Context, userID string) error {
	return id.transaction(ctx, func(tx *store.Tx) error {
		return deleteWhere(tx, BucketSessions, map[string]any{"userId": userID})
	})
}

// ValidateToken is auth.login in built-in mode (§6.3 step 1): a stored,
// unexpired token yields its user's context with the current roles. The
// connection does not hold the token afterwards.
func (id *Identity) ValidateToken(ctx context.Context, token string) (*auth.Context, error) {
	uid, exp, ok, err := id.tokenUser(ctx, token)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, auth.Invalid("unknown or expired login token")
	}
	roles, err := id.RoleNames(uid)
	if err != nil {
		return nil, err
	}
	return &auth.Context{UserID: uid, Roles: roles, ExpiresAt: exp}, nil
}

type loginUser struct {
	ID          string   `json:"id"`
	Username    string   `json:"username"`
	DisplayName *any     `json:"displayName,omitempty"`
	Roles       []string `json:"roles"`
}

type loginResult struct {
	Token     string    `json:"token"`
	ExpiresAt int64     `json:"expiresAt"`
	User      loginUser `json:"user"`
}

// bindLogin stores a token for user, binds the caller and builds the login
// result.
func (id *Identity) bindLogin(ctx context.Context, c Caller, userID, username string, displayName *any, ip string) (any, error) {
	roles, err := id.RoleNames(userID)
	if err != nil {
		return nil, err
	}
	token, exp, err := id.newToken(ctx, userID, ip)
	if err != nil {
		return nil, err
	}
	c.Bind(&auth.Context{UserID: userID, Roles: roles, ExpiresAt: exp, Token: token})
	return loginResult{Token: token, ExpiresAt: exp,
		User: loginUser{ID: userID, Username: username, DisplayName: displayName, Roles: roles}}, nil
}

func (id *Identity) login(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	username, werr := wire.RequireString(f, "username")
	if werr != nil {
		return nil, werr
	}
	password, werr := wire.RequireString(f, "password")
	if werr != nil {
		return nil, werr
	}
	now := id.nowMs()
	userKey, ipKey := "user:"+username, "ip:"+c.RemoteAddress()
	for _, k := range []string{userKey, ipKey} {
		if retry := id.lockout.locked(k, now); retry > 0 {
			return nil, errRateLimited(retry)
		}
	}
	fail := func(e *wire.Error) (any, error) {
		id.lockout.fail(userKey, now)
		id.lockout.fail(ipKey, now)
		return nil, e
	}
	u, err := id.userByName(username)
	if err != nil {
		return nil, err
	}
	if u == nil {
		// Spend the time a hash check takes, so that the answer's timing
		// does not tell which usernames exist.
		id.hash.verify(ctx, password, id.dummyHash)
		return fail(errInvalidCredentials)
	}
	if u["enabled"] == false {
		return fail(errAccountDisabled)
	}
	if !id.hash.verify(ctx, password, str(u["passwordHash"])) {
		return fail(errInvalidCredentials)
	}
	// A successful login clears both counters (COMPATIBILITY.md P§11 #20).
	id.lockout.reset(userKey)
	id.lockout.reset(ipKey)
	var display *any
	if v, ok := u["displayName"]; ok {
		display = &v
	}
	return id.bindLogin(ctx, c, str(u["id"]), username, display, c.RemoteAddress())
}

func (id *Identity) loginWithSecret(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	secret, werr := wire.RequireString(f, "secret")
	if werr != nil {
		return nil, werr
	}
	now := id.nowMs()
	ipKey := "ip:" + c.RemoteAddress()
	if retry := id.lockout.locked(ipKey, now); retry > 0 {
		return nil, errRateLimited(retry)
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(id.cfg.AdminSecret)) != 1 {
		id.lockout.fail(ipKey, now)
		return nil, errInvalidSecret
	}
	id.lockout.reset(ipKey)
	return id.bindLogin(ctx, c, SuperadminID, SuperadminID, nil, c.RemoteAddress())
}

func (id *Identity) logout(ctx context.Context, c Caller) (any, error) {
	if a := c.Auth(); a != nil && a.Token != "" {
		if err := id.st.Delete(BucketSessions, a.Token, store.OptionsFrom(ctx)...); err != nil {
			var nf *store.ErrRecordNotFound
			if !asErr(err, &nf) {
				return nil, err
			}
		}
	}
	c.Bind(nil)
	return map[string]bool{"loggedOut": true}, nil
}

func (id *Identity) whoami(c Caller) (any, error) {
	a := c.Auth()
	roles, err := id.RoleNames(a.UserID)
	if err != nil {
		return nil, err
	}
	var exp any
	if a.ExpiresAt != 0 {
		exp = a.ExpiresAt
	}
	return map[string]any{"authenticated": true, "userId": a.UserID, "roles": roles, "expiresAt": exp}, nil
}

func (id *Identity) refreshSession(ctx context.Context, c Caller) (any, error) {
	a := c.Auth()
	if a == nil || a.Token == "" {
		return nil, errNoSession
	}
	uid, _, ok, err := id.tokenUser(ctx, a.Token)
	if err != nil {
		return nil, err
	}
	if !ok || uid != a.UserID {
		return nil, errInvalidSession
	}
	if err := id.st.Delete(BucketSessions, a.Token, store.OptionsFrom(ctx)...); err != nil {
		var nf *store.ErrRecordNotFound
		if !asErr(err, &nf) {
			return nil, err
		}
	}
	if uid == SuperadminID {
		return id.bindLogin(ctx, c, SuperadminID, SuperadminID, nil, "")
	}
	u, err := id.user(uid)
	if err != nil {
		return nil, err
	}
	if u == nil || u["enabled"] == false {
		return nil, errUserGone
	}
	var display *any
	if v, ok := u["displayName"]; ok {
		display = &v
	}
	return id.bindLogin(ctx, c, uid, str(u["username"]), display, "")
}
