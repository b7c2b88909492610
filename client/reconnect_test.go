package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var fastReconnect = Reconnect{InitialDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond}

// The connection is cut mid-stream: the request in flight fails with
// ErrDisconnected and is not repeated; the client reconnects, re-subscribes,
// delivers the fresh result (with a write made while it was away) and
// keeps receiving pushes under the new subscription id.
func TestReconnectRestoresSubscriptions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.url)
	var log stateLog
	c := dial(t, px.url(), &Config{OnStateChange: log.add, Reconnect: fastReconnect})
	direct := dial(t, ts.url, nil)
	ctx := testCtx(t)
	items := defineItems(t, direct)
	check(t, direct.Store().DefineQuery(ctx, "names", QueryConfig{Bucket: "items", Fields: []string{"name"}}))

	sub := must[*Subscription](t)(c.Store().Subscribe(ctx, "names", nil))
	if u := next(t, sub); u.Kind != UpdateInitial || string(u.Data) != "[]" {
		t.Fatalf("initial %+v", u)
	}
	events := must[*Subscription](t)(c.Rules().Subscribe(ctx, "tick"))
	mine := BucketOf[item](c, "items")
	must[item](t)(mine.Insert(ctx, map[string]any{"name": "before"}))
	if u := next(t, sub); u.Kind != UpdateChange || string(u.Data) != `[{"name":"before"}]` {
		t.Fatalf("change %+v", u)
	}
	oldID := sub.ID()

	// Hold the next request in the proxy, then cut.
	px.freeze(true)
	errc := make(chan error, 1)
	go func() {
		_, err := mine.Insert(ctx, map[string]any{"name": "lost"})
		errc <- err
	}()
	eventually(t, "request in flight", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.pending) == 1
	})
	px.setReject(true)
	px.cut()
	px.freeze(false)
	err := <-errc
	if !errors.Is(err, ErrDisconnected) || errors.Is(err, ErrClosed) {
		t.Fatalf("request in flight: %v", err)
	}
	eventually(t, "reconnecting state", func() bool { return c.State() == StateReconnecting && log.has(StateReconnecting) })

	// Written while the client is away.
	must[item](t)(items.Insert(ctx, map[string]any{"name": "while-down"}))
	must[Event](t)(direct.Rules().Emit(ctx, "tick", map[string]any{"n": 0})) // lost: events are not replayed
	px.setReject(false)

	u := next(t, sub)
	if u.Kind != UpdateResumed || string(u.Data) != `[{"name":"before"},{"name":"while-down"}]` {
		t.Fatalf("resumed %+v %s", u, u.Data)
	}
	if id := sub.ID(); id == oldID || id == "" {
		t.Fatalf("subscription id %q after reconnect (was %q)", id, oldID)
	}
	if u := next(t, events); u.Kind != UpdateResumed || u.Data != nil {
		t.Fatalf("rules subscription after reconnect %+v", u)
	}
	eventually(t, "connected state", func() bool { return log.last().State == StateConnected })

	// Pushes flow under the new id, for both kinds.
	must[item](t)(mine.Insert(ctx, map[string]any{"name": "after"}))
	if u := next(t, sub); u.Kind != UpdateChange || !strings.HasSuffix(string(u.Data), `{"name":"after"}]`) {
		t.Fatalf("change after reconnect %+v", u)
	}
	must[Event](t)(direct.Rules().Emit(ctx, "tick", map[string]any{"n": 1}))
	if ev, err := next(t, events).Event(); err != nil || string(ev.Data) != `{"n":1}` {
		t.Fatalf("event after reconnect %+v %v", ev, err)
	}
	// The insert that was in flight was never sent again.
	if n := must[int](t)(items.Count(ctx, Filter{"name": "lost"})); n != 0 {
		t.Fatalf("the failed insert was repeated (%d records)", n)
	}
	// The old connection's subscriptions are gone once the server has
	// noticed the cut; the new ones are one of each.
	eventually(t, "one subscription of each kind on the server", func() bool {
		st := must[ServerStats](t)(direct.Server().Stats(ctx))
		return st.Connections.TotalStoreSubscriptions == 1 && st.Connections.TotalRulesSubscriptions == 1
	})
}

// While reconnecting, new requests wait for the connection within their
// context.
func TestRequestsWaitWhileReconnecting(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.url)
	c := dial(t, px.url(), &Config{Reconnect: fastReconnect})
	ctx := testCtx(t)
	px.setReject(true)
	px.cut()
	eventually(t, "reconnecting", func() bool { return c.State() == StateReconnecting })

	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := c.Store().Buckets(short); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrDisconnected) {
		t.Fatalf("request while reconnecting: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Store().Buckets(ctx)
		errc <- err
	}()
	time.Sleep(30 * time.Millisecond)
	px.setReject(false)
	if err := <-errc; err != nil {
		t.Fatalf("request after reconnect: %v", err)
	}
}

// A subscription the server refuses to restore (its query was removed
// while the client was away) ends with the server's error.
func TestResubscribeRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.url)
	c := dial(t, px.url(), &Config{Reconnect: fastReconnect})
	direct := dial(t, ts.url, nil)
	ctx := testCtx(t)
	defineItems(t, direct)
	check(t, direct.Store().DefineQuery(ctx, "q", QueryConfig{Bucket: "items"}))
	sub := must[*Subscription](t)(c.Store().Subscribe(ctx, "q", nil))
	next(t, sub)
	keep := must[*Subscription](t)(c.Store().Subscribe(ctx, "q", nil))
	next(t, keep)
	check(t, keep.Unsubscribe(ctx))

	px.setReject(true)
	px.cut()
	check(t, direct.Store().UndefineQuery(ctx, "q"))
	px.setReject(false)
	u := next(t, sub)
	if u.Kind != UpdateEnded || !IsCode(u.Err, CodeQueryNotDefined) {
		t.Fatalf("after reconnect %+v", u)
	}
	if _, ok := <-sub.Updates(); ok {
		t.Fatal("update after UpdateEnded")
	}
	if !IsCode(sub.Err(), CodeQueryNotDefined) {
		t.Fatal(sub.Err())
	}
}

// Unsubscribing while disconnected is local; the subscription is not
// restored.
func TestUnsubscribeWhileDisconnected(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.url)
	var log stateLog
	c := dial(t, px.url(), &Config{OnStateChange: log.add, Reconnect: fastReconnect})
	ctx := testCtx(t)
	sub := must[*Subscription](t)(c.Rules().Subscribe(ctx, "x"))
	px.setReject(true)
	px.cut()
	eventually(t, "reconnecting", func() bool { return c.State() == StateReconnecting })
	start := time.Now()
	check(t, sub.Unsubscribe(ctx))
	if time.Since(start) > time.Second {
		t.Fatal("Unsubscribe waited for the connection")
	}
	px.setReject(false)
	eventually(t, "connected", func() bool { return c.State() == StateConnected })
	eventually(t, "no subscription left on the server", func() bool {
		st := must[ServerStats](t)(c.Server().Stats(ctx))
		return st.Connections.TotalRulesSubscriptions == 0
	})
}

func TestReconnectDisabled(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.url)
	var log stateLog
	c := dial(t, px.url(), &Config{OnStateChange: log.add, Reconnect: Reconnect{Disabled: true}})
	ctx := testCtx(t)
	sub := must[*Subscription](t)(c.Rules().Subscribe(ctx, "x"))
	px.cut()
	if u := next(t, sub); u.Kind != UpdateEnded || u.Err == nil {
		t.Fatalf("last update %+v", u)
	}
	eventually(t, "closed", func() bool { return c.State() == StateClosed && log.last().State == StateClosed })
	if log.has(StateReconnecting) || log.last().Err == nil {
		t.Fatalf("state changes %+v", log.changes)
	}
	if _, err := c.Store().Buckets(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after the loss: %v", err)
	}
}

func TestReconnectGivesUp(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	px := startProxy(t, ts.url)
	var log stateLog
	r := fastReconnect
	r.MaxAttempts = 3
	c := dial(t, px.url(), &Config{OnStateChange: log.add, Reconnect: r})
	px.setReject(true)
	px.cut()
	eventually(t, "closed", func() bool { return log.last().State == StateClosed })
	if err := log.last().Err; err == nil || !strings.Contains(err.Error(), "gave up after 3") {
		t.Fatalf("closed with %v", err)
	}
	attempts := 0
	log.mu.Lock()
	for _, sc := range log.changes {
		if sc.State == StateReconnecting && sc.Attempt > 0 {
			attempts++
		}
	}
	log.mu.Unlock()
	if attempts != 3 || c.State() != StateClosed {
		t.Fatalf("%d failed attempts reported, state %v", attempts, c.State())
	}
}

func TestBackoffDelay(t *testing.T) {
	r := (Config{Reconnect: Reconnect{InitialDelay: 100 * time.Millisecond, MaxDelay: time.Second, Jitter: 0.5}}).withDefaults().Reconnect
	for n, base := range map[int]time.Duration{1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 50: 1000} {
		base *= time.Millisecond
		for range 100 {
			d := r.delay(n)
			if d > base || d < base/2 {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", n, d, base/2, base)
			}
		}
	}
	none := (Config{Reconnect: Reconnect{Jitter: -1}}).withDefaults().Reconnect
	if d := none.delay(1); d != DefaultReconnectInitialDelay {
		t.Fatalf("delay without jitter = %v", d)
	}
}
