package noex_test

import (
	"testing"
	"time"
)

func TestWelcome(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	before := time.Now().UnixMilli()
	_, w := dial(t, srv)
	if w["version"] != "1.0.0" || w["requiresAuth"] != false {
		t.Fatalf("welcome = %v", w)
	}
	st, ok := w["serverTime"].(float64)
	if !ok || int64(st) < before-1000 || int64(st) > time.Now().UnixMilli() {
		t.Fatalf("serverTime = %v", w["serverTime"])
	}
	if len(w) != 4 {
		t.Fatalf("welcome has extra keys: %v", w)
	}
}

// TestFrameValidation walks §1.10 and §1.12: every malformed frame gets the
// exact error, and the connection stays usable afterwards.
func TestFrameValidation(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c, _ := dial(t, srv)
	cases := []struct {
		name string
		send string
		want string
	}{
		{"not json", `not json`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Invalid JSON"}`},
		{"truncated", `{"id":1,"type":`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Invalid JSON"}`},
		{"empty", ``, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Invalid JSON"}`},
		{"array", `[1,2]`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Message must be a JSON object"}`},
		{"null", `null`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Message must be a JSON object"}`},
		{"string", `"hi"`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Message must be a JSON object"}`},
		{"number", `42`, `{"id":0,"type":"error","code":"PARSE_ERROR","message":"Message must be a JSON object"}`},
		{"no type, id echoed", `{"id":5}`, `{"id":5,"type":"error","code":"INVALID_REQUEST","message":"Message must include non-empty string \"type\""}`},
		{"empty type", `{"id":6,"type":""}`, `{"id":6,"type":"error","code":"INVALID_REQUEST","message":"Message must include non-empty string \"type\""}`},
		{"numeric type", `{"id":7,"type":3}`, `{"id":7,"type":"error","code":"INVALID_REQUEST","message":"Message must include non-empty string \"type\""}`},
		{"type wrong case key", `{"id":8,"Type":"store.all"}`, `{"id":8,"type":"error","code":"INVALID_REQUEST","message":"Message must include non-empty string \"type\""}`},
		{"string id", `{"id":"x","type":"store.all"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Request must include finite numeric \"id\""}`},
		{"missing id", `{"type":"store.all"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Request must include finite numeric \"id\""}`},
		{"overflowing id", `{"id":1e400,"type":"store.all"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Request must include finite numeric \"id\""}`},
		{"null id", `{"id":null,"type":"store.all"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Request must include finite numeric \"id\""}`},
		{"pong without timestamp", `{"type":"pong"}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Pong must include finite numeric \"timestamp\""}`},
		{"pong string timestamp", `{"id":3,"type":"pong","timestamp":"1"}`, `{"id":3,"type":"error","code":"INVALID_REQUEST","message":"Pong must include finite numeric \"timestamp\""}`},
		{"pong huge timestamp", `{"type":"pong","timestamp":1e999}`, `{"id":0,"type":"error","code":"INVALID_REQUEST","message":"Pong must include finite numeric \"timestamp\""}`},
		{"unknown namespace", `{"id":9,"type":"nope"}`, `{"id":9,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"nope\""}`},
		{"ping request", `{"id":10,"type":"ping"}`, `{"id":10,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"ping\""}`},
		{"unknown store op", `{"id":11,"type":"store.nope"}`, `{"id":11,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown store operation \"store.nope\""}`},
		{"unknown server op", `{"id":12,"type":"server.nope"}`, `{"id":12,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown server operation \"server.nope\""}`},
		{"unknown procedures op", `{"id":13,"type":"procedures.nope"}`, `{"id":13,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown procedures operation \"procedures.nope\""}`},
		{"rules not configured", `{"id":14,"type":"rules.emit","topic":"a"}`, `{"id":14,"type":"error","code":"RULES_NOT_AVAILABLE","message":"Rule engine is not configured"}`},
		{"rules unknown op", `{"id":15,"type":"rules.whatever"}`, `{"id":15,"type":"error","code":"RULES_NOT_AVAILABLE","message":"Rule engine is not configured"}`},
		{"identity not configured", `{"id":16,"type":"identity.login"}`, `{"id":16,"type":"error","code":"UNKNOWN_OPERATION","message":"Identity management is not configured"}`},
		{"auth not configured", `{"id":17,"type":"auth.login"}`, `{"id":17,"type":"error","code":"UNKNOWN_OPERATION","message":"Authentication is not configured"}`},
		{"audit not configured", `{"id":18,"type":"audit.query"}`, `{"id":18,"type":"error","code":"UNKNOWN_OPERATION","message":"Audit log is not configured"}`},
		{"prefix without dot", `{"id":19,"type":"server"}`, `{"id":19,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"server\""}`},
		{"fractional id", `{"id":1.5,"type":"x"}`, `{"id":1.5,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"x\""}`},
		{"negative id", `{"id":-3,"type":"x"}`, `{"id":-3,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"x\""}`},
		{"exponent id", `{"id":1e2,"type":"x"}`, `{"id":100,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"x\""}`},
		{"html in type is not escaped", `{"id":20,"type":"<a&b>"}`, `{"id":20,"type":"error","code":"UNKNOWN_OPERATION","message":"Unknown operation \"<a&b>\""}`},
	}
	for _, tc := range cases {
		c.sendText(tc.send)
		got := c.read()
		t.Run(tc.name, func(t *testing.T) { jsonEq(t, got, tc.want) })
	}
	// A valid pong is never answered: the next frame answers the request
	// after it.
	c.sendText(`{"type":"pong","timestamp":12}`)
	got := c.request(map[string]any{"id": 99, "type": "nope"})
	if got["id"] != float64(99) {
		t.Fatalf("pong was answered: %v", got)
	}
}

// TestRawEcho checks ids are echoed with their JavaScript rendering.
func TestRawEcho(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c, _ := dial(t, srv)
	for send, want := range map[string]string{
		`{"id":-0,"type":"x"}`:       `{"id":0,`,
		`{"id":1.0,"type":"x"}`:      `{"id":1,`,
		`{"id":1e21,"type":"x"}`:     `{"id":1e+21,`,
		`{"id":0.000001,"type":"x"}`: `{"id":0.000001,`,
	} {
		c.sendText(send)
		b, err := c.readRaw(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[:len(want)]) != want {
			t.Errorf("%s → %s, want prefix %s", send, b, want)
		}
	}
}
