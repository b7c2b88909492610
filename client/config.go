package client

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"
)

// Defaults of Config; each bounds how long something may wait.
const (
	// DefaultDialTimeout bounds one connection attempt (TCP, handshake and
	// welcome) when the caller's context has no deadline.
	DefaultDialTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds a request whose context has no deadline.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the write of one frame.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultReconnectInitialDelay is the delay before the first reconnect
	// attempt.
	DefaultReconnectInitialDelay = 100 * time.Millisecond
	// DefaultReconnectMaxDelay caps the delay between attempts.
	DefaultReconnectMaxDelay = 10 * time.Second
	// DefaultReconnectMultiplier grows the delay after each failed attempt.
	DefaultReconnectMultiplier = 2.0
	// DefaultReconnectJitter is the fraction of each delay that is random,
	// so that clients cut off together do not come back together.
	DefaultReconnectJitter = 0.3
	// DefaultEventBuffer bounds the rules events queued for one slow
	// subscriber; older events are dropped beyond it.
	DefaultEventBuffer = 4096
	// closeWait is how long Close waits for the server's close echo.
	closeWait = time.Second
)

// Config tunes a Client. The zero value is usable: every zero field means
// its default.
type Config struct {
	// DialTimeout bounds each connection attempt when the context has no
	// deadline (default DefaultDialTimeout).
	DialTimeout time.Duration
	// RequestTimeout bounds requests whose context has no deadline
	// (default DefaultRequestTimeout; negative: no bound).
	RequestTimeout time.Duration
	// WriteTimeout bounds the write of one frame (default
	// DefaultWriteTimeout).
	WriteTimeout time.Duration
	// IdleTimeout, when positive, treats the connection as lost when no
	// frame arrives for this long. The server pings every 30 s by default,
	// so 75 s is a sensible value; 0 relies on TCP to notice dead peers.
	IdleTimeout time.Duration
	// Header is sent with the WebSocket handshake (e.g. Origin).
	Header http.Header
	// NetDial replaces the TCP dialer (tests, proxies).
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Reconnect configures automatic reconnection.
	Reconnect Reconnect

	// EventBuffer bounds the rules events queued per subscription while
	// its consumer is busy (default DefaultEventBuffer). Store subscription
	// results are never queued: a consumer that falls behind gets the
	// latest result only.
	EventBuffer int

	// OnStateChange is called on every connection state change.
	OnStateChange func(StateChange)
	// OnSessionRevoked is called when the server says the session was
	// revoked (system event session_revoked). The client forgets its login
	// and, if the server also closes with 4002, does not reconnect.
	OnSessionRevoked func(reason string)
	// OnEventsDropped is called when rules events were lost for a
	// subscription: by the server while the connection was congested
	// (system event events_dropped), or by this client when the
	// subscription's EventBuffer overflowed. sub is nil if unknown.
	OnEventsDropped func(sub *Subscription, count int64)
	// OnShutdown is called when the server announces a graceful stop.
	OnShutdown func(gracePeriod time.Duration)

	// Logger receives protocol anomalies (default: discarded).
	Logger *slog.Logger
}

// Reconnect configures automatic reconnection with exponential backoff and
// jitter. After a reconnect the client re-runs its last successful login
// call and re-subscribes every subscription; requests that were waiting
// for an answer when the connection dropped fail with ErrDisconnected and
// are not sent again.
type Reconnect struct {
	// Disabled turns reconnection off: a lost connection closes the client.
	Disabled bool
	// InitialDelay is the delay before the first attempt (default
	// DefaultReconnectInitialDelay).
	InitialDelay time.Duration
	// MaxDelay caps the delay (default DefaultReconnectMaxDelay).
	MaxDelay time.Duration
	// Multiplier grows the delay after each failed attempt (default
	// DefaultReconnectMultiplier).
	Multiplier float64
	// Jitter is the random fraction of each delay, in [0, 1] (default
	// DefaultReconnectJitter; negative: none).
	Jitter float64
	// MaxAttempts gives up after this many failed attempts in a row and
	// closes the client (0: never give up).
	MaxAttempts int
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = DefaultEventBuffer
	}
	r := &c.Reconnect
	if r.InitialDelay <= 0 {
		r.InitialDelay = DefaultReconnectInitialDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultReconnectMaxDelay
	}
	if r.MaxDelay < r.InitialDelay {
		r.MaxDelay = r.InitialDelay
	}
	if r.Multiplier < 1 {
		r.Multiplier = DefaultReconnectMultiplier
	}
	switch {
	case r.Jitter == 0:
		r.Jitter = DefaultReconnectJitter
	case r.Jitter < 0:
		r.Jitter = 0
	case r.Jitter > 1:
		r.Jitter = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// delay is the wait before reconnect attempt n (1-based): the exponential
// delay capped at MaxDelay, of which the Jitter fraction is random.
func (r Reconnect) delay(n int) time.Duration {
	d := float64(r.InitialDelay)
	for i := 1; i < n && d < float64(r.MaxDelay); i++ {
		d *= r.Multiplier
	}
	d = min(d, float64(r.MaxDelay))
	d -= d * r.Jitter * rand.Float64()
	return time.Duration(d)
}

// State is the connection state of a Client.
type State int

const (
	// StateConnected: requests are sent at once.
	StateConnected State = iota + 1
	// StateReconnecting: the connection dropped; new requests wait (within
	// their context) until it is back.
	StateReconnecting
	// StateClosed: Close was called or the client gave up; requests fail
	// with ErrClosed.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// StateChange is reported to Config.OnStateChange.
type StateChange struct {
	State State
	// Err is why: the cause of a drop (StateReconnecting, StateClosed),
	// the failure of a reconnect attempt, or, with StateConnected after a
	// reconnect, a failed re-login (the client then continues logged out).
	Err error
	// Attempt counts reconnect attempts since the drop (0 otherwise).
	Attempt int
}
