package client

import (
	"context"
	"encoding/json"
)

// Procedures holds the procedures.* operations (PROTOCOL.md §7.2):
// named server-side scripts of declarative steps.
type Procedures struct{ c *Client }

// Procedures returns the procedures.* operations.
func (c *Client) Procedures() Procedures { return Procedures{c} }

// Procedure is a procedure definition (§7.2.1). Steps follow §7.2.2, e.g.
// map[string]any{"action": "store.where", "bucket": "items",
// "filter": map[string]any{"orderId": "{{ input.orderId }}"}, "as": "items"}.
type Procedure struct {
	Name        string                `json:"name"`
	Description string                `json:"description,omitempty"`
	Input       map[string]InputField `json:"input,omitempty"`
	Steps       []any                 `json:"steps"`
	Transaction bool                  `json:"transaction,omitempty"`
	TimeoutMs   int64                 `json:"timeoutMs,omitempty"`
}

// InputField declares one input of a procedure. A field is required unless
// Required is set to false.
type InputField struct {
	// Type is "string", "number", "boolean", "object" or "array".
	Type     string `json:"type"`
	Required *bool  `json:"required,omitempty"`
	Default  any    `json:"default,omitempty"`
}

// ProcedureInfo is an entry of List.
type ProcedureInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	StepsCount  int    `json:"stepsCount"`
}

// CallResult is the result of Call.
type CallResult struct {
	Success bool `json:"success"`
	// Result is the value of the return step that ran (nil if none).
	Result json.RawMessage `json:"result,omitempty"`
	// Results holds every value stored under an "as" name.
	Results map[string]json.RawMessage `json:"results"`
}

// Register adds a procedure (a Procedure or any value encoding to a
// definition). An invalid one fails with VALIDATION_ERROR whose details are
// {"issues": [...]}.
func (p Procedures) Register(ctx context.Context, procedure any) error {
	return p.c.call(ctx, "procedures.register", map[string]any{"procedure": procedure}, nil)
}

// Unregister removes a procedure.
func (p Procedures) Unregister(ctx context.Context, name string) error {
	return p.c.call(ctx, "procedures.unregister", map[string]any{"name": name}, nil)
}

// Update merges updates (top-level fields) into a procedure.
func (p Procedures) Update(ctx context.Context, name string, updates any) error {
	return p.c.call(ctx, "procedures.update", map[string]any{"name": name, "updates": updates}, nil)
}

// Get returns a procedure's stored definition, verbatim.
func (p Procedures) Get(ctx context.Context, name string) (json.RawMessage, error) {
	return p.c.Request(ctx, "procedures.get", map[string]any{"name": name})
}

// List returns the registered procedures.
func (p Procedures) List(ctx context.Context) ([]ProcedureInfo, error) {
	var out struct {
		Procedures []ProcedureInfo `json:"procedures"`
	}
	err := p.c.call(ctx, "procedures.list", nil, &out)
	return out.Procedures, err
}

// Call runs a procedure with input (nil for none). Procedures may write:
// like every request, a call that was in flight when the connection
// dropped is not repeated.
func (p Procedures) Call(ctx context.Context, name string, input any) (CallResult, error) {
	params := map[string]any{"name": name}
	if input != nil {
		params["input"] = input
	}
	var out CallResult
	err := p.c.call(ctx, "procedures.call", params, &out)
	return out, err
}
