package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// accept measures how fast the server takes new connections: each worker
// dials, completes the handshake, reads the welcome and closes, over and
// over, until N connections have been through.

// AcceptResult is the outcome of an accept run.
type AcceptResult struct {
	Mode        string   `json:"mode"`
	URL         string   `json:"url"`
	Sources     []string `json:"sources,omitempty"`
	Requested   int      `json:"requested"`
	Concurrency int      `json:"concurrency"`
	Close       string   `json:"close"`

	Completed int            `json:"completed"`
	Failed    int            `json:"failed"`
	Failures  map[string]int `json:"failures"`
	Seconds   float64        `json:"seconds"`
	Rate      float64        `json:"connectionsPerSecond"` // completed / seconds
	// Connect is dial start to welcome read; Cycle adds the close.
	Connect Summary `json:"connectLatency"`
	Cycle   Summary `json:"cycleLatency"`
}

func (r *AcceptResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "mode: %s\n", r.Mode)
	fmt.Fprintf(w, "url: %s\n", r.URL)
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "sources: %d (%s … %s)\n", len(r.Sources), r.Sources[0], r.Sources[len(r.Sources)-1])
	}
	fmt.Fprintf(w, "requested: %d (concurrency %d, close %s)\n", r.Requested, r.Concurrency, r.Close)
	fmt.Fprintf(w, "completed: %d\n", r.Completed)
	fmt.Fprintf(w, "failed: %d (%s)\n", r.Failed, formatTally(r.Failures))
	fmt.Fprintf(w, "elapsed: %.3fs\n", r.Seconds)
	fmt.Fprintf(w, "rate: %.0f connections/s\n", r.Rate)
	fmt.Fprintf(w, "connect latency (dial to welcome): %s\n", r.Connect)
	fmt.Fprintf(w, "cycle latency (dial to closed): %s\n", r.Cycle)
}

func runAccept(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("accept", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.register(fs)
	n := fs.Int("n", 20000, "number of `connections` to open and close")
	concurrency := fs.Int("concurrency", 64, "connections in flight at once")
	closeMode := fs.String("close", "ws", "how each connection ends: ws (close handshake; the server closes TCP first, "+
		"so TIME_WAIT stays on its side) or tcp (the client just drops the socket)")
	maxDuration := fs.Duration("max-duration", 5*time.Minute, "stop starting new connections after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := t.validate(ctx); err != nil {
		return err
	}
	if *n <= 0 || *concurrency <= 0 || *maxDuration <= 0 {
		return errors.New("-n, -concurrency and -max-duration must be positive")
	}
	if *closeMode != "ws" && *closeMode != "tcp" {
		return fmt.Errorf("-close %q: want ws or tcp", *closeMode)
	}
	ctx, cancel := context.WithTimeout(ctx, *maxDuration)
	defer cancel()

	res := &AcceptResult{Mode: "accept", URL: t.url.String(), Sources: t.sourceList(),
		Requested: *n, Concurrency: *concurrency, Close: *closeMode}
	var (
		next, completed atomic.Int64
		failures        tally
		connect, cycle  latencies
		workers         sync.WaitGroup
	)
	stopProgress := t.progress(stderr, "accept", func() string {
		return fmt.Sprintf("completed=%d failed=%d", completed.Load(), failedCount(&failures))
	})
	start := time.Now()
	for range min(*concurrency, *n) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var scratch []byte
			for next.Add(1) <= int64(*n) && ctx.Err() == nil {
				t0 := time.Now()
				dctx, cancel := context.WithTimeout(ctx, t.dialTimeout)
				c, err := t.dialWS(dctx)
				cancel()
				if err != nil {
					failures.add("dial: " + errorClass(err))
					continue
				}
				deadline := t0.Add(t.dialTimeout)
				if scratch, err = c.readWelcome(deadline, scratch); err != nil {
					failures.add("welcome: " + errorClass(err))
					_ = c.nc.Close()
					continue
				}
				connect.add(time.Since(t0))
				if *closeMode == "ws" {
					err = c.closeGracefully(time.Now().Add(t.dialTimeout), scratch)
				} else {
					err = c.nc.Close()
				}
				if err != nil {
					failures.add("close: " + errorClass(err))
					continue
				}
				cycle.add(time.Since(t0))
				completed.Add(1)
			}
		}()
	}
	workers.Wait()
	res.Seconds = time.Since(start).Seconds()
	stopProgress()

	res.Completed = int(completed.Load())
	res.Failures = failures.snapshot()
	res.Failed = failedCount(&failures)
	if res.Seconds > 0 {
		res.Rate = float64(res.Completed) / res.Seconds
	}
	res.Connect = connect.summary()
	res.Cycle = cycle.summary()
	return writeResult(stdout, t.json, res)
}
