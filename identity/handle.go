package identity

import (
	"context"
	"encoding/json"

	"github.com/noex-go/noex/internal/wire"
)

// Operations are the identity.* operations (§6.9).
var Operations = []string{
	"identity.login", "identity.loginWithSecret", "identity.logout", "identity.whoami",
	"identity.refreshSession", "identity.createUser", "identity.getUser", "identity.updateUser",
	"identity.deleteUser", "identity.listUsers", "identity.enableUser", "identity.disableUser",
	"identity.changePassword", "identity.resetPassword", "identity.createRole", "identity.updateRole",
	"identity.deleteRole", "identity.listRoles", "identity.assignRole", "identity.removeRole",
	"identity.getUserRoles", "identity.grant", "identity.revoke", "identity.getAcl",
	"identity.myAccess", "identity.getOwner", "identity.transferOwner",
}

// requirement is the fixed check of an operation (§6.8.2), made before its
// own field validation; checks that depend on fields run inside the
// operations. Roles are the caller's current ones everywhere
// (COMPATIBILITY.md P§11 #23).
type requirement int

const (
	anyone requirement = iota
	authenticated
	adminLevel
	superadmin
)

var requirements = map[string]requirement{
	"identity.login": anyone, "identity.loginWithSecret": anyone,
	"identity.createUser": adminLevel, "identity.getUser": adminLevel, "identity.deleteUser": adminLevel,
	"identity.listUsers": adminLevel, "identity.enableUser": adminLevel, "identity.disableUser": adminLevel,
	"identity.resetPassword": adminLevel, "identity.listRoles": adminLevel, "identity.assignRole": adminLevel,
	"identity.removeRole": adminLevel, "identity.getUserRoles": adminLevel,
	"identity.createRole": superadmin, "identity.updateRole": superadmin, "identity.deleteRole": superadmin,
}

func (id *Identity) adminLevel(c Caller) bool {
	a := c.Auth()
	if a == nil {
		return false
	}
	s, err := id.current()
	return err == nil && (s.hasRole(a.UserID, RoleAdmin) || s.hasRole(a.UserID, RoleSuperadmin))
}

var errAuthRequired = wire.NewError(wire.CodeUnauthorized, "Authentication required")

// Handle runs one identity.* operation for caller. The access gate has
// already refused unauthenticated callers of everything but the two
// logins; the checks here are the operations' own.
func (id *Identity) Handle(ctx context.Context, c Caller, op string, f map[string]json.RawMessage) (any, error) {
	req, known := requirements[op]
	if !known {
		req = authenticated
	}
	switch {
	case req != anyone && c.Auth() == nil:
		return nil, errAuthRequired
	case req == adminLevel && !id.adminLevel(c):
		return nil, errAdminRequired
	case req == superadmin && !id.HasCurrentRole(c.Auth().UserID, RoleSuperadmin):
		return nil, errSuperRequired
	}
	switch op {
	case "identity.login":
		return id.login(ctx, c, f)
	case "identity.loginWithSecret":
		return id.loginWithSecret(ctx, c, f)
	case "identity.logout":
		return id.logout(ctx, c)
	case "identity.whoami":
		return id.whoami(c)
	case "identity.refreshSession":
		return id.refreshSession(ctx, c)
	case "identity.createUser":
		return id.createUser(ctx, f)
	case "identity.getUser":
		return id.getUser(f)
	case "identity.updateUser":
		return id.updateUser(ctx, c, f)
	case "identity.deleteUser":
		return id.deleteUser(ctx, f)
	case "identity.listUsers":
		return id.listUsers(f)
	case "identity.enableUser":
		return id.setEnabled(ctx, f, true)
	case "identity.disableUser":
		return id.setEnabled(ctx, f, false)
	case "identity.changePassword":
		return id.changePassword(ctx, c, f)
	case "identity.resetPassword":
		return id.resetPassword(ctx, c, f)
	case "identity.createRole":
		return id.createRole(ctx, f)
	case "identity.updateRole":
		return id.updateRole(ctx, f)
	case "identity.deleteRole":
		return id.deleteRole(ctx, f)
	case "identity.listRoles":
		return id.listRoles()
	case "identity.assignRole":
		return id.assignRole(ctx, c, f)
	case "identity.removeRole":
		return id.removeRole(ctx, f)
	case "identity.getUserRoles":
		return id.getUserRoles(f)
	case "identity.grant":
		return id.grant(ctx, c, f)
	case "identity.revoke":
		return id.revoke(ctx, c, f)
	case "identity.getAcl":
		return id.getAcl(f)
	case "identity.myAccess":
		return id.myAccess(c)
	case "identity.getOwner":
		return id.getOwner(f)
	case "identity.transferOwner":
		return id.transferOwner(ctx, c, f)
	}
	return nil, wire.Errorf(wire.CodeUnknownOperation, "Unknown identity operation %q", op)
}
