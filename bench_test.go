package noex

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noex-go/noex/store"
)

// Benchmarks of the per-message path without a network: a Session whose
// socket discards what the writer goroutine writes. Numbers and the
// commands that produced them are kept in docs/benchmarks.md.

// discardConn is a net.Conn that accepts and drops every write and whose
// reads block until it is closed.
type discardConn struct {
	written   atomic.Int64
	closeOnce sync.Once
	closed    chan struct{}
}

func newDiscardConn() *discardConn { return &discardConn{closed: make(chan struct{})} }

func (c *discardConn) Read([]byte) (int, error) {
	<-c.closed
	return 0, io.EOF
}

func (c *discardConn) Write(p []byte) (int, error) {
	c.written.Add(int64(len(p)))
	return len(p), nil
}

func (c *discardConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *discardConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
}

func (c *discardConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}

func (c *discardConn) SetDeadline(time.Time) error      { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }

// benchSession builds a server that is not listening and one admitted
// session on a discardConn, as serveHTTP would (without the welcome).
func benchSession(b *testing.B) (*Session, *discardConn) {
	return benchSessionWith(b, nil)
}

func benchSessionWith(b *testing.B, mutate func(*Config)) (*Session, *discardConn) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Host = "127.0.0.1"
	cfg.Port = 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	nc := newDiscardConn()
	s := newSession(srv, nc, srv.nextConnID.Add(1), "127.0.0.1")
	if ok, _, _ := srv.admit(s); !ok {
		b.Fatal("session not admitted")
	}
	b.Cleanup(func() {
		s.out.writers.Wait()
		_ = nc.Close()
		srv.release(s)
		_ = srv.Stop(context.Background(), 0)
	})
	return s, nc
}

// roundTripCases are small frames through §1.10 validation, dispatch and
// encoding of the answer.
var roundTripCases = []struct {
	name    string
	payload string
	answer  bool // a frame is written back
}{
	{"unknown-op", `{"id":1,"type":"server.nope"}`, true},
	{"connections", `{"id":2,"type":"server.connections"}`, true},
	{"stats", `{"id":3,"type":"server.stats"}`, true},
	{"pong", `{"type":"pong","timestamp":1735689630000}`, false},
	{"invalid-json", `{"id":4,"type"`, true},
}

// BenchmarkRequestRoundTrip runs one frame through handleText: parse,
// access gate, dispatch, encode, queue, and the writer goroutine writing it
// to a socket that discards it. The writer's work and allocations are in
// the figures; it is drained before the timer stops.
func BenchmarkRequestRoundTrip(b *testing.B) {
	for _, tc := range roundTripCases {
		b.Run(tc.name, func(b *testing.B) {
			s, nc := benchSession(b)
			payload := []byte(tc.payload)
			b.ReportAllocs()
			for b.Loop() {
				s.handleText(payload)
			}
			s.out.writers.Wait()
			b.StopTimer()
			checkAnswered(b, nc, tc.answer)
		})
	}
}

// BenchmarkRequestRoundTripOffloaded is the same path with each message
// handled off the calling goroutine while the caller waits, as a reader
// loop would do to keep its long-lived stack at its starting size
// (docs/benchmarks.md, "Idle memory per connection"). Two ways:
//
//   - goroutine: a new goroutine per message; its stack starts small and
//     grows (copied) on every message that needs more.
//   - worker: a long-lived worker goroutine takes the message over a
//     channel and signals completion; its stack grows once.
//
// The difference with BenchmarkRequestRoundTrip is what the hand-off costs
// per message.
func BenchmarkRequestRoundTripOffloaded(b *testing.B) {
	for _, tc := range roundTripCases {
		b.Run("goroutine/"+tc.name, func(b *testing.B) {
			s, nc := benchSession(b)
			payload := []byte(tc.payload)
			b.ReportAllocs()
			for b.Loop() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					s.handleText(payload)
				}()
				<-done
			}
			s.out.writers.Wait()
			b.StopTimer()
			checkAnswered(b, nc, tc.answer)
		})
		b.Run("worker/"+tc.name, func(b *testing.B) {
			s, nc := benchSession(b)
			payload := []byte(tc.payload)
			work := make(chan []byte)
			done := make(chan struct{})
			go func() {
				for p := range work {
					s.handleText(p)
					done <- struct{}{}
				}
			}()
			defer close(work)
			b.ReportAllocs()
			for b.Loop() {
				work <- payload
				<-done
			}
			s.out.writers.Wait()
			b.StopTimer()
			checkAnswered(b, nc, tc.answer)
		})
	}
}

// checkAnswered makes sure the benchmark measured what it claims: every
// frame that has an answer got one on the wire, and pongs got none.
func checkAnswered(b *testing.B, nc *discardConn, answer bool) {
	b.Helper()
	written := nc.written.Load()
	switch {
	case answer && written < int64(b.N)*20:
		b.Fatalf("%d bytes written for %d frames: the answers did not reach the socket", written, b.N)
	case !answer && written != 0:
		b.Fatalf("%d bytes written for frames that need no answer", written)
	}
	if answer {
		b.ReportMetric(float64(written)/float64(b.N), "wireB/op")
	}
}

// BenchmarkStoreRoundTrip is BenchmarkRequestRoundTrip for the store
// operations of the rr mix, on a memory store of 10,000 records:
// go test -run=^$ -bench=StoreRoundTrip -benchmem .
func BenchmarkStoreRoundTrip(b *testing.B) {
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.DefineBucket("kv", json.RawMessage(`{"key":"id","schema":{"id":{"type":"string"},"g":{"type":"number"},"v":{"type":"string"}},"indexes":["g"]}`)); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		if _, err := st.Insert("kv", store.Record{"id": fmt.Sprint("k", i), "g": float64(i % 1000), "v": strings.Repeat("x", 100)}); err != nil {
			b.Fatal(err)
		}
	}
	cases := []struct{ name, payload string }{
		{"get", `{"id":11,"type":"store.get","bucket":"kv","key":"k42"}`},
		{"update", `{"id":12,"type":"store.update","bucket":"kv","key":"k43","data":{"v":"` + strings.Repeat("y", 100) + `"}}`},
		{"where", `{"id":13,"type":"store.where","bucket":"kv","filter":{"g":7}}`},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s, nc := benchSessionWith(b, func(c *Config) { c.Store = st })
			payload := []byte(tc.payload)
			b.ReportAllocs()
			for b.Loop() {
				s.handleText(payload)
			}
			s.out.writers.Wait()
			b.StopTimer()
			checkAnswered(b, nc, true)
		})
	}
}
