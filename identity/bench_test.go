package identity

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/store"
)

type benchCaller struct{ a *auth.Context }

func (c *benchCaller) Auth() *auth.Context   { return c.a }
func (c *benchCaller) Bind(a *auth.Context)  { c.a = a }
func (c *benchCaller) RemoteAddress() string { return "127.0.0.1" }

// BenchmarkLogin is identity.login with the default hash parameters
// (scrypt N=16384, r=8, p=1): go test -run=^$ -bench=Login -benchtime=200x ./identity/
// Logins per second = 1e9 / (ns/op); in parallel the hasher admits
// max(2, GOMAXPROCS) hashes at once.
func BenchmarkLogin(b *testing.B) {
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	id, err := Open(st, Config{AdminSecret: "x", MaxSessionsPerUser: 1 << 30, LoginMaxAttempts: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer id.Close()
	ctx := context.Background()
	root := &benchCaller{a: &auth.Context{UserID: SuperadminID, Roles: []string{RoleSuperadmin}}}
	f := func(s string) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		_ = json.Unmarshal([]byte(s), &m)
		return m
	}
	if _, err := id.Handle(ctx, root, "identity.createUser", f(`{"username":"alice","password":"correct-horse"}`)); err != nil {
		b.Fatal(err)
	}
	login := f(`{"username":"alice","password":"correct-horse"}`)
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := id.Handle(ctx, &benchCaller{}, "identity.login", login); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := id.Handle(ctx, &benchCaller{}, "identity.login", login); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
