package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// A client connection kept deliberately small: no buffered reader or
// writer of its own once the handshake is over, frames read straight from
// the socket into a caller's scratch buffer, and frames written with one
// Write each. Tens of thousands of them fit in one process.

// maxServerFrame bounds the frames this client accepts; the server's
// largest frames (query results) are far below it for the bench modes.
const maxServerFrame = 1 << 20

// errFrameTooBig reports a server frame above maxServerFrame.
var errFrameTooBig = errors.New("server frame too big")

// wsConn is one client connection. Reads belong to one goroutine; writes
// may come from two (the reader answering pings, the run sending the final
// close frame), hence wmu.
type wsConn struct {
	nc net.Conn
	// hs holds bytes the server sent along with the handshake answer
	// (usually the welcome frame); nil once they have been read.
	hs *bufio.Reader

	wmu       sync.Mutex
	closeSent bool // nothing but the close frame may be written after it
}

// errCloseSent reports a write after the close frame.
var errCloseSent = errors.New("close frame already sent")

// dialWS opens a connection: TCP connect, WebSocket handshake.
func (t *target) dialWS(ctx context.Context) (*wsConn, error) {
	d := ws.Dialer{
		NetDial:         t.netDial,
		ReadBufferSize:  1024, // handshake only, pooled
		WriteBufferSize: 512,
	}
	nc, br, _, err := d.Dial(ctx, t.url.String())
	if err != nil {
		return nil, err
	}
	return &wsConn{nc: nc, hs: br}, nil
}

// Read reads what is left of the handshake buffer first, then the socket;
// the handshake buffer goes back to its pool as soon as it is empty.
func (c *wsConn) Read(p []byte) (int, error) {
	if c.hs != nil {
		if c.hs.Buffered() > 0 {
			return c.hs.Read(p)
		}
		ws.PutReader(c.hs)
		c.hs = nil
	}
	return c.nc.Read(p)
}

// frame is one complete server message.
type frame struct {
	op      ws.OpCode
	payload []byte // valid until the next readFrame with the same scratch
}

// readFrame reads one message, joining fragments, into scratch (grown if
// needed). Control frames are returned as they come.
func (c *wsConn) readFrame(scratch []byte) (frame, []byte, error) {
	var hdr [ws.MaxHeaderSize]byte
	buf := scratch[:0]
	var op ws.OpCode
	for {
		h, err := ws.ReadHeaderBuffer(c, hdr[:2:len(hdr)])
		if err != nil {
			return frame{}, scratch, err
		}
		if h.Masked {
			return frame{}, scratch, errors.New("server sent a masked frame")
		}
		if h.Length > maxServerFrame || int64(len(buf))+h.Length > maxServerFrame {
			return frame{}, scratch, errFrameTooBig
		}
		if h.OpCode.IsControl() {
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(c, p); err != nil {
				return frame{}, scratch, err
			}
			return frame{op: h.OpCode, payload: p}, scratch, nil
		}
		if h.OpCode != ws.OpContinuation {
			op = h.OpCode
		}
		start := len(buf)
		n := start + int(h.Length)
		if n > cap(buf) {
			grown := make([]byte, start, max(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
			scratch = grown
		}
		buf = buf[:n]
		if _, err := io.ReadFull(c, buf[start:]); err != nil {
			return frame{}, scratch, err
		}
		if h.Fin {
			return frame{op: op, payload: buf}, scratch, nil
		}
	}
}

// writeFrame sends one masked, unfragmented frame with a single Write.
// After a close frame it writes nothing more.
func (c *wsConn) writeFrame(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	if op == ws.OpClose {
		c.closeSent = true
	}
	var small [256]byte
	n := len(payload)
	size := 2 + 4 + n
	switch {
	case n > 0xffff:
		size += 8
	case n > 125:
		size += 2
	}
	var b []byte
	if size <= len(small) {
		b = small[:size]
	} else {
		b = make([]byte, size)
	}
	b[0] = 0x80 | byte(op) // FIN
	i := 2
	switch {
	case n > 0xffff:
		b[1] = 0x80 | 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		i += 8
	case n > 125:
		b[1] = 0x80 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
		i += 2
	default:
		b[1] = 0x80 | byte(n)
	}
	mask := ws.NewMask()
	copy(b[i:], mask[:])
	i += 4
	copy(b[i:], payload)
	ws.Cipher(b[i:], mask, 0)
	_, err := c.nc.Write(b)
	return err
}

// writeText sends one text frame.
func (c *wsConn) writeText(payload []byte) error { return c.writeFrame(ws.OpText, payload) }

// envelope is the part of a server frame the bench dispatches on.
type envelope struct {
	Type      string          `json:"type"`
	Timestamp json.RawMessage `json:"timestamp"`
	Code      string          `json:"code"`
	Message   string          `json:"message"`
}

// readWelcome reads the first frame and checks that it is the welcome.
func (c *wsConn) readWelcome(deadline time.Time, scratch []byte) ([]byte, error) {
	_ = c.nc.SetReadDeadline(deadline)
	defer c.nc.SetReadDeadline(time.Time{})
	f, scratch, err := c.readFrame(scratch)
	if err != nil {
		return scratch, fmt.Errorf("reading welcome: %w", err)
	}
	switch f.op {
	case ws.OpText:
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(f.payload)
		return scratch, &closedError{code: int(code), reason: reason}
	default:
		return scratch, fmt.Errorf("first frame has opcode %d, want text", f.op)
	}
	var env envelope
	if err := json.Unmarshal(f.payload, &env); err != nil || env.Type != "welcome" {
		return scratch, fmt.Errorf("first frame is not a welcome: %.80q", f.payload)
	}
	return scratch, nil
}

// pongFor builds the pong that answers a ping, echoing its timestamp text
// unchanged.
func pongFor(dst []byte, timestamp json.RawMessage) []byte {
	dst = append(dst[:0], `{"type":"pong","timestamp":`...)
	dst = append(dst, timestamp...)
	return append(dst, '}')
}

// closeGracefully sends a close frame, waits (until deadline) for the
// server's close frame and its end of stream, then drops the socket. The
// server closes TCP first, so TIME_WAIT stays on its side and the client's
// ephemeral ports are free again at once.
func (c *wsConn) closeGracefully(deadline time.Time, scratch []byte) error {
	defer c.nc.Close()
	_ = c.nc.SetDeadline(deadline)
	if err := c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil {
		return err
	}
	return c.awaitClose(scratch)
}

// awaitClose reads until the server's close frame, then until its end of
// stream, within the deadline already set.
func (c *wsConn) awaitClose(scratch []byte) error {
	for {
		f, s, err := c.readFrame(scratch)
		scratch = s
		if err != nil {
			return err
		}
		if f.op == ws.OpClose {
			break
		}
	}
	return c.awaitEOF()
}

// awaitEOF waits for the server's FIN after its close frame.
func (c *wsConn) awaitEOF() error {
	var one [1]byte
	for {
		if _, err := c.nc.Read(one[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// closedError is a close frame the server sent.
type closedError struct {
	code   int
	reason string
}

func (e *closedError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("closed by server: %d", e.code)
	}
	return fmt.Sprintf("closed by server: %d %s", e.code, e.reason)
}
