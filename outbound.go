package noex

import (
	"bytes"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/noex-go/noex/internal/wire"
)

// The outbound side of a connection: one bounded queue of frames with a byte
// counter, and a writer goroutine that exists only while there is something
// to write. The counter covers bytes queued and bytes being written; it is
// what backpressure and slow-consumer detection read (COMPATIBILITY.md,
// "Backpressure").

// StateSource gives the latest push frame of a store subscription, as a
// head and a tail written back to back. When a congested connection skips
// pushes for a subscription, it asks for the latest one once the buffer
// drains, so the final state always arrives.
type StateSource interface {
	LatestPush() (head, tail []byte)
}

type frameKind uint8

const (
	frameText frameKind = iota
	framePong
	frameClose
	// frameRaw is the unwritten rest of frames a partial inline write left
	// behind: already framed, written as is.
	frameRaw
)

// outFrame is one WebSocket message: data, then tail (usually nil). A
// push is its subscriber's own head followed by a tail shared by every
// subscriber of the same result, so the result is encoded once.
type outFrame struct {
	kind frameKind
	data []byte
	tail []byte
}

func (f *outFrame) size() int { return len(f.data) + len(f.tail) }

type outbound struct {
	mu      sync.Mutex
	queue   []outFrame
	queued  int  // bytes queued or being written
	writing bool // a writer goroutine is running
	// corked holds answers while the reader handles requests it read
	// together; the reader uncorks before it waits for the socket.
	corked   bool
	closing  bool // a close frame is queued: nothing more is accepted
	dirty    map[string]StateSource
	dirtyIDs []string // dirty subscriptions in the order they became dirty
	dropped  map[string]int64
	dropIDs  []string
	// drained is closed when queued falls below the byte limit; non-nil
	// only while the reader waits for it.
	drained   chan struct{}
	slowTimer *time.Timer
	writers   sync.WaitGroup
}

func (s *Session) hwm() int {
	bp := s.srv.cfg.Backpressure
	return int(float64(bp.MaxBufferedBytes) * bp.HighWaterMark)
}

// send queues a frame that is always delivered: a response, a ping or a
// system frame. It reports false once the connection is closing.
func (s *Session) send(data []byte) bool {
	return s.enqueue(frameText, data)
}

func (s *Session) enqueue(kind frameKind, data []byte) bool {
	o := &s.out
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false
	}
	start := s.appendLocked(kind, data)
	o.mu.Unlock()
	if start {
		s.flush()
	}
	return true
}

// appendLocked queues a frame. It reports true when no writer is running:
// the caller must then call flush once it has released the lock.
func (s *Session) appendLocked(kind frameKind, data []byte) (start bool) {
	return s.appendPartsLocked(outFrame{kind: kind, data: data})
}

func (s *Session) appendPartsLocked(f outFrame) (start bool) {
	o := &s.out
	o.queue = append(o.queue, f)
	o.queued += f.size()
	s.srv.metrics.bytesQueued.Add(float64(f.size()))
	s.checkSlowLocked()
	if o.writing || (o.corked && f.kind != frameClose && o.queued < corkLimit) {
		return false
	}
	o.writing = true
	o.writers.Add(1)
	return true
}

// corkLimit bounds what a cork holds back: beyond it the queue is written.
const corkLimit = 64 << 10

// cork holds answers back until uncork (reader goroutine only).
func (s *Session) cork() {
	s.out.mu.Lock()
	s.out.corked = true
	s.out.mu.Unlock()
}

// uncork writes what the cork held back.
func (s *Session) uncork() {
	o := &s.out
	o.mu.Lock()
	if !o.corked {
		o.mu.Unlock()
		return
	}
	o.corked = false
	start := len(o.queue) > 0 && !o.writing
	if start {
		o.writing = true
		o.writers.Add(1)
	}
	o.mu.Unlock()
	if start {
		s.flush()
	}
}

// flush writes what is queued, on the calling goroutine if the socket takes
// it all at once (the common case: no goroutine to start, no hand-off),
// otherwise by starting the writer goroutine for the rest. Call it after
// appendLocked reported start, without the lock held.
func (s *Session) flush() {
	if s.raw == nil || !s.writeInline() {
		go s.writeLoop()
	}
}

// PushState delivers a store subscription push, written as head then tail.
// Above the high-water mark the push is not queued: the subscription is
// marked dirty and src is asked for its latest push once the buffer drains.
func (s *Session) PushState(subscriptionID string, src StateSource, head, tail []byte) {
	o := &s.out
	o.mu.Lock()
	if s.pushStateLocked(subscriptionID, src, head, tail) {
		o.mu.Unlock()
		s.flush()
		return
	}
	o.mu.Unlock()
}

func (s *Session) pushStateLocked(subscriptionID string, src StateSource, head, tail []byte) (start bool) {
	o := &s.out
	if o.closing {
		return false
	}
	if o.queued >= s.hwm() {
		if o.dirty == nil {
			o.dirty = make(map[string]StateSource)
		}
		if _, ok := o.dirty[subscriptionID]; !ok {
			o.dirtyIDs = append(o.dirtyIDs, subscriptionID)
		}
		o.dirty[subscriptionID] = src
		s.srv.metrics.pushesCoalesced.Inc()
		return false
	}
	s.srv.metrics.pushesSent.Inc()
	return s.appendPartsLocked(outFrame{kind: frameText, data: head, tail: tail})
}

// PushEvent delivers a rules event push. Above the high-water mark it is
// dropped and counted; the client is told the count once the buffer drains.
func (s *Session) PushEvent(subscriptionID string, frame []byte) {
	o := &s.out
	o.mu.Lock()
	if s.pushEventLocked(subscriptionID, frame) {
		o.mu.Unlock()
		s.flush()
		return
	}
	o.mu.Unlock()
}

func (s *Session) pushEventLocked(subscriptionID string, frame []byte) (start bool) {
	o := &s.out
	if o.closing {
		return false
	}
	if o.queued >= s.hwm() {
		if o.dropped == nil {
			o.dropped = make(map[string]int64)
		}
		if _, ok := o.dropped[subscriptionID]; !ok {
			o.dropIDs = append(o.dropIDs, subscriptionID)
		}
		o.dropped[subscriptionID]++
		s.srv.metrics.pushesDropped.Inc()
		return false
	}
	s.srv.metrics.pushesSent.Inc()
	return s.appendLocked(frameText, frame)
}

// ForgetSubscription drops any pending coalesced state or drop count of a
// subscription that has ended, so nothing is sent for it afterwards.
func (s *Session) ForgetSubscription(subscriptionID string) {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.dirty[subscriptionID]; ok {
		delete(o.dirty, subscriptionID)
		o.dirtyIDs = removeID(o.dirtyIDs, subscriptionID)
	}
	if _, ok := o.dropped[subscriptionID]; ok {
		delete(o.dropped, subscriptionID)
		o.dropIDs = removeID(o.dropIDs, subscriptionID)
	}
}

func removeID(ids []string, id string) []string {
	for i, v := range ids {
		if v == id {
			return append(ids[:i], ids[i+1:]...)
		}
	}
	return ids
}

// checkSlowLocked starts the slow-consumer clock when the connection goes
// over its byte limit and stops it when it comes back under.
func (s *Session) checkSlowLocked() {
	o := &s.out
	over := o.queued >= s.srv.cfg.Backpressure.MaxBufferedBytes
	switch {
	case over && o.slowTimer == nil && !o.closing:
		o.slowTimer = time.AfterFunc(s.srv.cfg.Backpressure.SlowConsumerTimeout, s.slowConsumer)
	case !over && o.slowTimer != nil:
		o.slowTimer.Stop()
		o.slowTimer = nil
	}
}

func (s *Session) slowConsumer() {
	o := &s.out
	o.mu.Lock()
	still := o.slowTimer != nil && o.queued >= s.srv.cfg.Backpressure.MaxBufferedBytes
	o.mu.Unlock()
	if !still {
		return
	}
	s.srv.metrics.slowConsumers.Inc()
	s.srv.log.Info("slow consumer disconnected", "conn", s.idStr, "queuedBytes", s.QueuedBytes())
	s.closeWith(CloseSlowConsumer, reasonSlowConsumer)
}

// waitWritable blocks the reader while the connection is over its byte
// limit, so a client that sends requests without reading the answers cannot
// grow the queue without bound. It reports false if the connection closed.
func (s *Session) waitWritable() bool {
	o := &s.out
	for {
		o.mu.Lock()
		if o.closing {
			o.mu.Unlock()
			return false
		}
		if o.queued < s.srv.cfg.Backpressure.MaxBufferedBytes {
			o.mu.Unlock()
			return true
		}
		if o.drained == nil {
			o.drained = make(chan struct{})
		}
		ch := o.drained
		o.mu.Unlock()
		s.uncork() // nothing drains while answers are held back
		select {
		case <-ch:
		case <-s.done:
			return false
		}
	}
}

// QueuedBytes is the number of bytes queued or being written.
func (s *Session) QueuedBytes() int {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.queued
}

// closeWith queues a close frame after everything already queued and stops
// accepting frames. The reader and writer end within closeWait.
func (s *Session) closeWith(code int, reason string) {
	o := &s.out
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return
	}
	start := s.appendLocked(frameClose, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
	o.closing = true
	if o.slowTimer != nil {
		o.slowTimer.Stop()
		o.slowTimer = nil
	}
	if o.drained != nil {
		close(o.drained)
		o.drained = nil
	}
	o.mu.Unlock()
	s.closeCode.Store(int32(code))
	deadline := time.Now().Add(closeWait)
	_ = s.nc.SetWriteDeadline(deadline)
	_ = s.nc.SetReadDeadline(deadline)
	if start {
		s.flush()
	}
}

// stopAccepting marks the queue closed without a close frame (the peer is
// gone) and reports whether a close frame had been queued before.
func (s *Session) stopAccepting() (closeQueued bool) {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	closeQueued = o.closing
	o.closing = true
	if o.slowTimer != nil {
		o.slowTimer.Stop()
		o.slowTimer = nil
	}
	return closeQueued
}

// writeLoop writes queued frames in batches (one writev per batch) until the
// queue is empty, then exits. After the close frame it writes nothing more.
func (s *Session) writeLoop() {
	o := &s.out
	defer o.writers.Done()
	var (
		batch   []outFrame
		headers bytes.Buffer
		bufs    net.Buffers
	)
	for {
		o.mu.Lock()
		if len(o.queue) == 0 && o.queued < s.hwm() && !o.closing {
			s.releaseSkippedLocked()
		}
		if len(o.queue) == 0 {
			o.writing = false
			o.mu.Unlock()
			return
		}
		batch, o.queue = o.queue, batch[:0]
		o.mu.Unlock()

		headers.Reset()
		bufs = bufs[:0]
		size, last := 0, len(batch)
		for i, f := range batch {
			if f.kind == frameClose {
				last = i + 1
				break
			}
		}
		bufs = appendFrames(bufs, &headers, batch[:last])
		for _, f := range batch {
			size += f.size()
		}
		_, err := bufs.WriteTo(s.nc)
		closed := last < len(batch) || batch[last-1].kind == frameClose

		o.mu.Lock()
		s.dequeuedLocked(size)
		if err != nil || closed {
			s.dropQueueLocked() // nothing more will be written
		}
		s.afterWriteLocked()
		o.mu.Unlock()
		clear(batch)
		if err != nil {
			// The peer is gone or too slow; the reader notices and tears down.
			_ = s.nc.Close()
		}
	}
}

// dequeuedLocked accounts for n bytes that left the queue (written, or
// dropped).
func (s *Session) dequeuedLocked(n int) {
	s.out.queued -= n
	s.srv.metrics.bytesQueued.Sub(float64(n))
}

// dropQueueLocked forgets everything still queued and accepts nothing
// more: the connection is closing or its peer is gone.
func (s *Session) dropQueueLocked() {
	o := &s.out
	rest := 0
	for _, f := range o.queue {
		rest += f.size()
	}
	s.dequeuedLocked(rest)
	o.queue = nil
	o.closing = true
}

// afterWriteLocked updates the slow-consumer clock and wakes a reader
// waiting for the connection to drain.
func (s *Session) afterWriteLocked() {
	o := &s.out
	s.checkSlowLocked()
	if o.drained != nil && o.queued < s.srv.cfg.Backpressure.MaxBufferedBytes {
		close(o.drained)
		o.drained = nil
	}
}

// releaseSkippedLocked queues the latest state of every coalesced
// subscription and one events_dropped notice per subscription that lost
// events, once the connection has drained below the high-water mark.
func (s *Session) releaseSkippedLocked() {
	o := &s.out
	for _, id := range o.dirtyIDs {
		if head, tail := o.dirty[id].LatestPush(); head != nil {
			f := outFrame{kind: frameText, data: head, tail: tail}
			o.queue = append(o.queue, f)
			o.queued += f.size()
			s.srv.metrics.bytesQueued.Add(float64(f.size()))
			s.srv.metrics.pushesSent.Inc()
		}
	}
	for _, id := range o.dropIDs {
		frame := wire.EncodeEventsDropped(id, o.dropped[id])
		o.queue = append(o.queue, outFrame{kind: frameText, data: frame})
		o.queued += len(frame)
		s.srv.metrics.bytesQueued.Add(float64(len(frame)))
	}
	o.dirty, o.dirtyIDs, o.dropped, o.dropIDs = nil, nil, nil, nil
}

func opcodeOf(k frameKind) ws.OpCode {
	switch k {
	case framePong:
		return ws.OpPong
	case frameClose:
		return ws.OpClose
	default:
		return ws.OpText
	}
}

// appendFrames adds each frame's WebSocket header and parts to bufs
// (headers are written into hdrs, which must not grow while bufs is in
// use: it is reset and sized first).
func appendFrames(bufs net.Buffers, hdrs *bytes.Buffer, frames []outFrame) net.Buffers {
	hdrs.Reset()
	hdrs.Grow(len(frames) * ws.MaxHeaderSize)
	for _, f := range frames {
		if f.kind != frameRaw {
			_ = ws.WriteHeader(hdrs, ws.Header{Fin: true, OpCode: opcodeOf(f.kind), Length: int64(f.size())})
		}
	}
	hb := hdrs.Bytes()
	for _, f := range frames {
		if f.kind != frameRaw {
			n := ws.HeaderSize(ws.Header{Length: int64(f.size())})
			bufs = append(bufs, hb[:n:n])
			hb = hb[n:]
		}
		bufs = append(bufs, f.data)
		if len(f.tail) > 0 {
			bufs = append(bufs, f.tail)
		}
	}
	return bufs
}
