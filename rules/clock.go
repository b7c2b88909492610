package rules

import "time"

// Clock is the engine's source of time: timestamps, timer expiry and
// temporal windows all go through it, so tests can drive time by hand.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// AfterFunc runs f on its own goroutine once d has elapsed, like
	// time.AfterFunc. A d of zero or less runs f as soon as possible, never
	// synchronously inside AfterFunc.
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper cancels a scheduled function; Stop reports whether it prevented
// the call, like (*time.Timer).Stop.
type Stopper interface {
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }
