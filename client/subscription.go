package client

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
)

type subKind int

const (
	storeSub subKind = iota + 1 // store.subscribe: pushes are states
	eventSub                    // rules.subscribe: pushes are events
)

// UpdateKind says where an Update comes from.
type UpdateKind int

const (
	// UpdateInitial is the result returned by store.subscribe.
	UpdateInitial UpdateKind = iota + 1
	// UpdateChange is a push: a new complete query result, or a rules
	// event.
	UpdateChange
	// UpdateResumed follows a reconnect: for a store subscription, the
	// fresh result of the new store.subscribe (it includes every write made
	// while disconnected); for a rules subscription it has no data and
	// marks a gap: events published while disconnected are not replayed.
	UpdateResumed
	// UpdateEnded is the last update: the server ended the subscription
	// (its query or bucket was removed), or the client gave up; Err says
	// why.
	UpdateEnded
)

func (k UpdateKind) String() string {
	switch k {
	case UpdateInitial:
		return "initial"
	case UpdateChange:
		return "change"
	case UpdateResumed:
		return "resumed"
	case UpdateEnded:
		return "ended"
	}
	return "unknown"
}

// Update is one delivery of a subscription.
type Update struct {
	Kind UpdateKind
	// Data is the complete query result of a store subscription ("null"
	// when the query has no value), or {"topic","event"} for a rules
	// subscription. Nil for UpdateEnded and for UpdateResumed of a rules
	// subscription.
	Data json.RawMessage
	// Err is set on UpdateEnded: an *Error from the server's final push,
	// or why the client stopped.
	Err error
}

// Decode unmarshals Data into v.
func (u Update) Decode(v any) error {
	if u.Data == nil {
		return errors.New("noex client: update has no data")
	}
	return json.Unmarshal(u.Data, v)
}

// Event decodes the rules event of a rules subscription's UpdateChange.
func (u Update) Event() (Event, error) {
	var p struct {
		Event Event `json:"event"`
	}
	err := u.Decode(&p)
	return p.Event, err
}

// Event is a rules event (PROTOCOL.md §5.5).
type Event struct {
	ID            string          `json:"id"`
	Topic         string          `json:"topic"`
	Data          json.RawMessage `json:"data"`
	Timestamp     int64           `json:"timestamp"`
	Source        string          `json:"source"`
	CorrelationID string          `json:"correlationId,omitempty"`
	// CausationID is passed through unchecked by the server: any JSON value.
	CausationID any `json:"causationId,omitempty"`
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// SubscribeOption configures a subscription.
type SubscribeOption func(*subOptions)

type subOptions struct {
	handler func(*Subscription, Update)
}

// OnUpdate delivers updates to fn instead of the Updates channel. fn runs
// on a goroutine of the subscription, one update at a time; it may call
// the client.
func OnUpdate(fn func(Update)) SubscribeOption {
	return func(o *subOptions) { o.handler = func(_ *Subscription, u Update) { fn(u) } }
}

// OnResult delivers every result of a store subscription (initial,
// changed, resumed) decoded as T. Results that do not decode are logged
// and skipped; the end of the subscription is seen through Done and Err.
func OnResult[T any](fn func(T)) SubscribeOption {
	return func(o *subOptions) {
		o.handler = func(s *Subscription, u Update) {
			if u.Kind == UpdateEnded || u.Data == nil {
				return
			}
			var v T
			if err := json.Unmarshal(u.Data, &v); err != nil {
				s.c.cfg.Logger.Warn("noex client: result does not decode", "query", s.query, "err", err)
				return
			}
			fn(v)
		}
	}
}

// OnEvent delivers the events of a rules subscription to fn.
func OnEvent(fn func(Event)) SubscribeOption {
	return func(o *subOptions) {
		o.handler = func(s *Subscription, u Update) {
			if u.Kind != UpdateChange {
				return
			}
			ev, err := u.Event()
			if err != nil {
				s.c.cfg.Logger.Warn("noex client: event does not decode", "pattern", s.pattern, "err", err)
				return
			}
			fn(ev)
		}
	}
}

// Subscription is a store query subscription or a rules event
// subscription. It outlives reconnects: the client subscribes again and
// maps the new server id to it. Updates arrive on Updates, or at the
// handler given with OnUpdate, OnResult or OnEvent, in order.
//
// A store subscription's results are states: if the consumer falls behind,
// it gets the latest result, not every intermediate one. Rules events are
// queued up to Config.EventBuffer.
type Subscription struct {
	c       *Client
	kind    subKind
	query   string
	params  any
	pattern string
	handler func(*Subscription, Update)
	out     chan Update
	done    chan struct{}
	quit    chan struct{}
	wake    chan struct{}

	// id and cn (the connection id belongs to) are guarded by c.mu.
	id string
	cn *conn

	mu        sync.Mutex
	queue     []Update
	ending    bool
	abandoned bool
	err       error
}

func newSubscription(c *Client, kind subKind, opts []SubscribeOption) *Subscription {
	var o subOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &Subscription{
		c:       c,
		kind:    kind,
		handler: o.handler,
		done:    make(chan struct{}),
		quit:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	if s.handler == nil {
		s.out = make(chan Update)
	}
	return s
}

// ID returns the server's id for the subscription on the current
// connection; it changes after a reconnect.
func (s *Subscription) ID() string {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.id
}

// Query returns the query name of a store subscription.
func (s *Subscription) Query() string { return s.query }

// Pattern returns the topic pattern of a rules subscription.
func (s *Subscription) Pattern() string { return s.pattern }

// Updates returns the channel updates arrive on; it is closed when the
// subscription ends. It is nil when a handler option was given.
func (s *Subscription) Updates() <-chan Update { return s.out }

// Done is closed when the subscription has delivered its last update.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it runs or after
// Unsubscribe, an *Error when the server ended it, ErrClosed after Close,
// or the cause the client gave up with.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Unsubscribe stops the subscription: no update is delivered after it
// returns (a handler already running may finish). It tells the server when
// connected; a subscription the server no longer knows is not an error.
func (s *Subscription) Unsubscribe(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	removed := c.removeSubLocked(s)
	id, cn := s.id, s.cn
	live := removed && cn != nil && c.cur == cn && !cn.lost
	c.mu.Unlock()
	s.abandon(nil)
	if !live {
		return nil
	}
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	_, err := c.roundTrip(ctx, cn, s.unsubscribeType(), map[string]any{"subscriptionId": id})
	if err == nil || IsCode(err, CodeNotFound) || errors.Is(err, ErrDisconnected) || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

func (s *Subscription) subscribeType() string {
	if s.kind == storeSub {
		return "store.subscribe"
	}
	return "rules.subscribe"
}

func (s *Subscription) unsubscribeType() string {
	if s.kind == storeSub {
		return "store.unsubscribe"
	}
	return "rules.unsubscribe"
}

func (s *Subscription) subscribeParams() map[string]any {
	if s.kind == storeSub {
		p := map[string]any{"query": s.query}
		if s.params != nil {
			p["params"] = s.params
		}
		return p
	}
	return map[string]any{"pattern": s.pattern}
}

// subscribe runs a subscribe request for s. The reader registers s when
// the result arrives, so that no push or system frame that follows the
// result can miss it.
func (c *Client) subscribe(ctx context.Context, s *Subscription) (*Subscription, error) {
	ctx, cancel := withDefaultTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	cn, err := c.acquire(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.subscribing++
	c.mu.Unlock()
	defer c.doneSubscribing()
	var regErr error
	_, err = c.send(ctx, cn, s.subscribeType(), s.subscribeParams(), func(data json.RawMessage) {
		res, err := decodeSubscribeResult(data)
		if err != nil {
			regErr = err
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			regErr = c.closedErr
			return
		}
		c.subs = append(c.subs, s)
		c.registerLocked(cn, s, res, UpdateInitial)
		go s.loop()
	})
	if err == nil {
		err = regErr
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// registerLocked binds the server id of res to s, queues the result and
// the pushes that came before it. Needs c.mu.
func (c *Client) registerLocked(cn *conn, s *Subscription, res subscribeResult, kind UpdateKind) {
	s.id, s.cn = res.SubscriptionID, cn
	c.byID[s.id] = s
	switch {
	case s.kind == storeSub:
		s.enqueueState(Update{Kind: kind, Data: res.Data})
	case kind == UpdateResumed:
		s.enqueueEvent(Update{Kind: UpdateResumed})
	}
	for _, f := range c.takeEarlyLocked(s.id) {
		c.pushLocked(s, f)
	}
}

// pushLocked delivers a push frame to s. Needs c.mu.
func (c *Client) pushLocked(s *Subscription, f *inFrame) {
	switch {
	case s.kind == eventSub:
		s.enqueueEvent(Update{Kind: UpdateChange, Data: f.data()})
	case f.Error != nil:
		c.removeSubLocked(s)
		s.end(&Error{Code: f.Error.Code, Message: f.Error.Message})
	default:
		s.enqueueState(Update{Kind: UpdateChange, Data: f.data()})
	}
}

// removeSubLocked forgets s; it reports whether s was live. Needs c.mu.
func (c *Client) removeSubLocked(s *Subscription) bool {
	i := slices.Index(c.subs, s)
	if i < 0 {
		return false
	}
	c.subs = slices.Delete(c.subs, i, i+1)
	if c.byID[s.id] == s {
		delete(c.byID, s.id)
	}
	return true
}

// enqueueState queues a store result. A result still waiting for the
// consumer is replaced by the newer one (keeping its Initial or Resumed
// kind), so a slow consumer costs no memory.
func (s *Subscription) enqueueState(u Update) {
	s.mu.Lock()
	if s.ending || s.abandoned {
		s.mu.Unlock()
		return
	}
	if n := len(s.queue); n > 0 && s.queue[n-1].Kind != UpdateEnded {
		if last := s.queue[n-1].Kind; u.Kind == UpdateChange && last != UpdateChange {
			u.Kind = last
		}
		s.queue[n-1] = u
	} else {
		s.queue = append(s.queue, u)
	}
	s.mu.Unlock()
	s.signal()
}

// enqueueEvent queues a rules event, dropping the oldest beyond
// Config.EventBuffer.
func (s *Subscription) enqueueEvent(u Update) {
	s.mu.Lock()
	if s.ending || s.abandoned {
		s.mu.Unlock()
		return
	}
	var dropped int64
	for len(s.queue) >= s.c.cfg.EventBuffer {
		s.queue = s.queue[1:]
		dropped++
	}
	s.queue = append(s.queue, u)
	s.mu.Unlock()
	s.signal()
	if dropped > 0 {
		s.c.eventsDropped(s, dropped)
	}
}

// end queues UpdateEnded with err; the subscription stops after
// delivering it.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.ending || s.abandoned {
		s.mu.Unlock()
		return
	}
	s.ending = true
	s.err = err
	s.queue = append(s.queue, Update{Kind: UpdateEnded, Err: err})
	s.mu.Unlock()
	s.signal()
}

// abandon stops delivery at once, dropping what is queued.
func (s *Subscription) abandon(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abandoned {
		return
	}
	s.abandoned = true
	if !s.ending {
		s.err = err
	}
	s.queue = nil
	close(s.quit)
}

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop delivers the queue, in order, until the subscription ends.
func (s *Subscription) loop() {
	defer func() {
		if s.out != nil {
			close(s.out)
		}
		close(s.done)
	}()
	for {
		s.mu.Lock()
		if s.abandoned {
			s.mu.Unlock()
			return
		}
		if len(s.queue) == 0 {
			ending := s.ending
			s.mu.Unlock()
			if ending {
				return
			}
			select {
			case <-s.wake:
			case <-s.quit:
				return
			}
			continue
		}
		u := s.queue[0]
		s.queue[0] = Update{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		if s.handler != nil {
			s.handler(s, u)
			continue
		}
		select {
		case s.out <- u:
		case <-s.quit:
			return
		}
	}
}
