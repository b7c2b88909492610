package noex

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

type latest struct{ frame atomic.Pointer[[]byte] }

func (l *latest) LatestPush() (head, tail []byte) {
	if p := l.frame.Load(); p != nil {
		return *p, nil
	}
	return nil, nil
}

func (l *latest) set(s string) { b := []byte(s); l.frame.Store(&b) }

// pipeSession gives a Session whose socket is one end of a synchronous
// pipe: nothing is written until the test reads, so congestion is exact.
func pipeSession(t *testing.T, maxBuffered int, hwm float64) (*Session, net.Conn) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Backpressure = Backpressure{MaxBufferedBytes: maxBuffered, HighWaterMark: hwm, SlowConsumerTimeout: time.Hour}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	serverEnd, clientEnd := net.Pipe()
	s := newSession(srv, serverEnd, 1, "127.0.0.1")
	t.Cleanup(func() {
		serverEnd.Close()
		clientEnd.Close()
		s.out.writers.Wait()
	})
	return s, clientEnd
}

func readFrame(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(c)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c, p); err != nil {
		t.Fatal(err)
	}
	return string(p)
}

func TestPushesBelowHighWaterMarkAreSent(t *testing.T) {
	s, c := pipeSession(t, 1000, 0.5)
	src := &latest{}
	s.PushState("sub-1", src, []byte(`{"a":1}`), nil)
	s.PushEvent("sub-2", []byte(`{"e":1}`))
	if got := readFrame(t, c); got != `{"a":1}` {
		t.Fatalf("first frame %s", got)
	}
	if got := readFrame(t, c); got != `{"e":1}` {
		t.Fatalf("second frame %s", got)
	}
}

// TestCongestionCoalescesStateAndCountsDroppedEvents: above the high-water
// mark a subscription gets exactly one push with its latest state once the
// buffer drains, and an event subscription gets one events_dropped notice.
func TestCongestionCoalescesStateAndCountsDroppedEvents(t *testing.T) {
	s, c := pipeSession(t, 1000, 0.5)
	big := strings.Repeat("x", 600) // over the 500-byte high-water mark
	if !s.send([]byte(big)) {
		t.Fatal("send refused")
	}
	src := &latest{}
	src.set(`{"state":1}`)
	s.PushState("sub-1", src, []byte(`{"state":1}`), nil)
	src.set(`{"state":2}`)
	s.PushState("sub-1", src, []byte(`{"state":2}`), nil)
	src.set(`{"state":3}`)
	s.PushState("sub-1", src, []byte(`{"state":3}`), nil)
	for i := 0; i < 3; i++ {
		s.PushEvent("sub-2", []byte(`{"event":true}`))
	}
	// Responses are always queued, even when congested.
	s.send([]byte(`{"id":1,"type":"result"}`))
	if q := s.QueuedBytes(); q > 600+len(`{"id":1,"type":"result"}`) {
		t.Fatalf("queued %d bytes: pushes were queued above the mark", q)
	}
	want := []string{big, `{"id":1,"type":"result"}`, `{"state":3}`,
		`{"type":"system","event":"events_dropped","subscriptionId":"sub-2","count":3}`}
	for i, w := range want {
		if got := readFrame(t, c); got != w {
			t.Fatalf("frame %d = %.80s, want %.80s", i, got, w)
		}
	}
	// The writer settles its count right after the last write returns.
	deadline := time.Now().Add(5 * time.Second)
	for s.QueuedBytes() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queued %d after drain", s.QueuedBytes())
		}
		time.Sleep(time.Millisecond)
	}
	// After draining, pushes flow normally again.
	s.PushState("sub-1", src, []byte(`{"state":4}`), nil)
	if got := readFrame(t, c); got != `{"state":4}` {
		t.Fatalf("after drain %s", got)
	}
}

func TestForgottenSubscriptionSendsNothing(t *testing.T) {
	s, c := pipeSession(t, 1000, 0.5)
	s.send([]byte(strings.Repeat("x", 600)))
	src := &latest{}
	src.set(`{"state":1}`)
	s.PushState("sub-1", src, []byte(`{"state":1}`), nil)
	s.PushEvent("sub-2", []byte(`{}`))
	s.ForgetSubscription("sub-1")
	s.ForgetSubscription("sub-2")
	s.send([]byte(`{"id":2}`))
	readFrame(t, c)
	if got := readFrame(t, c); got != `{"id":2}` {
		t.Fatalf("got %s", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := ws.ReadHeader(c); err == nil {
		t.Fatal("a push for an ended subscription was sent")
	}
}

func TestCloseFrameIsLast(t *testing.T) {
	s, c := pipeSession(t, 1000, 0.5)
	s.send([]byte(`{"id":1}`))
	s.closeWith(CloseSlowConsumer, reasonSlowConsumer)
	if s.send([]byte(`{"id":2}`)) {
		t.Fatal("send accepted after close")
	}
	if got := readFrame(t, c); got != `{"id":1}` {
		t.Fatalf("got %s", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(c)
	if err != nil || h.OpCode != ws.OpClose {
		t.Fatalf("want close frame, got %+v %v", h, err)
	}
	p := make([]byte, h.Length)
	_, _ = io.ReadFull(c, p)
	code, reason := ws.ParseCloseFrameData(p)
	if code != CloseSlowConsumer || reason != "slow_consumer" {
		t.Fatalf("close %d %q", code, reason)
	}
}

func TestRateLimiterSlidingLog(t *testing.T) {
	now := int64(10_000)
	r := newRateLimiter(RateLimit{MaxRequests: 3, Window: time.Second}, func() int64 { return now })
	for i := 0; i < 3; i++ {
		if ok, _ := r.allow("k"); !ok {
			t.Fatalf("request %d refused", i)
		}
		now += 100 // accepted at 10000, 10100, 10200
	}
	// now = 10300: the oldest (10000) leaves the window at 11000.
	ok, retry := r.allow("k")
	if ok || retry != 700 {
		t.Fatalf("4th: ok=%v retry=%d, want refused with 700", ok, retry)
	}
	// A refused request is not recorded: at 11000 exactly one slot is free.
	now = 11_000
	if ok, _ := r.allow("k"); !ok {
		t.Fatal("refused after the oldest left the window")
	}
	if ok, retry := r.allow("k"); ok || retry != 100 {
		t.Fatalf("ok=%v retry=%d, want refused with 100", ok, retry)
	}
	// Keys are independent.
	if ok, _ := r.allow("other"); !ok {
		t.Fatal("other key refused")
	}
	// Sweeping forgets keys whose window is empty.
	now = 20_000
	r.sweep()
	if n := r.keyCount(); n != 0 {
		t.Fatalf("%d keys left after sweep", n)
	}
}

func TestRateLimiterLargeBudgetGrows(t *testing.T) {
	now := int64(0)
	r := newRateLimiter(RateLimit{MaxRequests: 1000, Window: time.Minute}, func() int64 { return now })
	for i := 0; i < 1000; i++ {
		now++
		if ok, _ := r.allow("k"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	if ok, retry := r.allow("k"); ok || retry != 60_000-999 {
		t.Fatalf("ok=%v retry=%d", ok, retry)
	}
}

func TestSubscriptionLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.ConnectionLimits = ConnectionLimits{MaxSubscriptionsPerConnection: 2, MaxTotalSubscriptions: 3}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := newSession(srv, nil, 1, "127.0.0.1")
	b := newSession(srv, nil, 2, "127.0.0.1")
	if e := a.ReserveSubscription(StoreSubscription); e != nil {
		t.Fatal(e)
	}
	if e := a.ReserveSubscription(RulesSubscription); e != nil {
		t.Fatal(e)
	}
	e := a.ReserveSubscription(StoreSubscription)
	if e == nil || e.Code != "RATE_LIMITED" || e.Message != "Subscription limit reached (max 2 per connection)" || e.Details != nil {
		t.Fatalf("per-connection limit: %v", e)
	}
	if e := b.ReserveSubscription(StoreSubscription); e != nil {
		t.Fatal(e)
	}
	e = b.ReserveSubscription(StoreSubscription)
	if e == nil || e.Message != "Global subscription limit reached (max 3)" {
		t.Fatalf("global limit: %v", e)
	}
	a.ReleaseSubscription(RulesSubscription)
	if e := b.ReserveSubscription(RulesSubscription); e != nil {
		t.Fatalf("after release: %v", e)
	}
	if info := a.Info(); info.StoreSubscriptionCount != 1 || info.RulesSubscriptionCount != 0 {
		t.Fatalf("a counts %+v", info)
	}
	if info := b.Info(); info.StoreSubscriptionCount != 1 || info.RulesSubscriptionCount != 1 {
		t.Fatalf("b counts %+v", info)
	}
	if got := srv.NextSubscriptionID(); got != "sub-1" {
		t.Fatalf("first id %s", got)
	}
	if got := srv.NextSubscriptionID(); got != "sub-2" {
		t.Fatalf("second id %s", got)
	}
}

// TestInlineWritesKeepFramesIntact sends many frames over a real socket
// whose reader pauses, so inline writes go partial and hand their rest to
// the writer: every frame must arrive whole and in order.
func TestInlineWritesKeepFramesIntact(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	serverEnd := <-accepted
	defer serverEnd.Close()
	s := newSession(srv, serverEnd, 1, "127.0.0.1")
	if s.raw == nil {
		t.Fatal("a TCP connection must allow inline writes")
	}
	const n = 3000
	pad := strings.Repeat("p", 7000)
	go func() {
		for i := 0; i < n; i++ {
			s.send([]byte(fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, pad)))
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the socket fill up
	for i := 0; i < n; i++ {
		got := readFrame(t, client)
		want := fmt.Sprintf(`{"seq":%d,`, i)
		if !strings.HasPrefix(got, want) || len(got) != len(want)+len(pad)+9 {
			t.Fatalf("frame %d: %.40s… (%d bytes)", i, got, len(got))
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.QueuedBytes() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still queued", s.QueuedBytes())
		}
		time.Sleep(time.Millisecond)
	}
	serverEnd.Close()
	s.out.writers.Wait()
}
