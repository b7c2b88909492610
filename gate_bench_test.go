package noex

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/store"
)

// BenchmarkGate measures the access check of one request from a bound,
// authorized connection: go test -run=^$ -bench=Gate -benchmem .
func BenchmarkGate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Auth = &AuthConfig{Validator: auth.ValidatorFunc(func(context.Context, string) (*auth.Context, error) {
		return nil, auth.ErrInvalidToken
	})}
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(context.Background(), 0)
	s := newSession(srv, nil, 1, "127.0.0.1")
	s.SetAuth(&AuthContext{UserID: "u1", Roles: []string{"writer"}})
	req := &Request{Type: "store.insert", Fields: map[string]json.RawMessage{"bucket": json.RawMessage(`"orders"`)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := srv.gate(s, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGateIdentity measures the dynamic permission check of
// built-in identity for a user whose right comes from a role permission
// and for one whose right comes from an ACL entry (snapshot current).
func BenchmarkGateIdentity(b *testing.B) {
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Store = st
	cfg.Identity = &identity.Config{AdminSecret: "x", ScryptN: 16}
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(context.Background(), 0)
	id := srv.Identity()
	ctx := context.Background()
	root := &benchCaller{a: &auth.Context{UserID: identity.SuperadminID, Roles: []string{"superadmin"}}}
	call := func(op, req string) map[string]any {
		var f map[string]json.RawMessage
		if err := json.Unmarshal([]byte(req), &f); err != nil {
			b.Fatal(err)
		}
		v, err := id.Handle(ctx, root, op, f)
		if err != nil {
			b.Fatal(op, err)
		}
		out, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		return m
	}
	writer := call("identity.createUser", `{"username":"writer","password":"password-1"}`)["id"].(string)
	call("identity.assignRole", `{"userId":"`+writer+`","roleName":"writer"}`)
	granted := call("identity.createUser", `{"username":"granted","password":"password-1"}`)["id"].(string)
	if err := st.DefineBucket("orders", json.RawMessage(`{"key":"id","schema":{"id":{"type":"string"}}}`)); err != nil {
		b.Fatal(err)
	}
	call("identity.grant", `{"subjectType":"user","subjectId":"`+granted+`","resourceType":"bucket","resourceName":"orders","operations":["write"]}`)
	req := &Request{Type: "store.insert", Fields: map[string]json.RawMessage{"bucket": json.RawMessage(`"orders"`)}}
	for _, tc := range []struct{ name, user string }{{"role", writer}, {"acl", granted}} {
		b.Run(tc.name, func(b *testing.B) {
			s := newSession(srv, nil, 1, "127.0.0.1")
			s.SetAuth(&AuthContext{UserID: tc.user, Roles: []string{}})
			b.ReportAllocs()
			for b.Loop() {
				if err := srv.gate(s, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type benchCaller struct{ a *auth.Context }

func (c *benchCaller) Auth() *auth.Context   { return c.a }
func (c *benchCaller) Bind(a *auth.Context)  { c.a = a }
func (c *benchCaller) RemoteAddress() string { return "127.0.0.1" }
