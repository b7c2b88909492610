package noex

import (
	"encoding/json"
	"testing"

	"github.com/noex-go/noex/auth"
)

// TestRequestResourceMatchesResourceOf: the allocation-free resource
// extraction of the identity gate agrees with auth.ResourceOf.
func TestRequestResourceMatchesResourceOf(t *testing.T) {
	fieldSets := []string{
		`{}`, `{"bucket":"orders"}`, `{"bucket":""}`, `{"bucket":5,"name":"n"}`, `{"name":"q\"x"}`,
		`{"bucket":"a\\u0062c"}`, `{"query":"recent"}`, `{"subscriptionId":"sub-1"}`, `{"topic":"a.b","key":"k"}`,
		`{"key":"k","pattern":"p.*"}`, `{"pattern":"p.*"}`, `{"topic":null,"key":"k"}`, `{"bucket":"ü"}`,
	}
	ops := []string{"store.get", "store.subscribe", "store.unsubscribe", "store.defineQuery", "rules.emit",
		"rules.getFact", "procedures.call", "server.stats", "identity.getAcl"}
	for _, fs := range fieldSets {
		var f map[string]json.RawMessage
		if err := json.Unmarshal([]byte(fs), &f); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if got, want := requestResource(op, f), auth.ResourceOf(op, f); got != want {
				t.Errorf("%s %s: %q, ResourceOf says %q", op, fs, got, want)
			}
		}
	}
}
