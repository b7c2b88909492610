package noex_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// Procedure calls against the same work sent as separate requests, over a
// real loopback WebSocket. Figures are kept in docs/benchmarks.md.

const benchAccountsDef = `{"key":"id","schema":{"id":{"type":"string"},"credits":{"type":"number"}}}`

// benchProcedure is three steps: get, update, return.
const benchProcedure = `{"name":"add-credits","input":{"id":{"type":"string"},"credits":{"type":"number"}},"steps":[
	{"action":"store.get","bucket":"accounts","key":"{{ input.id }}","as":"before"},
	{"action":"store.update","bucket":"accounts","key":"{{ input.id }}","data":{"credits":"{{ input.credits }}"},"as":"after"},
	{"action":"return","value":{"was":"{{ before.credits }}","now":"{{ after.credits }}"}}]}`

func benchProcedureClient(b *testing.B, transaction bool) *client {
	b.Helper()
	srv, _ := startStoreServer(b, nil)
	c, _ := dial(b, srv)
	def := benchProcedure
	if transaction {
		def = `{"transaction":true,` + def[1:]
	}
	for _, frame := range []string{
		`{"id":1,"type":"store.defineBucket","name":"accounts","config":` + benchAccountsDef + `}`,
		`{"id":2,"type":"store.insert","bucket":"accounts","data":{"id":"acc-1","credits":0}}`,
		`{"id":3,"type":"procedures.register","procedure":` + def + `}`,
	} {
		roundTrip(b, c, []byte(frame))
	}
	return c
}

// roundTrip sends one frame and waits for its result.
func roundTrip(b *testing.B, c *client, frame []byte) {
	if err := wsutil.WriteClientText(c.conn, frame); err != nil {
		b.Fatal(err)
	}
	for {
		msg, err := c.readWire(5 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(msg, []byte(`"type":"result"`)) {
			return
		}
		if bytes.Contains(msg, []byte(`"type":"error"`)) {
			b.Fatalf("%s → %s", frame, msg)
		}
	}
}

func BenchmarkProcedureCall(b *testing.B) {
	for _, tc := range []struct {
		name string
		tx   bool
	}{{"get-update-return", false}, {"get-update-return/transaction", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c := benchProcedureClient(b, tc.tx)
			frame := []byte(`{"id":7,"type":"procedures.call","name":"add-credits","input":{"id":"acc-1","credits":5}}`)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				roundTrip(b, c, frame)
			}
		})
	}
}

// BenchmarkProcedureDirect sends the procedure's store work as separate
// requests, each waiting for its answer, as a client without procedures
// would: get + update (the return is the client's own business), and a
// third request (get again) for a three-round-trip comparison.
func BenchmarkProcedureDirect(b *testing.B) {
	get := []byte(`{"id":8,"type":"store.get","bucket":"accounts","key":"acc-1"}`)
	update := []byte(`{"id":9,"type":"store.update","bucket":"accounts","key":"acc-1","data":{"credits":5}}`)
	for _, tc := range []struct {
		name   string
		frames [][]byte
	}{{"get-update", [][]byte{get, update}}, {"get-update-get", [][]byte{get, update, get}}} {
		b.Run(tc.name, func(b *testing.B) {
			c := benchProcedureClient(b, false)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, f := range tc.frames {
					roundTrip(b, c, f)
				}
			}
		})
	}
}
