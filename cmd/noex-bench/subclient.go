package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// The client side shared by the subscription modes (fanout, params): a
// connection with a small read buffer (a subscriber may receive thousands
// of pushes a second, and one read system call per frame header would cost
// the client more than the server spends sending), request/answer helpers
// for the setup, a push parser that does not go through encoding/json, and
// the server's own counters from /metrics.

// rconn is a connection that sends requests and reads answers and pushes.
// One goroutine reads; writes are serialised by wsConn.
type rconn struct {
	c       *wsConn
	br      *bufio.Reader
	scratch []byte
	pong    [96]byte
	nextID  int64
	pings   int64 // answered, counted by the reading goroutine
}

// dialRConn dials, reads the welcome and wraps the connection in a small
// buffered reader.
func (t *target) dialRConn(ctx context.Context) (*rconn, error) {
	dctx, cancel := context.WithTimeout(ctx, t.dialTimeout)
	defer cancel()
	c, err := t.dialWS(dctx)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	deadline, _ := dctx.Deadline()
	if _, err := c.readWelcome(deadline, nil); err != nil {
		_ = c.nc.Close()
		return nil, fmt.Errorf("welcome: %w", err)
	}
	return &rconn{c: c, br: bufio.NewReaderSize(c, 2048)}, nil
}

// readFrame reads one message through the buffered reader, joining
// fragments. Control frames are returned as they come.
func (r *rconn) readFrame() (ws.OpCode, []byte, error) {
	buf := r.scratch[:0]
	var op ws.OpCode
	for {
		var h [2]byte
		if _, err := io.ReadFull(r.br, h[:]); err != nil {
			return 0, nil, err
		}
		fin, opc := h[0]&0x80 != 0, ws.OpCode(h[0]&0x0f)
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("server sent a masked frame")
		}
		length := int64(h[1] & 0x7f)
		switch length {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(r.br, ext[:]); err != nil {
				return 0, nil, err
			}
			length = int64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(r.br, ext[:]); err != nil {
				return 0, nil, err
			}
			length = int64(binary.BigEndian.Uint64(ext[:]))
		}
		if length < 0 || length > maxServerFrame || int64(len(buf))+length > maxServerFrame {
			return 0, nil, errFrameTooBig
		}
		if opc.IsControl() {
			p := make([]byte, length)
			if _, err := io.ReadFull(r.br, p); err != nil {
				return 0, nil, err
			}
			return opc, p, nil
		}
		if opc != ws.OpContinuation {
			op = opc
		}
		start := len(buf)
		n := start + int(length)
		if n > cap(buf) {
			grown := make([]byte, start, max(n, 2*cap(buf), 256))
			copy(grown, buf)
			buf = grown
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r.br, buf[start:]); err != nil {
			return 0, nil, err
		}
		if fin {
			r.scratch = buf
			return op, buf, nil
		}
	}
}

// answer is a response frame.
type answer struct {
	ID      *int64          `json:"id"`
	Type    string          `json:"type"`
	Data    json.RawMessage `json:"data"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

// answerError is an "error" answer.
type answerError struct {
	Code, Message string
}

func (e *answerError) Error() string { return e.Code + ": " + e.Message }

// frameKind classifies a text frame without decoding it fully.
type frameClass uint8

const (
	classOther frameClass = iota
	classPush
	classPing
	classAnswer
)

var (
	pushPrefix = []byte(`{"type":"push"`)
	pingPrefix = []byte(`{"type":"ping"`)
)

// handleControl deals with a non-text frame: answers WebSocket pings and
// turns a close frame into an error.
func (r *rconn) handleControl(op ws.OpCode, p []byte) error {
	switch op {
	case ws.OpPing:
		return r.c.writeFrame(ws.OpPong, p)
	case ws.OpClose:
		code, reason := ws.ParseCloseFrameData(p)
		return &closedError{code: int(code), reason: reason}
	}
	return nil
}

// answerPing sends the pong for a JSON ping frame.
func (r *rconn) answerPing(p []byte) error {
	var env envelope
	if err := json.Unmarshal(p, &env); err != nil {
		return fmt.Errorf("ping is not JSON: %w", err)
	}
	r.pings++
	return r.c.writeText(pongFor(r.pong[:0], env.Timestamp))
}

// classify tells pushes and pings from the rest by their first bytes (the
// server writes "type" first); anything else is decoded as an answer.
func classify(p []byte) frameClass {
	switch {
	case bytes.HasPrefix(p, pushPrefix):
		return classPush
	case bytes.HasPrefix(p, pingPrefix):
		return classPing
	}
	var env envelope
	if json.Unmarshal(p, &env) != nil {
		return classOther
	}
	switch env.Type {
	case "push":
		return classPush
	case "ping":
		return classPing
	case "result", "error":
		return classAnswer
	}
	return classOther
}

// send writes one request with the next id and returns the id.
func (r *rconn) send(typ string, fields map[string]any) (int64, error) {
	r.nextID++
	m := make(map[string]any, len(fields)+2)
	for k, v := range fields {
		m[k] = v
	}
	m["id"] = r.nextID
	m["type"] = typ
	b, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	return r.nextID, r.c.writeText(b)
}

// await reads until the answer with this id, answering pings and handing
// any push to onPush (which may be nil). The read deadline bounds it.
func (r *rconn) await(id int64, deadline time.Time, onPush func(p []byte)) (json.RawMessage, error) {
	_ = r.c.nc.SetReadDeadline(deadline)
	defer r.c.nc.SetReadDeadline(time.Time{})
	for {
		op, p, err := r.readFrame()
		if err != nil {
			return nil, err
		}
		if op != ws.OpText {
			if err := r.handleControl(op, p); err != nil {
				return nil, err
			}
			continue
		}
		switch classify(p) {
		case classPush:
			if onPush != nil {
				onPush(p)
			}
		case classPing:
			if err := r.answerPing(p); err != nil {
				return nil, err
			}
		case classAnswer:
			var a answer
			if err := json.Unmarshal(p, &a); err != nil {
				return nil, err
			}
			if a.ID == nil || *a.ID != id {
				return nil, fmt.Errorf("answer for id %v while waiting for %d", a.ID, id)
			}
			if a.Type == "error" {
				return nil, &answerError{Code: a.Code, Message: a.Message}
			}
			// The data outlives the scratch buffer.
			return bytes.Clone(a.Data), nil
		}
	}
}

// call sends a request and waits for its answer.
func (r *rconn) call(typ string, fields map[string]any, timeout time.Duration) (json.RawMessage, error) {
	id, err := r.send(typ, fields)
	if err != nil {
		return nil, err
	}
	data, err := r.await(id, time.Now().Add(timeout), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	return data, nil
}

// closeGracefully ends the connection with a close handshake.
func (r *rconn) closeGracefully(deadline time.Time) error {
	defer r.c.nc.Close()
	_ = r.c.nc.SetDeadline(deadline)
	if err := r.c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil &&
		!errors.Is(err, errCloseSent) {
		return err
	}
	for {
		op, _, err := r.readFrame()
		if err != nil {
			return err
		}
		if op == ws.OpClose {
			break
		}
	}
	var one [1]byte
	for {
		if _, err := r.br.Read(one[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// subscribeResult is the data of a store.subscribe answer.
type subscribeResult struct {
	SubscriptionID string          `json:"subscriptionId"`
	Data           json.RawMessage `json:"data"`
}

// parsePush returns the subscription id and the data of a subscription
// push. The server's layout ({"type":"push","channel":"subscription",
// "subscriptionId":"…","data":…}) is read without a JSON decoder; any other
// layout goes through encoding/json.
func parsePush(p []byte) (id, data []byte, ok bool) {
	const head = `{"type":"push","channel":"subscription","subscriptionId":"`
	if bytes.HasPrefix(p, []byte(head)) {
		rest := p[len(head):]
		if i := bytes.IndexByte(rest, '"'); i > 0 && bytes.IndexByte(rest[:i], '\\') < 0 {
			id, rest = rest[:i], rest[i+1:]
			if bytes.HasPrefix(rest, []byte(`,"data":`)) && len(rest) > 9 && rest[len(rest)-1] == '}' {
				return id, rest[len(`,"data":`) : len(rest)-1], true
			}
			if bytes.Equal(rest, []byte("}")) {
				return id, nil, true
			}
		}
	}
	var f struct {
		Type           string          `json:"type"`
		Channel        string          `json:"channel"`
		SubscriptionID string          `json:"subscriptionId"`
		Data           json.RawMessage `json:"data"`
	}
	if json.Unmarshal(p, &f) != nil || f.Type != "push" || f.Channel != "subscription" || f.SubscriptionID == "" {
		return nil, nil, false
	}
	return []byte(f.SubscriptionID), f.Data, true
}

// seqOf finds the first "seq":<integer> in a query result; -1 when there
// is none (e.g. an empty result).
func seqOf(data []byte) int64 {
	i := bytes.Index(data, []byte(`"seq":`))
	if i < 0 {
		return -1
	}
	rest := data[i+len(`"seq":`):]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	var n int64
	digits := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	if digits == 0 {
		return -1
	}
	return n
}

// runSuffix makes bucket and query names unique per run, so that runs can
// follow each other against the same server.
func runSuffix() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}

// serverCounters are the server's /metrics figures the subscription modes
// report (zero when /metrics is not reachable).
type serverCounters struct {
	PushesSent      float64 `json:"pushesSent"`
	PushesCoalesced float64 `json:"pushesCoalesced"`
	Evaluations     float64 `json:"queryEvaluations"`
	CPUSeconds      float64 `json:"cpuSeconds"`
	StoreSubs       float64 `json:"storeSubscriptions"`
	HeapInuse       float64 `json:"heapInuseBytes"`
	OK              bool    `json:"ok"`
}

// fetchCounters reads /metrics on the server's port (loopback, checked).
func (t *target) fetchCounters(ctx context.Context) serverCounters {
	var sc serverCounters
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u := "http://" + t.url.Host + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return sc
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sc
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sc
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return sc
	}
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "noex_pushes_sent_total":
			sc.PushesSent = v
		case "noex_pushes_coalesced_total":
			sc.PushesCoalesced = v
		case "noex_query_evaluations_total":
			sc.Evaluations = v
		case "process_cpu_seconds_total":
			sc.CPUSeconds = v
		case "noex_store_subscriptions":
			sc.StoreSubs = v
		case "go_memstats_heap_inuse_bytes":
			sc.HeapInuse = v
		}
	}
	sc.OK = true
	return sc
}

// counterDelta is what the server did between two readings.
type counterDelta struct {
	PushesSent      float64 `json:"pushesSent"`
	PushesCoalesced float64 `json:"pushesCoalesced"`
	Evaluations     float64 `json:"queryEvaluations"`
	CPUSeconds      float64 `json:"cpuSeconds"`
}

func (a serverCounters) delta(b serverCounters) *counterDelta {
	if !a.OK || !b.OK {
		return nil
	}
	return &counterDelta{PushesSent: b.PushesSent - a.PushesSent, PushesCoalesced: b.PushesCoalesced - a.PushesCoalesced,
		Evaluations: b.Evaluations - a.Evaluations, CPUSeconds: b.CPUSeconds - a.CPUSeconds}
}

func (d *counterDelta) String() string {
	if d == nil {
		return "not available (/metrics not reachable)"
	}
	return fmt.Sprintf("pushes queued %.0f, coalesced %.0f, query evaluations %.0f, server CPU %.2fs",
		d.PushesSent, d.PushesCoalesced, d.Evaluations, d.CPUSeconds)
}

// dialMany opens n connections with bounded concurrency; setup runs on each
// new connection (on the dialing goroutine) and keeps it when it returns
// nil. Failures are tallied by class.
func (t *target) dialMany(ctx context.Context, n, concurrency int, failures *tally,
	setup func(i int, r *rconn) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				r, err := t.dialRConn(ctx)
				if err != nil {
					failures.add(errorClass(err))
					continue
				}
				if err := setup(i, r); err != nil {
					failures.add("setup: " + errorClass(err))
					_ = r.c.nc.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// cpuClock is this process's user + system CPU time.
func cpuClock() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
