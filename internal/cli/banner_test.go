package cli

import (
	"strings"
	"testing"

	"github.com/noex-go/noex"
)

func TestWriteBanner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Settings)
		port   int
		want   string
	}{
		{"defaults", func(*Settings) {}, 8080, `
  URL:          ws://0.0.0.0:8080
  Persistence:  file (./data)
  Auth:         disabled
  Rules:        enabled
  Audit:        disabled
  Error details: exposed
  Origins:      any
  Max conn/IP:  unlimited
  Metrics:      http://0.0.0.0:8080/metrics (and /healthz, /readyz)
`},
		{"everything set", func(s *Settings) {
			s.Server.Host, s.Server.Path = "::1", "/ws"
			s.Persistence, s.DB = "sqlite", "./app.db"
			s.Auth, s.Rules, s.Audit = true, false, true
			s.Server.HideErrorDetails = true
			s.Server.AllowedOrigins = []string{"https://a.example", "https://b.example"}
			s.Server.MaxConnectionsPerIP = 20
			s.Server.MetricsAddr = ":9100"
		}, 18080, `
  URL:          ws://[::1]:18080/ws
  Persistence:  sqlite (./app.db)
  Auth:         built-in
  Rules:        disabled
  Audit:        enabled
  Error details: hidden
  Origins:      https://a.example, https://b.example
  Max conn/IP:  20
  Metrics:      http://0.0.0.0:9100/metrics (and /healthz, /readyz)
`},
		{"memory, no origins, metrics on loopback", func(s *Settings) {
			s.Persistence = "memory"
			s.Server.AllowedOrigins = []string{}
			s.Server.MetricsAddr = "127.0.0.1:9100"
		}, 1, `
  URL:          ws://0.0.0.0:1
  Persistence:  memory
  Auth:         disabled
  Rules:        enabled
  Audit:        disabled
  Error details: exposed
  Origins:      none (only clients that send no Origin)
  Max conn/IP:  unlimited
  Metrics:      http://127.0.0.1:9100/metrics (and /healthz, /readyz)
`},
	}
	for _, tt := range tests {
		s := DefaultSettings()
		tt.change(&s)
		var b strings.Builder
		WriteBanner(&b, s, tt.port)
		want := "noex-server v" + noex.Version + tt.want
		if b.String() != want {
			t.Errorf("%s: banner\n%s\nwant\n%s", tt.name, b.String(), want)
		}
	}
}

func TestRateLimitWarning(t *testing.T) {
	t.Parallel()
	s := DefaultSettings()
	if !needsRateLimitWarning(s) {
		t.Error("0.0.0.0 without rateLimit: want the warning")
	}
	s.Server.RateLimit = &noex.RateLimit{MaxRequests: 1, Window: 1}
	if needsRateLimitWarning(s) {
		t.Error("with rateLimit: want no warning")
	}
	s = DefaultSettings()
	s.Server.Host = "127.0.0.1"
	if needsRateLimitWarning(s) {
		t.Error("127.0.0.1: want no warning")
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	u := Usage()
	for i := range keys {
		st := &keys[i]
		if st.flag != "" && !strings.Contains(u, "--"+st.flag) {
			t.Errorf("usage does not mention --%s", st.flag)
		}
		if st.short != 0 && !strings.Contains(u, "-"+string(st.short)+", --"+st.flag) {
			t.Errorf("usage does not mention -%c", st.short)
		}
	}
	for _, want := range []string{"Usage: noex-server [options]", "-h, --help", "-v, --version",
		"heartbeat {intervalMs, timeoutMs}", "backpressure {maxBufferedBytes, highWaterMark, slowConsumerTimeoutMs}"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage does not contain %q", want)
		}
	}
}
