package noex_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/store"
)

// startStoreServer starts a server with an in-memory store.
func startStoreServer(t testing.TB, mutate func(*noex.Config)) (*noex.Server, *store.Store) {
	t.Helper()
	st, err := store.Open(store.Options{Name: "store-1", TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := startServer(t, func(c *noex.Config) {
		c.Store = st
		if mutate != nil {
			mutate(c)
		}
	})
	return srv, st
}

// startServer starts a real server on a loopback port; it is stopped when
// the test ends.
func startServer(t testing.TB, mutate func(*noex.Config)) *noex.Server {
	t.Helper()
	return startServerWith(t, mutate, nil)
}

// startServerWith also lets the test mount services before Start.
func startServerWith(t testing.TB, mutate func(*noex.Config), prepare func(*noex.Server)) *noex.Server {
	t.Helper()
	cfg := noex.DefaultConfig()
	cfg.Host = "127.0.0.1"
	cfg.Port = 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := noex.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx, 0)
	})
	return srv
}

func wsURL(srv *noex.Server, path string) string {
	return "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + path
}

// client is a test WebSocket client that speaks frames.
type client struct {
	t    testing.TB
	conn net.Conn
	// backlog holds frames request skipped while waiting for its answer,
	// so pushes that arrive first are not lost to later reads.
	backlog [][]byte
}

// dial connects and reads the welcome frame.
func dial(t testing.TB, srv *noex.Server) (*client, map[string]any) {
	t.Helper()
	c := dialRaw(t, srv, ws.Dialer{})
	welcome := c.read()
	if welcome["type"] != "welcome" {
		t.Fatalf("first frame = %v, want welcome", welcome)
	}
	return c, welcome
}

func dialRaw(t testing.TB, srv *noex.Server, d ws.Dialer) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, wsURL(srv, "/"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if br != nil {
		// The server's first frames arrived with the handshake answer.
		conn = &prereadConn{Conn: conn, r: io.MultiReader(br, conn)}
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}
}

func (c *client) sendText(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendText(string(b))
}

// readRaw returns the next text frame, or the close error.
func (c *client) readRaw(timeout time.Duration) ([]byte, error) {
	if len(c.backlog) > 0 {
		b := c.backlog[0]
		c.backlog = c.backlog[1:]
		return b, nil
	}
	return c.readWire(timeout)
}

func (c *client) readWire(timeout time.Duration) ([]byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		msg, op, err := wsutil.ReadServerData(c.conn)
		if err != nil {
			return nil, err
		}
		if op == ws.OpText {
			return msg, nil
		}
	}
}

func (c *client) read() map[string]any {
	c.t.Helper()
	b, err := c.readRaw(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("frame %q is not a JSON object: %v", b, err)
	}
	return m
}

// request sends a frame and returns the next result/error frame; pushes
// and pings that come first are kept for later reads.
func (c *client) request(v any) map[string]any {
	c.t.Helper()
	c.sendJSON(v)
	for {
		b, err := c.readWire(5 * time.Second)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("frame %q is not a JSON object: %v", b, err)
		}
		if m["type"] == "result" || m["type"] == "error" {
			return m
		}
		if m["type"] != "ping" && len(c.backlog) < 10000 {
			c.backlog = append(c.backlog, b)
		}
	}
}

// expectClose reads until the server closes, and returns the close code and
// reason.
func (c *client) expectClose(timeout time.Duration) (int, string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.readRaw(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce wsutil.ClosedError
		if errors.As(err, &ce) {
			return int(ce.Code), ce.Reason
		}
		c.t.Fatalf("expected a close frame, got %v", err)
	}
}

func jsonEq(t testing.TB, got map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("frame mismatch\n got: %s\nwant: %s", gb, wb)
	}
}

type prereadConn struct {
	net.Conn
	r io.Reader
}

func (c *prereadConn) Read(p []byte) (int, error) { return c.r.Read(p) }
