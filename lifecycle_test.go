package noex_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/internal/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) {
		c.Heartbeat = noex.Heartbeat{Interval: 60 * time.Millisecond, Timeout: 80 * time.Millisecond}
	})

	t.Run("answering client stays connected", func(t *testing.T) {
		t.Parallel()
		c, _ := dial(t, srv)
		for i := 0; i < 5; i++ {
			ping := c.read()
			if ping["type"] != "ping" {
				t.Fatalf("frame %v, want ping", ping)
			}
			ts, ok := ping["timestamp"].(float64)
			if !ok || ts <= 0 {
				t.Fatalf("ping timestamp %v", ping["timestamp"])
			}
			c.sendJSON(map[string]any{"type": "pong", "timestamp": ts})
		}
		resp := c.request(map[string]any{"id": 1, "type": "x"})
		if resp["code"] != "UNKNOWN_OPERATION" {
			t.Fatalf("after pongs: %v", resp)
		}
	})

	t.Run("silent client is closed 4001", func(t *testing.T) {
		t.Parallel()
		c, _ := dial(t, srv)
		start := time.Now()
		if ping := c.read(); ping["type"] != "ping" {
			t.Fatalf("frame %v, want ping", ping)
		}
		code, reason := c.expectClose(5 * time.Second)
		if code != 4001 || reason != "heartbeat_timeout" {
			t.Fatalf("close %d %q", code, reason)
		}
		// Closed after interval + timeout, not a whole interval later.
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("closed after %v", took)
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) {
		c.RateLimit = &noex.RateLimit{MaxRequests: 3, Window: 2 * time.Second}
	})
	a, _ := dial(t, srv)
	b, _ := dial(t, srv) // same address: shares the budget
	// Frames rejected by §1.10 and pongs are not counted.
	a.sendText(`not json`)
	a.read()
	a.sendText(`{"type":"pong","timestamp":1}`)
	for i, c := range []*client{a, b, a} {
		if r := c.request(map[string]any{"id": i, "type": "server.stats"}); r["type"] != "result" {
			t.Fatalf("request %d: %v", i, r)
		}
	}
	r := b.request(map[string]any{"id": 9, "type": "ping"})
	if r["code"] != "RATE_LIMITED" {
		t.Fatalf("4th request: %v", r)
	}
	retry := r["details"].(map[string]any)["retryAfterMs"].(float64)
	if retry <= 0 || retry > 2000 {
		t.Fatalf("retryAfterMs %v", retry)
	}
	if want := fmt.Sprintf("Rate limit exceeded. Retry after %dms", int(retry)); r["message"] != want {
		t.Fatalf("message %q, want %q", r["message"], want)
	}
	if st := srv.Stats(); !st.RateLimitEnabled {
		t.Fatal("rateLimitEnabled false")
	}
}

func TestHiddenErrorDetails(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *noex.Config) {
		c.RateLimit = &noex.RateLimit{MaxRequests: 1, Window: time.Minute}
		c.HideErrorDetails = true
	})
	c, _ := dial(t, srv)
	c.request(map[string]any{"id": 1, "type": "x"})
	r := c.request(map[string]any{"id": 2, "type": "x"})
	if r["code"] != "RATE_LIMITED" {
		t.Fatalf("%v", r)
	}
	if _, has := r["details"]; has {
		t.Fatalf("details sent although hidden: %v", r)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	t.Run("no grace period", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, nil)
		c, _ := dial(t, srv)
		done := make(chan error, 1)
		go func() { done <- srv.Stop(context.Background(), 0) }()
		// No system frame: straight to the close.
		b, err := c.readRaw(5 * time.Second)
		if err == nil {
			t.Fatalf("got frame %s before close", b)
		}
		code, reason := closeOf(t, err)
		if code != 1000 || reason != "server_shutdown" {
			t.Fatalf("close %d %q", code, reason)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if srv.IsRunning() {
			t.Fatal("still running")
		}
		// New connections are refused at the TCP level.
		if _, err := net.DialTimeout("tcp", srv.Addr().String(), time.Second); err == nil {
			t.Fatal("listener still open")
		}
		// Stop again is a no-op.
		if err := srv.Stop(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("grace period", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, nil)
		c, _ := dial(t, srv)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- srv.Stop(context.Background(), 300*time.Millisecond) }()
		jsonEq(t, c.read(), `{"type":"system","event":"shutdown","gracePeriodMs":300}`)
		// Requests are still served during the grace period.
		if r := c.request(map[string]any{"id": 1, "type": "server.stats"}); r["type"] != "result" {
			t.Fatalf("during grace: %v", r)
		}
		code, reason := c.expectClose(5 * time.Second)
		if code != 1000 || reason != "server_shutdown" {
			t.Fatalf("close %d %q", code, reason)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Fatalf("closed after %v, before the grace period", took)
		}
		<-done
	})
	t.Run("clients leaving end the grace period early", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, nil)
		c, _ := dial(t, srv)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- srv.Stop(context.Background(), time.Minute) }()
		c.read() // shutdown notice
		c.conn.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Stop did not return after the last client left")
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("Stop took %v", took)
		}
	})
}

func closeOf(t *testing.T, err error) (int, string) {
	t.Helper()
	var ce wsutil.ClosedError
	if !errors.As(err, &ce) {
		t.Fatalf("not a close frame: %v", err)
	}
	return int(ce.Code), ce.Reason
}

// TestPanicBecomesInternalError mounts a service that panics: the request
// gets INTERNAL_ERROR, the connection and the process carry on.
func TestPanicBecomesInternalError(t *testing.T) {
	t.Parallel()
	srv := startServerWith(t, nil, func(srv *noex.Server) {
		srv.Mount(noex.NamespaceProcedures, noex.ServiceFunc(func(_ context.Context, _ *noex.Session, req *noex.Request) (any, error) {
			switch req.Type {
			case "procedures.boom":
				panic("kaboom")
			case "procedures.leak":
				return nil, errors.New("secret internal detail")
			case "procedures.wrapped":
				return nil, fmt.Errorf("context: %w", wire.NewError(wire.CodeNotFound, "Thing not found"))
			}
			return map[string]string{"ok": req.Type}, nil
		}))
	})
	a, _ := dial(t, srv)
	b, _ := dial(t, srv)
	jsonEq(t, a.request(map[string]any{"id": 1, "type": "procedures.boom"}),
		`{"id":1,"type":"error","code":"INTERNAL_ERROR","message":"Internal server error"}`)
	jsonEq(t, a.request(map[string]any{"id": 2, "type": "procedures.leak"}),
		`{"id":2,"type":"error","code":"INTERNAL_ERROR","message":"Internal server error"}`)
	jsonEq(t, a.request(map[string]any{"id": 3, "type": "procedures.wrapped"}),
		`{"id":3,"type":"error","code":"NOT_FOUND","message":"Thing not found"}`)
	jsonEq(t, a.request(map[string]any{"id": 4, "type": "procedures.fine"}),
		`{"id":4,"type":"result","data":{"ok":"procedures.fine"}}`)
	jsonEq(t, b.request(map[string]any{"id": 5, "type": "procedures.fine"}),
		`{"id":5,"type":"result","data":{"ok":"procedures.fine"}}`)
}

// TestRequestsInOrder sends a burst without waiting: answers come back in
// request order.
func TestRequestsInOrder(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c, _ := dial(t, srv)
	const n = 500
	go func() {
		for i := 0; i < n; i++ {
			c.sendJSON(map[string]any{"id": i, "type": "server.stats"})
		}
	}()
	for i := 0; i < n; i++ {
		r := c.read()
		if r["id"] != float64(i) {
			t.Fatalf("answer %d has id %v", i, r["id"])
		}
	}
}

// TestSlowConsumer: a client that sends requests and never reads is held
// to maxBufferedBytes and then disconnected with 4008.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	const limit = 32 << 10
	// Large answers fill the kernel's socket buffers (which autotune up to
	// several MiB on loopback) after a few hundred requests.
	big := strings.Repeat("x", 16<<10)
	srv := startServerWith(t, func(c *noex.Config) {
		c.Backpressure = noex.Backpressure{MaxBufferedBytes: limit, HighWaterMark: 0.5, SlowConsumerTimeout: 300 * time.Millisecond}
	}, func(srv *noex.Server) {
		srv.Mount(noex.NamespaceProcedures, noex.ServiceFunc(func(context.Context, *noex.Session, *noex.Request) (any, error) {
			return big, nil
		}))
	})
	c := dialRaw(t, srv, smallReceiveBuffer())
	frame := []byte(`{"id":1,"type":"procedures.big"}`)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			f := ws.MaskFrame(ws.NewTextFrame(frame))
			if err := ws.WriteFrame(c.conn, f); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
		}
	}()
	// While congested the server holds at most its limit plus one answer.
	maxSeen := 0.0
	waitForT(t, 10*time.Second, func() bool {
		if v := metricValue(t, srv, "noex_outbound_bytes_queued"); v > maxSeen {
			maxSeen = v
		}
		return srv.ConnectionCount() == 0
	})
	close(stop)
	wg.Wait()
	if maxSeen > float64(limit+len(big)+4096) {
		t.Fatalf("queued %v bytes, limit %d", maxSeen, limit)
	}
	if v := metricValue(t, srv, "noex_slow_consumer_disconnects_total"); v != 1 {
		t.Fatalf("slow consumer disconnects = %v", v)
	}
}

func waitForT(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached in %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func metricValue(t testing.TB, srv *noex.Server, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			var v float64
			if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &v); err == nil {
				return v
			}
			fmt.Sscan(rest, &v)
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestNoLeaksAfterManyConnections opens and drops thousands of connections
// in the ways clients really leave, then checks that every registry entry,
// per-IP slot and goroutine is gone. Not parallel: it counts goroutines.
func TestNoLeaksAfterManyConnections(t *testing.T) {
	srv := startServer(t, func(c *noex.Config) {
		c.MaxConnectionsPerIP = 4
		c.Heartbeat = noex.Heartbeat{Interval: 20 * time.Millisecond, Timeout: 20 * time.Millisecond}
	})
	baseline := runtime.NumGoroutine()
	const cycles = 2000
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < cycles; i += 4 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				conn, br, _, err := ws.Dial(ctx, wsURL(srv, "/"))
				cancel()
				if err != nil {
					t.Errorf("cycle %d: dial: %v", i, err)
					return
				}
				if br != nil {
					ws.PutReader(br)
				}
				switch i % 4 {
				case 0: // abrupt TCP close
				case 1: // clean WebSocket close
					_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(1000, ""))))
				case 2: // a request, then vanish without reading
					_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewTextFrame([]byte(`{"id":1,"type":"server.stats"}`))))
				case 3: // half a frame, then vanish
					_, _ = conn.Write([]byte{0x81, 0xFE, 0x01})
				}
				conn.Close()
			}
		}(w)
	}
	wg.Wait()
	waitForT(t, 10*time.Second, func() bool { return srv.ConnectionCount() == 0 })
	if v := metricValue(t, srv, "noex_outbound_bytes_queued"); v != 0 {
		t.Fatalf("bytes still queued after all connections ended: %v", v)
	}
	// Per-IP slots were released: the limit of 4 still admits 4.
	for i := 0; i < 4; i++ {
		dial(t, srv)
	}
	waitForT(t, 10*time.Second, func() bool {
		return runtime.NumGoroutine() <= baseline+4*2+2
	})
}

// smallReceiveBuffer dials with a 4 KiB socket receive buffer, so a client
// that stops reading backs the server up quickly.
func smallReceiveBuffer() ws.Dialer {
	return ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		return nd.DialContext(ctx, network, addr)
	}}
}
