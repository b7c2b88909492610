package noex

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/noex-go/noex/auth"
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
