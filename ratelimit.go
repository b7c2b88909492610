package noex

import (
	"sync"
	"time"
)

// rateLimiter is the sliding-log limiter of PROTOCOL.md §8.2: for each key,
// the timestamps of the requests accepted in the last window. A request is
// accepted when fewer than max lie in (now − window, now]; a rejected one is
// not recorded. Keys whose window has emptied are swept, so the map holds
// only keys that made requests within the last window.
type rateLimiter struct {
	max    int
	window int64 // ms
	now    func() int64

	mu   sync.Mutex
	keys map[string]*requestLog
}

// requestLog is a ring of accepted request timestamps (ms), oldest first.
type requestLog struct {
	ts    []int64
	start int
	n     int
}

func newRateLimiter(rl RateLimit, now func() int64) *rateLimiter {
	return &rateLimiter{
		max:    rl.MaxRequests,
		window: rl.Window.Milliseconds(),
		now:    now,
		keys:   make(map[string]*requestLog),
	}
}

// allow records a request for key if the budget has room. Otherwise it
// returns how many ms until the oldest recorded request leaves the window.
func (r *rateLimiter) allow(key string) (ok bool, retryAfterMs int64) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.keys[key]
	if l == nil {
		// Grow the ring as requests come, up to max entries.
		l = &requestLog{ts: make([]int64, min(r.max, 8))}
		r.keys[key] = l
	}
	l.expire(now - r.window)
	if l.n < r.max {
		l.push(now, r.max)
		return true, 0
	}
	retry := l.oldest() + r.window - now
	return false, max(retry, 0)
}

func (l *requestLog) expire(cutoff int64) {
	for l.n > 0 && l.ts[l.start] <= cutoff {
		l.start = (l.start + 1) % len(l.ts)
		l.n--
	}
}

func (l *requestLog) oldest() int64 { return l.ts[l.start] }

func (l *requestLog) push(t int64, limit int) {
	if l.n == len(l.ts) {
		grown := make([]int64, min(max(2*len(l.ts), 1), limit))
		for i := 0; i < l.n; i++ {
			grown[i] = l.ts[(l.start+i)%len(l.ts)]
		}
		l.ts, l.start = grown, 0
	}
	l.ts[(l.start+l.n)%len(l.ts)] = t
	l.n++
}

// sweep forgets keys with no request inside the window.
func (r *rateLimiter) sweep() {
	cutoff := r.now() - r.window
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, l := range r.keys {
		l.expire(cutoff)
		if l.n == 0 {
			delete(r.keys, k)
		}
	}
}

// run sweeps every window until stop is closed.
func (r *rateLimiter) run(stop <-chan struct{}) {
	period := time.Duration(max(r.window, 1000)) * time.Millisecond
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.sweep()
		}
	}
}

func (r *rateLimiter) keyCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}
