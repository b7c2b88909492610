package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// NewMemoryLog returns a log that keeps nothing: every wait returns nil at
// once and Recover applies nothing. It backs `--persistence memory`.
func NewMemoryLog() Log {
	return &memoryLog{}
}

type memoryLog struct {
	closed atomic.Bool
}

func waitNil() error    { return nil }
func waitClosed() error { return ErrClosed }

func (l *memoryLog) Submit(*ChangeSet) func() error {
	if l.closed.Load() {
		return waitClosed
	}
	return waitNil
}

func (l *memoryLog) Recover(func(*ChangeSet) error) error { return nil }

func (l *memoryLog) Close() error {
	l.closed.Store(true)
	return nil
}

// RecordingLog is a Log for tests: it keeps a deep copy of every submitted
// change set in submission order, so a test can assert what was logged,
// replay it into a fresh store (Reopen, then Recover) or make the log fail
// (Break). Its waits return at once.
type RecordingLog struct {
	mu     sync.Mutex
	sets   []*ChangeSet
	closed bool
	broken error
}

// NewRecordingLog returns an empty RecordingLog.
func NewRecordingLog() *RecordingLog {
	return &RecordingLog{}
}

// Submit records a copy of cs, unless the log is closed or broken.
func (l *RecordingLog) Submit(cs *ChangeSet) func() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return waitClosed
	}
	if err := l.broken; err != nil {
		return func() error { return err }
	}
	l.sets = append(l.sets, cloneChangeSet(cs))
	return waitNil
}

// Recover replays every recorded change set in order, as a log-keeping
// backend would (the raw log, deletes and drops included, rather than the
// materialized state the pebble log hands back). apply receives copies.
func (l *RecordingLog) Recover(apply func(*ChangeSet) error) error {
	for i, cs := range l.ChangeSets() {
		if err := apply(cs); err != nil {
			return fmt.Errorf("storage: recover change set %d: %w", i, err)
		}
	}
	return nil
}

// Close makes later submits fail with ErrClosed; the recording is kept.
func (l *RecordingLog) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return nil
}

// ChangeSets returns copies of the change sets submitted so far, in
// submission order.
func (l *RecordingLog) ChangeSets() []*ChangeSet {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*ChangeSet, len(l.sets))
	for i, cs := range l.sets {
		out[i] = cloneChangeSet(cs)
	}
	return out
}

// Reset forgets the recorded change sets.
func (l *RecordingLog) Reset() {
	l.mu.Lock()
	l.sets = nil
	l.mu.Unlock()
}

// Reopen returns a new, open RecordingLog holding the same recording, as
// if the process restarted on the same data: its Recover replays it.
func (l *RecordingLog) Reopen() *RecordingLog {
	return &RecordingLog{sets: l.ChangeSets()}
}

// Break makes the log fail like a durable log whose commit failed: every
// later Submit's wait returns an error wrapping ErrBroken and cause, and
// nothing more is recorded.
func (l *RecordingLog) Break(cause error) {
	l.mu.Lock()
	if l.broken == nil {
		l.broken = fmt.Errorf("%w: %w", ErrBroken, cause)
	}
	l.mu.Unlock()
}

func cloneChangeSet(cs *ChangeSet) *ChangeSet {
	if cs == nil {
		return &ChangeSet{}
	}
	out := &ChangeSet{Ops: make([]Op, len(cs.Ops))}
	for i, op := range cs.Ops {
		op.Key = cloneBytes(op.Key)
		op.Value = cloneBytes(op.Value)
		out.Ops[i] = op
	}
	return out
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
