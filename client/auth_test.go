package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/auth"
)

// tokenTable is the token table of an external-token server.
type tokenTable struct {
	mu sync.Mutex
	m  map[string]*auth.Context
}

func newTokens() *tokenTable {
	return &tokenTable{m: map[string]*auth.Context{
		"t-reader": {UserID: "u-reader", Roles: []string{"reader"}},
		"t-writer": {UserID: "u-writer", Roles: []string{"writer"}},
		"t-admin":  {UserID: "u-admin", Roles: []string{"admin"}},
	}}
}

func (tt *tokenTable) validator() auth.Validator {
	return auth.ValidatorFunc(func(_ context.Context, token string) (*auth.Context, error) {
		tt.mu.Lock()
		defer tt.mu.Unlock()
		if c, ok := tt.m[token]; ok {
			cc := *c
			return &cc, nil
		}
		return nil, auth.Invalid("unknown token %q", token)
	})
}

func (tt *tokenTable) invalidate(token string) {
	tt.mu.Lock()
	delete(tt.m, token)
	tt.mu.Unlock()
}

func testValidator() auth.Validator { return newTokens().validator() }

func TestAuthLoginLogoutWhoami(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *noex.Config) { c.Auth = &noex.AuthConfig{Validator: testValidator()} })
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	if !c.Welcome().RequiresAuth {
		t.Fatal("welcome does not require auth")
	}
	_, err := c.Store().Buckets(ctx)
	wantCode(t, err, CodeUnauthorized)

	who := must[Whoami](t)(c.Auth().Whoami(ctx))
	if who.Authenticated {
		t.Fatalf("whoami before login: %+v", who)
	}
	_, err = c.Auth().Login(ctx, "nope")
	wantCode(t, err, CodeUnauthorized)

	s := must[Session](t)(c.Auth().Login(ctx, "t-reader"))
	if s.UserID != "u-reader" || !slices.Equal(s.Roles, []string{"reader"}) || s.ExpiresAt != nil {
		t.Fatalf("session %+v", s)
	}
	who = must[Whoami](t)(c.Auth().Whoami(ctx))
	if !who.Authenticated || who.UserID != "u-reader" {
		t.Fatalf("whoami %+v", who)
	}
	if _, err := c.Store().Buckets(ctx); err != nil {
		t.Fatal(err)
	}
	// The tier check: a reader cannot define buckets.
	err = c.Store().DefineBucket(ctx, "b", BucketConfig{Key: "id", Schema: map[string]FieldDef{"id": {Type: "string"}}})
	wantCode(t, err, CodeForbidden)

	check(t, c.Auth().Logout(ctx))
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if login != nil {
		t.Fatal("login remembered after Logout")
	}
	_, err = c.Store().Buckets(ctx)
	wantCode(t, err, CodeUnauthorized)
}

// After a reconnect the client logs in again with the last token before
// anything else, so the restored subscriptions and new requests work.
func TestReconnectLogsInAgain(t *testing.T) {
	t.Parallel()
	tt := newTokens()
	ts := startServer(t, func(c *noex.Config) { c.Auth = &noex.AuthConfig{Validator: tt.validator()} })
	px := startProxy(t, ts.url)
	var log stateLog
	c := dial(t, px.url(), &Config{OnStateChange: log.add, Reconnect: Reconnect{InitialDelay: 5 * time.Millisecond}})
	ctx := testCtx(t)
	must[Session](t)(c.Auth().Login(ctx, "t-admin"))
	check(t, c.Store().DefineBucket(ctx, "notes", BucketConfig{Key: "id", Schema: map[string]FieldDef{
		"id": {Type: "string", Generated: "uuid"}, "text": {Type: "string"}}}))
	check(t, c.Store().DefineQuery(ctx, "all-notes", QueryConfig{Bucket: "notes"}))
	sub := must[*Subscription](t)(c.Store().Subscribe(ctx, "all-notes", nil))
	if u := next(t, sub); u.Kind != UpdateInitial || string(u.Data) != "[]" {
		t.Fatalf("initial %+v", u)
	}

	px.cut()
	if u := next(t, sub); u.Kind != UpdateResumed || string(u.Data) != "[]" {
		t.Fatalf("after reconnect %+v", u)
	}
	who := must[Whoami](t)(c.Auth().Whoami(ctx))
	if !who.Authenticated || who.UserID != "u-admin" {
		t.Fatalf("whoami after reconnect %+v", who)
	}
	if log.last().State != StateConnected || log.last().Err != nil {
		t.Fatalf("last state %+v", log.last())
	}

	// The token is no longer valid: the repeat fails, the client reports
	// it, forgets the login and carries on logged out.
	tt.invalidate("t-admin")
	px.cut()
	eventually(t, "re-login failure reported", func() bool {
		l := log.last()
		return l.State == StateConnected && l.Err != nil
	})
	if err := log.last().Err; !IsCode(err, CodeUnauthorized) {
		t.Fatalf("re-login error %v", err)
	}
	// The subscription could not be restored while logged out.
	u := next(t, sub)
	if u.Kind != UpdateEnded || !IsCode(u.Err, CodeUnauthorized) || !errors.Is(sub.Err(), u.Err) {
		t.Fatalf("subscription after failed re-login: %+v (err %v)", u, sub.Err())
	}
	who = must[Whoami](t)(c.Auth().Whoami(ctx))
	if who.Authenticated {
		t.Fatalf("still authenticated: %+v", who)
	}
}
