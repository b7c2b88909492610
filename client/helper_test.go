package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is a real in-process noex server with a memory store and a
// rule engine.
type testServer struct {
	srv *noex.Server
	st  *store.Store
	url string
}

// startServer starts a server on a loopback port; it stops when the test
// ends (after the test's clients, which are cleaned up first).
func startServer(t testing.TB, mutate func(*noex.Config)) *testServer {
	t.Helper()
	st, err := store.Open(store.Options{Name: "t", TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rt, err := noex.OpenRules(st, rules.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background()) })
	cfg := noex.DefaultConfig()
	cfg.Host, cfg.Port = "127.0.0.1", 0
	cfg.Store, cfg.Rules = st, rt.Engine
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := noex.New(cfg)
	if err != nil {
		t.Fatalf("noex.New: %v", err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx, 0)
	})
	return &testServer{srv: srv, st: st, url: "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/"}
}

// dial connects a client to url; it is closed when the test ends.
func dial(t testing.TB, url string, cfg *Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testCtx bounds a test's requests.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err is an *Error with code.
func wantCode(t testing.TB, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
	return e
}

// next returns the next update of a channel-mode subscription.
func next(t testing.TB, s *Subscription) Update {
	t.Helper()
	select {
	case u, ok := <-s.Updates():
		if !ok {
			t.Fatalf("updates closed (err %v)", s.Err())
		}
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5s")
	}
	return Update{}
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stateLog records OnStateChange calls.
type stateLog struct {
	mu      sync.Mutex
	changes []StateChange
}

func (l *stateLog) add(sc StateChange) {
	l.mu.Lock()
	l.changes = append(l.changes, sc)
	l.mu.Unlock()
}

func (l *stateLog) has(st State) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.changes {
		if c.State == st {
			return true
		}
	}
	return false
}

func (l *stateLog) last() StateChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.changes) == 0 {
		return StateChange{}
	}
	return l.changes[len(l.changes)-1]
}

// proxy is a TCP proxy between a client and a server that can cut every
// connection, hold the bytes in flight, and refuse new connections.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	pairs  map[*pipePair]struct{}
	reject bool
	frozen bool
	wg     sync.WaitGroup
}

type pipePair struct {
	a, b net.Conn
	dead bool
}

func startProxy(t testing.TB, targetURL string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := targetURL[len("ws://"):]
	host = host[:len(host)-1] // trailing "/"
	p := &proxy{ln: ln, target: host, pairs: make(map[*pipePair]struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "ws://" + p.ln.Addr().String() + "/" }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		reject := p.reject
		p.mu.Unlock()
		if reject {
			a.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			a.Close()
			continue
		}
		pp := &pipePair{a: a, b: b}
		p.mu.Lock()
		p.pairs[pp] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pp, a, b)
		go p.pipe(pp, b, a)
	}
}

func (p *proxy) pipe(pp *pipePair, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen && !pp.dead {
				p.cond.Wait()
			}
			dead := pp.dead
			p.mu.Unlock()
			if dead {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			p.kill(pp)
			return
		}
	}
}

func (p *proxy) kill(pp *pipePair) {
	p.mu.Lock()
	pp.dead = true
	delete(p.pairs, pp)
	p.cond.Broadcast()
	p.mu.Unlock()
	pp.a.Close()
	pp.b.Close()
}

// cut closes every proxied connection abruptly (no close frame).
func (p *proxy) cut() {
	p.mu.Lock()
	var all []*pipePair
	for pp := range p.pairs {
		all = append(all, pp)
	}
	p.mu.Unlock()
	for _, pp := range all {
		p.kill(pp)
	}
}

func (p *proxy) setReject(v bool) {
	p.mu.Lock()
	p.reject = v
	p.mu.Unlock()
}

// freeze holds the bytes read from now on until thawed (or cut).
func (p *proxy) freeze(v bool) {
	p.mu.Lock()
	p.frozen = v
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// fakeServer is a scripted WebSocket peer for frame-level tests: it sends
// the welcome, then hands each connection to script.
type fakeServer struct {
	srv *http.Server
	ln  net.Listener

	mu     sync.Mutex
	closed bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

// fakePeer is the server side of one fake connection.
type fakePeer struct {
	t  testing.TB
	nc net.Conn
}

func startFake(t testing.TB, script func(*fakePeer)) string {
	t.Helper()
	return startFakeWith(t, true, script)
}

// startFakeRaw is startFake without the welcome frame.
func startFakeRaw(t testing.TB, script func(*fakePeer)) string {
	t.Helper()
	return startFakeWith(t, false, script)
}

func startFakeWith(t testing.TB, welcome bool, script func(*fakePeer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{ln: ln}
	fs.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		fs.mu.Lock()
		if fs.closed {
			fs.mu.Unlock()
			nc.Close()
			return
		}
		fs.wg.Add(1)
		fs.conns = append(fs.conns, nc)
		fs.mu.Unlock()
		defer fs.wg.Done()
		defer nc.Close()
		p := &fakePeer{t: t, nc: nc}
		if welcome {
			p.send(`{"type":"welcome","version":"1.0.0","serverTime":1,"requiresAuth":false}`)
		}
		script(p)
	})}
	go func() { _ = fs.srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = fs.srv.Close()
		fs.mu.Lock()
		fs.closed = true
		conns := fs.conns
		fs.mu.Unlock()
		for _, nc := range conns {
			nc.Close()
		}
		fs.wg.Wait()
	})
	return "ws://" + ln.Addr().String() + "/"
}

func (p *fakePeer) send(frame string) {
	_ = wsutil.WriteServerText(p.nc, []byte(frame))
}

// read returns the next client frame as a map (nil when the peer left).
func (p *fakePeer) read() map[string]any {
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := wsutil.ReadClientText(p.nc)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			var ce wsutil.ClosedError
			if !errors.As(err, &ce) {
				p.t.Logf("fake read: %v", err)
			}
		}
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		p.t.Errorf("client sent non-JSON %q", msg)
	}
	return m
}

// raw returns the next client frame unparsed.
func (p *fakePeer) raw() string {
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	msg, err := wsutil.ReadClientText(p.nc)
	if err != nil {
		return ""
	}
	return string(msg)
}

// idOf formats a request id for an answer frame.
func idOf(m map[string]any) string {
	return strconv.FormatFloat(m["id"].(float64), 'f', -1, 64)
}
