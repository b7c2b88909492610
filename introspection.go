package noex

import (
	"context"
	"time"

	"github.com/noex-go/noex/internal/wire"
)

// introspection serves the server.* namespace (PROTOCOL.md §8.9).
type introspection struct{ srv *Server }

func (in introspection) Handle(_ context.Context, _ *Session, req *Request) (any, error) {
	switch req.Type {
	case "server.stats":
		return in.srv.wireStats(), nil
	case "server.connections":
		return in.srv.Connections(), nil
	}
	return nil, UnknownOperation(NamespaceServer, req.Type)
}

// ConnectionTotals aggregates the registry.
type ConnectionTotals struct {
	Active                  int `json:"active"`
	Authenticated           int `json:"authenticated"`
	TotalStoreSubscriptions int `json:"totalStoreSubscriptions"`
	TotalRulesSubscriptions int `json:"totalRulesSubscriptions"`
}

// Stats is server.stats; the Go API's Stats adds Port, Host and UptimeMs.
type Stats struct {
	Name             string           `json:"name"`
	ConnectionCount  int              `json:"connectionCount"`
	AuthEnabled      bool             `json:"authEnabled"`
	RateLimitEnabled bool             `json:"rateLimitEnabled"`
	RulesEnabled     bool             `json:"rulesEnabled"`
	Connections      ConnectionTotals `json:"connections"`
	// Store is the store's statistics; omitted until a store is mounted.
	Store any `json:"store,omitempty"`
	// Rules is the rule engine's statistics, null without an engine.
	Rules any `json:"rules"`

	Port     int    `json:"port,omitempty"`
	Host     string `json:"host,omitempty"`
	UptimeMs int64  `json:"uptimeMs,omitempty"`
}

// StatsProvider is implemented by services that contribute to server.stats.
type StatsProvider interface {
	Stats() any
}

func (srv *Server) wireStats() Stats {
	st := Stats{
		Name:             srv.cfg.Name,
		RateLimitEnabled: srv.limiter != nil,
		AuthEnabled:      srv.auth != nil,
	}
	for _, s := range srv.registry.list() {
		info := s.Info()
		st.Connections.Active++
		if info.Authenticated {
			st.Connections.Authenticated++
		}
		st.Connections.TotalStoreSubscriptions += info.StoreSubscriptionCount
		st.Connections.TotalRulesSubscriptions += info.RulesSubscriptionCount
	}
	st.ConnectionCount = st.Connections.Active
	for _, ns := range srv.namespaces {
		p, ok := ns.service.(StatsProvider)
		if !ok {
			continue
		}
		switch ns.word {
		case NamespaceStore:
			st.Store = p.Stats()
		case NamespaceRules:
			st.RulesEnabled = true
			st.Rules = p.Stats()
		case NamespaceAuth, NamespaceIdentity:
			st.AuthEnabled = true
		}
	}
	return st
}

// Stats returns server.stats plus the listen port, host and uptime.
func (srv *Server) Stats() Stats {
	st := srv.wireStats()
	srv.mu.Lock()
	st.Port, st.Host = srv.port, srv.cfg.Host
	if srv.started {
		st.UptimeMs = time.Since(srv.startedAt).Milliseconds()
	}
	srv.mu.Unlock()
	return st
}

func encodeShutdownFrame(grace time.Duration) []byte {
	return wire.EncodeShutdown(grace.Milliseconds())
}
