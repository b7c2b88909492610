package noex

import (
	"sync"
	"time"

	"github.com/noex-go/noex/internal/wire"
)

// The JSON-level heartbeat (PROTOCOL.md §8.3 as amended by
// COMPATIBILITY.md P§11 #28): every interval the server sends a ping; a
// connection from which no pong has been *received* within the timeout
// after a ping is closed with 4001. One timer per connection serves both
// the interval and the deadline.

type heartbeatState struct {
	mu       sync.Mutex
	timer    *time.Timer
	lastPing time.Time // when the last ping was sent
	pending  bool      // a ping is waiting for its pong
	stopped  bool
}

func (s *Session) startHeartbeat() {
	hb := &s.hb
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.lastPing = time.Now()
	hb.timer = time.AfterFunc(s.srv.cfg.Heartbeat.Interval, s.heartbeatTick)
}

func (s *Session) stopHeartbeat() {
	hb := &s.hb
	hb.mu.Lock()
	defer hb.mu.Unlock()
	hb.stopped = true
	if hb.timer != nil {
		hb.timer.Stop()
	}
}

// pong records that the client answered. Any well-formed pong received
// after a ping proves the connection is alive, whatever timestamp it carries.
func (s *Session) pong() {
	hb := &s.hb
	hb.mu.Lock()
	hb.pending = false
	hb.mu.Unlock()
}

func (s *Session) heartbeatTick() {
	cfg := s.srv.cfg.Heartbeat
	hb := &s.hb
	hb.mu.Lock()
	if hb.stopped {
		hb.mu.Unlock()
		return
	}
	now := time.Now()
	if hb.pending {
		deadline := hb.lastPing.Add(cfg.Timeout)
		if now.Before(deadline) {
			hb.timer.Reset(deadline.Sub(now))
			hb.mu.Unlock()
			return
		}
		if s.busy.Load() {
			// The pong may be waiting behind a long request on this
			// connection; look again shortly.
			hb.timer.Reset(min(cfg.Timeout, time.Second))
			hb.mu.Unlock()
			return
		}
		hb.stopped = true
		hb.mu.Unlock()
		s.srv.metrics.heartbeatTimeouts.Inc()
		s.closeWith(CloseHeartbeatTimeout, reasonHeartbeatTimeout)
		return
	}
	next := hb.lastPing.Add(cfg.Interval)
	if now.Before(next) {
		// A pong arrived before the deadline: wait for the next interval.
		hb.timer.Reset(next.Sub(now))
		hb.mu.Unlock()
		return
	}
	hb.lastPing = now
	hb.pending = true
	hb.timer.Reset(min(cfg.Timeout, cfg.Interval))
	hb.mu.Unlock()
	s.send(wire.EncodePing(now.UnixMilli()))
}
