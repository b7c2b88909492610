package client

import (
	"context"
	"encoding/json"
)

// Audit holds the audit.* operations (PROTOCOL.md §7.1).
type Audit struct{ c *Client }

// Audit returns the audit.* operations.
func (c *Client) Audit() Audit { return Audit{c} }

// AuditFilter selects audit entries; zero fields do not filter.
type AuditFilter struct {
	UserID    string `json:"userId,omitempty"`
	Operation string `json:"operation,omitempty"`
	// Result is "success" or "error".
	Result string `json:"result,omitempty"`
	// From and To bound the timestamp (Unix ms, inclusive).
	From  int64 `json:"from,omitempty"`
	To    int64 `json:"to,omitempty"`
	Limit int   `json:"limit,omitempty"`
}

// AuditEntry is one audit log entry.
type AuditEntry struct {
	Timestamp int64 `json:"timestamp"`
	// UserID is empty for unauthenticated requests.
	UserID string `json:"userId"`
	// SessionID is the connection id (conn-<n>).
	SessionID     string          `json:"sessionId"`
	Operation     string          `json:"operation"`
	Resource      string          `json:"resource"`
	Result        string          `json:"result"`
	Error         string          `json:"error,omitempty"`
	Details       json.RawMessage `json:"details,omitempty"`
	RemoteAddress string          `json:"remoteAddress"`
}

// Query returns matching entries, newest first.
func (a Audit) Query(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var out struct {
		Entries []AuditEntry `json:"entries"`
	}
	err := a.c.call(ctx, "audit.query", f, &out)
	return out.Entries, err
}
