package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gobwas/ws"
)

// rr: request/response load. C connections each keep P requests in flight
// (a closed loop: the next request goes out as soon as an answer comes
// in), drawn from an op mix over a bucket the run defines and fills
// itself.
//
// The bucket (rr_<unique>) has the fields id (the key), g (indexed), n and
// v (a string of -value-bytes). Record k has the key r<k, 8 digits> and
// group k % (records/10), so a where on one group finds ~10 records. Each
// connection owns the keys k with k % C == its index: it inserts them
// itself before the load starts, and it alone updates, deletes and
// re-inserts them. Requests on one connection are processed in order
// (PROTOCOL.md §1.5), so no op fails for a reason of the bench's making.
//
// Ops: get (any key of the initial range; it may have been deleted),
// update ({"n":…} on an own record that exists), where ({"g":…} on a
// random group), insert (an own key that was deleted, or a new one past
// the initial range), delete (an own record that exists). With as many
// inserts as deletes the bucket keeps its size.
//
// Timing: a request's send time is read right before the write that
// carries it, its latency ends when its answer has been read. Answers read
// during -warmup and after -duration (the drain of the requests still in
// flight) are reported apart from the measured window. The loop is closed:
// a slower server gets fewer requests, so the latencies do not include
// time a request would have waited to be sent (coordinated omission).
//
// The client side is built not to be the bottleneck: one goroutine per
// connection that reads answers and writes the next requests (all the
// requests made while the answers already received are handled go out in
// one write), no allocation per request (frames are built in reused
// buffers, answers are matched to requests through a ring of send times
// indexed by id, and their id and error code are read without a JSON
// decoder), latencies batched into shared HDR histograms.

// rrOp is one kind of request.
type rrOp uint8

const (
	opGet rrOp = iota
	opUpdate
	opWhere
	opInsert
	opDelete
	numOps
)

var opNames = [numOps]string{"get", "update", "where", "insert", "delete"}

// defaultMix is the op mix of the issue that asked for rr.
const defaultMix = "get=50,update=20,where=10,insert=10,delete=10"

// opMix is a weight per op.
type opMix [numOps]int

// parseMix reads "op=weight,op=weight"; ops left out weigh 0.
func parseMix(s string) (opMix, error) {
	var m opMix
	seen := [numOps]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("%q: want op=weight", part)
		}
		op := -1
		for i, n := range opNames {
			if n == strings.TrimSpace(name) {
				op = i
			}
		}
		if op < 0 {
			return m, fmt.Errorf("unknown op %q (ops: %s)", name, strings.Join(opNames[:], ", "))
		}
		if seen[op] {
			return m, fmt.Errorf("op %s given twice", opNames[op])
		}
		seen[op] = true
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > 1_000_000 {
			return m, fmt.Errorf("%q: the weight must be an integer from 0 to 1000000", part)
		}
		m[op] = n
	}
	if m.sum() == 0 {
		return m, errors.New("no op has a positive weight")
	}
	return m, nil
}

func (m opMix) sum() int {
	n := 0
	for _, w := range m {
		n += w
	}
	return n
}

// String is the mix in op order, ops of weight 0 left out.
func (m opMix) String() string {
	var parts []string
	for op, w := range m {
		if w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", opNames[op], w))
		}
	}
	return strings.Join(parts, ",")
}

// pick maps x in [0, sum) to an op.
func (m opMix) pick(x int) rrOp {
	for op, w := range m {
		if x < w {
			return rrOp(op)
		}
		x -= w
	}
	return opGet
}

// RRResult is the outcome of an rr run.
type RRResult struct {
	Mode       string   `json:"mode"`
	URL        string   `json:"url"`
	Sources    []string `json:"sources,omitempty"`
	Conns      int      `json:"conns"`
	Inflight   int      `json:"inflight"`
	Mix        string   `json:"mix"`
	Records    int      `json:"records"`
	ValueBytes int      `json:"valueBytes"`
	Bucket     string   `json:"bucket"`
	Duration   string   `json:"duration"`
	Warmup     string   `json:"warmup"`

	Connected    int            `json:"connected"`
	DialFailed   int            `json:"dialFailed"`
	DialFailures map[string]int `json:"dialFailures"`

	// Filling the bucket: every connection inserts its own records,
	// -inflight at a time.
	PopulateSeconds float64          `json:"populateSeconds"`
	PopulateRate    float64          `json:"populateRecordsPerSecond"`
	PopulateErrors  map[string]int64 `json:"populateErrors"`

	// The measured window: answers read between the end of the warmup and
	// the end of -duration.
	Seconds    float64          `json:"seconds"`
	Requests   int64            `json:"requests"`
	Throughput float64          `json:"requestsPerSecond"`
	Errors     int64            `json:"errors"`
	ErrorCodes map[string]int64 `json:"errorCodes"` // error answers by protocol code
	Latency    Summary          `json:"latency"`    // send to answer, every op, errors included
	Ops        map[string]*RROp `json:"ops"`

	// Answers read during the warmup and the drain.
	OutsideAnswers    int64            `json:"outsideWindowAnswers"`
	OutsideErrorCodes map[string]int64 `json:"outsideWindowErrorCodes"`

	Timeouts         int            `json:"timeouts"`         // connections dropped: no answer for -request-timeout
	Unanswered       int64          `json:"unanswered"`       // requests whose connection ended first
	UnexpectedCloses int            `json:"unexpectedCloses"` // connections lost before their close handshake
	CloseReasons     map[string]int `json:"unexpectedCloseReasons"`
	CleanCloses      int            `json:"cleanCloses"`
	PingsAnswered    int64          `json:"pingsAnswered"`
	OtherFrames      int64          `json:"otherFrames"` // neither answers nor pings (pushes, system frames)

	ClientCPUSeconds float64       `json:"clientCpuSeconds"` // this process, during the window
	Server           *counterDelta `json:"server,omitempty"` // the window, from /metrics
}

// RROp is the window's figures for one op.
type RROp struct {
	Requests   int64   `json:"requests"`
	Throughput float64 `json:"requestsPerSecond"`
	Errors     int64   `json:"errors"`
	Latency    Summary `json:"latency"`
}

func (r *RRResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "mode: %s\n", r.Mode)
	fmt.Fprintf(w, "url: %s\n", r.URL)
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "sources: %d (%s … %s)\n", len(r.Sources), r.Sources[0], r.Sources[len(r.Sources)-1])
	}
	fmt.Fprintf(w, "load: %d connections × %d in flight, mix %s\n", r.Conns, r.Inflight, r.Mix)
	fmt.Fprintf(w, "bucket: %s, %d records of %d-byte values\n", r.Bucket, r.Records, r.ValueBytes)
	fmt.Fprintf(w, "connections: %d, %d failed (%s)\n", r.Connected, r.DialFailed, formatTally(r.DialFailures))
	fmt.Fprintf(w, "populate: %.2fs (%.0f records/s), errors: %s\n", r.PopulateSeconds, r.PopulateRate,
		formatCodes(r.PopulateErrors))
	fmt.Fprintf(w, "window: %.2fs after a warmup of %s\n", r.Seconds, r.Warmup)
	fmt.Fprintf(w, "requests: %d (%.0f/s), errors: %d (%s)\n", r.Requests, r.Throughput, r.Errors,
		formatCodes(r.ErrorCodes))
	fmt.Fprintf(w, "latency (send to answer): %s\n", r.Latency)
	for _, name := range opNames {
		if o := r.Ops[name]; o != nil {
			fmt.Fprintf(w, "  %-6s %8d (%.0f/s) errors %d: %s\n", name, o.Requests, o.Throughput, o.Errors, o.Latency)
		}
	}
	fmt.Fprintf(w, "outside the window (warmup, drain): %d answers, errors: %s\n", r.OutsideAnswers,
		formatCodes(r.OutsideErrorCodes))
	fmt.Fprintf(w, "timeouts: %d, unanswered: %d, unexpected closes: %d (%s), clean closes: %d\n",
		r.Timeouts, r.Unanswered, r.UnexpectedCloses, formatTally(r.CloseReasons), r.CleanCloses)
	fmt.Fprintf(w, "pings answered: %d, other frames: %d\n", r.PingsAnswered, r.OtherFrames)
	pct := 0.0
	if r.Seconds > 0 {
		pct = 100 * r.ClientCPUSeconds / r.Seconds
	}
	fmt.Fprintf(w, "client CPU: %.2fs (%.0f%% of one core)\n", r.ClientCPUSeconds, pct)
	fmt.Fprintf(w, "server: %s\n", r.Server)
}

// formatCodes is formatTally for int64 counts.
func formatCodes(m map[string]int64) string {
	t := make(map[string]int, len(m))
	for k, v := range m {
		t[k] = int(v)
	}
	return formatTally(t)
}

// rrRun is the state the connections share.
type rrRun struct {
	conns, inflight, records, groups int
	mix                              opMix
	mixSum                           int
	bucket                           []byte // JSON string
	value                            []byte // JSON string
	epoch                            time.Time

	// Set before start is closed, read-only after.
	start                       chan struct{}
	loadStart, winStart, winEnd int64 // ns since epoch
	abort                       atomic.Bool

	mu       sync.Mutex // guards the histograms and errs
	all      *hdrhistogram.Histogram
	ops      [numOps]*hdrhistogram.Histogram
	interval *hdrhistogram.Histogram // every load answer since the last progress line
	errs     int64                   // error answers in the load phase, for the progress line
}

func (run *rrRun) since() int64 { return int64(time.Since(run.epoch)) }

// rrSlot is one request in flight.
type rrSlot struct {
	id   int64
	sent int64 // ns since epoch; set when the frame is written
	op   rrOp
}

// A sample is a latency in µs with its op and whether it fell in the
// window, packed in one word.
const (
	sampleOpShift  = 56
	sampleInWindow = 1 << 55
	sampleMicros   = 1<<55 - 1
	sampleBatch    = 256
)

// rrConn is one connection; everything but the atomics belongs to its
// goroutine until it ends.
type rrConn struct {
	run  *rrRun
	idx  int
	r    *rconn
	rng  *rand.Rand
	ring []rrSlot
	mask int64

	out      []byte // frames not written yet
	pay      []byte // the payload being built
	nextID   int64  // last id used
	unsent   int64  // first id whose frame has not been written
	inflight int
	loading  bool
	lastAt   int64 // when the last answer was read

	present, absent []int64 // own keys that exist / were deleted
	fresh           int64   // next own key past the initial range

	samples []uint64
	errs    int64 // error answers not yet added to run.errs

	// Results, read after the goroutine ends.
	win        [numOps]struct{ ok, errs int64 }
	winCodes   map[string]int64
	outAnswers int64
	outCodes   map[string]int64
	popCodes   map[string]int64
	popDone    bool
	pings      int64
	other      int64
	unanswered int64
	endErr     error
	clean      bool

	// For the watchdog: since when the oldest unanswered request has been
	// waiting at most (0: nothing in flight), and whether it gave up.
	waiting  atomic.Int64
	timedOut atomic.Bool
}

func newRRConn(run *rrRun, idx int, r *rconn, seed uint64) *rrConn {
	size := 1
	for size < run.inflight {
		size <<= 1
	}
	c := &rrConn{run: run, idx: idx, r: r, rng: rand.New(rand.NewPCG(seed, uint64(idx))),
		ring: make([]rrSlot, size), mask: int64(size - 1), unsent: 1,
		out: make([]byte, 0, 4096), pay: make([]byte, 0, 512), samples: make([]uint64, 0, sampleBatch),
		fresh: int64(run.records + idx)}
	r.br = bufio.NewReaderSize(r.c, 32<<10) // the dial left it empty
	for k := idx; k < run.records; k += run.conns {
		c.present = append(c.present, int64(k))
	}
	return c
}

// main is the connection's goroutine: fill, wait for the start, load,
// close.
func (c *rrConn) main(populated, done *sync.WaitGroup, closeTimeout time.Duration) {
	defer done.Done()
	defer c.r.c.nc.Close()
	run := c.run
	pos := 0
	err := c.exchange(func() bool {
		if pos >= len(c.present) || run.abort.Load() {
			return false
		}
		c.sendInsert(c.present[pos])
		pos++
		return true
	})
	c.popDone = err == nil && pos == len(c.present)
	populated.Done()
	if err != nil {
		c.end(err)
		return
	}
	<-run.start
	c.loading = true
	c.lastAt = run.loadStart
	err = c.exchange(func() bool {
		if c.lastAt >= run.winEnd || run.abort.Load() {
			return false
		}
		c.sendNext()
		return true
	})
	c.flushSamples()
	if err != nil {
		c.end(err)
		return
	}
	if err := c.r.closeGracefully(time.Now().Add(closeTimeout)); err != nil {
		c.end(fmt.Errorf("close: %w", err))
		return
	}
	c.clean = true
}

// end records how the connection ended.
func (c *rrConn) end(err error) {
	c.unanswered = int64(c.inflight)
	c.endErr = err
	c.waiting.Store(0)
}

// exchange keeps up to -inflight requests from next in flight until next
// has no more and every answer is in. Requests made while answers already
// received are handled go out together, in one write.
func (c *rrConn) exchange(next func() bool) error {
	more := true
	for {
		for more && c.inflight < c.run.inflight {
			more = next()
		}
		if c.inflight == 0 && !more {
			return c.flush()
		}
		if len(c.out) > 0 && !c.frameBuffered() {
			if err := c.flush(); err != nil {
				return err
			}
		}
		if err := c.readOne(); err != nil {
			return err
		}
	}
}

// frameBuffered tells whether a whole frame is already in the read
// buffer, so that reading it will not block.
func (c *rrConn) frameBuffered() bool {
	br := c.r.br
	n := br.Buffered()
	if n < 2 {
		return false
	}
	h, _ := br.Peek(2)
	size, length := 2, int(h[1]&0x7f)
	switch length {
	case 126:
		if n < 4 {
			return false
		}
		ext, _ := br.Peek(4)
		size, length = 4, int(binary.BigEndian.Uint16(ext[2:]))
	case 127:
		return false // 64 KiB or more: never fully buffered
	}
	return n >= size+length
}

// flush writes the pending frames and stamps their requests' send time.
func (c *rrConn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	now := c.run.since()
	for id := c.unsent; id <= c.nextID; id++ {
		c.ring[id&c.mask].sent = now
	}
	c.unsent = c.nextID + 1
	if c.inflight > 0 && c.waiting.Load() == 0 {
		c.waiting.Store(now)
	}
	wc := c.r.c
	wc.wmu.Lock()
	var err error
	if wc.closeSent {
		err = errCloseSent
	} else {
		_, err = wc.nc.Write(c.out)
	}
	wc.wmu.Unlock()
	c.out = c.out[:0]
	return err
}

// readOne reads one frame and deals with it.
func (c *rrConn) readOne() error {
	op, p, err := c.r.readFrame()
	if err != nil {
		return err
	}
	at := c.run.since()
	if op != ws.OpText {
		return c.r.handleControl(op, p)
	}
	id, code, isErr, ok := parseAnswer(p)
	if !ok {
		switch classify(p) {
		case classPing:
			c.pings++
			return c.r.answerPing(p)
		case classAnswer:
			var a answer
			if json.Unmarshal(p, &a) != nil || a.ID == nil {
				return fmt.Errorf("unreadable answer %.80q", p)
			}
			id, isErr, code = *a.ID, a.Type == "error", []byte(a.Code)
		default:
			c.other++
			return nil
		}
	}
	slot := &c.ring[id&c.mask]
	if id < 1 || id >= c.unsent || slot.id != id {
		return fmt.Errorf("answer for id %d, which is not in flight", id)
	}
	slot.id = 0
	c.inflight--
	c.lastAt = at
	if c.inflight == 0 {
		c.waiting.Store(0)
	} else {
		c.waiting.Store(at)
	}
	run := c.run
	if !c.loading {
		if isErr {
			countCode(&c.popCodes, code)
		}
		return nil
	}
	us := (at - slot.sent) / 1000
	s := uint64(slot.op)<<sampleOpShift | uint64(min(max(us, 0), sampleMicros))
	if at >= run.winStart && at < run.winEnd && !run.abort.Load() {
		s |= sampleInWindow
		if isErr {
			c.win[slot.op].errs++
			countCode(&c.winCodes, code)
		} else {
			c.win[slot.op].ok++
		}
	} else {
		c.outAnswers++
		if isErr {
			countCode(&c.outCodes, code)
		}
	}
	if isErr {
		c.errs++
	}
	c.samples = append(c.samples, s)
	if len(c.samples) == cap(c.samples) {
		c.flushSamples()
	}
	return nil
}

// countCode adds one to a code's count; only a code not seen before
// allocates.
func countCode(m *map[string]int64, code []byte) {
	if *m == nil {
		*m = make(map[string]int64)
	}
	if len(code) == 0 {
		code = []byte("(no code)")
	}
	(*m)[string(code)]++
}

// flushSamples adds the batched samples to the shared histograms.
func (c *rrConn) flushSamples() {
	run := c.run
	run.mu.Lock()
	for _, s := range c.samples {
		us := int64(s & sampleMicros)
		recordMicros(run.interval, us)
		if s&sampleInWindow != 0 {
			recordMicros(run.all, us)
			recordMicros(run.ops[s>>sampleOpShift], us)
		}
	}
	run.errs += c.errs
	run.mu.Unlock()
	c.samples = c.samples[:0]
	c.errs = 0
}

// sendNext makes one request of the mix.
func (c *rrConn) sendNext() {
	run := c.run
	switch op := run.mix.pick(c.rng.IntN(run.mixSum)); {
	case op == opGet:
		p := c.begin("store.get")
		p = append(p, `,"key":`...)
		p = appendKey(p, int64(c.rng.IntN(run.records)))
		c.finish(p, opGet)
	case op == opWhere:
		p := c.begin("store.where")
		p = append(p, `,"filter":{"g":`...)
		p = strconv.AppendInt(p, int64(c.rng.IntN(run.groups)), 10)
		p = append(p, '}')
		c.finish(p, opWhere)
	case op == opInsert || len(c.present) == 0:
		var k int64
		if n := len(c.absent); n > 0 {
			j := c.rng.IntN(n)
			k = c.absent[j]
			c.absent[j] = c.absent[n-1]
			c.absent = c.absent[:n-1]
		} else {
			k = c.fresh
			c.fresh += int64(run.conns)
		}
		c.present = append(c.present, k)
		c.sendInsert(k)
	case op == opUpdate:
		k := c.present[c.rng.IntN(len(c.present))]
		p := c.begin("store.update")
		p = append(p, `,"key":`...)
		p = appendKey(p, k)
		p = append(p, `,"data":{"n":`...)
		p = strconv.AppendInt(p, c.nextID, 10)
		p = append(p, '}')
		c.finish(p, opUpdate)
	default: // delete
		n := len(c.present)
		j := c.rng.IntN(n)
		k := c.present[j]
		c.present[j] = c.present[n-1]
		c.present = c.present[:n-1]
		c.absent = append(c.absent, k)
		p := c.begin("store.delete")
		p = append(p, `,"key":`...)
		p = appendKey(p, k)
		c.finish(p, opDelete)
	}
}

// sendInsert makes the insert of record k.
func (c *rrConn) sendInsert(k int64) {
	p := c.begin("store.insert")
	p = append(p, `,"data":{"id":`...)
	p = appendKey(p, k)
	p = append(p, `,"g":`...)
	p = strconv.AppendInt(p, k%int64(c.run.groups), 10)
	p = append(p, `,"n":0,"v":`...)
	p = append(p, c.run.value...)
	p = append(p, '}')
	c.finish(p, opInsert)
}

// begin starts a request with the next id: {"id":…,"type":…,"bucket":…
func (c *rrConn) begin(typ string) []byte {
	c.nextID++
	p := append(c.pay[:0], `{"id":`...)
	p = strconv.AppendInt(p, c.nextID, 10)
	p = append(p, `,"type":"`...)
	p = append(p, typ...)
	p = append(p, `","bucket":`...)
	return append(p, c.run.bucket...)
}

// finish closes the request, puts it in flight and queues its frame.
func (c *rrConn) finish(p []byte, op rrOp) {
	p = append(p, '}')
	c.pay = p
	c.ring[c.nextID&c.mask] = rrSlot{id: c.nextID, op: op}
	c.inflight++
	c.appendFrame(ws.OpText, p)
}

// appendFrame queues one masked frame.
func (c *rrConn) appendFrame(op ws.OpCode, payload []byte) {
	n := len(payload)
	out := append(c.out, 0x80|byte(op))
	switch {
	case n > 0xffff:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	case n > 125:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|byte(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], uint32(c.rng.Uint64()))
	out = append(out, mask[:]...)
	start := len(out)
	out = append(out, payload...)
	ws.Cipher(out[start:], mask, 0)
	c.out = out
}

// appendKey appends the key of record k as a JSON string: "r" and at
// least 8 digits.
func appendKey(p []byte, k int64) []byte {
	var d [24]byte
	i := len(d)
	for k >= 10 || len(d)-i < 7 {
		i--
		d[i] = byte('0' + k%10)
		k /= 10
	}
	i--
	d[i] = byte('0' + k)
	p = append(p, `"r`...)
	p = append(p, d[i:]...)
	return append(p, '"')
}

// parseAnswer reads the id, and for an error the code, of an answer in the
// server's layout: {"id":N,"type":"result"… or
// {"id":N,"type":"error","code":"…"…. ok is false for anything else.
func parseAnswer(p []byte) (id int64, code []byte, isErr, ok bool) {
	const head = `{"id":`
	if !bytes.HasPrefix(p, []byte(head)) {
		return 0, nil, false, false
	}
	i := len(head)
	for i < len(p) && p[i] >= '0' && p[i] <= '9' && i-len(head) < 16 {
		id = id*10 + int64(p[i]-'0')
		i++
	}
	if i == len(head) {
		return 0, nil, false, false
	}
	rest := p[i:]
	const result, errHead = `,"type":"result"`, `,"type":"error","code":"`
	switch {
	case bytes.HasPrefix(rest, []byte(result)) && len(rest) > len(result) &&
		(rest[len(result)] == ',' || rest[len(result)] == '}'):
		return id, nil, false, true
	case bytes.HasPrefix(rest, []byte(errHead)):
		rest = rest[len(errHead):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
			return 0, nil, false, false
		}
		return id, rest[:j], true, true
	}
	return 0, nil, false, false
}

func runRR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.register(fs)
	conns := fs.Int("conns", 64, "`connections`, each with its own share of the records")
	inflight := fs.Int("inflight", 8, "requests in flight per connection (the next one is sent as soon as an answer comes in)")
	mixFlag := fs.String("mix", defaultMix, "op `weights`: get, update, where, insert, delete")
	records := fs.Int("records", 10000, "records put in the bucket before the load starts")
	valueBytes := fs.Int("value-bytes", 100, "size of each record's string field v")
	duration := fs.Duration("duration", 30*time.Second, "length of the measured window")
	warmup := fs.Duration("warmup", 0, "load before the measured window, reported apart")
	requestTimeout := fs.Duration("request-timeout", 10*time.Second, "drop a connection that waits this long for an answer")
	closeTimeout := fs.Duration("close-timeout", 10*time.Second, "bound on the closing handshakes at the end")
	concurrency := fs.Int("concurrency", 64, "dials in flight at once")
	seed := fs.Uint64("seed", 1, "seed of the op and key choices")
	names := fs.String("name", "", "bucket `name` (default: rr_<unique>)")
	keep := fs.Bool("keep", false, "keep the bucket at the end (default: drop it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := t.validate(ctx); err != nil {
		return err
	}
	mix, err := parseMix(*mixFlag)
	if err != nil {
		return fmt.Errorf("-mix: %w", err)
	}
	if *conns <= 0 || *inflight <= 0 || *inflight > 1<<16 || *records <= 0 || *valueBytes < 0 || *valueBytes > 512<<10 ||
		*duration <= 0 || *warmup < 0 || *requestTimeout <= 0 || *closeTimeout <= 0 || *concurrency <= 0 {
		return errors.New("-conns, -inflight (≤ 65536), -records, -duration, -concurrency and the timeouts must be positive, " +
			"-warmup and -value-bytes (≤ 512 KiB) not negative")
	}
	warnFileLimit(stderr, *conns+1)
	name := *names
	if name == "" {
		name = "rr_" + runSuffix()
	}
	bucketJSON, _ := json.Marshal(name)
	value := make([]byte, 0, *valueBytes+2)
	value = append(value, '"')
	for i := range *valueBytes {
		value = append(value, byte('a'+i%26))
	}
	value = append(value, '"')

	res := &RRResult{Mode: "rr", URL: t.url.String(), Sources: t.sourceList(), Conns: *conns, Inflight: *inflight,
		Mix: mix.String(), Records: *records, ValueBytes: *valueBytes, Bucket: name, Duration: duration.String(),
		Warmup: warmup.String()}

	// The bucket, defined on a connection of its own.
	admin, err := t.dialRConn(ctx)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	_, err = admin.call("store.defineBucket", map[string]any{"name": name, "config": map[string]any{
		"key": "id", "indexes": []string{"g"}, "schema": map[string]any{
			"id": map[string]any{"type": "string"}, "g": map[string]any{"type": "number"},
			"n": map[string]any{"type": "number"}, "v": map[string]any{"type": "string"}}}}, *requestTimeout)
	_ = admin.closeGracefully(time.Now().Add(*closeTimeout))
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if !*keep {
		defer func() {
			a, err := t.dialRConn(context.WithoutCancel(ctx))
			if err != nil {
				fmt.Fprintf(stderr, "noex-bench rr: dropping the bucket: %v\n", err)
				return
			}
			if _, err := a.call("store.dropBucket", map[string]any{"name": name}, *requestTimeout); err != nil {
				fmt.Fprintf(stderr, "noex-bench rr: dropping the bucket: %v\n", err)
			}
			_ = a.closeGracefully(time.Now().Add(*closeTimeout))
		}()
	}

	run := &rrRun{conns: *conns, inflight: *inflight, records: *records, groups: max(*records/10, 1), mix: mix,
		mixSum: mix.sum(), bucket: bucketJSON, value: value, start: make(chan struct{}),
		all: newHist(), interval: newHist()}
	for i := range run.ops {
		run.ops[i] = newHist()
	}

	// Connections.
	cs := make([]*rrConn, *conns)
	var dialFails tally
	t.dialMany(ctx, *conns, *concurrency, &dialFails, func(i int, r *rconn) error {
		cs[i] = newRRConn(run, i, r, *seed)
		return nil
	})
	res.DialFailures = dialFails.snapshot()
	res.DialFailed = failedCount(&dialFails)
	live := cs[:0]
	for _, c := range cs {
		if c != nil {
			live = append(live, c)
		}
	}
	res.Connected = len(live)
	if len(live) == 0 {
		return fmt.Errorf("no connection: %s", formatTally(res.DialFailures))
	}
	if len(live) < *conns {
		fmt.Fprintf(stderr, "noex-bench rr: %d of %d connections failed; the records of the missing ones are not put\n",
			*conns-len(live), *conns)
	}

	// watchdog drops the connections that have waited too long for an
	// answer.
	watchdog := func() {
		now := run.since()
		for _, c := range live {
			if w := c.waiting.Load(); w != 0 && now-w > int64(*requestTimeout) && !c.timedOut.Swap(true) {
				_ = c.r.c.nc.Close()
			}
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()

	// Fill.
	var populated, done sync.WaitGroup
	populated.Add(len(live))
	done.Add(len(live))
	run.epoch = time.Now()
	for _, c := range live {
		go c.main(&populated, &done, *closeTimeout)
	}
	popDone := make(chan struct{})
	go func() { populated.Wait(); close(popDone) }()
	ctxDone := ctx.Done()
wait:
	for {
		select {
		case <-popDone:
			break wait
		case <-tick.C:
			watchdog()
		case <-ctxDone:
			run.abort.Store(true) // the fill stops sending; what is in flight is answered
			ctxDone = nil
		}
	}
	res.PopulateSeconds = time.Since(run.epoch).Seconds()
	var put int
	for _, c := range live {
		if c.popDone {
			put += len(c.present)
		}
	}
	if res.PopulateSeconds > 0 {
		res.PopulateRate = float64(put) / res.PopulateSeconds
	}
	fmt.Fprintf(stderr, "noex-bench rr: %d connections, %d records put in %.2fs; load for %s (warmup %s)\n",
		len(live), put, res.PopulateSeconds, duration, warmup)

	// Load.
	run.loadStart = run.since()
	run.winStart = run.loadStart + int64(*warmup)
	run.winEnd = run.winStart + int64(*duration)
	close(run.start)
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	progressTick := time.NewTicker(max(t.progressEvery, time.Millisecond))
	if t.progressEvery <= 0 {
		progressTick.Stop()
	}
	defer progressTick.Stop()
	lastProgress := time.Now()
	progressLine := func() {
		run.mu.Lock()
		s := summarize(run.interval)
		run.interval.Reset()
		errs := run.errs
		run.mu.Unlock()
		el := time.Since(lastProgress).Seconds()
		lastProgress = time.Now()
		phase := "load"
		if now := run.since(); now < run.winStart {
			phase = "warmup"
		} else if now >= run.winEnd {
			phase = "drain"
		}
		fmt.Fprintf(stderr, "noex-bench rr: %s %.0fs: %.0f answers/s, p50 %.3fms p99 %.3fms max %.3fms, errors %d\n",
			phase, float64(run.since()-run.loadStart)/1e9, float64(s.Count)/el, s.P50Ms, s.P99Ms, s.MaxMs, errs)
	}
	winStartTimer := time.NewTimer(time.Until(run.epoch.Add(time.Duration(run.winStart))))
	winEndTimer := time.NewTimer(time.Until(run.epoch.Add(time.Duration(run.winEnd))))
	defer winStartTimer.Stop()
	defer winEndTimer.Stop()
	var before serverCounters
	var cpu0 time.Duration
	var abortAt int64
	windowOpen, windowClosed := false, false
	openWindow := func() {
		if !windowOpen {
			windowOpen = true
			cpu0 = cpuClock()
			before = t.fetchCounters(ctx)
		}
	}
	closeWindow := func() {
		if windowOpen && !windowClosed {
			windowClosed = true
			res.ClientCPUSeconds = (cpuClock() - cpu0).Seconds()
			res.Server = before.delta(t.fetchCounters(ctx))
		}
	}
	drainDeadline := time.NewTimer(time.Duration(1<<62 - 1))
	defer drainDeadline.Stop()
	if run.abort.Load() {
		abortAt = run.since()
		drainDeadline.Reset(*requestTimeout + *closeTimeout + 5*time.Second)
	}
load:
	for {
		select {
		case <-finished:
			break load
		case <-winStartTimer.C:
			if abortAt == 0 {
				openWindow()
			}
		case <-winEndTimer.C:
			if abortAt == 0 {
				openWindow()
				closeWindow()
				drainDeadline.Reset(*requestTimeout + *closeTimeout + 5*time.Second)
			}
		case <-tick.C:
			watchdog()
		case <-progressTick.C:
			progressLine()
		case <-drainDeadline.C:
			fmt.Fprintln(stderr, "noex-bench rr: some connections did not finish in time")
			for _, c := range live {
				_ = c.r.c.nc.Close()
			}
			<-finished
			break load
		case <-ctxDone:
			ctxDone = nil
			if abortAt == 0 {
				abortAt = run.since()
				run.abort.Store(true)
				closeWindow()
				drainDeadline.Reset(*requestTimeout + *closeTimeout + 5*time.Second)
			}
		}
	}

	// Figures.
	winEnd := run.winEnd
	if abortAt != 0 {
		winEnd = min(winEnd, abortAt)
	}
	res.Seconds = max(float64(winEnd-run.winStart)/1e9, 0)
	res.ErrorCodes = map[string]int64{}
	res.Ops = map[string]*RROp{}
	for op := range numOps {
		if mix[op] > 0 {
			res.Ops[opNames[op]] = &RROp{Latency: summarize(run.ops[op])}
		}
	}
	var unexpected tally
	for _, c := range live {
		for op := range numOps {
			w := c.win[op]
			res.Requests += w.ok + w.errs
			res.Errors += w.errs
			if o := res.Ops[opNames[op]]; o != nil {
				o.Requests += w.ok + w.errs
				o.Errors += w.errs
			}
		}
		mergeCodes(&res.ErrorCodes, c.winCodes)
		mergeCodes(&res.OutsideErrorCodes, c.outCodes)
		mergeCodes(&res.PopulateErrors, c.popCodes)
		res.OutsideAnswers += c.outAnswers
		res.PingsAnswered += c.pings
		res.OtherFrames += c.other
		res.Unanswered += c.unanswered
		switch {
		case c.timedOut.Load():
			res.Timeouts++
		case c.clean:
			res.CleanCloses++
		case c.endErr != nil:
			unexpected.add(errorClass(c.endErr))
		}
	}
	if len(res.ErrorCodes) == 0 {
		res.ErrorCodes = nil
	}
	res.CloseReasons = unexpected.snapshot()
	res.UnexpectedCloses = failedCount(&unexpected)
	res.Latency = summarize(run.all)
	if res.Seconds > 0 {
		res.Throughput = float64(res.Requests) / res.Seconds
		for _, o := range res.Ops {
			o.Throughput = float64(o.Requests) / res.Seconds
		}
	}
	return writeResult(stdout, t.json, res)
}

// mergeCodes adds src's counts to *dst.
func mergeCodes(dst *map[string]int64, src map[string]int64) {
	for k, v := range src {
		if *dst == nil {
			*dst = make(map[string]int64)
		}
		(*dst)[k] += v
	}
}
