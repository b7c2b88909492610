package noex_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/storage"
	"github.com/noex-go/noex/store"
)

const adminSecret = "s3cret-admin"

// startIdentityServer starts a store server in built-in identity mode
// with a cheap password hash and a settable clock.
func startIdentityServer(t *testing.T, mutate func(*identity.Config)) (*noex.Server, *store.Store, *testClock) {
	t.Helper()
	clk := &testClock{}
	clk.ms.Store(clockStart)
	srv, st := startStoreServer(t, func(c *noex.Config) {
		rt, err := noex.OpenRules(c.Store, rules.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rt.Stop(context.Background()) })
		c.Rules = rt.Engine
		c.Identity = &identity.Config{AdminSecret: adminSecret, ScryptN: 16, Now: clk.now}
		if mutate != nil {
			mutate(c.Identity)
		}
	})
	return srv, st, clk
}

// ok sends a request and returns its result data, failing on an error.
func (c *client) ok(req string, args ...any) map[string]any {
	c.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprintf(req, args...)), &m); err != nil {
		c.t.Fatalf("bad request %s: %v", req, err)
	}
	if _, has := m["id"]; !has {
		m["id"] = 7
	}
	got := c.request(m)
	if got["type"] != "result" {
		c.t.Fatalf("%s: %v", fmt.Sprintf(req, args...), got)
	}
	data, _ := got["data"].(map[string]any)
	return data
}

// fails sends a request and checks its error code and message.
func (c *client) fails(code, message, req string, args ...any) map[string]any {
	c.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprintf(req, args...)), &m); err != nil {
		c.t.Fatalf("bad request %s: %v", req, err)
	}
	m["id"] = 8
	got := c.request(m)
	if got["type"] != "error" || got["code"] != code || (message != "" && got["message"] != message) {
		c.t.Fatalf("%s:\n got %v\nwant %s %q", fmt.Sprintf(req, args...), got, code, message)
	}
	return got
}

// superadmin dials and logs in with the admin secret.
func superadmin(t *testing.T, srv *noex.Server) *client {
	c, _ := dial(t, srv)
	c.ok(`{"type":"identity.loginWithSecret","secret":%q}`, adminSecret)
	return c
}

// newUser creates a user with the given roles and returns its id.
func newUser(t *testing.T, admin *client, name string, roles ...string) string {
	t.Helper()
	u := admin.ok(`{"type":"identity.createUser","username":%q,"password":"password-%s"}`, name, name)
	id := u["id"].(string)
	for _, r := range roles {
		admin.ok(`{"type":"identity.assignRole","userId":%q,"roleName":%q}`, id, r)
	}
	return id
}

// userConn dials and logs in as name (created by newUser).
func userConn(t *testing.T, srv *noex.Server, name string) *client {
	c, _ := dial(t, srv)
	c.ok(`{"type":"identity.login","username":%q,"password":"password-%s"}`, name, name)
	return c
}

func TestIdentityBootstrap(t *testing.T) {
	srv, _, _ := startIdentityServer(t, nil)
	c, welcome := dial(t, srv)
	if welcome["requiresAuth"] != true {
		t.Fatalf("welcome = %v", welcome)
	}
	expires := float64(clockStart + identity.DefaultSessionTTL.Milliseconds())
	runScenario(t, c, []step{
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
		{`{"type":"identity.whoami"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
		{`{"type":"identity.logout"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
		{`{"type":"identity.loginWithSecret"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"secret\": expected non-empty string"}`},
		{`{"type":"identity.loginWithSecret","secret":"nope"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid secret"}`},
		{`{"type":"identity.loginWithSecret","secret":"` + adminSecret + `"}`,
			fmt.Sprintf(`{"type":"result","data":{"token":"*","expiresAt":%v,"user":{"id":"__superadmin__","username":"__superadmin__","roles":["superadmin"]}}}`, expires)},
		{`{"type":"identity.whoami"}`, fmt.Sprintf(`{"type":"result","data":{"authenticated":true,"userId":"__superadmin__","roles":["superadmin"],"expiresAt":%v}}`, expires)},
		{`{"type":"auth.whoami"}`, fmt.Sprintf(`{"type":"result","data":{"authenticated":true,"userId":"__superadmin__","roles":["superadmin"],"expiresAt":%v}}`, expires)},
		{`{"type":"identity.listRoles"}`, `{"type":"result","data":{"roles":[
			{"id":"*","name":"superadmin","description":"Full access to everything including identity management","system":true,"permissions":[{"allow":["*"]}],"_createdAt":"*","_updatedAt":"*"},
			{"id":"*","name":"admin","description":"Structural operations, data mutations, and reads","system":true,"permissions":"*","_createdAt":"*","_updatedAt":"*"},
			{"id":"*","name":"writer","description":"Data mutations and reads","system":true,"permissions":"*","_createdAt":"*","_updatedAt":"*"},
			{"id":"*","name":"reader","description":"Read-only access","system":true,"permissions":"*","_createdAt":"*","_updatedAt":"*"}]}}`},
		{`{"type":"identity.createUser","username":"alice","password":"correct-horse","displayName":"Alice","email":"a@x.io","metadata":{"team":"ops"}}`,
			`{"type":"result","data":{"id":"*","username":"alice","enabled":true,"displayName":"Alice","email":"a@x.io","metadata":{"team":"ops"},"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":{"count":0,"names":[]}}`},
	})
	alice := c.ok(`{"type":"identity.listUsers"}`)["users"].([]any)[0].(map[string]any)
	if _, leaked := alice["passwordHash"]; leaked {
		t.Fatalf("listUsers leaked the password hash: %v", alice)
	}
	c.ok(`{"type":"identity.assignRole","userId":%q,"roleName":"writer"}`, alice["id"])
	a, _ := dial(t, srv)
	got := a.ok(`{"type":"identity.login","username":"alice","password":"correct-horse"}`)
	if got["user"].(map[string]any)["displayName"] != "Alice" || fmt.Sprint(got["user"].(map[string]any)["roles"]) != "[writer]" {
		t.Fatalf("login result = %v", got)
	}
}

func TestIdentityLogin(t *testing.T) {
	srv, _, clk := startIdentityServer(t, func(c *identity.Config) { c.SessionTTL = time.Hour })
	admin := superadmin(t, srv)
	aliceID := newUser(t, admin, "alice", "writer")
	newUser(t, admin, "bob")
	c, _ := dial(t, srv)
	c.fails("VALIDATION_ERROR", `Missing or invalid "username": expected non-empty string`, `{"type":"identity.login","password":"x"}`)
	c.fails("VALIDATION_ERROR", `Missing or invalid "password": expected non-empty string`, `{"type":"identity.login","username":"alice"}`)
	c.fails("UNAUTHORIZED", "Invalid credentials", `{"type":"identity.login","username":"nobody","password":"password-x"}`)
	c.fails("UNAUTHORIZED", "Invalid credentials", `{"type":"identity.login","username":"alice","password":"wrong-password"}`)
	got := c.ok(`{"type":"identity.login","username":"alice","password":"password-alice"}`)
	token := got["token"].(string)
	if got["expiresAt"] != float64(clockStart+time.Hour.Milliseconds()) {
		t.Fatalf("sessionTtl not honoured: %v", got)
	}
	jsonEq(t, got["user"].(map[string]any), fmt.Sprintf(`{"id":%q,"username":"alice","roles":["writer"]}`, aliceID))

	// A token works with auth.login on another connection, which does not
	// hold it.
	other, _ := dial(t, srv)
	runScenario(t, other, []step{
		{`{"type":"auth.login","token":"nope"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid token"}`},
		{`{"type":"auth.login","token":"` + token + `"}`, `{"type":"result","data":{"userId":"` + aliceID + `","roles":["writer"],"expiresAt":"*"}}`},
		{`{"type":"identity.refreshSession"}`, `{"type":"error","code":"UNAUTHORIZED","message":"No active session to refresh"}`},
		{`{"type":"identity.logout"}`, `{"type":"result","data":{"loggedOut":true}}`},
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
	})

	// Refresh replaces the token.
	clk.advance(1000)
	fresh := c.ok(`{"type":"identity.refreshSession"}`)
	if fresh["token"] == token || fresh["expiresAt"] != float64(clockStart+1000+time.Hour.Milliseconds()) {
		t.Fatalf("refresh = %v", fresh)
	}
	other.fails("UNAUTHORIZED", "Invalid token", `{"type":"auth.login","token":%q}`, token)

	// Logout deletes the held token.
	c.ok(`{"type":"identity.logout"}`)
	other.fails("UNAUTHORIZED", "Invalid token", `{"type":"auth.login","token":%q}`, fresh["token"])

	// Expiry: a bound context past its expiresAt is unbound on the next
	// request; its token no longer logs in.
	c.ok(`{"type":"identity.login","username":"alice","password":"password-alice"}`)
	tok := c.ok(`{"type":"identity.login","username":"alice","password":"password-alice"}`)["token"].(string)
	clk.advance(time.Hour.Milliseconds() + 1)
	c.fails("UNAUTHORIZED", "Session expired", `{"type":"store.buckets"}`)
	c.fails("UNAUTHORIZED", "Authentication required", `{"type":"store.buckets"}`)
	other.fails("UNAUTHORIZED", "Invalid token", `{"type":"auth.login","token":%q}`, tok)

	// A disabled account.
	admin.ok(`{"type":"identity.loginWithSecret","secret":%q}`, adminSecret)
	bob := admin.ok(`{"type":"identity.listUsers"}`)["users"].([]any)[1].(map[string]any)
	admin.ok(`{"type":"identity.disableUser","userId":%q}`, bob["id"])
	c.fails("UNAUTHORIZED", "Account disabled", `{"type":"identity.login","username":"bob","password":"password-bob"}`)
}

func TestIdentityLockout(t *testing.T) {
	srv, _, clk := startIdentityServer(t, func(c *identity.Config) {
		c.LoginMaxAttempts = 3
		c.LoginWindow = time.Minute
	})
	admin := superadmin(t, srv)
	newUser(t, admin, "alice")
	newUser(t, admin, "bob")
	c, _ := dial(t, srv)
	for range 3 {
		c.fails("UNAUTHORIZED", "Invalid credentials", `{"type":"identity.login","username":"alice","password":"wrong-pass"}`)
	}
	got := c.fails("RATE_LIMITED", "Too many failed login attempts. Try again later.",
		`{"type":"identity.login","username":"alice","password":"password-alice"}`)
	if got["details"].(map[string]any)["retryAfterMs"] != float64(60000) {
		t.Fatalf("details = %v", got["details"])
	}
	// The address is locked too, for every username and for the secret.
	c.fails("RATE_LIMITED", "", `{"type":"identity.login","username":"bob","password":"password-bob"}`)
	c.fails("RATE_LIMITED", "", `{"type":"identity.loginWithSecret","secret":%q}`, adminSecret)
	clk.advance(30_000)
	got = c.fails("RATE_LIMITED", "", `{"type":"identity.login","username":"alice","password":"password-alice"}`)
	if got["details"].(map[string]any)["retryAfterMs"] != float64(30000) {
		t.Fatalf("details = %v", got["details"])
	}
	clk.advance(30_001)
	c.ok(`{"type":"identity.login","username":"alice","password":"password-alice"}`)

	// A successful login resets both counters (COMPATIBILITY.md P§11 #20).
	for range 2 {
		c.fails("UNAUTHORIZED", "Invalid credentials", `{"type":"identity.login","username":"bob","password":"wrong-pass"}`)
	}
	c.ok(`{"type":"identity.login","username":"bob","password":"password-bob"}`)
	for range 2 {
		c.fails("UNAUTHORIZED", "Invalid credentials", `{"type":"identity.login","username":"bob","password":"wrong-pass"}`)
	}
	c.ok(`{"type":"identity.login","username":"bob","password":"password-bob"}`)

	// Wrong secrets lock the address.
	s, _ := dial(t, srv)
	for range 3 {
		s.fails("UNAUTHORIZED", "Invalid secret", `{"type":"identity.loginWithSecret","secret":"nope"}`)
	}
	s.fails("RATE_LIMITED", "", `{"type":"identity.loginWithSecret","secret":%q}`, adminSecret)
}

func TestIdentityUsers(t *testing.T) {
	srv, _, _ := startIdentityServer(t, func(c *identity.Config) { c.PasswordMinLength = 10 })
	admin := superadmin(t, srv)
	aliceID := newUser(t, admin, "alice", "writer")
	runScenario(t, admin, []step{
		{`{"type":"identity.createUser","username":"al","password":"password-al"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Username must be between 3 and 64 characters"}`},
		{`{"type":"identity.createUser","username":"` + strings.Repeat("x", 65) + `","password":"password-al"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Username must be between 3 and 64 characters"}`},
		{`{"type":"identity.createUser","username":"carol","password":"short-pw"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Password must be at least 10 characters"}`},
		{`{"type":"identity.createUser","username":"alice","password":"password-alice"}`, `{"type":"error","code":"ALREADY_EXISTS","message":"User \"alice\" already exists"}`},
		{`{"type":"identity.createUser","username":"carol","password":"password-carol","email":"not-an-email"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"*","details":"*"}`},
		{`{"type":"identity.createUser","username":"carol","password":"password-carol","displayName":5,"enabled":false,"metadata":[1]}`,
			`{"type":"result","data":{"id":"*","username":"carol","enabled":false,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"identity.getUser","userId":"__superadmin__"}`, `{"type":"error","code":"NOT_FOUND","message":"User not found"}`},
		{`{"type":"identity.getUser","userId":"` + aliceID + `"}`, `{"type":"result","data":{"id":"` + aliceID + `","username":"alice","enabled":true,"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"identity.updateUser","userId":"` + aliceID + `","displayName":"Al","metadata":{"a":1}}`,
			`{"type":"result","data":{"id":"*","username":"alice","enabled":true,"displayName":"Al","metadata":{"a":1},"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"identity.updateUser","userId":"` + aliceID + `","displayName":null,"metadata":"x"}`,
			`{"type":"result","data":{"id":"*","username":"alice","enabled":true,"displayName":null,"metadata":{},"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"identity.updateUser","userId":"` + aliceID + `","email":null}`, `{"type":"error","code":"VALIDATION_ERROR","message":"*","details":"*"}`},
		{`{"type":"identity.updateUser","userId":"nobody"}`, `{"type":"error","code":"NOT_FOUND","message":"User not found"}`},
		{`{"type":"identity.deleteUser","userId":"__superadmin__"}`, `{"type":"error","code":"FORBIDDEN","message":"Cannot delete virtual superadmin"}`},
		{`{"type":"identity.deleteUser","userId":"nobody"}`, `{"type":"error","code":"NOT_FOUND","message":"User not found"}`},
		{`{"type":"identity.disableUser","userId":"__superadmin__"}`, `{"type":"error","code":"FORBIDDEN","message":"Cannot disable virtual superadmin"}`},
		{`{"type":"identity.enableUser","userId":"nobody"}`, `{"type":"error","code":"NOT_FOUND","message":"User not found"}`},
		{`{"type":"identity.listUsers","page":2,"pageSize":1}`, `{"type":"result","data":{"users":[{"id":"*","username":"carol","enabled":false,"_createdAt":"*","_updatedAt":"*"}],"total":2,"page":2,"pageSize":1}}`},
		{`{"type":"identity.listUsers","page":-3,"pageSize":1000}`, `{"type":"result","data":{"users":"*","total":2,"page":1,"pageSize":200}}`},
		{`{"type":"identity.listUsers","page":"2"}`, `{"type":"result","data":{"users":"*","total":2,"page":1,"pageSize":50}}`},
		{`{"type":"identity.resetPassword","userId":"` + aliceID + `","newPassword":"short"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Password must be at least 10 characters"}`},
		{`{"type":"identity.resetPassword","userId":"nobody","newPassword":"long-enough-pw"}`, `{"type":"error","code":"NOT_FOUND","message":"User not found"}`},
	})

	// A user may update themselves, not others; only admins list users.
	alice := userConn(t, srv, "alice")
	carolID := admin.ok(`{"type":"identity.listUsers","page":2,"pageSize":1}`)["users"].([]any)[0].(map[string]any)["id"].(string)
	alice.ok(`{"type":"identity.updateUser","userId":%q,"displayName":"Me"}`, aliceID)
	alice.fails("FORBIDDEN", "Admin role required", `{"type":"identity.updateUser","userId":%q,"displayName":"You"}`, carolID)
	alice.fails("FORBIDDEN", "Admin role required", `{"type":"identity.listUsers"}`)
	alice.fails("FORBIDDEN", "Admin role required", `{"type":"identity.createUser"}`)
	alice.fails("FORBIDDEN", "Superadmin role required", `{"type":"identity.createRole","name":"x"}`)

	// changePassword: own only, checks the current password, unbinds the
	// user's other connections and deletes every token.
	second := userConn(t, srv, "alice")
	alice.fails("FORBIDDEN", "Can only change your own password (use resetPassword for other users)",
		`{"type":"identity.changePassword","userId":%q,"currentPassword":"password-alice","newPassword":"brand-new-pw"}`, carolID)
	alice.fails("VALIDATION_ERROR", "Password must be at least 10 characters",
		`{"type":"identity.changePassword","userId":%q,"currentPassword":"password-alice","newPassword":"short"}`, aliceID)
	alice.fails("UNAUTHORIZED", "Current password is incorrect",
		`{"type":"identity.changePassword","userId":%q,"currentPassword":"wrong-one!","newPassword":"brand-new-pw"}`, aliceID)
	alice.ok(`{"type":"identity.changePassword","userId":%q,"currentPassword":"password-alice","newPassword":"brand-new-pw"}`, aliceID)
	expectRevoked(t, second)
	alice.ok(`{"type":"store.buckets"}`) // the caller stays bound …
	alice.fails("UNAUTHORIZED", "Invalid or expired session", `{"type":"identity.refreshSession"}`)
	alice.fails("UNAUTHORIZED", "Invalid credentials", `{"type":"identity.login","username":"alice","password":"password-alice"}`)
	alice.ok(`{"type":"identity.login","username":"alice","password":"brand-new-pw"}`)

	// resetPassword, disableUser and deleteUser unbind live connections.
	admin.ok(`{"type":"identity.resetPassword","userId":%q,"newPassword":"reset-password"}`, aliceID)
	expectRevoked(t, alice)
	alice = dialLogin(t, srv, "alice", "reset-password")
	admin.ok(`{"type":"identity.disableUser","userId":%q}`, aliceID)
	expectRevoked(t, alice)
	admin.ok(`{"type":"identity.enableUser","userId":%q}`, aliceID)
	alice = dialLogin(t, srv, "alice", "reset-password")
	admin.ok(`{"type":"identity.deleteUser","userId":%q}`, aliceID)
	expectRevoked(t, alice)
	admin.fails("NOT_FOUND", "User not found", `{"type":"identity.getUserRoles","userId":%q}`, aliceID)
}

func dialLogin(t *testing.T, srv *noex.Server, name, password string) *client {
	c, _ := dial(t, srv)
	c.ok(`{"type":"identity.login","username":%q,"password":%q}`, name, password)
	return c
}

func TestIdentityRoles(t *testing.T) {
	srv, _, _ := startIdentityServer(t, nil)
	admin := superadmin(t, srv)
	aliceID := newUser(t, admin, "alice")
	editor := admin.ok(`{"type":"identity.createRole","name":"editor","description":"Edits posts","permissions":[{"allow":["store.get","store.update"],"buckets":["posts"]}]}`)
	editorID := editor["id"].(string)
	jsonEq(t, editor, fmt.Sprintf(`{"id":%q,"name":"editor","description":"Edits posts","system":false,"permissions":[{"allow":["store.get","store.update"],"buckets":["posts"]}],"_createdAt":%v,"_updatedAt":%v}`,
		editorID, editor["_createdAt"], editor["_updatedAt"]))
	roles := admin.ok(`{"type":"identity.listRoles"}`)["roles"].([]any)
	adminRoleID := roles[1].(map[string]any)["id"].(string)
	runScenario(t, admin, []step{
		{`{"type":"identity.createRole","name":""}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"name\": expected non-empty string"}`},
		{`{"type":"identity.createRole","name":"` + strings.Repeat("r", 65) + `"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Role name must be between 1 and 64 characters"}`},
		{`{"type":"identity.createRole","name":"writer"}`, `{"type":"error","code":"ALREADY_EXISTS","message":"Role \"writer\" already exists"}`},
		{`{"type":"identity.createRole","name":"plain","permissions":"x"}`, `{"type":"result","data":{"id":"*","name":"plain","system":false,"permissions":[],"_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"identity.updateRole","roleId":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Role not found"}`},
		{`{"type":"identity.updateRole","roleId":"` + adminRoleID + `","description":"Admins"}`, `{"type":"result","data":{"id":"*","name":"admin","description":"Admins","system":true,"permissions":"*","_createdAt":"*","_updatedAt":"*"}}`},
		{`{"type":"identity.deleteRole","roleId":"` + adminRoleID + `"}`, `{"type":"error","code":"FORBIDDEN","message":"Cannot delete system role"}`},
		{`{"type":"identity.deleteRole","roleId":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Role not found"}`},
		{`{"type":"identity.assignRole","userId":"nobody","roleName":"editor"}`, `{"type":"error","code":"NOT_FOUND","message":"User not found"}`},
		{`{"type":"identity.assignRole","userId":"` + aliceID + `","roleName":"nope"}`, `{"type":"error","code":"NOT_FOUND","message":"Role \"nope\" not found"}`},
		{`{"type":"identity.assignRole","userId":"` + aliceID + `","roleName":"editor"}`, `{"type":"result","data":{"assigned":true}}`},
		{`{"type":"identity.assignRole","userId":"` + aliceID + `","roleName":"editor"}`, `{"type":"error","code":"ALREADY_EXISTS","message":"User already has role \"editor\""}`},
		{`{"type":"identity.getUserRoles","userId":"` + aliceID + `"}`, `{"type":"result","data":{"roles":[{"id":"` + editorID + `","name":"editor","description":"Edits posts","system":false,"permissions":"*","_createdAt":"*","_updatedAt":"*"}]}}`},
		{`{"type":"identity.getUserRoles","userId":"__superadmin__"}`, `{"type":"result","data":{"roles":[{"id":"*","name":"superadmin","description":"*","system":true,"permissions":"*","_createdAt":"*","_updatedAt":"*"}]}}`},
		{`{"type":"identity.removeRole","userId":"` + aliceID + `","roleName":"writer"}`, `{"type":"error","code":"NOT_FOUND","message":"User does not have role \"writer\""}`},
		{`{"type":"store.defineBucket","name":"posts","config":{"key":"id","schema":{"id":{"type":"string"},"title":{"type":"string"}}}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.defineBucket","name":"drafts","config":{"key":"id","schema":{"id":{"type":"string"}}}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"posts","data":{"id":"p1","title":"Hi"}}`, `{"type":"result","data":"*"}`},
	})

	// The role's permissions apply at once, restricted to its buckets.
	alice := userConn(t, srv, "alice")
	alice.ok(`{"type":"store.get","bucket":"posts","key":"p1"}`)
	alice.ok(`{"type":"store.update","bucket":"posts","key":"p1","data":{"title":"Hello"}}`)
	alice.fails("FORBIDDEN", "No access to store.get on drafts", `{"type":"store.get","bucket":"drafts","key":"p1"}`)
	alice.fails("FORBIDDEN", "No access to store.delete on posts", `{"type":"store.delete","bucket":"posts","key":"p1"}`)
	admin.ok(`{"type":"identity.updateRole","roleId":%q,"permissions":[{"allow":"store.*"}]}`, editorID)
	alice.ok(`{"type":"store.get","bucket":"drafts","key":"p1"}`)
	admin.ok(`{"type":"identity.removeRole","userId":%q,"roleName":"editor"}`, aliceID)
	alice.fails("FORBIDDEN", "No access to store.get on posts", `{"type":"store.get","bucket":"posts","key":"p1"}`)
	admin.ok(`{"type":"identity.assignRole","userId":%q,"roleName":"editor"}`, aliceID)
	alice.ok(`{"type":"store.get","bucket":"posts","key":"p1"}`)
	admin.ok(`{"type":"identity.deleteRole","roleId":%q}`, editorID)
	alice.fails("FORBIDDEN", "No access to store.get on posts", `{"type":"store.get","bucket":"posts","key":"p1"}`)
	admin.fails("NOT_FOUND", `Role "editor" not found`, `{"type":"identity.removeRole","userId":%q,"roleName":"editor"}`, aliceID)
	if got := admin.ok(`{"type":"identity.getUserRoles","userId":%q}`, aliceID)["roles"].([]any); len(got) != 0 {
		t.Fatalf("roles after deleteRole: %v", got)
	}

	// Identity admin checks use current roles (COMPATIBILITY.md P§11 #23).
	alice.fails("FORBIDDEN", "Admin role required", `{"type":"identity.listUsers"}`)
	admin.ok(`{"type":"identity.assignRole","userId":%q,"roleName":"admin"}`, aliceID)
	alice.ok(`{"type":"identity.listUsers"}`)
}

func TestIdentityACLAndOwnership(t *testing.T) {
	srv, _, _ := startIdentityServer(t, nil)
	root := superadmin(t, srv)
	ownerID := newUser(t, root, "olga", "admin")
	bobID := newUser(t, root, "bob")
	carolID := newUser(t, root, "carol", "reader")
	olga := userConn(t, srv, "olga")
	olga.ok(`{"type":"store.defineBucket","name":"docs","config":{"key":"id","schema":{"id":{"type":"string"},"n":{"type":"number"}}}}`)
	olga.ok(`{"type":"store.insert","bucket":"docs","data":{"id":"d1","n":1}}`)
	root.ok(`{"type":"store.defineBucket","name":"other","config":{"key":"id","schema":{"id":{"type":"string"}}}}`)

	owner := fmt.Sprintf(`{"userId":%q,"username":"olga","resourceType":"bucket","resourceName":"docs"}`, ownerID)
	bob := userConn(t, srv, "bob")
	jsonEq(t, bob.ok(`{"type":"identity.getOwner","resourceType":"bucket","resourceName":"docs"}`), `{"owner":`+owner+`}`)
	jsonEq(t, bob.ok(`{"type":"identity.getOwner","resourceType":"bucket","resourceName":"nope"}`), `{"owner":null}`)

	// Bob has no role: nothing until granted.
	bob.fails("FORBIDDEN", "No access to store.get on docs", `{"type":"store.get","bucket":"docs","key":"d1"}`)
	bob.fails("FORBIDDEN", "Must be the resource owner, admin, or have admin ACL to manage permissions",
		`{"type":"identity.grant","subjectType":"user","subjectId":%q,"resourceType":"bucket","resourceName":"docs","operations":["read"]}`, bobID)
	grant := `{"type":"identity.grant","subjectType":"user","subjectId":%q,"resourceType":"bucket","resourceName":"docs","operations":%s}`
	olga.fails("VALIDATION_ERROR", `Missing or invalid "operations": expected non-empty array`, grant, bobID, `"read"`)
	olga.fails("VALIDATION_ERROR", "Operations must be a non-empty array", grant, bobID, `[]`)
	olga.fails("VALIDATION_ERROR", `Invalid ACL operation "delete". Valid operations: read, write, admin`, grant, bobID, `["read","delete"]`)
	olga.fails("NOT_FOUND", "Subject user not found", grant, "nobody", `["read"]`)
	olga.fails("NOT_FOUND", "Subject role not found",
		`{"type":"identity.grant","subjectType":"role","subjectId":"nope","resourceType":"bucket","resourceName":"docs","operations":["read"]}`)
	olga.fails("VALIDATION_ERROR", `Invalid subject type "group". Must be "user" or "role"`,
		`{"type":"identity.grant","subjectType":"group","subjectId":"g","resourceType":"bucket","resourceName":"docs","operations":["read"]}`)
	olga.fails("VALIDATION_ERROR", "", `{"type":"identity.grant","subjectType":"user","subjectId":%q,"resourceType":"table","resourceName":"docs","operations":["read"]}`, bobID)
	olga.ok(grant, bobID, `["read"]`)
	bob.ok(`{"type":"store.get","bucket":"docs","key":"d1"}`)
	bob.ok(`{"type":"store.where","bucket":"docs","filter":{"n":1}}`)
	bob.fails("FORBIDDEN", "No access to store.insert on docs", `{"type":"store.insert","bucket":"docs","data":{"id":"d2"}}`)
	bob.fails("FORBIDDEN", "No access to store.get on other", `{"type":"store.get","bucket":"other","key":"x"}`)
	olga.ok(grant, bobID, `["write","read"]`) // merged
	bob.ok(`{"type":"store.insert","bucket":"docs","data":{"id":"d2","n":2}}`)
	// Each element of a transaction is checked as its direct operation
	// (COMPATIBILITY.md P§11 #24): Bob's ACL grant covers it, "other" is not.
	bob.ok(`{"type":"store.transaction","operations":[{"op":"get","bucket":"docs","key":"d1"},{"op":"update","bucket":"docs","key":"d1","data":{"n":5}}]}`)
	bob.fails("FORBIDDEN", "No access to store.insert on other",
		`{"type":"store.transaction","operations":[{"op":"insert","bucket":"docs","data":{"id":"d3"}},{"op":"insert","bucket":"other","data":{"id":"x"}}]}`)
	if got := olga.ok(`{"type":"store.get","bucket":"docs","key":"d3"}`); len(got) != 0 {
		t.Fatalf("a refused transaction wrote: %v", got)
	}

	runScenario(t, bob, []step{
		{`{"type":"identity.getAcl","resourceType":"bucket","resourceName":"docs"}`, `{"type":"result","data":{"entries":[
			{"subjectType":"user","subjectId":"` + ownerID + `","subjectName":"olga","operations":[],"isOwner":true},
			{"subjectType":"user","subjectId":"` + bobID + `","subjectName":"bob","operations":["read","write"],"isOwner":false}]}}`},
		{`{"type":"identity.myAccess"}`, `{"type":"result","data":{"user":{"id":"` + bobID + `","username":"bob","roles":[]},"resources":[
			{"resourceType":"bucket","resourceName":"docs","operations":["read","write"],"isOwner":false}]}}`},
	})
	jsonEq(t, olga.ok(`{"type":"identity.myAccess"}`), `{"user":{"id":"`+ownerID+`","username":"olga","roles":["admin"]},"resources":[
		{"resourceType":"bucket","resourceName":"docs","operations":["admin","read","write"],"isOwner":true}]}`)

	// Role ACL entries apply to the role's members.
	readerRole := root.ok(`{"type":"identity.listRoles"}`)["roles"].([]any)[3].(map[string]any)["id"].(string)
	carol := userConn(t, srv, "carol")
	carol.fails("FORBIDDEN", "No access to store.insert on docs", `{"type":"store.insert","bucket":"docs","data":{"id":"c1"}}`)
	olga.ok(`{"type":"identity.grant","subjectType":"role","subjectId":%q,"resourceType":"bucket","resourceName":"docs","operations":["write"]}`, readerRole)
	carol.ok(`{"type":"store.insert","bucket":"docs","data":{"id":"c1"}}`)
	_ = carolID

	// revoke
	revoke := `{"type":"identity.revoke","subjectType":"user","subjectId":%q,"resourceType":"bucket","resourceName":"docs"%s}`
	bob.fails("FORBIDDEN", "Must be the resource owner, admin, or have admin ACL to manage permissions", revoke, bobID, "")
	olga.ok(revoke, bobID, `,"operations":["write"]`)
	bob.fails("FORBIDDEN", "No access to store.insert on docs", `{"type":"store.insert","bucket":"docs","data":{"id":"d4"}}`)
	bob.ok(`{"type":"store.get","bucket":"docs","key":"d1"}`)
	olga.ok(revoke, bobID, "")
	olga.fails("NOT_FOUND", "ACL entry not found", revoke, bobID, "")
	bob.fails("FORBIDDEN", "No access to store.get on docs", `{"type":"store.get","bucket":"docs","key":"d1"}`)

	// A user ACL entry with admin makes Bob an ACL manager of the bucket.
	olga.ok(grant, bobID, `["admin"]`)
	bob.ok(grant, carolID, `["read"]`)

	// transferOwner
	transfer := `{"type":"identity.transferOwner","resourceType":"bucket","resourceName":%q,"newOwnerId":%q}`
	olga.fails("NOT_FOUND", "Resource has no owner", transfer, "nope", bobID)
	bob.fails("FORBIDDEN", "Only the owner or superadmin can transfer ownership", transfer, "docs", bobID)
	olga.fails("NOT_FOUND", "New owner not found", transfer, "docs", "nobody")
	olga.ok(transfer, "docs", bobID)
	jsonEq(t, bob.ok(`{"type":"identity.getOwner","resourceType":"bucket","resourceName":"docs"}`),
		fmt.Sprintf(`{"owner":{"userId":%q,"username":"bob","resourceType":"bucket","resourceName":"docs"}}`, bobID))
	bob.ok(`{"type":"store.delete","bucket":"docs","key":"d1"}`) // owners have every right

	// Dropping the bucket forgets its owner and ACL entries.
	root.ok(`{"type":"store.dropBucket","name":"docs"}`)
	jsonEq(t, bob.ok(`{"type":"identity.getOwner","resourceType":"bucket","resourceName":"docs"}`), `{"owner":null}`)
	jsonEq(t, bob.ok(`{"type":"identity.getAcl","resourceType":"bucket","resourceName":"docs"}`), `{"entries":[]}`)
}

func TestIdentitySystemBuckets(t *testing.T) {
	srv, _, _ := startIdentityServer(t, nil)
	root := superadmin(t, srv)
	newUser(t, root, "ann", "reader")
	newUser(t, root, "adam", "admin")
	for _, req := range []string{
		`{"type":"store.all","bucket":"_users"}`,
		`{"type":"store.get","bucket":"_sessions","key":"x"}`,
		`{"type":"store.insert","bucket":"_roles","data":{"name":"x"}}`,
		`{"type":"store.dropBucket","name":"_acl"}`,
		`{"type":"store.getBucketSchema","name":"_users"}`,
	} {
		root.fails("FORBIDDEN", "", "%s", req)
	}
	root.fails("FORBIDDEN", `Cannot access system bucket "_users" directly`, `{"type":"store.where","bucket":"_users","filter":{}}`)
	root.fails("FORBIDDEN", `Cannot access system bucket "_users" in transaction`,
		`{"type":"store.transaction","operations":[{"op":"get","bucket":"_users","key":"x"}]}`)
	root.fails("FORBIDDEN", `Cannot access system bucket "_users" in a query`,
		`{"type":"store.defineQuery","name":"hashes","config":{"bucket":"_users"}}`)
	root.fails("FORBIDDEN", `Cannot access system bucket "_q" directly`, `{"type":"store.defineQuery","name":"_q","config":{"bucket":"x"}}`)

	// Bucket listings: hidden from everyone; statistics only from admins.
	jsonEq(t, root.ok(`{"type":"store.buckets"}`), `{"count":0,"names":[]}`)
	ann := userConn(t, srv, "ann")
	stats := ann.ok(`{"type":"store.stats"}`)
	if names := fmt.Sprint(stats["buckets"]); strings.Contains(names, "_") {
		t.Fatalf("a reader sees system buckets: %v", names)
	}
	adam := userConn(t, srv, "adam")
	if names := fmt.Sprint(adam.ok(`{"type":"store.stats"}`)["buckets"]); !strings.Contains(names, "_users") {
		t.Fatalf("an admin does not see system buckets: %v", names)
	}
}

func TestIdentitySubscriptions(t *testing.T) {
	srv, _, _ := startIdentityServer(t, nil)
	root := superadmin(t, srv)
	bobID := newUser(t, root, "bob")
	newUser(t, root, "ann", "reader")
	root.ok(`{"type":"store.defineBucket","name":"orders","config":{"key":"id","schema":{"id":{"type":"string"},"total":{"type":"number"}}}}`)
	root.ok(`{"type":"store.defineBucket","name":"secrets","config":{"key":"id","schema":{"id":{"type":"string"}}}}`)
	root.ok(`{"type":"store.insert","bucket":"orders","data":{"id":"o1","total":5}}`)
	root.ok(`{"type":"store.defineQuery","name":"all-orders","config":{"bucket":"orders"}}`)
	root.ok(`{"type":"store.defineQuery","name":"all-secrets","config":{"bucket":"secrets"}}`)
	bob := userConn(t, srv, "bob")
	bob.fails("FORBIDDEN", "No access to store.subscribe on all-orders", `{"type":"store.subscribe","query":"all-orders"}`)
	// Read access to the bucket the query reads is enough …
	root.ok(`{"type":"identity.grant","subjectType":"user","subjectId":%q,"resourceType":"bucket","resourceName":"orders","operations":["read"]}`, bobID)
	sub := bob.ok(`{"type":"store.subscribe","query":"all-orders"}`)
	bob.ok(`{"type":"store.unsubscribe","subscriptionId":%q}`, sub["subscriptionId"])
	bob.fails("FORBIDDEN", "No access to store.subscribe on all-secrets", `{"type":"store.subscribe","query":"all-secrets"}`)
	// … and a read grant on the query makes it a view of a bucket Bob
	// cannot read directly.
	root.ok(`{"type":"identity.grant","subjectType":"user","subjectId":%q,"resourceType":"query","resourceName":"all-secrets","operations":["read"]}`, bobID)
	bob.ok(`{"type":"store.subscribe","query":"all-secrets"}`)
	bob.fails("FORBIDDEN", "No access to store.all on secrets", `{"type":"store.all","bucket":"secrets"}`)
	// Readers' role permissions cover every bucket.
	ann := userConn(t, srv, "ann")
	ann.ok(`{"type":"store.subscribe","query":"all-secrets"}`)
	// The owner of a query may subscribe to it.
	adminID := newUser(t, root, "adm", "admin")
	adm := userConn(t, srv, "adm")
	adm.ok(`{"type":"store.defineQuery","name":"mine","config":{"bucket":"secrets"}}`)
	jsonEq(t, adm.ok(`{"type":"identity.getOwner","resourceType":"query","resourceName":"mine"}`),
		fmt.Sprintf(`{"owner":{"userId":%q,"username":"adm","resourceType":"query","resourceName":"mine"}}`, adminID))
}

func TestIdentityMaxSessionsPerUser(t *testing.T) {
	srv, _, _ := startIdentityServer(t, func(c *identity.Config) { c.MaxSessionsPerUser = 2 })
	root := superadmin(t, srv)
	newUser(t, root, "ann", "reader")
	var tokens []string
	for range 3 {
		c := userConn(t, srv, "ann")
		tokens = append(tokens, c.ok(`{"type":"identity.refreshSession"}`)["token"].(string))
	}
	probe, _ := dial(t, srv)
	probe.fails("UNAUTHORIZED", "Invalid token", `{"type":"auth.login","token":%q}`, tokens[0])
	probe.ok(`{"type":"auth.login","token":%q}`, tokens[1])
	probe.ok(`{"type":"auth.login","token":%q}`, tokens[2])
}

// TestIdentityDenyByDefault: with built-in identity every operation the
// dispatch knows is refused to an unauthenticated connection (except the
// logins and auth.*), and a user without roles or grants gets nothing but
// the identity operations every user may call.
func TestIdentityDenyByDefault(t *testing.T) {
	srv, _, _ := startIdentityServer(t, nil)
	root := superadmin(t, srv)
	root.ok(`{"type":"store.defineBucket","name":"b","config":{"key":"id","schema":{"id":{"type":"string"}}}}`)
	root.ok(`{"type":"store.defineQuery","name":"q","config":{"bucket":"b"}}`)
	nobodyID := newUser(t, root, "nobody")
	anon, _ := dial(t, srv)
	user := userConn(t, srv, "nobody")
	ops := srv.Operations()
	if len(ops) < 80 {
		t.Fatalf("only %d operations mounted: %v", len(ops), ops)
	}
	allowedToEveryone := map[string]bool{
		"identity.whoami": true, "identity.myAccess": true, "identity.getAcl": true, "identity.getOwner": true,
		"identity.logout": true, "identity.refreshSession": true, "identity.updateUser": true,
		"identity.changePassword": true, "store.unsubscribe": true, "rules.unsubscribe": true,
	}
	for i, op := range ops {
		req := map[string]any{"id": i + 1, "type": op, "bucket": "b", "name": "b", "key": "k", "query": "q",
			"topic": "t", "resourceType": "bucket", "resourceName": "b", "subscriptionId": "s", "data": map[string]any{},
			"subjectType": "user", "subjectId": nobodyID, "newOwnerId": nobodyID, "operations": []string{"read"}}
		if op == "store.transaction" {
			req["operations"] = []any{map[string]any{"op": "get", "bucket": "b", "key": "k"}}
		}
		got := anon.request(req)
		switch {
		case strings.HasPrefix(op, "auth.") || op == "identity.login" || op == "identity.loginWithSecret":
			if got["code"] == "UNAUTHORIZED" && got["message"] == "Authentication required" {
				t.Errorf("%s is gated: %v", op, got)
			}
		case got["code"] != "UNAUTHORIZED" || got["message"] != "Authentication required":
			t.Errorf("%s unauthenticated: %v", op, got)
		}
		if strings.HasPrefix(op, "auth.") || op == "identity.login" || op == "identity.loginWithSecret" ||
			op == "identity.logout" || allowedToEveryone[op] {
			continue
		}
		got = user.request(req)
		if got["type"] != "error" || (got["code"] != "FORBIDDEN" && got["code"] != "UNAUTHORIZED") {
			t.Errorf("%s by a user without rights: %v", op, got)
		}
	}
}

// TestIdentitySurvivesRestart: users, roles, grants and tokens persist in
// the store's durable log.
func TestIdentitySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() (*noex.Server, *store.Store) {
		log, err := storage.OpenPebble(dir, storage.PebbleOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(store.Options{Log: log, TTLCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, func(c *noex.Config) {
			c.Store = st
			c.Identity = &identity.Config{AdminSecret: adminSecret, ScryptN: 16}
		})
		return srv, st
	}
	srv, st := open()
	root := superadmin(t, srv)
	annID := newUser(t, root, "ann", "writer")
	token := userConn(t, srv, "ann").ok(`{"type":"identity.refreshSession"}`)["token"].(string)
	_ = srv.Stop(context.Background(), 0)
	_ = st.Close()

	srv2, st2 := open()
	defer st2.Close()
	c, _ := dial(t, srv2)
	jsonEq(t, c.ok(`{"type":"auth.login","token":%q}`, token), fmt.Sprintf(`{"userId":%q,"roles":["writer"],"expiresAt":%v}`,
		annID, c.ok(`{"type":"auth.whoami"}`)["expiresAt"]))
	root2 := superadmin(t, srv2)
	if roles := root2.ok(`{"type":"identity.listRoles"}`)["roles"].([]any); len(roles) != 4 {
		t.Fatalf("roles seeded twice: %d", len(roles))
	}
	dialLogin(t, srv2, "ann", "password-ann")
}
