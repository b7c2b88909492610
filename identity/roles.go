package identity

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// Role management (§6.9.4).

var (
	errRoleNotFound     = wire.NewError(wire.CodeNotFound, "Role not found")
	errRoleNameLength   = wire.NewError(wire.CodeValidation, "Role name must be between 1 and 64 characters")
	errDeleteSystemRole = wire.NewError(wire.CodeForbidden, "Cannot delete system role")
)

func errRoleByNameNotFound(name string) *wire.Error {
	return wire.NewError(wire.CodeNotFound, fmt.Sprintf("Role %q not found", name))
}

func (id *Identity) createRole(ctx context.Context, f map[string]json.RawMessage) (any, error) {
	name, werr := wire.RequireString(f, "name")
	if werr != nil {
		return nil, werr
	}
	if n := store.UTF16Len(name); n < 1 || n > 64 {
		return nil, errRoleNameLength
	}
	rec := store.Record{"name": name, "system": false, "permissions": []any{}}
	for k, v := range roleFields(f) {
		rec[k] = v
	}
	existing, err := id.roleByName(name)
	if err != nil {
		return nil, err
	}
	exists := wire.NewError(wire.CodeAlreadyExists, fmt.Sprintf("Role %q already exists", name))
	if existing != nil {
		return nil, exists
	}
	stored, err := id.st.Insert(BucketRoles, rec, store.OptionsFrom(ctx)...)
	if err != nil {
		var uq *store.ErrUniqueConstraint
		if asErr(err, &uq) {
			return nil, exists
		}
		return nil, err
	}
	id.changed()
	return roleInfo(stored), nil
}

// roleFields reads the settable fields of a role: description when it is
// a string, permissions when it is an array (§6.9.4); others are ignored.
func roleFields(f map[string]json.RawMessage) store.Record {
	out := store.Record{}
	if v, ok := decode(f, "description"); ok {
		if s, isStr := v.(string); isStr {
			out["description"] = s
		}
	}
	if v, ok := decode(f, "permissions"); ok {
		if list, isList := v.([]any); isList {
			out["permissions"] = list
		}
	}
	return out
}

func (id *Identity) updateRole(ctx context.Context, f map[string]json.RawMessage) (any, error) {
	roleID, werr := wire.RequireString(f, "roleId")
	if werr != nil {
		return nil, werr
	}
	doc, err := id.st.Get(BucketRoles, roleID)
	if err != nil {
		return nil, err
	}
	if !doc.Found() {
		return nil, errRoleNotFound
	}
	changes := roleFields(f)
	if len(changes) == 0 {
		return roleInfo(doc.Record()), nil
	}
	updated, err := id.st.Update(BucketRoles, roleID, changes, store.OptionsFrom(ctx)...)
	if err != nil {
		var nf *store.ErrRecordNotFound
		if asErr(err, &nf) {
			return nil, errRoleNotFound
		}
		return nil, err
	}
	id.changed()
	return roleInfo(updated), nil
}

func (id *Identity) deleteRole(ctx context.Context, f map[string]json.RawMessage) (any, error) {
	roleID, werr := wire.RequireString(f, "roleId")
	if werr != nil {
		return nil, werr
	}
	doc, err := id.st.Get(BucketRoles, roleID)
	if err != nil {
		return nil, err
	}
	if !doc.Found() {
		return nil, errRoleNotFound
	}
	if doc.Record()["system"] == true {
		return nil, errDeleteSystemRole
	}
	err = id.transaction(ctx, func(tx *store.Tx) error {
		if err := deleteWhere(tx, BucketUserRoles, map[string]any{"roleId": roleID}); err != nil {
			return err
		}
		// ACL entries of the role would never apply again; remove them too.
		if err := deleteWhere(tx, BucketACL, map[string]any{"subjectType": "role", "subjectId": roleID}); err != nil {
			return err
		}
		return tx.Delete(BucketRoles, roleID)
	})
	if err != nil {
		var nf *store.ErrRecordNotFound
		if asErr(err, &nf) {
			return nil, errRoleNotFound
		}
		return nil, err
	}
	return map[string]bool{"deleted": true}, nil
}

func (id *Identity) listRoles() (any, error) {
	roles, err := id.all(BucketRoles)
	if err != nil {
		return nil, err
	}
	out := make([]store.Record, len(roles))
	for i, r := range roles {
		out[i] = roleInfo(r)
	}
	return map[string]any{"roles": out}, nil
}

// userAndRole validates userId and roleName, and finds the role by name.
func (id *Identity) userAndRole(f map[string]json.RawMessage, userMustExist bool) (userID string, role store.Record, err error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return "", nil, werr
	}
	roleName, werr := wire.RequireString(f, "roleName")
	if werr != nil {
		return "", nil, werr
	}
	if userMustExist && userID != SuperadminID {
		if _, err := id.existingUser(userID); err != nil {
			return "", nil, err
		}
	}
	role, err = id.roleByName(roleName)
	if err != nil {
		return "", nil, err
	}
	if role == nil {
		return "", nil, errRoleByNameNotFound(roleName)
	}
	return userID, role, nil
}

func (id *Identity) assignRole(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	userID, role, err := id.userAndRole(f, true)
	if err != nil {
		return nil, err
	}
	roleName := str(role["name"])
	err = id.transaction(ctx, func(tx *store.Tx) error {
		existing, err := txWhere(tx, BucketUserRoles, map[string]any{"userId": userID, "roleId": role["id"]})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return wire.NewError(wire.CodeAlreadyExists, fmt.Sprintf("User already has role %q", roleName))
		}
		_, err = tx.Insert(BucketUserRoles, store.Record{"userId": userID, "roleId": role["id"], "grantedBy": c.Auth().UserID})
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]bool{"assigned": true}, nil
}

func (id *Identity) removeRole(ctx context.Context, f map[string]json.RawMessage) (any, error) {
	userID, role, err := id.userAndRole(f, false)
	if err != nil {
		return nil, err
	}
	err = id.transaction(ctx, func(tx *store.Tx) error {
		existing, err := txWhere(tx, BucketUserRoles, map[string]any{"userId": userID, "roleId": role["id"]})
		if err != nil {
			return err
		}
		if len(existing) == 0 {
			return wire.NewError(wire.CodeNotFound, fmt.Sprintf("User does not have role %q", str(role["name"])))
		}
		for _, a := range existing {
			if err := tx.Delete(BucketUserRoles, a["id"]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]bool{"removed": true}, nil
}

func (id *Identity) getUserRoles(f map[string]json.RawMessage) (any, error) {
	userID, werr := wire.RequireString(f, "userId")
	if werr != nil {
		return nil, werr
	}
	out := []store.Record{}
	if userID == SuperadminID {
		r, err := id.roleByName(RoleSuperadmin)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, roleInfo(r))
		}
		return map[string]any{"roles": out}, nil
	}
	if _, err := id.existingUser(userID); err != nil {
		return nil, err
	}
	assignments, err := id.where(BucketUserRoles, map[string]any{"userId": userID})
	if err != nil {
		return nil, err
	}
	for _, a := range assignments {
		doc, err := id.st.Get(BucketRoles, a["roleId"])
		if err != nil {
			return nil, err
		}
		if doc.Found() {
			out = append(out, roleInfo(doc.Record()))
		}
	}
	return map[string]any{"roles": out}, nil
}
