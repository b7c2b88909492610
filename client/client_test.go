package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noex-go/noex"
)

func TestDialWelcome(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	w := c.Welcome()
	if w.Version != "1.0.0" || w.ServerTime == 0 || w.RequiresAuth {
		t.Fatalf("welcome = %+v", w)
	}
	if c.State() != StateConnected || c.URL() != ts.url {
		t.Fatalf("state %v url %q", c.State(), c.URL())
	}

	// Nothing listens: Dial fails at once, no retry.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := Dial(ctx, "ws://127.0.0.1:1/", nil); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	// A peer that never sends the welcome: Dial gives up with the context.
	silent := startSilent(t)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := Dial(ctx2, silent, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial to a silent peer = %v, want deadline exceeded", err)
	}
}

// startSilent accepts WebSocket upgrades and then says nothing.
func startSilent(t *testing.T) string {
	done := make(chan struct{})
	url := startFakeRaw(t, func(p *fakePeer) { <-done })
	t.Cleanup(func() { close(done) })
	return url
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)

	_, err := c.Request(ctx, "store.nope", nil)
	e := wantCode(t, err, CodeUnknownOperation)
	if e.Message != `Unknown store operation "store.nope"` {
		t.Fatalf("message = %q", e.Message)
	}
	if !IsCode(err, CodeUnknownOperation) || IsCode(err, CodeNotFound) {
		t.Fatal("IsCode")
	}
	if !errors.Is(err, &Error{Code: CodeUnknownOperation}) || errors.Is(err, &Error{Code: CodeNotFound}) {
		t.Fatal("errors.Is with a code-only target")
	}

	// Details are kept and decode.
	check(t, c.Store().DefineBucket(ctx, "items", BucketConfig{Key: "id", Schema: map[string]FieldDef{
		"id": {Type: "string", Generated: "uuid"}, "name": {Type: "string", Required: true}}}))
	_, err = c.Store().Bucket("items").Insert(ctx, map[string]any{})
	e = wantCode(t, err, CodeValidation)
	var issues []struct{ Field, Message, Code string }
	if err := e.DecodeDetails(&issues); err != nil || len(issues) != 1 || issues[0].Field != "name" {
		t.Fatalf("details %s → %+v, %v", e.Details, issues, err)
	}
	if _, ok := e.RetryAfter(); ok {
		t.Fatal("RetryAfter on a validation error")
	}

	// Params that are not an object are refused before sending.
	if _, err := c.Request(ctx, "store.all", []int{1}); err == nil || !strings.Contains(err.Error(), "JSON object") {
		t.Fatalf("array params: %v", err)
	}
	// id/type in params cannot hijack the envelope.
	raw, err := c.Request(ctx, "store.buckets", map[string]any{"id": 99999, "type": "store.nope"})
	if err != nil || !strings.Contains(string(raw), `"items"`) {
		t.Fatalf("envelope keys in params: %s %v", raw, err)
	}
	// Generic access to any operation.
	names, err := Call[struct{ Names []string }](ctx, c, "store.buckets", nil)
	if err != nil || len(names.Names) != 1 {
		t.Fatalf("Call: %+v %v", names, err)
	}

	// A cancelled context ends the wait, not the client.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Request(cctx, "store.buckets", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	if _, err := c.Store().Buckets(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimitedRetryAfter(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *noex.Config) { c.RateLimit = &noex.RateLimit{MaxRequests: 1, Window: time.Minute} })
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	_, _ = c.Store().Buckets(ctx)
	_, err := c.Store().Buckets(ctx)
	e := wantCode(t, err, CodeRateLimited)
	if d, ok := e.RetryAfter(); !ok || d <= 0 || d > time.Minute {
		t.Fatalf("RetryAfter = %v %v (details %s)", d, ok, e.Details)
	}
}

// Many concurrent requests each get their own answer.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	check(t, c.Store().DefineBucket(ctx, "kv", BucketConfig{Key: "k", Schema: map[string]FieldDef{
		"k": {Type: "string"}, "v": {Type: "number"}}}))
	kv := BucketOf[struct {
		K string
		V int
	}](c, "kv")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			k := fmt.Sprint("k", i)
			if _, err := kv.Insert(ctx, map[string]any{"k": k, "v": i}); err != nil {
				errs <- err
				return
			}
			rec, ok, err := kv.Get(ctx, k)
			if err != nil || !ok || rec.V != i {
				errs <- fmt.Errorf("get %s = %+v %v %v", k, rec, ok, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The client answers the server's JSON pings, so a short heartbeat does
// not close the connection.
func TestHeartbeatAnswered(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *noex.Config) {
		c.Heartbeat = noex.Heartbeat{Interval: 20 * time.Millisecond, Timeout: 40 * time.Millisecond}
	})
	var log stateLog
	c := dial(t, ts.url, &Config{OnStateChange: log.add})
	time.Sleep(300 * time.Millisecond)
	if log.has(StateReconnecting) || c.State() != StateConnected {
		t.Fatalf("connection dropped: %+v", log.last())
	}
	if _, err := c.Store().Buckets(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// The pong echoes the ping's timestamp exactly (§1.8).
func TestPongEchoesTimestamp(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	url := startFake(t, func(p *fakePeer) {
		p.send(`{"type":"ping","timestamp":1735689630000}`)
		got <- p.raw()
		p.read()
	})
	dial(t, url, nil)
	select {
	case f := <-got:
		if f != `{"type":"pong","timestamp":1735689630000}` {
			t.Fatalf("pong = %s", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

func TestCloseFailsEverything(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	var log stateLog
	c := dial(t, ts.url, &Config{OnStateChange: log.add})
	ctx := testCtx(t)
	sub := must[*Subscription](t)(c.Rules().Subscribe(ctx, "x.*"))
	check(t, c.Close())
	check(t, c.Close())
	if _, err := c.Store().Buckets(ctx); !errors.Is(err, ErrClosed) || errors.Is(err, ErrDisconnected) {
		t.Fatalf("request after Close: %v", err)
	}
	select {
	case _, ok := <-sub.Updates():
		if ok {
			t.Fatal("update after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription channel not closed")
	}
	if !errors.Is(sub.Err(), ErrClosed) || c.State() != StateClosed {
		t.Fatalf("sub err %v, state %v", sub.Err(), c.State())
	}
	eventually(t, "closed state reported", func() bool { return log.last().State == StateClosed })
	if log.last().Err != nil {
		t.Fatalf("Close reported %v", log.last().Err)
	}
}

// Close while a request waits: it fails with ErrClosed, not
// ErrDisconnected.
func TestCloseDuringRequest(t *testing.T) {
	t.Parallel()
	got := make(chan struct{})
	url := startFake(t, func(p *fakePeer) {
		p.read() // the request, never answered
		close(got)
		p.read()
	})
	c := dial(t, url, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Request(testCtx(t), "store.all", map[string]any{"bucket": "x"})
		errc <- err
	}()
	<-got
	check(t, c.Close())
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("pending request: %v", err)
	}
}

// Frames the real server sends rarely or never on demand: events_dropped,
// session_revoked without a close, shutdown, a push before its subscribe
// result, and answers to requests the caller gave up on.
func TestSystemFramesAndEarlyPush(t *testing.T) {
	t.Parallel()
	url := startFake(t, func(p *fakePeer) {
		for {
			m := p.read()
			if m == nil {
				return
			}
			id := idOf(m)
			switch m["type"] {
			case "rules.subscribe":
				// The push comes first (§3.3 allows it), then the result.
				p.send(`{"type":"push","channel":"event","subscriptionId":"sub-7","data":{"topic":"a.b","event":{"id":"e1","topic":"a.b","data":{"n":1},"timestamp":5,"source":"api","causationId":42}}}`)
				p.send(`{"id":` + id + `,"type":"result","data":{"subscriptionId":"sub-7"}}`)
				p.send(`{"type":"system","event":"events_dropped","subscriptionId":"sub-7","count":3}`)
				p.send(`{"type":"system","event":"shutdown","gracePeriodMs":1500}`)
				p.send(`{"type":"system","event":"something_new"}`)
				p.send(`{"type":"frame_from_the_future"}`)
				p.send(`{"id":0,"type":"error","code":"PARSE_ERROR","message":"Invalid JSON"}`)
			case "auth.login":
				p.send(`{"id":` + id + `,"type":"result","data":{"userId":"u","roles":[],"expiresAt":null}}`)
				p.send(`{"type":"system","event":"session_revoked","reason":"Session revoked by administrator"}`)
			case "store.unsubscribe", "rules.unsubscribe":
				p.send(`{"id":` + id + `,"type":"error","code":"NOT_FOUND","message":"gone"}`)
			default:
				p.send(`{"id":` + id + `,"type":"result"}`)
			}
		}
	})
	var (
		mu      sync.Mutex
		dropped int64
		dropSub *Subscription
		revoked string
		grace   time.Duration
	)
	c := dial(t, url, &Config{
		OnEventsDropped: func(s *Subscription, n int64) {
			mu.Lock()
			dropped, dropSub = dropped+n, s
			mu.Unlock()
		},
		OnSessionRevoked: func(r string) { mu.Lock(); revoked = r; mu.Unlock() },
		OnShutdown:       func(d time.Duration) { mu.Lock(); grace = d; mu.Unlock() },
	})
	ctx := testCtx(t)
	sub := must[*Subscription](t)(c.Rules().Subscribe(ctx, "a.*"))
	u := next(t, sub)
	ev, err := u.Event()
	if err != nil || u.Kind != UpdateChange || ev.ID != "e1" || ev.CausationID != float64(42) {
		t.Fatalf("early push → %+v %+v %v", u, ev, err)
	}
	var data struct{ N int }
	if err := ev.Decode(&data); err != nil || data.N != 1 {
		t.Fatalf("event data %s", ev.Data)
	}
	eventually(t, "system callbacks", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return dropped == 3 && dropSub == sub && grace == 1500*time.Millisecond
	})

	// A missing data key reads as null.
	raw, err := c.Request(ctx, "x.y", nil)
	if err != nil || string(raw) != "null" {
		t.Fatalf("absent data: %s %v", raw, err)
	}

	// session_revoked forgets the login.
	must[Session](t)(c.Auth().Login(ctx, "tok"))
	eventually(t, "session_revoked callback", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return revoked == "Session revoked by administrator"
	})
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if login != nil {
		t.Fatal("login kept after session_revoked")
	}
	// Unsubscribing what the server no longer knows is fine.
	check(t, sub.Unsubscribe(ctx))
	if c.State() != StateConnected {
		t.Fatal("client left the connected state")
	}
}

func TestSessionRevokedClose(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *noex.Config) {
		c.Auth = &noex.AuthConfig{Validator: testValidator()}
	})
	var (
		log     stateLog
		revoked atomic.Value
	)
	c := dial(t, ts.url, &Config{
		OnStateChange:    log.add,
		OnSessionRevoked: func(r string) { revoked.Store(r) },
		Reconnect:        Reconnect{InitialDelay: time.Millisecond},
	})
	ctx := testCtx(t)
	must[Session](t)(c.Auth().Login(ctx, "t-writer"))
	sub := must[*Subscription](t)(c.Rules().Subscribe(ctx, "x.*"))
	if n := ts.srv.RevokeSession("u-writer"); n != 1 {
		t.Fatalf("revoked %d connections", n)
	}
	u := next(t, sub)
	if code, _ := CloseCode(u.Err); u.Kind != UpdateEnded || code != CloseSessionRevoked {
		t.Fatalf("last update %+v", u)
	}
	eventually(t, "closed", func() bool { return c.State() == StateClosed && log.last().State == StateClosed })
	if code, ok := CloseCode(log.last().Err); !ok || code != CloseSessionRevoked || log.has(StateReconnecting) {
		t.Fatalf("state changes: %+v", log.changes)
	}
	if revoked.Load() != "Session revoked by administrator" {
		t.Fatalf("OnSessionRevoked got %v", revoked.Load())
	}
	_, err := c.Store().Buckets(ctx)
	if code, _ := CloseCode(err); !errors.Is(err, ErrClosed) || code != CloseSessionRevoked {
		t.Fatalf("request after revocation: %v", err)
	}
}

// Shutdown: the announcement reaches OnShutdown, and the close code
// (1000 server_shutdown) is on the error.
func TestServerShutdown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	var (
		log   stateLog
		grace atomic.Int64
	)
	c := dial(t, ts.url, &Config{
		OnStateChange: log.add,
		OnShutdown:    func(d time.Duration) { grace.Store(int64(d)) },
		Reconnect:     Reconnect{Disabled: true},
	})
	go func() { _ = ts.srv.Stop(context.Background(), 100*time.Millisecond) }()
	eventually(t, "client closed", func() bool { return log.last().State == StateClosed })
	ce := &CloseError{}
	if !errors.As(log.last().Err, &ce) || ce.Code != CloseNormal || ce.Reason != "server_shutdown" {
		t.Fatalf("closed with %v", log.last().Err)
	}
	if time.Duration(grace.Load()) != 100*time.Millisecond {
		t.Fatalf("OnShutdown got %v", time.Duration(grace.Load()))
	}
	if c.State() != StateClosed {
		t.Fatal(c.State())
	}
}

func TestServerIntrospection(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	must[*Subscription](t)(c.Rules().Subscribe(ctx, "*"))
	st := must[ServerStats](t)(c.Server().Stats(ctx))
	if st.ConnectionCount != 1 || !st.RulesEnabled || st.Rules == nil || st.Store.Name != "t" ||
		st.Connections.TotalRulesSubscriptions != 1 {
		t.Fatalf("stats %+v", st)
	}
	conns := must[[]ConnectionInfo](t)(c.Server().Connections(ctx))
	if len(conns) != 1 || !strings.HasPrefix(conns[0].ConnectionID, "conn-") || conns[0].RulesSubscriptionCount != 1 ||
		conns[0].Authenticated || conns[0].RemoteAddress == "" {
		t.Fatalf("connections %+v", conns)
	}
}

func TestEncodeRequest(t *testing.T) {
	for _, tc := range []struct {
		params any
		want   string
	}{
		{nil, `{"id":7,"type":"a.b"}`},
		{map[string]any{}, `{"id":7,"type":"a.b"}`},
		{json.RawMessage(`null`), `{"id":7,"type":"a.b"}`},
		{map[string]any{"k": 1}, `{"k":1,"id":7,"type":"a.b"}`},
		{struct {
			X string `json:"x"`
		}{"y"}, `{"x":"y","id":7,"type":"a.b"}`},
	} {
		got, err := encodeRequest(7, "a.b", tc.params)
		if err != nil || string(got) != tc.want {
			t.Errorf("encodeRequest(%v) = %s, %v; want %s", tc.params, got, err, tc.want)
		}
	}
	if _, err := encodeRequest(1, "a", "str"); err == nil {
		t.Error("string params accepted")
	}
}

// IdleTimeout: a peer that goes quiet is treated as lost.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	url := startFake(t, func(p *fakePeer) { p.read() })
	var log stateLog
	c := dial(t, url, &Config{IdleTimeout: 50 * time.Millisecond, Reconnect: Reconnect{Disabled: true}, OnStateChange: log.add})
	eventually(t, "closed after silence", func() bool { return log.last().State == StateClosed })
	var ne interface{ Timeout() bool }
	if err := log.last().Err; !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("closed with %v", err)
	}
	if c.State() != StateClosed {
		t.Fatal(c.State())
	}
}

// Header is sent with the handshake (here Origin, checked by the server).
func TestHandshakeHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *noex.Config) { c.AllowedOrigins = []string{"https://app.example"} })
	dial(t, ts.url, &Config{Header: http.Header{"Origin": {"https://app.example"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := Dial(ctx, ts.url, &Config{Header: http.Header{"Origin": {"https://evil.example"}}}); err == nil {
		t.Fatal("Dial with a refused origin succeeded")
	}
}

// RequestTimeout bounds a request whose context has no deadline; NetDial
// replaces the TCP dialer.
func TestRequestTimeoutAndNetDial(t *testing.T) {
	t.Parallel()
	url := startFake(t, func(p *fakePeer) {
		for p.read() != nil { // never answers
		}
	})
	var dials atomic.Int32
	c := dial(t, url, &Config{
		RequestTimeout: 50 * time.Millisecond,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	if dials.Load() != 1 {
		t.Fatalf("NetDial called %d times", dials.Load())
	}
	start := time.Now()
	_, err := c.Request(context.Background(), "store.all", nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("unanswered request: %v after %v", err, time.Since(start))
	}
	if c.State() != StateConnected {
		t.Fatal("a timed-out request dropped the connection")
	}
}
