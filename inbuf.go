package noex

import (
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// The inbound side of a connection reads the socket through a buffer
// borrowed from a pool only while bytes are waiting: a read takes a
// buffer once the socket is readable (the wait itself holds none, through
// the raw connection's readiness callback), and the buffer goes back as
// soon as it has been consumed. An idle connection keeps no read buffer;
// a busy one reads many pipelined frames per system call.
//
// Before the reader waits for more bytes it uncorks the outbound queue, so
// the answers to every request of one read leave in one write.

// readBufSize is the size of a pooled read buffer.
const readBufSize = 16 << 10

var readPool = sync.Pool{New: func() any {
	b := make([]byte, readBufSize)
	return &b
}}

type inbuf struct {
	s    *Session
	buf  *[]byte // pooled; nil while empty
	r, w int
}

// buffered is the number of bytes read from the socket and not consumed.
func (in *inbuf) buffered() int { return in.w - in.r }

// preload keeps bytes that arrived before the session existed (with the
// handshake).
func (in *inbuf) preload(b []byte) {
	in.release()
	buf := make([]byte, max(len(b), readBufSize))
	n := copy(buf, b)
	in.buf, in.r, in.w = &buf, 0, n
}

func (in *inbuf) release() {
	if in.buf != nil {
		if cap(*in.buf) == readBufSize {
			readPool.Put(in.buf)
		}
		in.buf = nil
	}
	in.r, in.w = 0, 0
}

// Read implements io.Reader for the frame reader.
func (in *inbuf) Read(p []byte) (int, error) {
	if in.r == in.w {
		in.release()
		in.s.uncork() // about to wait: what was answered goes out now
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*in.buf)[in.r:in.w])
	in.r += n
	if in.r == in.w {
		in.release()
	}
	return n, nil
}

// fill waits for the socket to be readable and reads what is there.
func (in *inbuf) fill() error {
	s := in.s
	if s.raw == nil {
		bp := readPool.Get().(*[]byte)
		n, err := s.nc.Read(*bp)
		if n == 0 {
			readPool.Put(bp)
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
		in.buf, in.r, in.w = bp, 0, n
		return nil
	}
	var (
		n    int
		rerr error
	)
	err := s.raw.Read(func(fd uintptr) bool {
		bp := readPool.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *bp)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			readPool.Put(bp)
			return false // not readable after all: wait again, holding nothing
		}
		if n <= 0 || rerr != nil {
			readPool.Put(bp)
			return true
		}
		in.buf = bp
		return true
	})
	switch {
	case err != nil:
		return err
	case rerr != nil:
		return rerr
	case n <= 0:
		return io.EOF
	}
	in.r, in.w = 0, n
	return nil
}
