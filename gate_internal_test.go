package noex

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/store"
)

// TestEveryMountedOperationHasATier: the gate's tier table must know every
// operation the server actually answers, so a new operation cannot escape
// the access check by being forgotten there.
func TestEveryMountedOperationHasATier(t *testing.T) {
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := rules.New(rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Stop(t.Context())
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Store, cfg.Rules = st, eng
	cfg.Auth = &AuthConfig{Validator: auth.ValidatorFunc(func(_ context.Context, _ string) (*auth.Context, error) {
		return nil, auth.ErrInvalidToken
	})}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(t.Context(), 0)
	if len(srv.knownTypes) < 45 {
		t.Fatalf("only %d operations mounted", len(srv.knownTypes))
	}
	for op := range srv.knownTypes {
		if auth.TierOf(op) == auth.TierNone && !auth.Ungated(op) {
			t.Errorf("operation %q has no access tier", op)
		}
	}
}
