package auth

import (
	"encoding/json"
	"testing"
)

func TestTierTable(t *testing.T) {
	cases := map[string]Tier{
		"store.insert": TierWrite, "store.get": TierRead, "store.defineBucket": TierAdmin,
		"store.subscribe": TierRead, "store.listQueries": TierAdmin, "store.transaction": TierWrite,
		"rules.emit": TierWrite, "rules.stats": TierRead, "rules.validateRule": TierAdmin,
		"procedures.call": TierWrite, "procedures.get": TierRead, "procedures.list": TierAdmin,
		"server.stats": TierAdmin, "server.connections": TierAdmin, "audit.query": TierAdmin,
		"identity.createUser": TierAdmin, "identity.changePassword": TierAdmin,
		"identity.whoami": TierNone, "identity.getUser": TierNone, "identity.updateRole": TierNone,
		"auth.login": TierNone, "ping": TierNone, "store.nope": TierNone, "": TierNone,
	}
	for op, want := range cases {
		if got := TierOf(op); got != want {
			t.Errorf("TierOf(%q) = %v, want %v", op, got, want)
		}
	}
	if n := len(Operations(TierAdmin)) + len(Operations(TierWrite)) + len(Operations(TierRead)); n != len(tiers) {
		t.Fatalf("Operations lists %d, table has %d", n, len(tiers))
	}
	if len(Operations(TierWrite)) != 9 || len(Operations(TierRead)) != 23 || len(Operations(TierAdmin)) != 38 {
		t.Fatalf("tier sizes: admin %d write %d read %d", len(Operations(TierAdmin)),
			len(Operations(TierWrite)), len(Operations(TierRead)))
	}
	if TierRead.String() != "read" || TierWrite.String() != "write" || TierAdmin.String() != "admin" || TierNone.String() != "" {
		t.Fatal("tier names")
	}
}

func TestUngated(t *testing.T) {
	for _, op := range []string{"auth.login", "auth.logout", "auth.whoami", "auth.anything", "ping",
		"identity.login", "identity.loginWithSecret"} {
		if !Ungated(op) {
			t.Errorf("%s should be ungated", op)
		}
	}
	for _, op := range []string{"identity.logout", "identity.whoami", "store.get", "pingx", "authx.login", ""} {
		if Ungated(op) {
			t.Errorf("%s should be gated", op)
		}
	}
}

func TestCheckTier(t *testing.T) {
	cases := []struct {
		op    string
		roles []string
		want  string // "" = pass
	}{
		{"store.get", []string{"reader"}, ""},
		{"store.insert", []string{"reader"}, "Role level insufficient for store.insert (requires write)"},
		{"store.defineBucket", []string{"writer"}, "Role level insufficient for store.defineBucket (requires admin)"},
		{"store.insert", []string{"writer"}, ""},
		{"store.defineBucket", []string{"admin"}, ""},
		{"store.defineBucket", []string{"reader", "admin"}, ""}, // highest counts
		{"store.insert", []string{"guest", "reader"}, "Role level insufficient for store.insert (requires write)"},
		{"store.defineBucket", []string{"guest"}, ""}, // none of the three: skip
		{"store.defineBucket", nil, ""},               // no roles: skip
		{"identity.createUser", []string{"reader"}, "Role level insufficient for identity.createUser (requires admin)"},
		{"identity.whoami", []string{"reader"}, ""},
		{"store.unknown", []string{"reader"}, ""},
	}
	for _, c := range cases {
		d := CheckTier(c.op, c.roles)
		got := ""
		if d != nil {
			if d.Code != CodeForbidden {
				t.Errorf("%s %v: code %s", c.op, c.roles, d.Code)
			}
			got = d.Message
		}
		if got != c.want {
			t.Errorf("CheckTier(%s, %v) = %q, want %q", c.op, c.roles, got, c.want)
		}
	}
}

func fields(s string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func TestResourceOf(t *testing.T) {
	cases := []struct{ op, f, want string }{
		{"store.subscribe", `{"query":"q1","bucket":"b"}`, "q1"},
		{"store.subscribe", `{"query":3}`, "*"},
		{"store.unsubscribe", `{"subscriptionId":"sub-1"}`, "sub-1"},
		{"store.insert", `{"bucket":"users"}`, "users"},
		{"store.defineBucket", `{"name":"users"}`, "users"},
		{"store.all", `{"bucket":1,"name":"n"}`, "n"},
		{"store.buckets", `{}`, "*"},
		{"rules.emit", `{"topic":"a.b","key":"k"}`, "a.b"},
		{"rules.getFact", `{"key":"k"}`, "k"},
		{"rules.subscribe", `{"pattern":"a.*"}`, "a.*"},
		{"rules.stats", `{}`, "*"},
		{"procedures.call", `{"name":"p"}`, "*"},
	}
	for _, c := range cases {
		if got := ResourceOf(c.op, fields(c.f)); got != c.want {
			t.Errorf("ResourceOf(%s, %s) = %q, want %q", c.op, c.f, got, c.want)
		}
	}
}

func TestPermissions(t *testing.T) {
	w := &Context{UserID: "u", Roles: []string{"writer"}}
	p := &Permissions{
		DefaultDeny: true,
		Rules: []Rule{
			{Role: "writer", Allow: []string{"store.*"}, Buckets: []string{"orders"}},
			{Role: "writer", Allow: []string{"rules.emit"}, Topics: []string{"order.*"}},
			{Role: "writer", Allow: []string{"procedures.get"}},
		},
	}
	cases := []struct {
		op, res string
		want    bool
	}{
		{"store.insert", "orders", true},
		{"store.insert", "users", false},
		{"rules.emit", "order.created", true},
		{"rules.emit", "user.created", false},
		{"rules.setFact", "x", false},
		{"procedures.get", "*", true},
		{"server.stats", "*", false},
	}
	for _, c := range cases {
		if got := p.Allowed(w, c.op, c.res); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v", c.op, c.res, got)
		}
	}
	if d := p.CheckPermission(w, "store.insert", "users"); d == nil || d.Message != "No permission for store.insert on users" || d.Code != CodeForbidden {
		t.Fatalf("denial = %v", d)
	}
	// A hook answer wins; Abstain falls through to the rules.
	p.Check = func(c *Context, op, res string) Decision {
		switch res {
		case "users":
			return Allow
		case "orders":
			return Deny
		}
		return Abstain
	}
	if !p.Allowed(w, "store.insert", "users") || p.Allowed(w, "store.insert", "orders") || !p.Allowed(w, "procedures.get", "*") {
		t.Fatal("check hook not honoured")
	}
	// Default allow.
	if !(&Permissions{}).Allowed(w, "anything", "*") {
		t.Fatal("default should allow")
	}
	if !Match("*", "x") || !Match("a.*", "a.b.c") || Match("a.*", "a") || Match("a.*", "ab.c") || !Match("a.b", "a.b") || Match("a.b", "a.bc") {
		t.Fatal("Match")
	}
}

func TestGate(t *testing.T) {
	now := int64(1_000_000)
	reader := &Context{UserID: "r", Roles: []string{"reader"}}
	expired := &Context{UserID: "e", Roles: []string{"admin"}, ExpiresAt: now - 1}
	req := &Gate{Required: true}
	opt := &Gate{Required: false}
	check := func(g *Gate, c *Context, op string, wantUnbind bool, want *Denial) {
		t.Helper()
		unbind, d := g.Check(c, op, nil, now)
		if unbind != wantUnbind || (d == nil) != (want == nil) || (d != nil && *d != *want) {
			t.Errorf("Check(%v, %s) = %v, %v; want %v, %v", c, op, unbind, d, wantUnbind, want)
		}
	}
	check(req, nil, "store.get", false, ErrAuthRequired)
	check(req, nil, "store.nope", false, ErrAuthRequired)
	check(req, nil, "auth.login", false, nil)
	check(req, nil, "ping", false, nil)
	check(req, nil, "identity.login", false, nil)
	check(req, nil, "identity.whoami", false, ErrAuthRequired)
	check(opt, nil, "store.defineBucket", false, nil)
	check(req, reader, "store.get", false, nil)
	check(req, reader, "store.insert", false, &Denial{CodeForbidden, "Role level insufficient for store.insert (requires write)"})
	check(req, expired, "store.get", true, ErrSessionExpired)
	check(opt, expired, "store.get", true, ErrSessionExpired)
	check(req, expired, "auth.whoami", false, nil)
	notYet := &Context{UserID: "n", ExpiresAt: now}
	check(req, notYet, "store.get", false, nil)
	pg := &Gate{Required: true, Permissions: &Permissions{DefaultDeny: true,
		Rules: []Rule{{Role: "reader", Allow: []string{"store.*"}, Buckets: []string{"a"}}}}}
	if _, d := pg.Check(reader, "store.get", fields(`{"bucket":"b"}`), now); d == nil || d.Message != "No permission for store.get on b" {
		t.Errorf("permission denial = %v", d)
	}
	if _, d := pg.Check(reader, "store.get", fields(`{"bucket":"a"}`), now); d != nil {
		t.Errorf("permission allow = %v", d)
	}
	// The tier check runs first: a rule cannot grant a reader a write.
	pg.Permissions.Rules[0].Allow = []string{"*"}
	if _, d := pg.Check(reader, "store.insert", fields(`{"bucket":"a"}`), now); d == nil || d.Message != "Role level insufficient for store.insert (requires write)" {
		t.Errorf("tier before permissions: %v", d)
	}
}
