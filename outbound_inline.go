package noex

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Inline writes: a producer that finds no writer running tries one
// non-blocking writev on its own goroutine. When the socket takes
// everything, as it does unless the peer is slow, no writer goroutine is
// started at all; fan-out to many connections then costs one system call
// per connection instead of a goroutine start, a hand-off and a system call.

// maxInlineFrames keeps a writev well under the kernel's iovec limit.
const maxInlineFrames = 128

type inlineScratch struct {
	hdrs bytes.Buffer
	bufs net.Buffers
}

var inlinePool = sync.Pool{New: func() any { return new(inlineScratch) }}

// initRaw remembers the socket's raw connection, when it has one.
func (s *Session) initRaw() {
	if sc, ok := s.nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			s.raw = rc
		}
	}
}

// writeInline writes the queue without blocking. It reports true when it
// finished the job (everything written, or the connection failed); false
// hands the rest to the writer goroutine, which the caller starts (the
// writers count taken by appendLocked carries over to it).
func (s *Session) writeInline() bool {
	o := &s.out
	o.mu.Lock()
	batch := o.queue
	if len(batch) > maxInlineFrames {
		o.mu.Unlock()
		return false
	}
	for _, f := range batch {
		if f.kind == frameClose {
			o.mu.Unlock()
			return false // closing: the writer's path handles deadlines and order
		}
	}
	o.queue = nil
	o.mu.Unlock()

	sc := inlinePool.Get().(*inlineScratch)
	defer func() {
		clear(sc.bufs)
		sc.bufs = sc.bufs[:0]
		inlinePool.Put(sc)
	}()
	sc.bufs = appendFrames(sc.bufs[:0], &sc.hdrs, batch)
	wire, payload := 0, 0
	for _, b := range sc.bufs {
		wire += len(b)
	}
	for _, f := range batch {
		payload += f.size()
	}
	var (
		n    int
		werr error
	)
	if err := s.raw.Write(func(fd uintptr) bool {
		n, werr = unix.Writev(int(fd), sc.bufs)
		return true // never wait for the socket
	}); err != nil {
		werr = err
	}
	if errors.Is(werr, unix.EAGAIN) {
		werr, n = nil, 0
	}
	n = max(n, 0)

	o.mu.Lock()
	switch {
	case werr != nil:
		// The peer is gone: drop everything, as the writer does.
		s.dequeuedLocked(payload)
		s.dropQueueLocked()
		s.afterWriteLocked()
		o.writing = false
		o.mu.Unlock()
		o.writers.Done()
		_ = s.nc.Close()
		return true
	case n == 0:
		// Nothing went out: put the frames back in front, unchanged.
		o.queue = append(batch, o.queue...)
		o.mu.Unlock()
		return false
	case n < wire:
		// Part went out: the rest of the bytes, already framed, goes first.
		var rest []byte
		skip := n
		for _, b := range sc.bufs {
			if skip >= len(b) {
				skip -= len(b)
				continue
			}
			rest = append(rest, b[skip:]...)
			skip = 0
		}
		o.queued += len(rest) - payload
		s.srv.metrics.bytesQueued.Add(float64(len(rest) - payload))
		o.queue = append([]outFrame{{kind: frameRaw, data: rest}}, o.queue...)
		s.afterWriteLocked()
		o.mu.Unlock()
		return false
	}
	s.dequeuedLocked(payload)
	s.afterWriteLocked()
	if len(o.queue) == 0 && o.queued < s.hwm() && !o.closing {
		s.releaseSkippedLocked()
	}
	if len(o.queue) > 0 {
		o.mu.Unlock()
		return false // more arrived meanwhile: the writer takes over
	}
	o.writing = false
	o.mu.Unlock()
	o.writers.Done()
	return true
}
