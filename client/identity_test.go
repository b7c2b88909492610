package client

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/audit"
	"github.com/noex-go/noex/identity"
)

const adminSecret = "s3cret-admin"

// startIdentityServer runs built-in identity (cheap password hashes) with
// an audit log of admin operations.
func startIdentityServer(t *testing.T) *testServer {
	return startServer(t, func(c *noex.Config) {
		c.Identity = &identity.Config{AdminSecret: adminSecret, ScryptN: 16}
		c.Audit = &audit.Config{}
	})
}

func TestIdentityOperations(t *testing.T) {
	t.Parallel()
	ts := startIdentityServer(t)
	admin := dial(t, ts.url, nil)
	ctx := testCtx(t)
	id := admin.Identity()
	if !admin.Welcome().RequiresAuth {
		t.Fatal("identity mode does not require auth")
	}
	_, err := id.Whoami(ctx)
	wantCode(t, err, CodeUnauthorized)
	_, err = id.LoginWithSecret(ctx, "wrong")
	wantCode(t, err, CodeUnauthorized)

	root := must[LoginResult](t)(id.LoginWithSecret(ctx, adminSecret))
	if root.Token == "" || root.User.ID != "__superadmin__" || !slices.Equal(root.User.Roles, []string{"superadmin"}) {
		t.Fatalf("loginWithSecret %+v", root)
	}
	who := must[Whoami](t)(id.Whoami(ctx))
	if !who.Authenticated || who.UserID != "__superadmin__" {
		t.Fatalf("whoami %+v", who)
	}

	// Users.
	alice := must[User](t)(id.CreateUser(ctx, NewUser{Username: "alice", Password: "password1",
		DisplayName: "Alice", Email: "a@x.io", Metadata: map[string]any{"team": "ops"}}))
	if alice.ID == "" || alice.Username != "alice" || !alice.Enabled || *alice.DisplayName != "Alice" ||
		alice.Metadata["team"] != "ops" || alice.CreatedAt == 0 {
		t.Fatalf("createUser %+v", alice)
	}
	_, err = id.CreateUser(ctx, NewUser{Username: "alice", Password: "password1"})
	wantCode(t, err, CodeAlreadyExists)
	if u := must[User](t)(id.GetUser(ctx, alice.ID)); u.Email != "a@x.io" {
		t.Fatalf("getUser %+v", u)
	}
	_, err = id.GetUser(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	name := "Alice B."
	if u := must[User](t)(id.UpdateUser(ctx, alice.ID, UserUpdate{DisplayName: &name})); *u.DisplayName != name || u.Email != "a@x.io" {
		t.Fatalf("updateUser %+v", u)
	}
	page := must[UserPage](t)(id.ListUsers(ctx, 0, 0))
	if page.Total != 1 || page.Page != 1 || page.PageSize != 50 || page.Users[0].ID != alice.ID {
		t.Fatalf("listUsers %+v", page)
	}
	if page = must[UserPage](t)(id.ListUsers(ctx, 2, 1)); page.Page != 2 || page.PageSize != 1 || len(page.Users) != 0 {
		t.Fatalf("listUsers page 2 %+v", page)
	}
	if u := must[User](t)(id.DisableUser(ctx, alice.ID)); u.Enabled {
		t.Fatal("disableUser")
	}
	if u := must[User](t)(id.EnableUser(ctx, alice.ID)); !u.Enabled {
		t.Fatal("enableUser")
	}
	check(t, id.ResetPassword(ctx, alice.ID, "password2"))

	// Roles.
	editor := must[Role](t)(id.CreateRole(ctx, NewRole{Name: "editor", Description: "Edits docs",
		Permissions: []Permission{{Allow: []string{"store.get", "store.update"}, Buckets: []string{"docs"}}}}))
	if editor.ID == "" || editor.System || len(editor.Permissions) != 1 || editor.Permissions[0].Buckets[0] != "docs" {
		t.Fatalf("createRole %+v", editor)
	}
	desc := "Edits documents"
	if r := must[Role](t)(id.UpdateRole(ctx, editor.ID, RoleUpdate{Description: &desc})); r.Description != desc || len(r.Permissions) != 1 {
		t.Fatalf("updateRole %+v", r)
	}
	roles := must[[]Role](t)(id.ListRoles(ctx))
	var roleNames []string
	for _, r := range roles {
		roleNames = append(roleNames, r.Name)
	}
	if !slices.Contains(roleNames, "superadmin") || !slices.Contains(roleNames, "editor") {
		t.Fatalf("listRoles %v", roleNames)
	}
	check(t, id.AssignRole(ctx, alice.ID, "editor"))
	wantCode(t, id.AssignRole(ctx, alice.ID, "editor"), CodeAlreadyExists)
	check(t, id.AssignRole(ctx, alice.ID, "writer"))
	if rs := must[[]Role](t)(id.GetUserRoles(ctx, alice.ID)); len(rs) != 2 {
		t.Fatalf("getUserRoles %+v", rs)
	}
	check(t, id.RemoveRole(ctx, alice.ID, "editor"))
	wantCode(t, id.RemoveRole(ctx, alice.ID, "editor"), CodeNotFound)

	// ACL and ownership: the superadmin defines a bucket and owns it.
	check(t, admin.Store().DefineBucket(ctx, "docs", BucketConfig{Key: "id", Schema: map[string]FieldDef{
		"id": {Type: "string", Generated: "uuid"}, "title": {Type: "string"}}}))
	if o := must[*Owner](t)(id.GetOwner(ctx, "bucket", "docs")); o == nil || o.UserID != "__superadmin__" {
		t.Fatalf("getOwner %+v", o)
	}
	if o := must[*Owner](t)(id.GetOwner(ctx, "bucket", "nothing")); o != nil {
		t.Fatalf("getOwner of an unowned resource %+v", o)
	}
	check(t, id.Grant(ctx, Grant{SubjectType: "user", SubjectID: alice.ID, ResourceType: "bucket",
		ResourceName: "docs", Operations: []string{"read", "write"}}))
	wantCode(t, id.Grant(ctx, Grant{SubjectType: "user", SubjectID: alice.ID, ResourceType: "bucket", ResourceName: "docs"}), CodeValidation)
	acl := must[[]ACLEntry](t)(id.GetACL(ctx, "bucket", "docs"))
	i := slices.IndexFunc(acl, func(e ACLEntry) bool { return e.SubjectID == alice.ID })
	if i < 0 || acl[i].SubjectName != "alice" || !slices.Equal(acl[i].Operations, []string{"read", "write"}) {
		t.Fatalf("getAcl %+v", acl)
	}
	check(t, id.Revoke(ctx, Grant{SubjectType: "user", SubjectID: alice.ID, ResourceType: "bucket",
		ResourceName: "docs", Operations: []string{"write"}}))
	acl = must[[]ACLEntry](t)(id.GetACL(ctx, "bucket", "docs"))
	if i = slices.IndexFunc(acl, func(e ACLEntry) bool { return e.SubjectID == alice.ID }); i < 0 ||
		!slices.Equal(acl[i].Operations, []string{"read"}) {
		t.Fatalf("getAcl after revoke %+v", acl)
	}
	check(t, id.TransferOwner(ctx, "bucket", "docs", alice.ID))
	if o := must[*Owner](t)(id.GetOwner(ctx, "bucket", "docs")); o.UserID != alice.ID || o.Username != "alice" {
		t.Fatalf("owner after transfer %+v", o)
	}

	// Alice on her own connection.
	ac := dial(t, ts.url, nil)
	aid := ac.Identity()
	_, err = aid.Login(ctx, "alice", "password1")
	wantCode(t, err, CodeUnauthorized)
	al := must[LoginResult](t)(aid.Login(ctx, "alice", "password2"))
	if al.User.ID != alice.ID || !slices.Equal(al.User.Roles, []string{"writer"}) {
		t.Fatalf("login %+v", al)
	}
	access := must[Access](t)(aid.MyAccess(ctx))
	if access.User.ID != alice.ID || len(access.Resources) != 1 || !access.Resources[0].IsOwner {
		t.Fatalf("myAccess %+v", access)
	}
	if r := must[LoginResult](t)(aid.RefreshSession(ctx)); r.Token == al.Token || r.Token == "" {
		t.Fatalf("refreshSession %+v", r)
	}
	_, err = aid.CreateUser(ctx, NewUser{Username: "mallory", Password: "password1"})
	wantCode(t, err, CodeForbidden)
	check(t, aid.ChangePassword(ctx, alice.ID, "password2", "password3"))
	wantCode(t, aid.ChangePassword(ctx, alice.ID, "wrong-one", "password4"), CodeUnauthorized)
	// A token from one connection logs another in through auth.login.
	other := dial(t, ts.url, nil)
	tok := must[LoginResult](t)(other.Identity().Login(ctx, "alice", "password3")).Token
	third := dial(t, ts.url, nil)
	if s := must[Session](t)(third.Auth().Login(ctx, tok)); s.UserID != alice.ID {
		t.Fatalf("auth.login with an identity token %+v", s)
	}
	check(t, aid.Logout(ctx))
	_, err = aid.Whoami(ctx)
	wantCode(t, err, CodeUnauthorized)

	// Clean-up operations.
	check(t, id.DeleteRole(ctx, editor.ID))
	wantCode(t, id.DeleteRole(ctx, editor.ID), CodeNotFound)
	check(t, id.DeleteUser(ctx, alice.ID))
	_, err = id.GetUser(ctx, alice.ID)
	wantCode(t, err, CodeNotFound)

	// The audit log saw the admin operations.
	entries := must[[]AuditEntry](t)(admin.Audit().Query(ctx, AuditFilter{Operation: "identity.createUser"}))
	// Newest first: alice's refused attempt, the duplicate, the creation.
	if len(entries) != 3 || entries[0].Error != "Admin role required" || entries[0].UserID != alice.ID ||
		entries[2].Result != "success" || entries[2].UserID != "__superadmin__" || entries[2].SessionID == "" {
		t.Fatalf("audit entries %+v", entries)
	}
	var det struct{ Username string }
	if check(t, json.Unmarshal(entries[2].Details, &det)); det.Username != "alice" {
		t.Fatalf("audit details %s", entries[2].Details)
	}
	if e := must[[]AuditEntry](t)(admin.Audit().Query(ctx, AuditFilter{Result: "error", Limit: 1})); len(e) != 1 {
		t.Fatalf("audit limit %+v", e)
	}
	_, err = admin.Audit().Query(ctx, AuditFilter{Result: "maybe"})
	wantCode(t, err, CodeValidation)

	check(t, id.Logout(ctx))
}

// After a reconnect the client repeats identity.login.
func TestReconnectRepeatsIdentityLogin(t *testing.T) {
	t.Parallel()
	ts := startIdentityServer(t)
	px := startProxy(t, ts.url)
	var log stateLog
	c := dial(t, px.url(), &Config{OnStateChange: log.add, Reconnect: fastReconnect})
	ctx := testCtx(t)
	must[LoginResult](t)(c.Identity().LoginWithSecret(ctx, adminSecret))
	px.cut()
	eventually(t, "reconnecting", func() bool { return log.has(StateReconnecting) })
	// Requests wait until the login has been repeated.
	who := must[Whoami](t)(c.Identity().Whoami(ctx))
	if who.UserID != "__superadmin__" {
		t.Fatalf("whoami after reconnect %+v", who)
	}
}

func TestProcedures(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	p := c.Procedures()
	check(t, c.Store().DefineBucket(ctx, "items", BucketConfig{Key: "id", Schema: map[string]FieldDef{
		"id": {Type: "string"}, "orderId": {Type: "string"}, "price": {Type: "number"}}}))
	items := c.Store().Bucket("items")
	for i, price := range []int{100, 50, 7} {
		order := "o-1"
		if i == 2 {
			order = "o-2"
		}
		must[json.RawMessage](t)(items.Insert(ctx, map[string]any{"id": string(rune('a' + i)), "orderId": order, "price": price}))
	}
	total := Procedure{
		Name:        "order-total",
		Description: "sum of an order's items",
		Input:       map[string]InputField{"orderId": {Type: "string"}},
		Steps: []any{
			map[string]any{"action": "store.where", "bucket": "items", "filter": map[string]any{"orderId": "{{ input.orderId }}"}, "as": "items"},
			map[string]any{"action": "aggregate", "source": "items", "field": "price", "op": "sum", "as": "total"},
			map[string]any{"action": "return", "value": map[string]any{"order": "{{ input.orderId }}", "total": "{{ total }}"}},
		},
	}
	check(t, p.Register(ctx, total))
	wantCode(t, p.Register(ctx, total), CodeAlreadyExists)
	err := p.Register(ctx, Procedure{Name: "bad"})
	e := wantCode(t, err, CodeValidation)
	var det struct{ Issues []string }
	if check(t, e.DecodeDetails(&det)); len(det.Issues) == 0 {
		t.Fatalf("issues %s", e.Details)
	}

	res := must[CallResult](t)(p.Call(ctx, "order-total", map[string]any{"orderId": "o-1"}))
	var out struct {
		Order string
		Total float64
	}
	if check(t, json.Unmarshal(res.Result, &out)); !res.Success || out.Order != "o-1" || out.Total != 150 || len(res.Results) != 2 {
		t.Fatalf("call %+v %s", res, res.Result)
	}
	_, err = p.Call(ctx, "order-total", nil)
	wantCode(t, err, CodeValidation)
	_, err = p.Call(ctx, "nope", nil)
	wantCode(t, err, CodeNotFound)

	def := must[json.RawMessage](t)(p.Get(ctx, "order-total"))
	var back Procedure
	if check(t, json.Unmarshal(def, &back)); back.Name != "order-total" || len(back.Steps) != 3 {
		t.Fatalf("get %s", def)
	}
	check(t, p.Update(ctx, "order-total", map[string]any{"description": "total"}))
	list := must[[]ProcedureInfo](t)(p.List(ctx))
	if len(list) != 1 || list[0].Description != "total" || list[0].StepsCount != 3 {
		t.Fatalf("list %+v", list)
	}
	check(t, p.Unregister(ctx, "order-total"))
	wantCode(t, p.Unregister(ctx, "order-total"), CodeNotFound)
}
