package noex_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/auth"
)

// testClock is a settable clock for expiry tests.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time   { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) advance(ms int64) { c.ms.Add(ms) }

const clockStart = int64(1_735_689_600_000)

// tokenValidator accepts the tokens of a fixed table.
func tokenValidator(tokens map[string]*auth.Context) auth.Validator {
	return auth.ValidatorFunc(func(_ context.Context, token string) (*auth.Context, error) {
		if c, ok := tokens[token]; ok {
			cc := *c
			return &cc, nil
		}
		if token == "nil-ctx" {
			return nil, nil
		}
		return nil, auth.Invalid("unknown token %q", token)
	})
}

func testTokens() map[string]*auth.Context {
	return map[string]*auth.Context{
		"t-reader": {UserID: "u-reader", Roles: []string{"reader"}},
		"t-writer": {UserID: "u-writer", Roles: []string{"writer"}, Metadata: map[string]any{"secret": "x"}},
		"t-admin":  {UserID: "u-admin", Roles: []string{"admin"}},
		"t-guest":  {UserID: "u-guest", Roles: []string{"guest"}},
		"t-short":  {UserID: "u-short", Roles: []string{"admin"}, ExpiresAt: clockStart + 1000},
		"t-old":    {UserID: "u-old", Roles: []string{"admin"}, ExpiresAt: clockStart - 1},
	}
}

// startAuthServer starts a store server in external-token mode.
func startAuthServer(t *testing.T, mutate func(*noex.AuthConfig)) (*noex.Server, *testClock) {
	t.Helper()
	clk := &testClock{}
	clk.ms.Store(clockStart)
	srv, _ := startStoreServer(t, func(c *noex.Config) {
		c.Auth = &noex.AuthConfig{Validator: tokenValidator(testTokens()), Now: clk.now}
		if mutate != nil {
			mutate(c.Auth)
		}
	})
	return srv, clk
}

func login(t *testing.T, c *client, token string) {
	t.Helper()
	got := c.request(map[string]any{"id": 900, "type": "auth.login", "token": token})
	if got["type"] != "result" {
		t.Fatalf("login %s: %v", token, got)
	}
}

func TestAuthWelcomeAndStats(t *testing.T) {
	srv, _ := startAuthServer(t, nil)
	c, welcome := dial(t, srv)
	if welcome["requiresAuth"] != true {
		t.Fatalf("welcome = %v", welcome)
	}
	login(t, c, "t-admin")
	st := c.request(map[string]any{"id": 1, "type": "server.stats"})
	data, _ := st["data"].(map[string]any)
	if data["authEnabled"] != true {
		t.Fatalf("stats = %v", st)
	}
	if conns := data["connections"].(map[string]any); conns["authenticated"] != float64(1) {
		t.Fatalf("stats connections = %v", conns)
	}

	opt, _ := startAuthServer(t, func(a *noex.AuthConfig) { a.Required = new(false) })
	_, welcome = dial(t, opt)
	if welcome["requiresAuth"] != false {
		t.Fatalf("optional welcome = %v", welcome)
	}

	none := startServer(t, nil)
	c, welcome = dial(t, none)
	if welcome["requiresAuth"] != false {
		t.Fatalf("no-auth welcome = %v", welcome)
	}
	runScenario(t, c, []step{
		{`{"type":"auth.login","token":"x"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Authentication is not configured"}`},
		{`{"type":"server.stats"}`, `{"type":"result","data":{"name":"*","connectionCount":1,"authEnabled":false,"rateLimitEnabled":false,"rulesEnabled":false,"connections":"*","rules":null}}`},
	})
}

func TestAuthConfigNeedsValidator(t *testing.T) {
	cfg := noex.DefaultConfig()
	cfg.Auth = &noex.AuthConfig{}
	if _, err := noex.New(cfg); err == nil || !strings.Contains(err.Error(), "Validator") {
		t.Fatalf("New = %v", err)
	}
}

func TestAuthLoginLogoutWhoami(t *testing.T) {
	srv, _ := startAuthServer(t, nil)
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
		{`{"type":"auth.login"}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"token\": expected non-empty string"}`},
		{`{"type":"auth.login","token":""}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"token\": expected non-empty string"}`},
		{`{"type":"auth.login","token":7}`, `{"type":"error","code":"VALIDATION_ERROR","message":"Missing or invalid \"token\": expected non-empty string"}`},
		{`{"type":"auth.login","token":"nope"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid token"}`},
		{`{"type":"auth.login","token":"nil-ctx"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid token"}`},
		{`{"type":"auth.login","token":"t-old"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Token has expired"}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		{`{"type":"auth.login","token":"t-writer"}`, `{"type":"result","data":{"userId":"u-writer","roles":["writer"],"expiresAt":null}}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":true,"userId":"u-writer","roles":["writer"],"expiresAt":null}}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":{"count":0,"names":[]}}`},
		// A failed login keeps the previous context (P§11 #16).
		{`{"type":"auth.login","token":"nope"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid token"}`},
		{`{"type":"auth.login","token":"t-old"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Token has expired"}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":true,"userId":"u-writer","roles":["writer"],"expiresAt":null}}`},
		// A new login replaces the context.
		{`{"type":"auth.login","token":"t-short"}`, fmt.Sprintf(`{"type":"result","data":{"userId":"u-short","roles":["admin"],"expiresAt":%d}}`, clockStart+1000)},
		{`{"type":"auth.whoami"}`, fmt.Sprintf(`{"type":"result","data":{"authenticated":true,"userId":"u-short","roles":["admin"],"expiresAt":%d}}`, clockStart+1000)},
		{`{"type":"auth.logout"}`, `{"type":"result","data":{"loggedOut":true}}`},
		{`{"type":"auth.logout"}`, `{"type":"result","data":{"loggedOut":true}}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
		{`{"type":"auth.nope"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown auth operation \"auth.nope\""}`},
	})
	// Auth state is per connection.
	login(t, c, "t-admin")
	other, _ := dial(t, srv)
	runScenario(t, other, []step{
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
	})
}

// allOperations is every operation name the server knows (the tier
// table covers the store, live-query, rules, procedures, server, audit and
// identity lists), plus the tier-less identity operations and names no
// namespace knows.
func allOperations() []string {
	var ops []string
	for _, t := range []auth.Tier{auth.TierRead, auth.TierWrite, auth.TierAdmin} {
		ops = append(ops, auth.Operations(t)...)
	}
	ops = append(ops, "identity.whoami", "identity.refreshSession", "identity.getUser", "identity.updateUser",
		"identity.listUsers", "identity.listRoles", "identity.updateRole", "identity.getUserRoles",
		"identity.getAcl", "identity.myAccess", "identity.getOwner",
		"store.nope", "rules.nope", "procedures.nope", "server.nope", "audit.nope", "nope", "pingx")
	slices.Sort(ops)
	return ops
}

func TestAuthDenyByDefault(t *testing.T) {
	srv, _ := startAuthServer(t, nil)
	c, _ := dial(t, srv)
	// Every name the dispatch answers, every name the tier table knows,
	// and names nobody knows.
	ops := allOperations()
	for _, op := range srv.Operations() {
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	if len(ops) < 80 {
		t.Fatalf("only %d operations", len(ops))
	}
	for i, op := range ops {
		if auth.Ungated(op) {
			continue // checked below
		}
		got := c.request(map[string]any{"id": i + 1, "type": op, "bucket": "b", "name": "b"})
		if got["code"] != "UNAUTHORIZED" || got["message"] != "Authentication required" {
			t.Errorf("%s unauthenticated: %v", op, got)
		}
	}
	// An under-privileged user (reader) gets nothing above its tier.
	reader, _ := dial(t, srv)
	login(t, reader, "t-reader")
	for i, op := range ops {
		tier := auth.TierOf(op)
		if tier <= auth.TierRead || auth.Ungated(op) {
			continue
		}
		got := reader.request(map[string]any{"id": i + 1, "type": op, "bucket": "b", "name": "b"})
		if got["code"] != "FORBIDDEN" {
			t.Errorf("%s (%s tier) by a reader: %v", op, tier, got)
		}
	}
	// The ungated ones.
	runScenario(t, c, []step{
		{`{"type":"ping"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"ping\""}`},
		{`{"type":"identity.login","username":"a","password":"b"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Identity management is not configured"}`},
		{`{"type":"identity.loginWithSecret","secret":"s"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Identity management is not configured"}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		{`{"type":"auth.logout"}`, `{"type":"result","data":{"loggedOut":true}}`},
	})
}

func TestAuthRoleTiers(t *testing.T) {
	srv, _ := startAuthServer(t, nil)
	reader, _ := dial(t, srv)
	login(t, reader, "t-reader")
	writer, _ := dial(t, srv)
	login(t, writer, "t-writer")
	for _, tier := range []auth.Tier{auth.TierWrite, auth.TierAdmin} {
		for _, op := range auth.Operations(tier) {
			if auth.Ungated(op) {
				continue
			}
			want := fmt.Sprintf("Role level insufficient for %s (requires %s)", op, tier)
			got := reader.request(map[string]any{"id": 1, "type": op, "bucket": "b"})
			if got["code"] != "FORBIDDEN" || got["message"] != want {
				t.Errorf("reader %s: %v", op, got)
			}
			got = writer.request(map[string]any{"id": 1, "type": op, "bucket": "b"})
			denied := got["code"] == "FORBIDDEN" || got["code"] == "UNAUTHORIZED"
			if denied != (tier == auth.TierAdmin) {
				t.Errorf("writer %s: %v", op, got)
			}
		}
	}
	for _, op := range auth.Operations(auth.TierRead) {
		got := reader.request(map[string]any{"id": 1, "type": op, "bucket": "b"})
		if got["code"] == "FORBIDDEN" || got["code"] == "UNAUTHORIZED" {
			t.Errorf("reader %s: %v", op, got)
		}
	}
	runScenario(t, reader, []step{
		// The tier check comes before the namespace is found missing.
		{`{"type":"identity.createUser","username":"x","password":"yyyyyyyy"}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for identity.createUser (requires admin)"}`},
		{`{"type":"identity.whoami"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Identity management is not configured"}`},
		{`{"type":"store.nope"}`, `{"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown store operation \"store.nope\""}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":{"count":0,"names":[]}}`},
	})
	// A context with none of reader/writer/admin skips the tier check.
	guest, _ := dial(t, srv)
	login(t, guest, "t-guest")
	runScenario(t, guest, []step{
		{`{"type":"store.defineBucket","name":"items","config":` + itemsDef + `}`, `{"type":"result","data":{"name":"items","created":true}}`},
	})
}

func TestAuthExpiryRequired(t *testing.T) {
	srv, clk := startAuthServer(t, nil)
	c, _ := dial(t, srv)
	login(t, c, "t-short")
	admin, _ := dial(t, srv)
	login(t, admin, "t-admin")
	runScenario(t, c, []step{{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`}})
	clk.advance(1001)
	// The registry reflects the expiry before any request detects it
	// (P§11 #33).
	conns := admin.request(map[string]any{"id": 1, "type": "server.connections"})
	list, _ := conns["data"].([]any)
	if len(list) != 2 {
		t.Fatalf("connections = %v", conns)
	}
	first := list[0].(map[string]any)
	b, _ := json.Marshal(first)
	if first["authenticated"] != false || first["userId"] != nil || len(first["roles"].([]any)) != 0 {
		t.Fatalf("expired entry = %s", b)
	}
	st := admin.request(map[string]any{"id": 2, "type": "server.stats"})
	if n := st["data"].(map[string]any)["connections"].(map[string]any)["authenticated"]; n != float64(1) {
		t.Fatalf("authenticated count = %v", n)
	}
	runScenario(t, c, []step{
		{`{"type":"auth.login","token":"nope"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid token"}`},
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Session expired"}`},
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Authentication required"}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		{`{"type":"auth.login","token":"t-reader"}`, `{"type":"result","data":{"userId":"u-reader","roles":["reader"],"expiresAt":null}}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`},
	})
}

func TestAuthExpiryOptional(t *testing.T) {
	srv, clk := startAuthServer(t, func(a *noex.AuthConfig) { a.Required = new(false) })
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		// Unauthenticated clients may use everything.
		{`{"type":"store.defineBucket","name":"items","config":` + itemsDef + `}`, `{"type":"result","data":{"name":"items","created":true}}`},
		{`{"type":"auth.login","token":"t-short"}`, `{"type":"result","data":"*"}`},
	})
	clk.advance(1001)
	runScenario(t, c, []step{
		// The request that detects the expiry fails (P§11 #34) …
		{`{"type":"store.buckets"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Session expired"}`},
		// … later ones proceed unauthenticated.
		{`{"type":"store.buckets"}`, `{"type":"result","data":{"count":1,"names":["items"]}}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		// A bound reader is still tier-checked in optional mode.
		{`{"type":"auth.login","token":"t-reader"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.insert","bucket":"items","data":{"name":"a"}}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for store.insert (requires write)"}`},
		{`{"type":"auth.logout"}`, `{"type":"result","data":{"loggedOut":true}}`},
		{`{"type":"store.insert","bucket":"items","data":{"name":"a"}}`, `{"type":"result","data":"*"}`},
	})
	// whoami unbinds an expired context without failing.
	clk.ms.Store(clockStart)
	login(t, c, "t-short")
	clk.ms.Store(clockStart + 5000)
	runScenario(t, c, []step{
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
		{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`},
	})
}

func TestAuthPermissions(t *testing.T) {
	srv, _ := startAuthServer(t, func(a *noex.AuthConfig) {
		a.Permissions = &auth.Permissions{
			DefaultDeny: true,
			Rules:       []auth.Rule{{Role: "writer", Allow: []string{"store.*"}, Buckets: []string{"items"}}},
			Check: func(c *auth.Context, op, resource string) auth.Decision {
				if c.UserID == "u-admin" {
					return auth.Allow
				}
				return auth.Abstain
			},
		}
	})
	admin, _ := dial(t, srv)
	login(t, admin, "t-admin")
	runScenario(t, admin, []step{
		{`{"type":"store.defineBucket","name":"items","config":` + itemsDef + `}`, `{"type":"result","data":"*"}`},
	})
	w, _ := dial(t, srv)
	login(t, w, "t-writer")
	runScenario(t, w, []step{
		{`{"type":"store.insert","bucket":"items","data":{"name":"a"}}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.all","bucket":"secret"}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for store.all on secret"}`},
		{`{"type":"store.buckets"}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for store.buckets on *"}`},
		{`{"type":"rules.emit","topic":"a.b","data":{}}`, `{"type":"error","code":"FORBIDDEN","message":"No permission for rules.emit on a.b"}`},
		// The tier check runs first.
		{`{"type":"store.defineBucket","name":"items","config":{}}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for store.defineBucket (requires admin)"}`},
	})
}

func TestAuthRateLimitKeyedByUser(t *testing.T) {
	srv, _ := startStoreServer(t, func(c *noex.Config) {
		c.Auth = &noex.AuthConfig{Validator: tokenValidator(testTokens())}
		c.RateLimit = &noex.RateLimit{MaxRequests: 3, Window: time.Minute}
	})
	a, _ := dial(t, srv)
	b, _ := dial(t, srv)
	// Unauthenticated requests are refused by the gate before the limiter.
	for i := 0; i < 5; i++ {
		got := a.request(map[string]any{"id": i, "type": "store.buckets"})
		if got["code"] != "UNAUTHORIZED" {
			t.Fatalf("gate first: %v", got)
		}
	}
	login(t, a, "t-admin") // 1 (ip key)
	login(t, b, "t-admin") // 2 (ip key)
	runScenario(t, a, []step{
		{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`}, // user 1
		{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`}, // user 2
	})
	runScenario(t, b, []step{
		{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`}, // user 3
		{`{"type":"store.buckets"}`, `{"type":"error","code":"RATE_LIMITED","message":"*","details":"*"}`},
	})
}

// TestAuthJWT wires the standard-library JWT validator into a server.
func TestAuthJWT(t *testing.T) {
	secret := []byte("a-very-secret-key-for-the-tests!")
	v, err := auth.NewJWTValidator(auth.JWTConfig{Algorithm: auth.HS256, Secret: secret, Issuer: "iss", Audience: "noex"})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startStoreServer(t, func(c *noex.Config) { c.Auth = &noex.AuthConfig{Validator: v} })
	b64 := base64.RawURLEncoding
	mk := func(claims map[string]any) string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
		p, _ := json.Marshal(claims)
		signed := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signed))
		return signed + "." + b64.EncodeToString(m.Sum(nil))
	}
	exp := time.Now().Add(time.Hour).Unix()
	good := mk(map[string]any{"sub": "jwt-user", "roles": []string{"reader"}, "iss": "iss", "aud": "noex", "exp": exp})
	badAud := mk(map[string]any{"sub": "jwt-user", "iss": "iss", "aud": "other", "exp": exp})
	c, _ := dial(t, srv)
	runScenario(t, c, []step{
		{`{"type":"auth.login","token":"` + badAud + `"}`, `{"type":"error","code":"UNAUTHORIZED","message":"Invalid token"}`},
		{`{"type":"auth.login","token":"` + good + `"}`, fmt.Sprintf(`{"type":"result","data":{"userId":"jwt-user","roles":["reader"],"expiresAt":%d}}`, exp*1000)},
		{`{"type":"store.buckets"}`, `{"type":"result","data":"*"}`},
		{`{"type":"store.clear","bucket":"x"}`, `{"type":"error","code":"FORBIDDEN","message":"Role level insufficient for store.clear (requires write)"}`},
	})
}

func expectRevoked(t *testing.T, c *client) {
	t.Helper()
	jsonEq(t, c.read(), `{"type":"system","event":"session_revoked","reason":"Session revoked by administrator"}`)
	if code, reason := c.expectClose(5 * time.Second); code != 4002 || reason != "session_revoked" {
		t.Fatalf("close = %d %q", code, reason)
	}
}

func TestAuthRevocation(t *testing.T) {
	srv, clk := startAuthServer(t, func(a *noex.AuthConfig) { a.RevocationTTL = time.Minute })
	w1, _ := dial(t, srv)
	login(t, w1, "t-writer")
	w2, _ := dial(t, srv)
	login(t, w2, "t-writer")
	r, _ := dial(t, srv)
	login(t, r, "t-reader")
	anon, _ := dial(t, srv)
	if n := srv.RevokeSession("u-writer"); n != 2 {
		t.Fatalf("RevokeSession = %d", n)
	}
	expectRevoked(t, w1)
	expectRevoked(t, w2)
	if n := srv.RevokeSession("nobody"); n != 0 {
		t.Fatalf("RevokeSession(nobody) = %d", n)
	}
	// While blacklisted, auth.login fails and leaves the connection
	// unauthenticated, even if it was logged in before.
	runScenario(t, anon, []step{
		{`{"type":"auth.login","token":"t-admin"}`, `{"type":"result","data":"*"}`},
		{`{"type":"auth.login","token":"t-writer"}`, `{"type":"error","code":"SESSION_REVOKED","message":"Session has been revoked"}`},
		{`{"type":"auth.whoami"}`, `{"type":"result","data":{"authenticated":false}}`},
	})
	// RevokeSessions by role.
	if n := srv.RevokeSessions(noex.RevokeFilter{Role: "reader"}); n != 1 {
		t.Fatalf("RevokeSessions(reader) = %d", n)
	}
	expectRevoked(t, r)
	// The blacklist entry expires after its TTL.
	clk.advance(time.Minute.Milliseconds() + 1)
	runScenario(t, anon, []step{
		{`{"type":"auth.login","token":"t-writer"}`, `{"type":"result","data":"*"}`},
	})
	// Empty filter: every authenticated connection.
	if n := srv.RevokeSessions(noex.RevokeFilter{}); n != 1 {
		t.Fatalf("RevokeSessions({}) = %d", n)
	}
	expectRevoked(t, anon)
}
