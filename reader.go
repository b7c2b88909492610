package noex

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/noex-go/noex/internal/wire"
)

// serve runs the connection: the reader loop, then the teardown. It is the
// connection's only long-lived goroutine; requests are handled here, one at
// a time, in arrival order (PROTOCOL.md §1.5).
func (s *Session) serve() {
	defer s.teardown()
	s.startHeartbeat()
	s.readLoop()
}

// msgPool holds message buffers: a connection borrows one while a message
// arrives and is handled, so an idle connection keeps none.
var msgPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledMessage keeps exceptionally large buffers out of the pool.
const maxPooledMessage = 64 << 10

func putMessage(b *bytes.Buffer) {
	if b.Cap() <= maxPooledMessage {
		b.Reset()
		msgPool.Put(b)
	}
}

// readLoop reads frames until the peer leaves, a protocol error closes the
// connection, or a server-side close has been answered.
func (s *Session) readLoop() {
	var (
		msg        *bytes.Buffer // the message being assembled; nil between messages
		fragmented bool
		maxPayload = int64(s.srv.cfg.MaxPayloadBytes)
	)
	defer func() {
		if msg != nil {
			putMessage(msg)
		}
	}()
	for {
		h, err := ws.ReadHeaderBuffer(&s.in, s.hdr[:2:len(s.hdr)])
		if err != nil {
			return
		}
		state := ws.StateServerSide
		if fragmented {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			s.closeWith(CloseProtocolError, "")
			s.drain()
			return
		}
		if h.OpCode.IsControl() {
			if !s.control(h) {
				return
			}
			continue
		}
		if s.closingNow() {
			// Closing: read and discard until the peer answers our close.
			if _, err := io.CopyN(io.Discard, &s.in, h.Length); err != nil {
				return
			}
			continue
		}
		if h.OpCode == ws.OpBinary {
			s.closeWith(CloseUnsupportedData, reasonBinary)
			s.drainFrame(h)
			continue
		}
		if msg == nil {
			msg = msgPool.Get().(*bytes.Buffer)
		}
		if int64(msg.Len())+h.Length > maxPayload {
			s.closeWith(CloseMessageTooBig, "")
			s.drainFrame(h)
			continue
		}
		start := msg.Len()
		// Grow as bytes arrive, never on the declared length alone.
		if _, err := msg.ReadFrom(io.LimitReader(&s.in, h.Length)); err != nil {
			return
		}
		if int64(msg.Len()-start) != h.Length {
			return // peer closed mid-frame
		}
		ws.Cipher(msg.Bytes()[start:], h.Mask, 0)
		if !h.Fin {
			fragmented = true
			continue
		}
		fragmented = false
		payload := msg.Bytes()
		switch {
		case !utf8.Valid(payload):
			s.closeWith(CloseInvalidPayload, "")
		default:
			if _, ok := wire.FastPong(payload); ok {
				s.pong()
			} else {
				if s.in.buffered() > 0 {
					// More requests were read with this one: hold the
					// answers until the reader needs the socket again,
					// then write them together.
					s.cork()
				}
				s.handOff(payload)
			}
		}
		putMessage(msg)
		msg = nil
	}
}

// handOff runs one message through the request pipeline on a pool worker
// and waits for it, so requests stay strictly ordered while this
// goroutine's stack stays small.
func (s *Session) handOff(payload []byte) {
	var wg sync.WaitGroup
	wg.Add(1)
	s.srv.workers.run(func() {
		defer wg.Done()
		s.handleText(payload)
	})
	wg.Wait()
}

// control handles ping, pong and close frames. It reports false when the
// loop must end.
func (s *Session) control(h ws.Header) bool {
	var buf [maxControlPayload]byte
	p := buf[:h.Length]
	if _, err := io.ReadFull(&s.in, p); err != nil {
		return false
	}
	ws.Cipher(p, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		s.enqueue(framePong, bytes.Clone(p))
	case ws.OpClose:
		if !s.closingNow() {
			// Echo the peer's status code, as RFC 6455 §5.5.1 asks.
			code, _ := ws.ParseCloseFrameData(p)
			if code == 0 || ws.CheckCloseFrameData(code, "") != nil {
				code = ws.StatusNormalClosure
			}
			s.closeWith(int(code), "")
		}
		return false
	}
	return true
}

func (s *Session) closingNow() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.closing
}

// drainFrame discards the rest of a frame the server refused, so the peer
// sees our close frame rather than a reset.
func (s *Session) drainFrame(h ws.Header) {
	_, _ = io.CopyN(io.Discard, &s.in, h.Length)
}

// drain reads and discards until the peer closes or the close deadline set
// by closeWith passes.
func (s *Session) drain() {
	_, _ = io.Copy(io.Discard, &s.in)
}

// handleText runs one complete text message through §1.10 and the request
// pipeline.
func (s *Session) handleText(payload []byte) {
	in := wire.Parse(payload)
	switch in.Kind {
	case wire.KindPong:
		s.pong()
	case wire.KindInvalid:
		s.srv.metrics.requests.WithLabelValues("invalid", string(in.Err.Code)).Inc()
		s.send(wire.EncodeError(in.ID, in.Err, s.srv.exposeDetails()))
	case wire.KindRequest:
		if !s.waitWritable() {
			return
		}
		s.busy.Store(true)
		s.handleRequest(&Request{ID: in.ID, Type: in.Type, Fields: in.Fields})
		s.busy.Store(false)
	}
}

// teardown releases everything the connection held: the socket, its
// registry entry and per-IP slot, its timers and its subscriptions.
func (s *Session) teardown() {
	s.stopHeartbeat()
	if s.stopAccepting() {
		// A close frame was queued: let the writer finish it (bounded by
		// the write deadline closeWith set), then drop the socket.
		s.out.writers.Wait()
		_ = s.nc.Close()
	} else {
		_ = s.nc.Close()
		s.out.writers.Wait()
	}
	s.out.mu.Lock()
	s.dequeuedLocked(s.out.queued)
	s.out.mu.Unlock()
	close(s.done)
	s.runCleanups()
	s.srv.release(s)
}
