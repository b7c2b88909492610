package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// subs (alias: params): many subscriptions to one parametrised query, each
// with its own params, and writes that concern exactly one of them: what
// one targeted write costs when C connections hold M subscriptions each.
//
// Setup: a bucket indexed on "owner" and a query
// {"filter":{"owner":"{{ params.owner }}"},"fields":["seq"]}; C connections
// each hold P subscriptions with distinct owners (o000000, o000001, …).
// Then, W times, the writer inserts (first time) or updates the record
// r-<owner> of a random owner with seq = w, and the one push that write
// causes is timed against the write's ack. Every other push is stray.
//
// With -pause the run stops after the connections are open and again after
// the subscriptions are made (printing "phase connected" / "phase
// subscribed" to stderr), for -pause or until SIGUSR1, so that a script can
// read the server's memory at both points.

// SubsResult is the outcome of a subs run.
type SubsResult struct {
	Mode          string   `json:"mode"`
	URL           string   `json:"url"`
	Sources       []string `json:"sources,omitempty"`
	Requested     int      `json:"subscriptionsRequested"`
	PerConnection int      `json:"perConnection"`
	Concurrency   int      `json:"concurrency"`
	Bucket        string   `json:"bucket"`
	Query         string   `json:"query"`

	Connections   int            `json:"connections"`
	DialFailed    int            `json:"dialFailed"`
	DialFailures  map[string]int `json:"dialFailures"`
	DialSeconds   float64        `json:"dialSeconds"`
	Subscriptions int            `json:"subscriptions"`
	SubFailed     int            `json:"subscribeFailed"`
	SubFailures   map[string]int `json:"subscribeFailures"`
	SubSeconds    float64        `json:"subscribeSeconds"`
	SubRate       float64        `json:"subscriptionsPerSecond"`

	Writes          int            `json:"writes"`
	Inserts         int            `json:"inserts"`
	Updates         int            `json:"updates"`
	WriteErrors     map[string]int `json:"writeErrors"`
	AckLatency      Summary        `json:"ackLatency"` // write sent to its ack
	AckToPush       Summary        `json:"ackToPush"`
	SendToPush      Summary        `json:"sendToPush"`
	PushesBeforeAck int            `json:"pushesBeforeAck"` // counted as 0 in AckToPush
	Matched         int            `json:"matchedPushes"`   // writes whose push arrived on the right subscription
	Missing         int            `json:"missingPushes"`   // writes whose push did not arrive within -push-timeout
	Stray           int64          `json:"strayPushes"`     // pushes on a subscription the write did not concern
	Duplicates      int64          `json:"duplicatePushes"`
	TotalPushes     int64          `json:"totalPushes"`

	// Server heap in use (go_memstats_heap_inuse_bytes, garbage included)
	// per subscription between the "connected" and "subscribed" phases.
	HeapPerSub float64 `json:"serverHeapInuseBytesPerSubscription,omitempty"`

	PingsAnswered    int64          `json:"pingsAnswered"`
	UnexpectedCloses int            `json:"unexpectedCloses"`
	CloseReasons     map[string]int `json:"unexpectedCloseReasons"`
	CleanCloses      int64          `json:"cleanCloses"`
	Server           *counterDelta  `json:"server,omitempty"` // write phase, from /metrics
}

func (r *SubsResult) writeText(w io.Writer) {
	fmt.Fprintf(w, "mode: %s\n", r.Mode)
	fmt.Fprintf(w, "url: %s\n", r.URL)
	if len(r.Sources) > 0 {
		fmt.Fprintf(w, "sources: %d (%s … %s)\n", len(r.Sources), r.Sources[0], r.Sources[len(r.Sources)-1])
	}
	fmt.Fprintf(w, "bucket: %s, query: %s\n", r.Bucket, r.Query)
	fmt.Fprintf(w, "connections: %d, %d failed (%s) in %.2fs\n", r.Connections, r.DialFailed,
		formatTally(r.DialFailures), r.DialSeconds)
	fmt.Fprintf(w, "subscriptions: %d of %d (%d per connection), %d failed (%s) in %.2fs (%.0f/s)\n",
		r.Subscriptions, r.Requested, r.PerConnection, r.SubFailed, formatTally(r.SubFailures), r.SubSeconds, r.SubRate)
	if r.HeapPerSub != 0 {
		fmt.Fprintf(w, "server heap in use per subscription (/metrics, garbage included): %.0f B\n", r.HeapPerSub)
	}
	fmt.Fprintf(w, "writes: %d (%d inserts, %d updates), errors: %s\n", r.Writes, r.Inserts, r.Updates,
		formatTally(r.WriteErrors))
	fmt.Fprintf(w, "write latency (send to ack): %s\n", r.AckLatency)
	fmt.Fprintf(w, "ack to push: %s\n", r.AckToPush)
	fmt.Fprintf(w, "send to push: %s\n", r.SendToPush)
	fmt.Fprintf(w, "pushes before their ack: %d\n", r.PushesBeforeAck)
	fmt.Fprintf(w, "pushes: %d matched, %d missing, %d stray, %d duplicate (%d received in all)\n",
		r.Matched, r.Missing, r.Stray, r.Duplicates, r.TotalPushes)
	fmt.Fprintf(w, "server: %s\n", r.Server)
	fmt.Fprintf(w, "pings answered: %d\n", r.PingsAnswered)
	fmt.Fprintf(w, "unexpected closes: %d (%s)\n", r.UnexpectedCloses, formatTally(r.CloseReasons))
	fmt.Fprintf(w, "clean closes: %d\n", r.CleanCloses)
}

// paramConn is one connection with its subscriptions. Everything but
// setupDone belongs to its reader.
type paramConn struct {
	r         *rconn
	base, n   int // owners base … base+n-1
	byID      map[string]int32
	answered  int
	setupDone chan struct{}
}

// paramArrival is a push that matched a write.
type paramArrival struct {
	seq int64
	at  int64
}

type paramsRun struct {
	sr         *subReaders
	writeOwner []atomic.Int32 // by seq; -1 before the write is sent
	matched    []atomic.Bool  // by seq
	got        chan paramArrival
	stray      atomic.Int64
	dups       atomic.Int64
	subscribed atomic.Int64
	subFails   tally

	ownersMu sync.Mutex
	owners   []int32 // owners whose subscription was made
}

// onAnswer handles a subscribe answer on the connection's reader.
func (pr *paramsRun) onAnswer(pc *paramConn, p []byte) {
	var a answer
	if json.Unmarshal(p, &a) != nil || a.ID == nil || *a.ID < 1 || *a.ID > int64(pc.n) {
		pr.subFails.add("unexpected answer")
		return
	}
	owner := int32(pc.base + int(*a.ID) - 1)
	if a.Type == "error" {
		pr.subFails.add(a.Code + ": " + a.Message)
	} else {
		var sres subscribeResult
		if json.Unmarshal(a.Data, &sres) != nil || sres.SubscriptionID == "" {
			pr.subFails.add("bad subscribe result")
		} else {
			pc.byID[sres.SubscriptionID] = owner
			pr.subscribed.Add(1)
			pr.ownersMu.Lock()
			pr.owners = append(pr.owners, owner)
			pr.ownersMu.Unlock()
		}
	}
	pc.answered++
	if pc.answered == pc.n {
		close(pc.setupDone)
	}
}

func (pr *paramsRun) onPush(pc *paramConn, id, data []byte, at int64) {
	owner, ok := pc.byID[string(id)]
	seq := seqOf(data)
	if !ok || seq < 1 || seq >= int64(len(pr.writeOwner)) || pr.writeOwner[seq].Load() != owner {
		pr.stray.Add(1)
		return
	}
	if pr.matched[seq].Swap(true) {
		pr.dups.Add(1)
		return
	}
	select {
	case pr.got <- paramArrival{seq: seq, at: at}:
	default:
	}
}

// loop is the reader of one connection: subscribe answers, pushes, pings.
func (pr *paramsRun) loop(pc *paramConn) {
	pr.sr.loop(pc.r,
		func(id, data []byte, at int64) { pr.onPush(pc, id, data, at) },
		func(p []byte) { pr.onAnswer(pc, p) })
}

// pausePhase announces a phase on stderr and waits for d, SIGUSR1 or the
// end of ctx.
func pausePhase(ctx context.Context, stderr io.Writer, mode string, d time.Duration, usr1 <-chan os.Signal, what string) {
	fmt.Fprintf(stderr, "noex-bench %s: phase %s\n", mode, what)
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-usr1:
	case <-ctx.Done():
	}
}

func runSubs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubsAs(ctx, "subs", args, stdout, stderr)
}

// runParams is the subs mode under its former name; it reports itself as
// "params" so that older scripts see what they asked for.
func runParams(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubsAs(ctx, "params", args, stdout, stderr)
}

func runSubsAs(ctx context.Context, mode string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.register(fs)
	total := fs.Int("subscriptions", 100000, "subscriptions in all, each with its own owner "+
		"(the server's connectionLimits.maxTotalSubscriptions must allow them)")
	per := fs.Int("per-connection", 100, "subscriptions per connection (the server's maxSubscriptionsPerConnection must allow them)")
	nconnsFlag := fs.Int("conns", 0, "`connections` holding the subscriptions: when set, -subscriptions is conns × per-connection")
	concurrency := fs.Int("concurrency", 100, "dials, and connections subscribing, at once")
	writes := fs.Int("writes", 200, "number of writes, each to the record of one random owner")
	interval := fs.Duration("interval", 10*time.Millisecond, "pause after each write's push before the next write")
	pushTimeout := fs.Duration("push-timeout", 2*time.Second, "how long to wait for the push a write causes")
	quiet := fs.Duration("quiet", 500*time.Millisecond, "after the last write, how long to keep watching for stray pushes")
	pause := fs.Duration("pause", 0, "stop this long (or until SIGUSR1) after the connections are open and after the subscriptions are made")
	seed := fs.Uint64("seed", 1, "seed of the owner choice")
	hot := fs.Int("hot-owners", 0, "write only to this many owners (chosen by -seed), so that most writes are updates; 0: any owner")
	requestTimeout := fs.Duration("request-timeout", 30*time.Second, "bound on one request, and on one connection's subscribes")
	closeTimeout := fs.Duration("close-timeout", 10*time.Second, "bound on the closing handshakes at the end")
	names := fs.String("name", "", "bucket and query `name` (default: subs_<unique>)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := t.validate(ctx); err != nil {
		return err
	}
	if *nconnsFlag > 0 && *per > 0 {
		*total = *nconnsFlag * *per
	}
	if *nconnsFlag < 0 || *total <= 0 || *per <= 0 || *concurrency <= 0 || *writes <= 0 || *interval < 0 || *pushTimeout <= 0 ||
		*quiet < 0 || *pause < 0 || *hot < 0 || *requestTimeout <= 0 || *closeTimeout <= 0 {
		return errors.New("-subscriptions, -per-connection, -concurrency, -writes and the timeouts must be positive")
	}
	nconns := (*total + *per - 1) / *per
	warnFileLimit(stderr, nconns+1)
	name := *names
	if name == "" {
		name = "subs_" + runSuffix()
	}
	var usr1 chan os.Signal
	if *pause > 0 {
		usr1 = make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
	}
	res := &SubsResult{Mode: mode, URL: t.url.String(), Sources: t.sourceList(), Requested: *total,
		PerConnection: *per, Concurrency: *concurrency, Bucket: name, Query: name}
	owner := func(i int) string { return fmt.Sprintf("o%06d", i) }

	writer, err := t.dialRConn(ctx)
	if err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	defer writer.c.nc.Close()
	if _, err := writer.call("store.defineBucket", map[string]any{"name": name, "config": map[string]any{
		"key": "id", "indexes": []string{"owner"}, "schema": map[string]any{
			"id": map[string]any{"type": "string"}, "owner": map[string]any{"type": "string"},
			"seq": map[string]any{"type": "number"}}}}, *requestTimeout); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if _, err := writer.call("store.defineQuery", map[string]any{"name": name, "config": map[string]any{
		"bucket": name, "filter": map[string]any{"owner": "{{ params.owner }}"}, "fields": []string{"seq"}}},
		*requestTimeout); err != nil {
		return fmt.Errorf("setup: %w", err)
	}

	pr := &paramsRun{sr: &subReaders{epoch: time.Now()}, writeOwner: make([]atomic.Int32, *writes+1),
		matched: make([]atomic.Bool, *writes+1), got: make(chan paramArrival, *writes+16)}
	for i := range pr.writeOwner {
		pr.writeOwner[i].Store(-1)
	}
	sr := pr.sr
	stopProgress := sync.OnceFunc(t.progress(stderr, mode, func() string {
		return fmt.Sprintf("subscribed=%d pushes=%d stray=%d", pr.subscribed.Load(), sr.pushes.Load(), pr.stray.Load())
	}))
	defer stopProgress()

	// Phase 1: connections, each with its reader.
	pcs := make([]*paramConn, nconns)
	var dialFails tally
	dialStart := time.Now()
	t.dialMany(ctx, nconns, *concurrency, &dialFails, func(i int, r *rconn) error {
		n := min(*per, *total-i**per)
		pc := &paramConn{r: r, base: i * *per, n: n, byID: make(map[string]int32, n), setupDone: make(chan struct{})}
		pcs[i] = pc
		sr.wg.Add(1)
		go pr.loop(pc)
		return nil
	})
	res.DialSeconds = time.Since(dialStart).Seconds()
	res.DialFailures = dialFails.snapshot()
	res.DialFailed = failedCount(&dialFails)
	var conns []*rconn
	var live []*paramConn
	for _, pc := range pcs {
		if pc != nil {
			live = append(live, pc)
			conns = append(conns, pc.r)
		}
	}
	res.Connections = len(live)
	connected := t.fetchCounters(ctx)
	pausePhase(ctx, stderr, mode, *pause, usr1, fmt.Sprintf("connected: %d connections", len(live)))

	// Phase 2: every connection sends its subscribes back to back, then
	// waits for all their answers.
	subStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(*concurrency, len(live)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(live) || ctx.Err() != nil {
					return
				}
				pc := live[i]
				var err error
				for k := 1; k <= pc.n && err == nil; k++ {
					err = pc.r.c.writeText(fmt.Appendf(nil,
						`{"id":%d,"type":"store.subscribe","query":%q,"params":{"owner":%q}}`, k, name, owner(pc.base+k-1)))
				}
				if err != nil {
					pr.subFails.add("send: " + errorClass(err))
					continue
				}
				select {
				case <-pc.setupDone:
				case <-time.After(*requestTimeout):
					pr.subFails.add("timeout")
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
	res.SubSeconds = time.Since(subStart).Seconds()
	res.Subscriptions = int(pr.subscribed.Load())
	res.SubFailures = pr.subFails.snapshot()
	res.SubFailed = failedCount(&pr.subFails)
	if res.SubSeconds > 0 {
		res.SubRate = float64(res.Subscriptions) / res.SubSeconds
	}
	subscribedCounters := t.fetchCounters(ctx)
	if connected.OK && subscribedCounters.OK && res.Subscriptions > 0 {
		res.HeapPerSub = (subscribedCounters.HeapInuse - connected.HeapInuse) / float64(res.Subscriptions)
	}
	fmt.Fprintf(stderr, "noex-bench %s: %d subscriptions on %d connections in %.2fs\n", mode,
		res.Subscriptions, len(live), res.SubSeconds)
	pausePhase(ctx, stderr, mode, *pause, usr1, fmt.Sprintf("subscribed: %d subscriptions", res.Subscriptions))

	// Phase 3: writes, each waiting for its push. Only owners whose
	// subscription was made are written.
	pr.ownersMu.Lock()
	owners := slices.Clone(pr.owners)
	pr.ownersMu.Unlock()
	slices.Sort(owners) // answers arrive in any order; the choice depends on the seed only
	rng := rand.New(rand.NewPCG(*seed, 0x6e6f6578))
	if *hot > 0 && *hot < len(owners) {
		rng.Shuffle(len(owners), func(i, j int) { owners[i], owners[j] = owners[j], owners[i] })
		owners = owners[:*hot]
	}
	before := t.fetchCounters(ctx)
	hasRecord := make(map[int32]bool)
	var ackLat, ackToPush, sendToPush latencies
	var writeErrs tally
	for seq := int64(1); seq <= int64(*writes) && len(owners) > 0 && ctx.Err() == nil; seq++ {
		o := owners[rng.IntN(len(owners))]
		pr.writeOwner[seq].Store(o)
		key := "r-" + owner(int(o))
		var typ string
		var fields map[string]any
		if hasRecord[o] {
			typ, fields = "store.update", map[string]any{"bucket": name, "key": key, "data": map[string]any{"seq": seq}}
			res.Updates++
		} else {
			typ, fields = "store.insert", map[string]any{"bucket": name,
				"data": map[string]any{"id": key, "owner": owner(int(o)), "seq": seq}}
			res.Inserts++
		}
		sent := sr.since()
		id, err := writer.send(typ, fields)
		if err == nil {
			_, err = writer.await(id, time.Now().Add(*requestTimeout), nil)
		}
		if err != nil {
			writeErrs.add(errorClass(err))
			continue
		}
		acked := sr.since()
		hasRecord[o] = true
		res.Writes++
		ackLat.add(time.Duration(acked - sent))
		timeout := time.NewTimer(*pushTimeout)
	wait:
		for {
			select {
			case a := <-pr.got:
				if a.seq != seq {
					continue // a late push of an earlier write
				}
				d := a.at - acked
				if d < 0 {
					res.PushesBeforeAck++
					d = 0
				}
				ackToPush.add(time.Duration(d))
				sendToPush.add(time.Duration(a.at - sent))
				res.Matched++
				break wait
			case <-timeout.C:
				res.Missing++
				break wait
			case <-ctx.Done():
				break wait
			}
		}
		timeout.Stop()
		if *interval > 0 {
			time.Sleep(*interval)
		}
	}
	if *quiet > 0 {
		time.Sleep(*quiet)
	}
	res.Server = before.delta(t.fetchCounters(ctx))
	res.WriteErrors = writeErrs.snapshot()
	res.AckLatency = ackLat.summary()
	res.AckToPush = ackToPush.summary()
	res.SendToPush = sendToPush.summary()

	sr.closeAll(conns, *closeTimeout, stderr, mode)
	_ = writer.closeGracefully(time.Now().Add(*closeTimeout))
	stopProgress()
	res.Stray = pr.stray.Load()
	res.Duplicates = pr.dups.Load()
	res.TotalPushes = sr.pushes.Load()
	res.PingsAnswered = sr.pings.Load()
	res.CloseReasons = sr.unexpected.snapshot()
	for _, v := range res.CloseReasons {
		res.UnexpectedCloses += v
	}
	res.CleanCloses = sr.clean.Load()
	return writeResult(stdout, t.json, res)
}
