package client

import "context"

// Server holds the server.* introspection operations (PROTOCOL.md §8.9).
type Server struct{ c *Client }

// Server returns the server.* operations.
func (c *Client) Server() Server { return Server{c} }

// ServerStats is the result of server.stats.
type ServerStats struct {
	Name             string `json:"name"`
	ConnectionCount  int    `json:"connectionCount"`
	AuthEnabled      bool   `json:"authEnabled"`
	RateLimitEnabled bool   `json:"rateLimitEnabled"`
	RulesEnabled     bool   `json:"rulesEnabled"`
	Connections      struct {
		Active                  int `json:"active"`
		Authenticated           int `json:"authenticated"`
		TotalStoreSubscriptions int `json:"totalStoreSubscriptions"`
		TotalRulesSubscriptions int `json:"totalRulesSubscriptions"`
	} `json:"connections"`
	Store StoreStats `json:"store"`
	// Rules is nil without a rule engine.
	Rules *RulesStats `json:"rules"`
}

// ConnectionInfo is an entry of server.connections.
type ConnectionInfo struct {
	ConnectionID  string `json:"connectionId"`
	RemoteAddress string `json:"remoteAddress"`
	ConnectedAt   int64  `json:"connectedAt"`
	Authenticated bool   `json:"authenticated"`
	// UserID is empty when unauthenticated.
	UserID                 string   `json:"userId"`
	Roles                  []string `json:"roles"`
	StoreSubscriptionCount int      `json:"storeSubscriptionCount"`
	RulesSubscriptionCount int      `json:"rulesSubscriptionCount"`
}

// Stats returns the server statistics.
func (s Server) Stats(ctx context.Context) (ServerStats, error) {
	var out ServerStats
	err := s.c.call(ctx, "server.stats", nil, &out)
	return out, err
}

// Connections lists the server's connections in admission order.
func (s Server) Connections(ctx context.Context) ([]ConnectionInfo, error) {
	var out []ConnectionInfo
	err := s.c.call(ctx, "server.connections", nil, &out)
	return out, err
}
