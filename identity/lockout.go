package identity

import "sync"

// lockout is the login limiter of PROTOCOL.md §6.11: a fixed window per
// key ("user:<name>", "ip:<addr>") anchored at the key's first failure. It
// is bounded: records whose window elapsed are dropped as they are seen,
// and a sweep runs whenever the map has doubled since the last one.
type lockout struct {
	maxAttempts int
	windowMs    int64

	mu        sync.Mutex
	keys      map[string]*failures
	sweptSize int
	sweptAt   int64
}

type failures struct {
	count   int
	firstMs int64
}

func newLockout(maxAttempts int, windowMs int64) *lockout {
	return &lockout{maxAttempts: maxAttempts, windowMs: windowMs, keys: make(map[string]*failures)}
}

// locked returns the ms until key unlocks, or 0 when it is not locked.
func (l *lockout) locked(key string, nowMs int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if !ok {
		return 0
	}
	if nowMs-f.firstMs > l.windowMs {
		delete(l.keys, key)
		return 0
	}
	if f.count >= l.maxAttempts {
		return max(1, l.windowMs-(nowMs-f.firstMs))
	}
	return 0
}

// fail records one failure for key.
func (l *lockout) fail(key string, nowMs int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if ok && nowMs-f.firstMs <= l.windowMs {
		f.count++
		return
	}
	l.keys[key] = &failures{count: 1, firstMs: nowMs}
	if len(l.keys) > 2*l.sweptSize+1024 || nowMs-l.sweptAt > l.windowMs {
		for k, f := range l.keys {
			if nowMs-f.firstMs > l.windowMs {
				delete(l.keys, k)
			}
		}
		l.sweptSize, l.sweptAt = len(l.keys), nowMs
	}
}

// reset forgets key's failures.
func (l *lockout) reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
}
