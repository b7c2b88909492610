package noex_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/noex-go/noex"
)

// TestCloseCodes checks every close the transport itself decides (§1.2,
// §1.13): the code, the reason and that nothing else was sent first.
func TestCloseCodes(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.MaxPayloadBytes = 1024 })
	cases := []struct {
		name       string
		send       func(c *client)
		wantCode   int
		wantReason string
	}{
		{"binary frame", func(c *client) {
			_ = wsutil.WriteClientBinary(c.conn, []byte(`{"id":1,"type":"x"}`))
		}, 1003, "binary_not_supported"},
		{"oversized message", func(c *client) {
			c.sendText(`{"id":1,"type":"x","pad":"` + strings.Repeat("a", 1100) + `"}`)
		}, 1009, ""},
		{"oversized across fragments", func(c *client) {
			writeFragments(t, c.conn, []byte(`{"id":1,"type":"x","pad":"`+strings.Repeat("a", 600)), []byte(strings.Repeat("b", 600)+`"}`))
		}, 1009, ""},
		{"invalid utf-8", func(c *client) {
			c.sendText("{\"id\":1,\"type\":\"\xff\xfe\"}")
		}, 1007, ""},
		{"unmasked frame", func(c *client) {
			_ = ws.WriteFrame(c.conn, ws.NewTextFrame([]byte(`{"id":1,"type":"x"}`)))
		}, 1002, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := dial(t, srv)
			tc.send(c)
			code, reason := c.expectClose(5 * time.Second)
			if code != tc.wantCode || reason != tc.wantReason {
				t.Fatalf("close = %d %q, want %d %q", code, reason, tc.wantCode, tc.wantReason)
			}
		})
	}
}

func writeFragments(t *testing.T, conn net.Conn, parts ...[]byte) {
	t.Helper()
	for i, p := range parts {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		f := ws.NewFrame(op, i == len(parts)-1, p)
		if err := ws.WriteFrame(conn, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFragmentedMessageAndControlFrames(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c, _ := dial(t, srv)
	// A WebSocket ping between fragments is answered and does not break
	// the message being assembled.
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte(`{"id":4,"ty`)))); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewPingFrame([]byte("hi")))); err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte(`pe":"nope"}`)))); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var sawPong bool
	for {
		h, err := ws.ReadHeader(c.conn)
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.conn, p); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpPong {
			if string(p) != "hi" {
				t.Fatalf("pong payload %q", p)
			}
			sawPong = true
			continue
		}
		if !bytes.Contains(p, []byte(`"id":4`)) || !bytes.Contains(p, []byte(`Unknown operation \"nope\"`)) {
			t.Fatalf("answer %s", p)
		}
		break
	}
	if !sawPong {
		t.Fatal("WebSocket ping was not answered before the result")
	}
	// A client-initiated close is echoed with the same code.
	_ = ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4100, "bye"))))
	code, _ := c.expectClose(5 * time.Second)
	if code != 4100 {
		t.Fatalf("close echo code %d", code)
	}
}

func TestDefaultPayloadLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c, _ := dial(t, srv)
	// Exactly 1 MiB is accepted...
	pad := 1<<20 - len(`{"id":1,"type":"x","p":""}`)
	resp := c.request(map[string]any{"id": 1, "type": "x", "p": strings.Repeat("a", pad)})
	if resp["code"] != "UNKNOWN_OPERATION" {
		t.Fatalf("1 MiB message: %v", resp)
	}
	// ...one byte more closes with 1009.
	c.sendJSON(map[string]any{"id": 2, "type": "x", "p": strings.Repeat("a", pad+1)})
	if code, _ := c.expectClose(5 * time.Second); code != 1009 {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestWrongPathDropsConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.Path = "/ws" })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, _, err := ws.Dial(ctx, wsURL(srv, "/other"))
	if err == nil {
		t.Fatal("upgrade on the wrong path succeeded")
	}
	// Raw: no HTTP response at all, the TCP connection just ends.
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = io.WriteString(nc, "GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(nc)
	if len(b) != 0 {
		t.Fatalf("wrong path got a response: %q", b)
	}
	// Query strings are ignored by the path check.
	c, _, _, err2 := ws.Dial(ctx, wsURL(srv, "/ws?token=1"))
	if err2 != nil {
		t.Fatalf("dial with query: %v", err2)
	}
	c.Close()
}

func TestPlainHTTPEndpoints(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	base := "http://" + srv.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/"); code != http.StatusUpgradeRequired {
		t.Errorf("GET / = %d, want 426", code)
	}
	if code, _ := get("/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	c, _ := dial(t, srv)
	c.request(map[string]any{"id": 1, "type": "server.stats"})
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		"noex_connections 1",
		`noex_requests_total{code="ok",type="server.stats"} 1`,
		"noex_request_duration_seconds_bucket",
		"noex_outbound_bytes_queued",
		"noex_pushes_sent_total",
		"noex_slow_consumer_disconnects_total 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestMetricsOnSeparateListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := startServer(t, func(c *noex.Config) { c.MetricsAddr = addr })
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("metrics listener: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics still on the WebSocket listener: %d", resp.StatusCode)
	}
}

func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.AllowedOrigins = []string{"https://app.example.com"} })
	dialOrigin := func(origin string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d := ws.Dialer{}
		if origin != "" {
			d.Header = ws.HandshakeHeaderHTTP(http.Header{"Origin": {origin}})
		}
		conn, _, _, err := d.Dial(ctx, wsURL(srv, "/"))
		return conn, err
	}
	for _, ok := range []string{"", "https://app.example.com"} {
		conn, err := dialOrigin(ok)
		if err != nil {
			t.Fatalf("origin %q refused: %v", ok, err)
		}
		conn.Close()
	}
	for _, bad := range []string{"https://evil.example.com", "https://app.example.com/", "HTTPS://APP.EXAMPLE.COM"} {
		if _, err := dialOrigin(bad); err == nil {
			t.Fatalf("origin %q admitted", bad)
		}
	}
	// The refusal is the raw 403 of §1.1, with nothing after it.
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(nc)
	if string(b) != "HTTP/1.1 403 Forbidden\r\n\r\n" {
		t.Fatalf("refusal = %q", b)
	}
}

func TestPerIPLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.MaxConnectionsPerIP = 2 })
	a, _ := dial(t, srv)
	dial(t, srv)
	// The third completes the handshake, gets no welcome, and is closed.
	third := dialRaw(t, srv, ws.Dialer{})
	code, reason := third.expectClose(5 * time.Second)
	if code != 4003 || reason != "too_many_connections" {
		t.Fatalf("third connection closed %d %q", code, reason)
	}
	// The rejected socket did not take a slot; closing one frees one.
	a.conn.Close()
	waitFor(t, func() bool { return srv.ConnectionCount() == 1 })
	dial(t, srv)
}

func TestConnectionsAndStats(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) { c.Name = "stats-test" })
	a, _ := dial(t, srv)
	b, _ := dial(t, srv)
	conns := a.request(map[string]any{"id": 1, "type": "server.connections"})
	list, ok := conns["data"].([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("server.connections = %v", conns)
	}
	first := list[0].(map[string]any)
	second := list[1].(map[string]any)
	idA, _ := strconv.Atoi(strings.TrimPrefix(first["connectionId"].(string), "conn-"))
	idB, _ := strconv.Atoi(strings.TrimPrefix(second["connectionId"].(string), "conn-"))
	if idA >= idB {
		t.Fatalf("not in admission order: %v", list)
	}
	for _, e := range list {
		m := e.(map[string]any)
		if m["remoteAddress"] != "127.0.0.1" || m["authenticated"] != false || m["userId"] != nil ||
			len(m["roles"].([]any)) != 0 || m["storeSubscriptionCount"] != float64(0) || m["rulesSubscriptionCount"] != float64(0) {
			t.Fatalf("entry %v", m)
		}
		if _, has := m["userId"]; !has {
			t.Fatalf("userId must be present as null: %v", m)
		}
	}
	stats := b.request(map[string]any{"id": 2, "type": "server.stats"})["data"].(map[string]any)
	if stats["name"] != "stats-test" || stats["connectionCount"] != float64(2) || stats["authEnabled"] != false ||
		stats["rateLimitEnabled"] != false || stats["rulesEnabled"] != false || stats["rules"] != nil {
		t.Fatalf("server.stats = %v", stats)
	}
	totals := stats["connections"].(map[string]any)
	jsonEq(t, totals, `{"active":2,"authenticated":0,"totalStoreSubscriptions":0,"totalRulesSubscriptions":0}`)
	for _, k := range []string{"port", "host", "uptimeMs"} {
		if _, has := stats[k]; has {
			t.Fatalf("wire stats leak %q", k)
		}
	}
	goStats := srv.Stats()
	if goStats.Port != srv.Port() || goStats.Host != "127.0.0.1" || goStats.ConnectionCount != 2 {
		t.Fatalf("Go Stats() = %+v", goStats)
	}
	if got := srv.Connections(); len(got) != 2 {
		t.Fatalf("Go Connections() = %v", got)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
