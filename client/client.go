package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Client is a connection to a noex server that survives connection losses
// (see Reconnect). It is safe for concurrent use.
type Client struct {
	url    string
	cfg    Config
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	nextID atomic.Uint64
	notify *notifier

	mu          sync.Mutex
	cur         *conn // nil while disconnected
	ready       bool  // cur is logged in again and its subscriptions restored
	readyCh     chan struct{}
	readyClosed bool
	state       State
	closed      bool
	closedErr   error // what requests get once closed
	welcome     Welcome
	pending     map[uint64]*call
	login       *loginCall
	// subs are the live subscriptions in creation order; byID maps the
	// current connection's server ids to them.
	subs []*Subscription
	byID map[string]*Subscription
	// subscribing counts subscribe requests in flight; while it is
	// positive, pushes for unknown ids are kept in early (PROTOCOL.md
	// §3.3: a push may precede its subscribe result).
	subscribing int
	early       []*inFrame

	runDone chan struct{}
}

// call is one request waiting for its answer.
type call struct {
	cn   *conn
	onOK func(json.RawMessage) // run by the reader before a result is handed over
	done chan struct{}
	data json.RawMessage
	err  error
}

// loginCall is the last successful login request, re-run after reconnects.
type loginCall struct {
	typ    string
	params any
}

// maxEarlyPushes bounds the pushes kept for not-yet-known subscription ids.
const maxEarlyPushes = 1024

// Dial connects to a noex server at url (ws://host:port/path) and waits
// for its welcome frame. A nil cfg means defaults. The first connection
// is not retried: Dial fails if the server cannot be reached; later losses
// are handled as Config.Reconnect says.
func Dial(ctx context.Context, url string, cfg *Config) (*Client, error) {
	var conf Config
	if cfg != nil {
		conf = *cfg
	}
	conf = conf.withDefaults()
	dctx, cancel := withDefaultTimeout(ctx, conf.DialTimeout)
	defer cancel()
	cn, err := dialConn(dctx, url, &conf)
	if err != nil {
		return nil, err
	}
	c := &Client{
		url:     url,
		cfg:     conf,
		notify:  newNotifier(),
		cur:     cn,
		ready:   true,
		readyCh: make(chan struct{}),
		state:   StateConnected,
		welcome: cn.welcome,
		pending: make(map[uint64]*call),
		byID:    make(map[string]*Subscription),
		runDone: make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.readLoop(cn)
	go c.run(cn)
	c.emitState(StateChange{State: StateConnected})
	return c, nil
}

// URL returns the address the client connects to.
func (c *Client) URL() string { return c.url }

// Welcome returns the welcome frame of the current (or last) connection.
func (c *Client) Welcome() Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// State returns the connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Close closes the connection and stops reconnecting. Pending requests fail
// with ErrClosed, subscription channels are closed. It may be called more
// than once, and from callbacks and handlers: it waits for the client's
// connection goroutines, not for callbacks still running.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.runDone
		return nil
	}
	c.closed = true
	c.closedErr = ErrClosed
	c.state = StateClosed
	cn := c.cur
	c.closeGate()
	c.mu.Unlock()
	c.cancel()
	if cn != nil {
		cn.closeGracefully(CloseNormal, closeWait)
	}
	<-c.runDone
	c.shutdown(ErrClosed, false)
	return nil
}

// shutdown runs once the client is closed: fails what is left, ends
// every subscription and stops the callback goroutine after the final
// state change. With report, subscriptions get a final UpdateEnded.
func (c *Client) shutdown(cause error, report bool) {
	c.mu.Lock()
	calls := c.pending
	c.pending = make(map[uint64]*call)
	subs := c.subs
	c.subs = nil
	c.byID = make(map[string]*Subscription)
	c.mu.Unlock()
	for _, cl := range calls {
		cl.finish(nil, c.closedError())
	}
	for _, s := range subs {
		if report {
			s.end(cause)
		} else {
			s.abandon(ErrClosed)
		}
	}
	var reported error
	if cause != ErrClosed {
		reported = cause
	}
	c.emitState(StateChange{State: StateClosed, Err: reported})
	c.notify.stop()
}

func (c *Client) closedError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedErr
}

// openGate makes requests wait for readiness; closeGate releases them.
// Both need c.mu.
func (c *Client) openGate() {
	if c.readyClosed {
		c.readyCh = make(chan struct{})
		c.readyClosed = false
	}
}

func (c *Client) closeGate() {
	if !c.readyClosed {
		close(c.readyCh)
		c.readyClosed = true
	}
}

// acquire returns the connection to send a request on, waiting within ctx
// while the client reconnects.
func (c *Client) acquire(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("noex client: %w", err)
	}
	for {
		c.mu.Lock()
		if c.closed {
			err := c.closedErr
			c.mu.Unlock()
			return nil, err
		}
		if c.cur != nil && c.ready {
			cn := c.cur
			c.mu.Unlock()
			return cn, nil
		}
		ch := c.readyCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("noex client: waiting for the connection: %w", ctx.Err())
		}
	}
}

// Request sends an operation with params (encoded as a JSON object whose
// keys become the request's fields; nil for none) and returns the result's
// data, "null" when absent. A server error is an *Error. ctx bounds the
// whole call; without a deadline Config.RequestTimeout applies. While the
// client reconnects, Request waits for the connection within ctx.
func (c *Client) Request(ctx context.Context, typ string, params any) (json.RawMessage, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	cn, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return c.roundTrip(ctx, cn, typ, params)
}

// call is Request plus decoding of the result into out (nil: ignore it).
func (c *Client) call(ctx context.Context, typ string, params any, out any) error {
	return c.callThen(ctx, typ, params, out, nil)
}

// callThen is call with onOK run by the reader when the result arrives,
// in stream order with the frames around it (login bookkeeping needs
// that: a session_revoked right after the result must win).
func (c *Client) callThen(ctx context.Context, typ string, params any, out any, onOK func(json.RawMessage)) error {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	cn, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	raw, err := c.send(ctx, cn, typ, params, onOK)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("noex client: %s: decode result: %w", typ, err)
	}
	return nil
}

// roundTrip sends one request on cn and waits for its answer.
func (c *Client) roundTrip(ctx context.Context, cn *conn, typ string, params any) (json.RawMessage, error) {
	return c.send(ctx, cn, typ, params, nil)
}

// send sends one request on cn and waits for its answer. onOK, if set,
// runs on the reader goroutine when a result arrives, before the next
// frame is read; send then returns that result even if ctx ended
// meanwhile.
func (c *Client) send(ctx context.Context, cn *conn, typ string, params any, onOK func(json.RawMessage)) (json.RawMessage, error) {
	id := c.nextID.Add(1)
	frame, err := encodeRequest(id, typ, params)
	if err != nil {
		return nil, err
	}
	cl := &call{cn: cn, done: make(chan struct{}), onOK: onOK}
	c.mu.Lock()
	if cn.lost {
		err := c.lostError(cn)
		c.mu.Unlock()
		return nil, err
	}
	c.pending[id] = cl
	c.mu.Unlock()

	if err := cn.writeText(ctx, frame); err != nil {
		c.mu.Lock()
		_, waiting := c.pending[id]
		delete(c.pending, id)
		closed, closedErr := c.closed, c.closedErr
		c.mu.Unlock()
		switch {
		case !waiting: // the loss was reported first
			<-cl.done
			return nil, cl.err
		case closed:
			return nil, closedErr
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrDisconnected, typ, err)
	}
	select {
	case <-cl.done:
		return cl.data, cl.err
	case <-ctx.Done():
		c.mu.Lock()
		_, waiting := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if !waiting {
			// The reader took the answer already; it finishes at once.
			<-cl.done
			return cl.data, cl.err
		}
		return nil, fmt.Errorf("noex client: %s: %w", typ, ctx.Err())
	}
}

func (cl *call) finish(data json.RawMessage, err error) {
	cl.data, cl.err = data, err
	close(cl.done)
}

// lostError is what requests on a lost connection get. Needs c.mu.
func (c *Client) lostError(cn *conn) error {
	if c.closed && c.closedErr == ErrClosed {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, cn.cause)
}

// readLoop reads cn until it fails, then reports the loss.
func (c *Client) readLoop(cn *conn) {
	var err error
	for {
		var msg []byte
		if msg, err = cn.readText(); err != nil {
			break
		}
		c.handleFrame(cn, msg)
	}
	cn.nc.Close()
	c.connLost(cn, closeCause(err))
	close(cn.done)
}

// connLost fails the requests waiting on cn and forgets its subscription
// ids; run decides about reconnecting.
func (c *Client) connLost(cn *conn, cause error) {
	c.mu.Lock()
	cn.lost, cn.cause = true, cause
	if c.cur == cn {
		c.cur = nil
		c.ready = false
		if !c.closed {
			c.openGate()
		}
		c.byID = make(map[string]*Subscription)
		c.early = nil
	}
	err := c.lostError(cn)
	var calls []*call
	for id, cl := range c.pending {
		if cl.cn == cn {
			calls = append(calls, cl)
			delete(c.pending, id)
		}
	}
	c.mu.Unlock()
	for _, cl := range calls {
		cl.finish(nil, err)
	}
}

// handleFrame dispatches one server frame (PROTOCOL.md §1.3).
func (c *Client) handleFrame(cn *conn, msg []byte) {
	f := new(inFrame)
	if err := json.Unmarshal(msg, f); err != nil {
		c.cfg.Logger.Warn("noex client: unreadable frame", "err", err)
		return
	}
	switch f.Type {
	case "result", "error":
		id, err := strconv.ParseUint(f.ID.String(), 10, 64)
		if err != nil || id == 0 {
			c.cfg.Logger.Warn("noex client: answer without a request", "code", f.Code, "message", f.Message)
			return
		}
		c.mu.Lock()
		cl := c.pending[id]
		if cl != nil && cl.cn == cn {
			delete(c.pending, id)
		} else {
			cl = nil
		}
		c.mu.Unlock()
		if cl == nil {
			return // its caller gave up
		}
		if f.Type == "result" {
			data := f.data()
			if cl.onOK != nil {
				cl.onOK(data)
			}
			cl.finish(data, nil)
		} else {
			cl.finish(nil, &Error{Code: f.Code, Message: f.Message, Details: f.Details})
		}
	case "push":
		c.handlePush(cn, f)
	case "ping":
		if err := cn.pong(f.Timestamp); err != nil {
			c.cfg.Logger.Warn("noex client: pong failed", "err", err)
		}
	case "system":
		c.handleSystem(f)
	case "welcome":
	default:
		c.cfg.Logger.Warn("noex client: unknown frame type", "type", f.Type)
	}
}

func (c *Client) handlePush(cn *conn, f *inFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != cn {
		return
	}
	s := c.byID[f.SubscriptionID]
	if s == nil {
		if c.subscribing > 0 && len(c.early) < maxEarlyPushes {
			c.early = append(c.early, f)
		}
		return
	}
	c.pushLocked(s, f)
}

// takeEarlyLocked removes and returns the early pushes for id. Needs c.mu.
func (c *Client) takeEarlyLocked(id string) []*inFrame {
	var out []*inFrame
	kept := c.early[:0]
	for _, f := range c.early {
		if f.SubscriptionID == id {
			out = append(out, f)
		} else {
			kept = append(kept, f)
		}
	}
	c.early = kept
	return out
}

func (c *Client) handleSystem(f *inFrame) {
	switch f.Event {
	case "session_revoked":
		c.mu.Lock()
		c.login = nil
		c.mu.Unlock()
		if fn := c.cfg.OnSessionRevoked; fn != nil {
			reason := f.Reason
			c.notify.post(func() { fn(reason) })
		}
	case "events_dropped":
		c.mu.Lock()
		s := c.byID[f.SubscriptionID]
		c.mu.Unlock()
		c.eventsDropped(s, f.Count)
	case "shutdown":
		if fn := c.cfg.OnShutdown; fn != nil {
			grace := time.Duration(f.GracePeriodMs) * time.Millisecond
			c.notify.post(func() { fn(grace) })
		}
	default:
		c.cfg.Logger.Info("noex client: unknown system event", "event", f.Event)
	}
}

func (c *Client) eventsDropped(s *Subscription, n int64) {
	if fn := c.cfg.OnEventsDropped; fn != nil && n > 0 {
		c.notify.post(func() { fn(s, n) })
	}
}

func (c *Client) emitState(sc StateChange) {
	if fn := c.cfg.OnStateChange; fn != nil {
		c.notify.post(func() { fn(sc) })
	}
}

// setLogin remembers (or, with nil, forgets) the login call to re-run
// after a reconnect.
func (c *Client) setLogin(l *loginCall) {
	c.mu.Lock()
	c.login = l
	c.mu.Unlock()
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// notifier runs callbacks one at a time, in order, on a goroutine of its
// own, so that a callback may call the client.
type notifier struct {
	mu       sync.Mutex
	queue    []func()
	wake     chan struct{}
	stopping bool
}

func newNotifier() *notifier {
	n := &notifier{wake: make(chan struct{}, 1)}
	go n.run()
	return n
}

func (n *notifier) post(fn func()) {
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		return
	}
	n.queue = append(n.queue, fn)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// stop lets the goroutine run what is queued, then end.
func (n *notifier) stop() {
	n.mu.Lock()
	n.stopping = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) run() {
	for {
		n.mu.Lock()
		q := n.queue
		n.queue = nil
		stopping := n.stopping
		n.mu.Unlock()
		for _, fn := range q {
			fn()
		}
		if len(q) == 0 {
			if stopping {
				return
			}
			<-n.wake
		}
	}
}
