package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// fanout: many connections subscribe to the same query, one writer updates
// the one record it reads, and every subscriber's push is timed against
// the write's ack.
//
// Setup: a bucket and a query {"filter":{"id":"hot"},"fields":["seq"]}
// (names unique per run), the record {"id":"hot","seq":0}; N connections
// each subscribe once. Then the writer updates seq to 1, 2, …, W, one write
// at a time: either spaced by -interval (latency), or back to back for
// -duration (-interval 0: sustained throughput). A push carrying seq w is
// the delivery of write w. Pushes may legally skip intermediate states
// (§3.3: the server coalesces on congested connections), but every
// subscriber must end with the last write's state.

// FanoutResult is the outcome of a fanout run.
type FanoutResult struct {
	Mode        string   `json:"mode"`
	URL         string   `json:"url"`
	Sources     []string `json:"sources,omitempty"`
	Subscribers int      `json:"subscribers"`
	Concurrency int      `json:"concurrency"`
	Bucket      string   `json:"bucket"`
	Query       string   `json:"query"`
	Interval    string   `json:"interval"`
	Requested   int      `json:"writesRequested,omitempty"`
	Duration    string   `json:"duration,omitempty"`

	Connected    int            `json:"connected"`
	Failed       int            `json:"failed"`
	Failures     map[string]int `json:"failures"`
	SetupSeconds float64        `json:"setupSeconds"` // dial + welcome + subscribe, all subscribers

	Writes       int            `json:"writes"` // acknowledged
	WriteErrors  map[string]int `json:"writeErrors"`
	WriteSeconds float64        `json:"writeSeconds"` // first send to last ack
	WriteRate    float64        `json:"writesPerSecond"`
	AckLatency   Summary        `json:"ackLatency"` // write sent to its ack

	// Over all (write, subscriber) pairs whose push arrived.
	AckToPush       Summary `json:"ackToPush"`
	SendToPush      Summary `json:"sendToPush"`
	PushesBeforeAck int64   `json:"pushesBeforeAck"` // counted as 0 in AckToPush
	// Per write: its ack to the last subscriber's push carrying it.
	FanoutSpan Summary `json:"fanoutSpan"`

	Deliveries      int64   `json:"deliveries"`    // pushes carrying a write of this run
	PairsExpected   int64   `json:"pairsExpected"` // connected × writes
	Skipped         int64   `json:"skipped"`       // pairs whose state was never pushed (coalesced)
	AllWrites       int     `json:"subscribersWithEveryWrite"`
	FinalState      int     `json:"subscribersWithFinalState"`
	MissingFinal    int     `json:"subscribersMissingFinalState"`
	FinalWait       float64 `json:"finalWaitSeconds"` // last ack to the last subscriber's final state
	Duplicates      int64   `json:"duplicates"`
	OutOfOrder      int64   `json:"outOfOrder"`
	OtherPushes     int64   `json:"otherPushes"` // pushes that carry no write of this run
	PhaseRate       float64 `json:"deliveriesPerSecondWritePhase"`
	OverallRate     float64 `json:"deliveriesPerSecond"` // all deliveries / first send to last push
	LastPushSeconds float64 `json:"lastPushSeconds"`     // first send to last push

	PingsAnswered    int64          `json:"pingsAnswered"`
	UnexpectedCloses int            `json:"unexpectedCloses"`
	CloseReasons     map[string]int `json:"unexpectedCloseReasons"`
	CleanCloses      int64          `json:"cleanCloses"`

	ClientCPUSeconds float64       `json:"clientCpuSeconds"` // this process, write phase and final wait
	Server           *counterDelta `json:"server,omitempty"` // same span, from /metrics
}

func (r *FanoutResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "mode: %s\n", r.Mode)
	fmt.Fprintf(w, "url: %s\n", r.URL)
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "sources: %d (%s … %s)\n", len(r.Sources), r.Sources[0], r.Sources[len(r.Sources)-1])
	}
	fmt.Fprintf(w, "bucket: %s, query: %s\n", r.Bucket, r.Query)
	fmt.Fprintf(w, "subscribers: %d requested, %d subscribed, %d failed (%s) in %.2fs\n",
		r.Subscribers, r.Connected, r.Failed, formatTally(r.Failures), r.SetupSeconds)
	if r.Duration != "" {
		fmt.Fprintf(w, "writes: %d in %.2fs (%.0f/s), interval %s, for %s\n", r.Writes, r.WriteSeconds, r.WriteRate,
			r.Interval, r.Duration)
	} else {
		fmt.Fprintf(w, "writes: %d of %d in %.2fs (%.0f/s), interval %s\n", r.Writes, r.Requested, r.WriteSeconds,
			r.WriteRate, r.Interval)
	}
	fmt.Fprintf(w, "write errors: %s\n", formatTally(r.WriteErrors))
	fmt.Fprintf(w, "write latency (send to ack): %s\n", r.AckLatency)
	fmt.Fprintf(w, "ack to push: %s\n", r.AckToPush)
	fmt.Fprintf(w, "send to push: %s\n", r.SendToPush)
	fmt.Fprintf(w, "pushes before their ack: %d\n", r.PushesBeforeAck)
	fmt.Fprintf(w, "fan-out span per write (ack to last subscriber): %s\n", r.FanoutSpan)
	fmt.Fprintf(w, "deliveries: %d of %d (write, subscriber) pairs; skipped (coalesced): %d\n",
		r.Deliveries, r.PairsExpected, r.Skipped)
	fmt.Fprintf(w, "subscribers with every write: %d; with the final state: %d; missing it: %d (final state %.3fs after the last ack)\n",
		r.AllWrites, r.FinalState, r.MissingFinal, r.FinalWait)
	fmt.Fprintf(w, "duplicates: %d, out of order: %d, other pushes: %d\n", r.Duplicates, r.OutOfOrder, r.OtherPushes)
	fmt.Fprintf(w, "deliveries/s: %.0f during the write phase, %.0f from first write to last push (%.2fs)\n",
		r.PhaseRate, r.OverallRate, r.LastPushSeconds)
	fmt.Fprintf(w, "client CPU: %.2fs\n", r.ClientCPUSeconds)
	fmt.Fprintf(w, "server: %s\n", r.Server)
	fmt.Fprintf(w, "pings answered: %d\n", r.PingsAnswered)
	fmt.Fprintf(w, "unexpected closes: %d (%s)\n", r.UnexpectedCloses, formatTally(r.CloseReasons))
	fmt.Fprintf(w, "clean closes: %d\n", r.CleanCloses)
}

// arrival is one push: the seq it carried and when (ns since the run's
// epoch).
type arrival struct {
	seq int64
	at  int64
}

// fanSub is one subscriber connection. arr belongs to its reader until the
// reader ends.
type fanSub struct {
	r      *rconn
	arr    []arrival
	maxSeq atomic.Int64
}

// subReaders runs the reading side of many subscriber connections and
// sees their closing handshakes through.
type subReaders struct {
	epoch    time.Time
	stopping atomic.Bool
	wg       sync.WaitGroup
	pushes   atomic.Int64
	pings    atomic.Int64
	clean    atomic.Int64

	unexpected tally
}

func (sr *subReaders) since() int64 { return int64(time.Since(sr.epoch)) }

// loop reads r until it ends; onPush gets every subscription push with its
// arrival time, onAnswer (when not nil) every result or error frame. It
// runs on its own goroutine (sr.wg).
func (sr *subReaders) loop(r *rconn, onPush func(id, data []byte, at int64), onAnswer func(p []byte)) {
	defer sr.wg.Done()
	defer r.c.nc.Close()
	for {
		op, p, err := r.readFrame()
		if err != nil {
			if !sr.stopping.Load() {
				sr.unexpected.add(errorClass(err))
			}
			return
		}
		at := sr.since()
		if op != ws.OpText {
			if op == ws.OpClose && sr.stopping.Load() {
				if drainEOF(r) == nil {
					sr.clean.Add(1)
				}
				return
			}
			if err := r.handleControl(op, p); err != nil {
				sr.unexpected.add(errorClass(err))
				return
			}
			continue
		}
		switch classify(p) {
		case classPush:
			if id, data, ok := parsePush(p); ok {
				sr.pushes.Add(1)
				onPush(id, data, at)
			}
		case classPing:
			if err := r.answerPing(p); err != nil && !errors.Is(err, errCloseSent) {
				sr.unexpected.add("pong write: " + errorClass(err))
				return
			}
			sr.pings.Add(1)
		case classAnswer:
			if onAnswer != nil {
				onAnswer(p)
			}
		}
	}
}

// drainEOF reads until the server's end of stream after its close frame.
func drainEOF(r *rconn) error {
	var buf [64]byte
	for {
		if _, err := r.br.Read(buf[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// closeAll sends every connection its close frame; the readers see the
// answers through. Bounded by timeout.
func (sr *subReaders) closeAll(conns []*rconn, timeout time.Duration, stderr io.Writer, name string) {
	sr.stopping.Store(true)
	deadline := time.Now().Add(timeout)
	for _, r := range conns {
		_ = r.c.nc.SetDeadline(deadline)
		if err := r.c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil &&
			!errors.Is(err, errCloseSent) {
			_ = r.c.nc.Close()
		}
	}
	done := make(chan struct{})
	go func() { sr.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout + 5*time.Second):
		fmt.Fprintf(stderr, "noex-bench %s: some connections did not close in time\n", name)
		for _, r := range conns {
			_ = r.c.nc.Close()
		}
		<-done
	}
}

func runFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.register(fs)
	subscribers := fs.Int("subscribers", 10000, "subscriber `connections`, one subscription each (at most ~19,900 per process)")
	concurrency := fs.Int("concurrency", 200, "dials (and subscribes) in flight at once")
	writes := fs.Int("writes", 50, "number of updates (ignored when -duration is set)")
	interval := fs.Duration("interval", 100*time.Millisecond, "time between the starts of two writes; 0: the next write as soon as the previous one is acknowledged")
	duration := fs.Duration("duration", 0, "write for this long instead of -writes updates (sustained throughput)")
	settle := fs.Duration("settle", 10*time.Second, "after the last ack, how long to wait for every subscriber's final state")
	requestTimeout := fs.Duration("request-timeout", 10*time.Second, "bound on one request (setup, subscribe, write)")
	closeTimeout := fs.Duration("close-timeout", 10*time.Second, "bound on the closing handshakes at the end")
	names := fs.String("name", "", "bucket and query `name` (default: fanout_<unique>)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := t.validate(ctx); err != nil {
		return err
	}
	if *subscribers <= 0 || *concurrency <= 0 || *interval < 0 || *duration < 0 || *settle < 0 ||
		*requestTimeout <= 0 || *closeTimeout <= 0 || (*duration == 0 && *writes <= 0) {
		return errors.New("-subscribers, -concurrency, -writes (or -duration) and the timeouts must be positive")
	}
	warnFileLimit(stderr, *subscribers+1)
	name := *names
	if name == "" {
		name = "fanout_" + runSuffix()
	}
	res := &FanoutResult{Mode: "fanout", URL: t.url.String(), Sources: t.sourceList(), Subscribers: *subscribers,
		Concurrency: *concurrency, Bucket: name, Query: name, Interval: interval.String()}
	if *duration > 0 {
		res.Duration = duration.String()
	} else {
		res.Requested = *writes
	}

	// The writer connection defines the bucket, the query and the record.
	writer, err := t.dialRConn(ctx)
	if err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	defer writer.c.nc.Close()
	steps := []struct {
		typ    string
		fields map[string]any
	}{
		{"store.defineBucket", map[string]any{"name": name, "config": map[string]any{
			"key": "id", "schema": map[string]any{"id": map[string]any{"type": "string"}, "seq": map[string]any{"type": "number"}}}}},
		{"store.defineQuery", map[string]any{"name": name, "config": map[string]any{
			"bucket": name, "filter": map[string]any{"id": "hot"}, "fields": []string{"seq"}}}},
		{"store.insert", map[string]any{"bucket": name, "data": map[string]any{"id": "hot", "seq": 0}}},
	}
	for _, s := range steps {
		if _, err := writer.call(s.typ, s.fields, *requestTimeout); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}

	// Subscribers.
	sr := &subReaders{epoch: time.Now()}
	subs := make([]*fanSub, *subscribers)
	var failures tally
	var setupOther atomic.Int64
	stopProgress := sync.OnceFunc(t.progress(stderr, "fanout", func() string {
		return fmt.Sprintf("pushes=%d failed=%d", sr.pushes.Load(), failedCount(&failures))
	}))
	defer stopProgress()
	setupStart := time.Now()
	subscribe := fmt.Sprintf(`{"id":1,"type":"store.subscribe","query":%q}`, name)
	t.dialMany(ctx, *subscribers, *concurrency, &failures, func(i int, r *rconn) error {
		r.nextID = 1
		if err := r.c.writeText([]byte(subscribe)); err != nil {
			return err
		}
		data, err := r.await(1, time.Now().Add(*requestTimeout), func([]byte) { setupOther.Add(1) })
		if err != nil {
			return err
		}
		var sres subscribeResult
		if err := json.Unmarshal(data, &sres); err != nil || sres.SubscriptionID == "" {
			return fmt.Errorf("subscribe result %.80q", data)
		}
		if seqOf(sres.Data) != 0 {
			return fmt.Errorf("initial data %.80q, want seq 0", sres.Data)
		}
		s := &fanSub{r: r}
		s.arr = make([]arrival, 0, 16)
		subs[i] = s
		sr.wg.Add(1)
		go sr.loop(r, func(_, data []byte, at int64) {
			seq := seqOf(data)
			s.arr = append(s.arr, arrival{seq: seq, at: at})
			if seq > s.maxSeq.Load() {
				s.maxSeq.Store(seq)
			}
		}, nil)
		return nil
	})
	res.SetupSeconds = time.Since(setupStart).Seconds()
	subs = slices.DeleteFunc(subs, func(s *fanSub) bool { return s == nil })
	conns := make([]*rconn, len(subs))
	for i, s := range subs {
		conns[i] = s.r
	}
	res.Connected = len(subs)
	res.Failures = failures.snapshot()
	res.Failed = failedCount(&failures)
	fmt.Fprintf(stderr, "noex-bench fanout: %d subscribed, %d failed in %.2fs; writing\n",
		res.Connected, res.Failed, res.SetupSeconds)

	// Writes, one at a time.
	before := t.fetchCounters(ctx)
	cpu0 := cpuClock()
	var sendAt, ackAt []int64 // index: seq (1-based; [0] unused)
	sendAt, ackAt = append(sendAt, 0), append(ackAt, 0)
	var writeErrs tally
	var ackLat latencies
	writeStart := time.Now()
	for seq := int64(1); ctx.Err() == nil; seq++ {
		if *duration > 0 {
			if time.Since(writeStart) >= *duration {
				break
			}
		} else if seq > int64(*writes) {
			break
		}
		if *interval > 0 {
			if d := time.Until(writeStart.Add(time.Duration(seq-1) * *interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		sent := sr.since()
		id, err := writer.send("store.update", map[string]any{"bucket": name, "key": "hot", "data": map[string]any{"seq": seq}})
		if err == nil {
			_, err = writer.await(id, time.Now().Add(*requestTimeout), nil)
		}
		if err != nil {
			writeErrs.add(errorClass(err))
			break // the record's seq is no longer known
		}
		acked := sr.since()
		sendAt, ackAt = append(sendAt, sent), append(ackAt, acked)
		ackLat.add(time.Duration(acked - sent))
	}
	last := int64(len(ackAt) - 1)
	res.Writes = int(last)
	res.WriteErrors = writeErrs.snapshot()
	res.AckLatency = ackLat.summary()
	if last > 0 {
		res.WriteSeconds = float64(ackAt[last]-sendAt[1]) / 1e9
		if res.WriteSeconds > 0 {
			res.WriteRate = float64(last) / res.WriteSeconds
		}
	}

	// Every subscriber must reach the last write's state.
	if last > 0 {
		waitEnd := time.Now().Add(*settle)
		for {
			n := 0
			for _, s := range subs {
				if s.maxSeq.Load() >= last {
					n++
				}
			}
			res.FinalState = n
			if n == len(subs) || time.Now().After(waitEnd) || ctx.Err() != nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		res.FinalWait = float64(sr.since()-ackAt[last]) / 1e9
	} else {
		res.FinalState = len(subs)
	}
	res.MissingFinal = len(subs) - res.FinalState
	res.ClientCPUSeconds = (cpuClock() - cpu0).Seconds()
	res.Server = before.delta(t.fetchCounters(ctx))

	sr.closeAll(conns, *closeTimeout, stderr, "fanout")
	_ = writer.closeGracefully(time.Now().Add(*closeTimeout))
	stopProgress()

	// Figures over all (write, subscriber) pairs.
	var ackToPush, sendToPush, span latencies
	lastAt := make([]int64, last+1) // per write: its latest arrival
	var firstSend, lastPush int64
	if last > 0 {
		firstSend = sendAt[1]
	}
	var phase int64
	for _, s := range subs {
		prev, distinct := int64(0), int64(0)
		for _, a := range s.arr {
			switch {
			case a.seq < 1 || a.seq > last:
				res.OtherPushes++
				continue
			case a.seq == prev:
				res.Duplicates++
				continue
			case a.seq < prev:
				res.OutOfOrder++
				continue
			}
			prev = a.seq
			distinct++
			res.Deliveries++
			d := a.at - ackAt[a.seq]
			if d < 0 {
				res.PushesBeforeAck++
				d = 0
			}
			ackToPush.add(time.Duration(d))
			sendToPush.add(time.Duration(a.at - sendAt[a.seq]))
			lastAt[a.seq] = max(lastAt[a.seq], a.at)
			lastPush = max(lastPush, a.at)
			if a.at <= ackAt[last] {
				phase++
			}
		}
		if last > 0 && distinct == last {
			res.AllWrites++
		}
	}
	for seq := int64(1); seq <= last; seq++ {
		if lastAt[seq] > 0 {
			span.add(time.Duration(max(lastAt[seq]-ackAt[seq], 0)))
		}
	}
	res.AckToPush = ackToPush.summary()
	res.SendToPush = sendToPush.summary()
	res.FanoutSpan = span.summary()
	res.PairsExpected = int64(len(subs)) * last
	res.Skipped = res.PairsExpected - res.Deliveries
	if last > 0 && ackAt[last] > firstSend {
		res.PhaseRate = float64(phase) / (float64(ackAt[last]-firstSend) / 1e9)
	}
	if lastPush > firstSend {
		res.LastPushSeconds = float64(lastPush-firstSend) / 1e9
		res.OverallRate = float64(res.Deliveries) / res.LastPushSeconds
	}
	res.PingsAnswered = sr.pings.Load()
	res.CloseReasons = sr.unexpected.snapshot()
	for _, v := range res.CloseReasons {
		res.UnexpectedCloses += v
	}
	res.CleanCloses = sr.clean.Load()
	res.OtherPushes += setupOther.Load()
	return writeResult(stdout, t.json, res)
}
