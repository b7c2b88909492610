package procedures

import (
	"context"
	"testing"
)

// BenchmarkCall is one call of a three-step procedure (get, update,
// return) in process, against the fake store: the executor's own cost,
// without the wire or the real store.
func BenchmarkCall(b *testing.B) {
	st := newMemStore("accounts")
	_, _ = st.Insert(context.Background(), "accounts", map[string]any{"id": "acc-1", "credits": 0.0})
	def, err := Parse([]byte(`{"name":"add-credits","input":{"id":{"type":"string"},"credits":{"type":"number"}},"steps":[
		{"action":"store.get","bucket":"accounts","key":"{{ input.id }}","as":"before"},
		{"action":"store.update","bucket":"accounts","key":"{{ input.id }}","data":{"credits":"{{ input.credits }}"},"as":"after"},
		{"action":"return","value":{"was":"{{ before.credits }}","now":"{{ after.credits }}"}}]}`), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	var r Runner
	env := Env{Store: st, Authorize: func(string, string) error { return nil }}
	input := map[string]any{"id": "acc-1", "credits": 5.0}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		st.ops = st.ops[:0]
		res, err := r.Call(context.Background(), def, input, env)
		if err != nil {
			b.Fatal(err)
		}
		if buf, err = res.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
