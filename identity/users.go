package identity

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// User management (§6.9.3).

var (
	errUserNotFound     = wire.NewError(wire.CodeNotFound, "User not found")
	errAdminRequired    = wire.NewError(wire.CodeForbidden, "Admin role required")
	errSuperRequired    = wire.NewError(wire.CodeForbidden, "Superadmin role required")
	errUsernameLength   = wire.NewError(wire.CodeValidation, "Username must be between 3 and 64 characters")
	errNotOwnPassword   = wire.NewError(wire.CodeForbidden, "Can only change your own password (use resetPassword for other users)")
	errCurrentPassword  = wire.NewError(wire.CodeUnauthorized, "Current password is incorrect")
	errDeleteSuperadmin = wire.NewError(wire.CodeForbidden, "Cannot delete virtual superadmin")
	errDisableSuper     = wire.NewError(wire.CodeForbidden, "Cannot disable virtual superadmin")
)

func (id *Identity) errPasswordLength() *wire.Error {
	return wire.Errorf(wire.CodeValidation, "Password must be at least %d characters", id.cfg.PasswordMinLength)
}

// decode reads an optional field; ok is false when it is absent.
func decode(f map[string]json.RawMessage, name string) (v any, ok bool) {
	raw, present := f[name]
	if !present {
		return nil, false
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	return v, true
}

func (id *Identity) createUser(ctx context.Context, f map[string]json.RawMessage) (any, error) {
	username, werr := wire.RequireString(f, "username")
	if werr != nil {
		return nil, werr
	}
	password, werr := wire.RequireString(f, "password")
	if werr != nil {
		return nil, werr
	}
	if n := store.UTF16Len(username); n < 3 || n > 64 {
		return nil, errUsernameLength
	}
	if store.UTF16Len(password) < id.cfg.PasswordMinLength {
		return nil, id.errPasswordLength()
	}
	rec := store.Record{"username": username}
	if v, ok := decode(f, "displayName"); ok {
		if s, isStr := v.(string); isStr {
			rec["displayName"] = s
		}
	}
	if v, ok := decode(f, "email"); ok {
		if s, isStr := v.(string); isStr {
			rec["email"] = s
		}
	}
	if v, ok := decode(f, "enabled"); ok {
		if b, isBool := v.(bool); isBool {
			rec["enabled"] = b
		}
	}
	if v, ok := decode(f, "metadata"); ok {
		if m, isObj := v.(map[string]any); isObj {
			rec["metadata"] = m
		}
	}
	existing, err := id.userByName(username)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, errUserExists(username)
	}
	hash, err := id.hash.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	rec["passwordHash"] = hash
	stored, err := id.st.Insert(BucketUsers, rec, store.OptionsFrom(ctx)...)
	if err != nil {
		var uq *store.ErrUniqueConstraint
		if asErr(err, &uq) && uq.Field == "username" {
			return nil, errUserExists(username) // created concurrently
		}
		return nil, err
	}
	return userInfo(stored), nil
}

func errUserExists(username string) *wire.Error {
	return wire.NewError(wire.CodeAlreadyExists, fmt.Sprintf("User %q already exists", username))
}

// existingUser returns the user record or NOT_FOUND.
func (id *Identity) existingUser(userID string) (store.Record, error) {
	u, err := id.user(userID)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errUserNotFound
	}
	return u, nil
}

func (id *Identity) getUser(f map[string]json.RawMessage) (any, error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return nil, werr
	}
	u, err := id.existingUser(userID)
	if err != nil {
		return nil, err
	}
	return userInfo(u), nil
}

func (id *Identity) updateUser(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return nil, werr
	}
	if userID != c.Auth().UserID && !id.adminLevel(c) {
		return nil, errAdminRequired
	}
	u, err := id.existingUser(userID)
	if err != nil {
		return nil, err
	}
	changes := store.Record{}
	if v, ok := f["displayName"]; ok {
		var s any
		_ = json.Unmarshal(v, &s)
		if str, isStr := s.(string); isStr {
			changes["displayName"] = str
		} else {
			changes["displayName"] = nil
		}
	}
	if v, ok := f["email"]; ok {
		var s any
		_ = json.Unmarshal(v, &s)
		if str, isStr := s.(string); isStr {
			changes["email"] = str
		} else {
			changes["email"] = "" // fails the email format: VALIDATION_ERROR
		}
	}
	if v, ok := f["metadata"]; ok {
		var m any
		_ = json.Unmarshal(v, &m)
		if obj, isObj := m.(map[string]any); isObj {
			changes["metadata"] = obj
		} else {
			changes["metadata"] = map[string]any{}
		}
	}
	if len(changes) == 0 {
		return userInfo(u), nil
	}
	updated, err := id.st.Update(BucketUsers, userID, changes, store.OptionsFrom(ctx)...)
	if err != nil {
		return nil, err
	}
	return userInfo(updated), nil
}

func (id *Identity) deleteUser(ctx context.Context, f map[string]json.RawMessage) (any, error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return nil, werr
	}
	if userID == SuperadminID {
		return nil, errDeleteSuperadmin
	}
	if _, err := id.existingUser(userID); err != nil {
		return nil, err
	}
	err := id.transaction(ctx, func(tx *store.Tx) error {
		for _, del := range []struct {
			bucket, field string
		}{{BucketSessions, "userId"}, {BucketUserRoles, "userId"}, {BucketACL, "subjectId"}, {BucketOwners, "userId"}} {
			if err := deleteWhere(tx, del.bucket, map[string]any{del.field: userID}); err != nil {
				return err
			}
		}
		return tx.Delete(BucketUsers, userID)
	})
	if err != nil {
		return nil, err
	}
	id.unbind(userID, nil)
	return map[string]bool{"deleted": true}, nil
}

func (id *Identity) listUsers(f map[string]json.RawMessage) (any, error) {
	page, pageSize := 1, 50
	if v, ok := decode(f, "page"); ok {
		if n, isNum := v.(float64); isNum {
			page = max(1, int(n))
		}
	}
	if v, ok := decode(f, "pageSize"); ok {
		if n, isNum := v.(float64); isNum {
			pageSize = min(200, max(1, int(n)))
		}
	}
	users, err := id.all(BucketUsers)
	if err != nil {
		return nil, err
	}
	start := min(len(users), (page-1)*pageSize)
	end := min(len(users), start+pageSize)
	out := make([]store.Record, 0, end-start)
	for _, u := range users[start:end] {
		out = append(out, userInfo(u))
	}
	return map[string]any{"users": out, "total": len(users), "page": page, "pageSize": pageSize}, nil
}

func (id *Identity) setEnabled(ctx context.Context, f map[string]json.RawMessage, enabled bool) (any, error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return nil, werr
	}
	if !enabled && userID == SuperadminID {
		return nil, errDisableSuper
	}
	if _, err := id.existingUser(userID); err != nil {
		return nil, err
	}
	var updated store.Record
	err := id.transaction(ctx, func(tx *store.Tx) error {
		var err error
		if updated, err = tx.Update(BucketUsers, userID, store.Record{"enabled": enabled}); err != nil {
			return err
		}
		if enabled {
			return nil
		}
		return deleteWhere(tx, BucketSessions, map[string]any{"userId": userID})
	})
	if err != nil {
		var nf *store.ErrRecordNotFound
		if asErr(err, &nf) {
			return nil, errUserNotFound
		}
		return nil, err
	}
	if !enabled {
		id.unbind(userID, nil)
	}
	return userInfo(updated), nil
}

func (id *Identity) changePassword(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	var vals [3]string
	for i, name := range []string{"userId", "currentPassword", "newPassword"} {
		v, werr := wire.RequireString(f, name)
		if werr != nil {
			return nil, werr
		}
		vals[i] = v
	}
	userID, current, next := vals[0], vals[1], vals[2]
	if userID != c.Auth().UserID {
		return nil, errNotOwnPassword
	}
	if store.UTF16Len(next) < id.cfg.PasswordMinLength {
		return nil, id.errPasswordLength()
	}
	u, err := id.existingUser(userID)
	if err != nil {
		return nil, err
	}
	if !id.hash.verify(ctx, current, str(u["passwordHash"])) {
		return nil, errCurrentPassword
	}
	if err := id.replacePassword(ctx, userID, next); err != nil {
		return nil, err
	}
	// The caller proved the current password and stays bound; every other
	// connection of the user is unbound (COMPATIBILITY.md P§11 #26).
	id.unbind(userID, c.Auth())
	return map[string]bool{"changed": true}, nil
}

func (id *Identity) resetPassword(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return nil, werr
	}
	next, werr := wire.RequireString(f, "newPassword")
	if werr != nil {
		return nil, werr
	}
	if store.UTF16Len(next) < id.cfg.PasswordMinLength {
		return nil, id.errPasswordLength()
	}
	if _, err := id.existingUser(userID); err != nil {
		return nil, err
	}
	if err := id.replacePassword(ctx, userID, next); err != nil {
		return nil, err
	}
	id.unbind(userID, c.Auth())
	return map[string]bool{"reset": true}, nil
}

// replacePassword stores a new hash and deletes every token of the user.
func (id *Identity) replacePassword(ctx context.Context, userID, password string) error {
	hash, err := id.hash.hash(ctx, password)
	if err != nil {
		return err
	}
	err = id.transaction(ctx, func(tx *store.Tx) error {
		if _, err := tx.Update(BucketUsers, userID, store.Record{"passwordHash": hash}); err != nil {
			return err
		}
		return deleteWhere(tx, BucketSessions, map[string]any{"userId": userID})
	})
	var nf *store.ErrRecordNotFound
	if asErr(err, &nf) {
		return errUserNotFound
	}
	return err
}
