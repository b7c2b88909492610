package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// idle opens N connections and keeps them open and quiet, answering every
// server ping, for a fixed time: what the server's memory per connection
// is measured against. With -pid (the server's process on this machine)
// it reads the server's resident set size before the first dial and at
// the end of the hold, and reports the difference per open connection.

// IdleResult is the outcome of an idle run.
type IdleResult struct {
	Mode        string   `json:"mode"`
	URL         string   `json:"url"`
	Sources     []string `json:"sources,omitempty"`
	Requested   int      `json:"requested"`
	Concurrency int      `json:"concurrency"`

	Request     string         `json:"request,omitempty"`
	Answers     map[string]int `json:"answers,omitempty"` // to -request: "result" or "error <code>"
	Connected   int            `json:"connected"`
	Failed      int            `json:"failed"`
	Failures    map[string]int `json:"failures"`
	DialSeconds float64        `json:"dialSeconds"`
	DialRate    float64        `json:"dialRatePerSecond"`
	DialLatency Summary        `json:"dialLatency"` // dial start to welcome read

	HoldSeconds      float64        `json:"holdSeconds"`
	PingsReceived    int64          `json:"pingsReceived"`
	PongsSent        int64          `json:"pongsSent"`
	ErrorFrames      int64          `json:"errorFrames"` // server "error" frames (e.g. a rejected pong)
	OtherFrames      int64          `json:"otherFrames"`
	UnexpectedCloses int            `json:"unexpectedCloses"`
	CloseReasons     map[string]int `json:"unexpectedCloseReasons"`
	OpenAtEnd        int64          `json:"openAtEnd"`
	CleanCloses      int64          `json:"cleanCloses"`
	CloseErrors      map[string]int `json:"closeErrors"`

	// With -pid: the server's VmRSS before the first dial and at the end
	// of the hold, and the difference per connection open at that time.
	ServerPID    int     `json:"serverPid,omitempty"`
	RSSBeforeKiB int64   `json:"serverRssBeforeKiB,omitempty"`
	RSSAfterKiB  int64   `json:"serverRssAfterKiB,omitempty"`
	RSSPerConn   float64 `json:"serverRssPerConnectionKiB,omitempty"`
}

func (r *IdleResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "mode: %s\n", r.Mode)
	fmt.Fprintf(w, "url: %s\n", r.URL)
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "sources: %d (%s … %s)\n", len(r.Sources), r.Sources[0], r.Sources[len(r.Sources)-1])
	}
	fmt.Fprintf(w, "requested: %d (dial concurrency %d)\n", r.Requested, r.Concurrency)
	if r.Request != "" {
		fmt.Fprintf(w, "request after welcome: %s\n", r.Request)
		fmt.Fprintf(w, "answers: %s\n", formatTally(r.Answers))
	}
	fmt.Fprintf(w, "connected: %d\n", r.Connected)
	fmt.Fprintf(w, "failed: %d (%s)\n", r.Failed, formatTally(r.Failures))
	fmt.Fprintf(w, "dial phase: %.2fs, %.0f connections/s\n", r.DialSeconds, r.DialRate)
	fmt.Fprintf(w, "dial latency: %s\n", r.DialLatency)
	fmt.Fprintf(w, "held: %.1fs\n", r.HoldSeconds)
	fmt.Fprintf(w, "pings received: %d\n", r.PingsReceived)
	fmt.Fprintf(w, "pongs sent: %d\n", r.PongsSent)
	fmt.Fprintf(w, "error frames: %d\n", r.ErrorFrames)
	fmt.Fprintf(w, "other frames: %d\n", r.OtherFrames)
	fmt.Fprintf(w, "unexpected closes: %d (%s)\n", r.UnexpectedCloses, formatTally(r.CloseReasons))
	fmt.Fprintf(w, "open at end: %d\n", r.OpenAtEnd)
	fmt.Fprintf(w, "clean closes: %d (close errors: %s)\n", r.CleanCloses, formatTally(r.CloseErrors))
	if r.ServerPID != 0 {
		fmt.Fprintf(w, "server RSS (pid %d): %d KiB before, %d KiB at the end of the hold: %.2f KiB per connection\n",
			r.ServerPID, r.RSSBeforeKiB, r.RSSAfterKiB, r.RSSPerConn)
	}
}

// idleRun is the shared state of one idle run.
type idleRun struct {
	t       *target
	request []byte // sent once after the welcome, or nil

	stopping atomic.Bool
	mu       sync.Mutex
	conns    []*wsConn
	holders  sync.WaitGroup

	open, pings, pongs, errFrames, other, clean atomic.Int64

	failures, unexpected, closeErrs, answers tally
	dialLat                                  latencies
}

func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.register(fs)
	n := fs.Int("n", 10000, "number of `connections` to open (one process holds at most ~19,900: the open-file limit is 20,000)")
	concurrency := fs.Int("concurrency", 200, "dials in flight at once")
	duration := fs.Duration("duration", 60*time.Second, "how long to hold the connections once the dial phase is over")
	closeTimeout := fs.Duration("close-timeout", 5*time.Second, "bound on the closing handshake at the end")
	request := fs.String("request", "", "a request `frame` (JSON with an id) sent once on every connection after the welcome, "+
		"its answer awaited before the connection goes idle (e.g. a subscription)")
	pid := fs.Int("pid", 0, "the server's process `id` on this machine: report its RSS per connection (read from /proc)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := t.validate(ctx); err != nil {
		return err
	}
	if *n <= 0 || *concurrency <= 0 || *duration < 0 || *closeTimeout <= 0 || *pid < 0 {
		return errors.New("-n and -concurrency must be positive, -duration not negative")
	}
	warnFileLimit(stderr, *n)

	r := &idleRun{t: &t}
	if *request != "" {
		var probe struct {
			ID   *float64 `json:"id"`
			Type string   `json:"type"`
		}
		if err := json.Unmarshal([]byte(*request), &probe); err != nil || probe.ID == nil || probe.Type == "" {
			return fmt.Errorf("-request %q: want a JSON object with a numeric id and a type", *request)
		}
		r.request = []byte(*request)
	}
	res := &IdleResult{Mode: "idle", URL: t.url.String(), Sources: t.sourceList(), Requested: *n, Concurrency: *concurrency,
		Request: *request}
	if *pid > 0 {
		kib, err := rssKiB(*pid)
		if err != nil {
			return fmt.Errorf("-pid: %w", err)
		}
		res.ServerPID, res.RSSBeforeKiB = *pid, kib
	}

	// Dial phase: bounded concurrency, each dial bounded by -dial-timeout.
	start := time.Now()
	var next atomic.Int64
	var dialers sync.WaitGroup
	for range min(*concurrency, *n) {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for next.Add(1) <= int64(*n) && ctx.Err() == nil {
				r.dialOne(ctx)
			}
		}()
	}
	stopProgress := t.progress(stderr, "idle", func() string {
		return fmt.Sprintf("open=%d failed=%d pings=%d", r.open.Load(), failedCount(&r.failures), r.pings.Load())
	})
	dialers.Wait()
	res.DialSeconds = time.Since(start).Seconds()
	res.Failures = r.failures.snapshot()
	res.Failed = failedCount(&r.failures)
	res.Connected = len(r.conns)
	if res.DialSeconds > 0 {
		res.DialRate = float64(res.Connected) / res.DialSeconds
	}
	res.DialLatency = r.dialLat.summary()
	res.Answers = r.answers.snapshot()
	fmt.Fprintf(stderr, "noex-bench idle: dial phase done: connected=%d failed=%d in %.2fs; holding for %s\n",
		res.Connected, res.Failed, res.DialSeconds, *duration)

	// Hold phase.
	holdStart := time.Now()
	timer := time.NewTimer(*duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	res.HoldSeconds = time.Since(holdStart).Seconds()
	stopProgress()
	res.OpenAtEnd = r.open.Load()
	if *pid > 0 {
		if kib, err := rssKiB(*pid); err != nil {
			fmt.Fprintf(stderr, "noex-bench idle: reading the server's RSS: %v\n", err)
		} else if res.RSSAfterKiB = kib; res.OpenAtEnd > 0 {
			res.RSSPerConn = float64(res.RSSAfterKiB-res.RSSBeforeKiB) / float64(res.OpenAtEnd)
		}
	}

	// Close phase: send every connection its close frame; each reader
	// then sees the server's answer and the end of the stream. The read
	// deadline bounds the whole handshake.
	r.stopping.Store(true)
	r.mu.Lock()
	for _, c := range r.conns {
		_ = c.nc.SetDeadline(time.Now().Add(*closeTimeout))
		if err := c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil &&
			!errors.Is(err, errCloseSent) {
			_ = c.nc.Close() // the reader reports it
		}
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.holders.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(*closeTimeout + 5*time.Second):
		fmt.Fprintln(stderr, "noex-bench idle: some connections did not close in time")
	}

	res.PingsReceived = r.pings.Load()
	res.PongsSent = r.pongs.Load()
	res.ErrorFrames = r.errFrames.Load()
	res.OtherFrames = r.other.Load()
	res.CloseReasons = r.unexpected.snapshot()
	for _, v := range res.CloseReasons {
		res.UnexpectedCloses += v
	}
	res.CleanCloses = r.clean.Load()
	res.CloseErrors = r.closeErrs.snapshot()
	return writeResult(stdout, t.json, res)
}

func (r *idleRun) dialOne(ctx context.Context) {
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, r.t.dialTimeout)
	defer cancel()
	c, err := r.t.dialWS(dctx)
	if err != nil {
		r.failures.add("dial: " + errorClass(err))
		return
	}
	deadline, _ := dctx.Deadline()
	if _, err := c.readWelcome(deadline, nil); err != nil {
		r.failures.add("welcome: " + errorClass(err))
		_ = c.nc.Close()
		return
	}
	if r.request != nil {
		if err := r.ask(c, deadline); err != nil {
			r.failures.add("request: " + errorClass(err))
			_ = c.nc.Close()
			return
		}
	}
	r.dialLat.add(time.Since(t0))
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.mu.Unlock()
	r.open.Add(1)
	r.holders.Add(1)
	go r.hold(c)
}

// ask sends the -request frame and reads until its answer, answering any
// ping on the way.
func (r *idleRun) ask(c *wsConn, deadline time.Time) error {
	_ = c.nc.SetReadDeadline(deadline)
	defer c.nc.SetReadDeadline(time.Time{})
	if err := c.writeText(r.request); err != nil {
		return err
	}
	var scratch []byte
	var pong [96]byte
	for {
		f, s, err := c.readFrame(scratch)
		scratch = s
		if err != nil {
			return err
		}
		switch f.op {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.payload)
			return &closedError{code: int(code), reason: reason}
		case ws.OpText:
		default:
			continue
		}
		var env envelope
		if err := json.Unmarshal(f.payload, &env); err != nil {
			return fmt.Errorf("frame is not JSON: %w", err)
		}
		switch env.Type {
		case "ping":
			r.pings.Add(1)
			if err := c.writeText(pongFor(pong[:0], env.Timestamp)); err != nil {
				return err
			}
			r.pongs.Add(1)
		case "result":
			r.answers.add("result")
			return nil
		case "error":
			r.answers.add("error " + env.Code)
			return nil
		}
	}
}

// hold is a connection's only reader: it answers pings and, at the end,
// sees the closing handshake through.
func (r *idleRun) hold(c *wsConn) {
	defer r.holders.Done()
	defer r.open.Add(-1)
	defer c.nc.Close()
	var scratch []byte
	var pong [96]byte
	for {
		f, s, err := c.readFrame(scratch)
		scratch = s
		if err != nil {
			if r.stopping.Load() {
				r.closeErrs.add(errorClass(err))
			} else {
				r.unexpected.add(errorClass(err))
			}
			return
		}
		switch f.op {
		case ws.OpText:
			var env envelope
			if json.Unmarshal(f.payload, &env) != nil {
				r.other.Add(1)
				continue
			}
			switch env.Type {
			case "ping":
				r.pings.Add(1)
				err := c.writeText(pongFor(pong[:0], env.Timestamp))
				switch {
				case err == nil:
					r.pongs.Add(1)
				case errors.Is(err, errCloseSent):
					// The run is ending; the close frame went first.
				default:
					r.unexpected.add("pong write: " + errorClass(err))
					return
				}
			case "error":
				r.errFrames.Add(1)
			default:
				r.other.Add(1)
			}
		case ws.OpPing:
			_ = c.writeFrame(ws.OpPong, f.payload)
		case ws.OpClose:
			if r.stopping.Load() {
				// The answer to our close frame.
				if err := c.awaitEOF(); err != nil {
					r.closeErrs.add("after close frame: " + errorClass(err))
					return
				}
				r.clean.Add(1)
				return
			}
			code, reason := ws.ParseCloseFrameData(f.payload)
			r.unexpected.add(errorClass(&closedError{code: int(code), reason: reason}))
			_ = c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""))
			return
		default:
			r.other.Add(1)
		}
	}
}

func failedCount(t *tally) int {
	n := 0
	for _, v := range t.snapshot() {
		n += v
	}
	return n
}

// progress prints a status line to w every -progress (when positive)
// until the returned stop function is called.
func (t *target) progress(w io.Writer, name string, status func() string) (stop func()) {
	if t.progressEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(t.progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(w, "noex-bench %s: %s\n", name, status())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// rssKiB reads the resident set size of a process (VmRSS in
// /proc/<pid>/status) in KiB.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// warnFileLimit says so when n connections cannot fit under the process's
// open-file limit.
func warnFileLimit(w io.Writer, n int) {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return
	}
	if uint64(n)+64 > rl.Cur {
		fmt.Fprintf(w, "noex-bench: warning: %d connections need more than the open-file limit (%d) allows; "+
			"run several processes\n", n, rl.Cur)
	}
}
