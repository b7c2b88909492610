package client

import (
	"context"
	"encoding/json"
)

// Identity holds the identity.* operations of built-in identity mode
// (PROTOCOL.md §6.9). Without it every call fails with UNKNOWN_OPERATION.
type Identity struct{ c *Client }

// Identity returns the identity.* operations.
func (c *Client) Identity() Identity { return Identity{c} }

// LoginResult is the result of the identity login operations.
type LoginResult struct {
	// Token can be passed to Auth().Login on another connection.
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expiresAt"`
	User      struct {
		ID          string   `json:"id"`
		Username    string   `json:"username"`
		DisplayName *string  `json:"displayName,omitempty"`
		Roles       []string `json:"roles"`
	} `json:"user"`
}

// User is a user record without its password (user info, §6.9.1).
type User struct {
	ID          string         `json:"id"`
	Username    string         `json:"username"`
	Enabled     bool           `json:"enabled"`
	DisplayName *string        `json:"displayName,omitempty"`
	Email       string         `json:"email,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	CreatedAt   int64          `json:"_createdAt"`
	UpdatedAt   int64          `json:"_updatedAt"`
}

// Role is a role record (role info, §6.9.1).
type Role struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	System      bool         `json:"system"`
	Permissions []Permission `json:"permissions"`
	CreatedAt   int64        `json:"_createdAt"`
	UpdatedAt   int64        `json:"_updatedAt"`
}

// Permission is a role permission entry (§6.7): Allow is an operation
// pattern or a list of them ("store.*", "rules.emit"); Buckets and Topics
// restrict it.
type Permission struct {
	Allow   any      `json:"allow"`
	Buckets []string `json:"buckets,omitempty"`
	Topics  []string `json:"topics,omitempty"`
}

// ACLEntry is an entry of GetACL.
type ACLEntry struct {
	SubjectType string   `json:"subjectType"`
	SubjectID   string   `json:"subjectId"`
	SubjectName string   `json:"subjectName"`
	Operations  []string `json:"operations"`
	IsOwner     bool     `json:"isOwner"`
}

// Grant names a subject, a resource and ACL operations ("read", "write",
// "admin"). SubjectType is "user" or "role" (a role by id); ResourceType
// is "bucket", "topic", "procedure" or "query".
type Grant struct {
	SubjectType  string   `json:"subjectType"`
	SubjectID    string   `json:"subjectId"`
	ResourceType string   `json:"resourceType"`
	ResourceName string   `json:"resourceName"`
	Operations   []string `json:"operations,omitempty"`
}

// Owner is the owner of a resource.
type Owner struct {
	UserID       string `json:"userId"`
	Username     string `json:"username"`
	ResourceType string `json:"resourceType"`
	ResourceName string `json:"resourceName"`
}

// Access is the caller's effective access (identity.myAccess).
type Access struct {
	User struct {
		ID       string   `json:"id"`
		Username string   `json:"username"`
		Roles    []string `json:"roles"`
	} `json:"user"`
	Resources []struct {
		ResourceType string   `json:"resourceType"`
		ResourceName string   `json:"resourceName"`
		Operations   []string `json:"operations"`
		IsOwner      bool     `json:"isOwner"`
	} `json:"resources"`
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username    string         `json:"username"`
	Password    string         `json:"password"`
	DisplayName string         `json:"displayName,omitempty"`
	Email       string         `json:"email,omitempty"`
	Enabled     *bool          `json:"enabled,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// UserUpdate names the fields UpdateUser changes; nil fields stay.
type UserUpdate struct {
	DisplayName *string        `json:"displayName,omitempty"`
	Email       *string        `json:"email,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
}

// NewRole is the input of CreateRole.
type NewRole struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions,omitempty"`
}

// RoleUpdate names what UpdateRole changes; nil fields stay.
type RoleUpdate struct {
	Description *string      `json:"description,omitempty"`
	Permissions []Permission `json:"permissions,omitempty"`
}

// UserPage is a page of ListUsers.
type UserPage struct {
	Users    []User `json:"users"`
	Total    int    `json:"total"`
	Page     int    `json:"page"`
	PageSize int    `json:"pageSize"`
}

func (i Identity) login(ctx context.Context, typ string, p map[string]any) (LoginResult, error) {
	var out LoginResult
	err := i.c.callThen(ctx, typ, p, &out, func(json.RawMessage) { i.c.setLogin(&loginCall{typ: typ, params: p}) })
	return out, err
}

// Login logs in with a username and password. The client keeps the
// credentials in memory and logs in with them again after every
// reconnect (until Logout); to avoid that, log in once and pass the
// token to Auth().Login instead.
func (i Identity) Login(ctx context.Context, username, password string) (LoginResult, error) {
	return i.login(ctx, "identity.login", map[string]any{"username": username, "password": password})
}

// LoginWithSecret logs in as the virtual superadmin; like Login, the
// secret is repeated after reconnects.
func (i Identity) LoginWithSecret(ctx context.Context, secret string) (LoginResult, error) {
	return i.login(ctx, "identity.loginWithSecret", map[string]any{"secret": secret})
}

// Logout deletes the connection's token, unbinds it and forgets the login.
func (i Identity) Logout(ctx context.Context) error {
	return i.c.callThen(ctx, "identity.logout", nil, nil, func(json.RawMessage) { i.c.setLogin(nil) })
}

// Whoami returns the connection's auth context (it fails when logged out;
// Auth().Whoami does not).
func (i Identity) Whoami(ctx context.Context) (Whoami, error) {
	var out Whoami
	err := i.c.call(ctx, "identity.whoami", nil, &out)
	return out, err
}

// RefreshSession replaces the connection's token with a new one. It does
// not change what is repeated after a reconnect (the original login).
func (i Identity) RefreshSession(ctx context.Context) (LoginResult, error) {
	var out LoginResult
	err := i.c.call(ctx, "identity.refreshSession", nil, &out)
	return out, err
}

// CreateUser creates a user.
func (i Identity) CreateUser(ctx context.Context, u NewUser) (User, error) {
	var out User
	err := i.c.call(ctx, "identity.createUser", u, &out)
	return out, err
}

// GetUser returns a user.
func (i Identity) GetUser(ctx context.Context, userID string) (User, error) {
	var out User
	err := i.c.call(ctx, "identity.getUser", map[string]any{"userId": userID}, &out)
	return out, err
}

// UpdateUser changes a user's display name, e-mail or metadata.
func (i Identity) UpdateUser(ctx context.Context, userID string, u UserUpdate) (User, error) {
	p := map[string]any{"userId": userID}
	if u.DisplayName != nil {
		p["displayName"] = *u.DisplayName
	}
	if u.Email != nil {
		p["email"] = *u.Email
	}
	if u.Metadata != nil {
		p["metadata"] = u.Metadata
	}
	var out User
	err := i.c.call(ctx, "identity.updateUser", p, &out)
	return out, err
}

// DeleteUser deletes a user with its tokens, roles, ACL entries and
// ownerships.
func (i Identity) DeleteUser(ctx context.Context, userID string) error {
	return i.c.call(ctx, "identity.deleteUser", map[string]any{"userId": userID}, nil)
}

// ListUsers returns a page of users; page and pageSize 0 mean the server's
// defaults (1 and 50).
func (i Identity) ListUsers(ctx context.Context, page, pageSize int) (UserPage, error) {
	p := map[string]any{}
	if page > 0 {
		p["page"] = page
	}
	if pageSize > 0 {
		p["pageSize"] = pageSize
	}
	var out UserPage
	err := i.c.call(ctx, "identity.listUsers", p, &out)
	return out, err
}

// EnableUser enables a user.
func (i Identity) EnableUser(ctx context.Context, userID string) (User, error) {
	var out User
	err := i.c.call(ctx, "identity.enableUser", map[string]any{"userId": userID}, &out)
	return out, err
}

// DisableUser disables a user and deletes its tokens.
func (i Identity) DisableUser(ctx context.Context, userID string) (User, error) {
	var out User
	err := i.c.call(ctx, "identity.disableUser", map[string]any{"userId": userID}, &out)
	return out, err
}

// ChangePassword changes the caller's own password.
func (i Identity) ChangePassword(ctx context.Context, userID, currentPassword, newPassword string) error {
	return i.c.call(ctx, "identity.changePassword", map[string]any{
		"userId": userID, "currentPassword": currentPassword, "newPassword": newPassword}, nil)
}

// ResetPassword sets another user's password (admin).
func (i Identity) ResetPassword(ctx context.Context, userID, newPassword string) error {
	return i.c.call(ctx, "identity.resetPassword", map[string]any{"userId": userID, "newPassword": newPassword}, nil)
}

// CreateRole creates a role.
func (i Identity) CreateRole(ctx context.Context, r NewRole) (Role, error) {
	var out Role
	err := i.c.call(ctx, "identity.createRole", r, &out)
	return out, err
}

// UpdateRole changes a role's description or permissions.
func (i Identity) UpdateRole(ctx context.Context, roleID string, u RoleUpdate) (Role, error) {
	p := map[string]any{"roleId": roleID}
	if u.Description != nil {
		p["description"] = *u.Description
	}
	if u.Permissions != nil {
		p["permissions"] = u.Permissions
	}
	var out Role
	err := i.c.call(ctx, "identity.updateRole", p, &out)
	return out, err
}

// DeleteRole deletes a role and its assignments.
func (i Identity) DeleteRole(ctx context.Context, roleID string) error {
	return i.c.call(ctx, "identity.deleteRole", map[string]any{"roleId": roleID}, nil)
}

// ListRoles returns every role.
func (i Identity) ListRoles(ctx context.Context) ([]Role, error) {
	var out struct {
		Roles []Role `json:"roles"`
	}
	err := i.c.call(ctx, "identity.listRoles", nil, &out)
	return out.Roles, err
}

// AssignRole gives a user a role, by role name.
func (i Identity) AssignRole(ctx context.Context, userID, roleName string) error {
	return i.c.call(ctx, "identity.assignRole", map[string]any{"userId": userID, "roleName": roleName}, nil)
}

// RemoveRole takes a role, by name, from a user.
func (i Identity) RemoveRole(ctx context.Context, userID, roleName string) error {
	return i.c.call(ctx, "identity.removeRole", map[string]any{"userId": userID, "roleName": roleName}, nil)
}

// GetUserRoles returns a user's roles.
func (i Identity) GetUserRoles(ctx context.Context, userID string) ([]Role, error) {
	var out struct {
		Roles []Role `json:"roles"`
	}
	err := i.c.call(ctx, "identity.getUserRoles", map[string]any{"userId": userID}, &out)
	return out.Roles, err
}

// Grant adds ACL operations for a subject on a resource (merged with an
// existing entry).
func (i Identity) Grant(ctx context.Context, g Grant) error {
	if g.Operations == nil {
		g.Operations = []string{} // the server says it must not be empty
	}
	return i.c.call(ctx, "identity.grant", grantParams(g), nil)
}

// Revoke removes ACL operations (all of them when g.Operations is empty).
func (i Identity) Revoke(ctx context.Context, g Grant) error {
	return i.c.call(ctx, "identity.revoke", grantParams(g), nil)
}

func grantParams(g Grant) map[string]any {
	p := map[string]any{"subjectType": g.SubjectType, "subjectId": g.SubjectID,
		"resourceType": g.ResourceType, "resourceName": g.ResourceName}
	if g.Operations != nil {
		p["operations"] = g.Operations
	}
	return p
}

// GetACL returns the ACL entries of a resource.
func (i Identity) GetACL(ctx context.Context, resourceType, resourceName string) ([]ACLEntry, error) {
	var out struct {
		Entries []ACLEntry `json:"entries"`
	}
	err := i.c.call(ctx, "identity.getAcl", map[string]any{"resourceType": resourceType, "resourceName": resourceName}, &out)
	return out.Entries, err
}

// MyAccess returns the caller's roles and ACL-derived access.
func (i Identity) MyAccess(ctx context.Context) (Access, error) {
	var out Access
	err := i.c.call(ctx, "identity.myAccess", nil, &out)
	return out, err
}

// GetOwner returns a resource's owner, nil when it has none.
func (i Identity) GetOwner(ctx context.Context, resourceType, resourceName string) (*Owner, error) {
	var out struct {
		Owner json.RawMessage `json:"owner"`
	}
	err := i.c.call(ctx, "identity.getOwner", map[string]any{"resourceType": resourceType, "resourceName": resourceName}, &out)
	if err != nil || len(out.Owner) == 0 || string(out.Owner) == "null" {
		return nil, err
	}
	o := new(Owner)
	if err := json.Unmarshal(out.Owner, o); err != nil {
		return nil, err
	}
	return o, nil
}

// TransferOwner makes another user the owner of a resource.
func (i Identity) TransferOwner(ctx context.Context, resourceType, resourceName, newOwnerID string) error {
	return i.c.call(ctx, "identity.transferOwner", map[string]any{
		"resourceType": resourceType, "resourceName": resourceName, "newOwnerId": newOwnerID}, nil)
}
