package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/noex-go/noex"
)

// checkSummary fails unless s has count samples (any when count < 0) in
// order: min ≤ p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max, mean within [min, max].
func checkSummary(t *testing.T, what string, s Summary, count int) {
	t.Helper()
	if count >= 0 && s.Count != count {
		t.Errorf("%s: %d samples, want %d", what, s.Count, count)
	}
	if s.Count == 0 {
		t.Errorf("%s: no samples", what)
		return
	}
	if !(0 <= s.MinMs && s.MinMs <= s.P50Ms && s.P50Ms <= s.P90Ms && s.P90Ms <= s.P99Ms && s.P99Ms <= s.P999 &&
		s.P999 <= s.MaxMs && s.MinMs <= s.MeanMs && s.MeanMs <= s.MaxMs) {
		t.Errorf("%s: figures out of order: %+v", what, s)
	}
	if s.MaxMs > 10_000 {
		t.Errorf("%s: max %.3f ms, implausible on loopback", what, s.MaxMs)
	}
}

func TestRRMix(t *testing.T) {
	url := startStoreServer(t, 1000)
	var out, errOut bytes.Buffer
	args := []string{"rr", "-url", url, "-conns", "4", "-inflight", "4", "-records", "200", "-duration", "700ms",
		"-warmup", "100ms", "-progress", "200ms", "-sources", "127.0.0.1,127.0.0.2", "-json"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "noex-bench rr: load ") {
		t.Errorf("no progress line on stderr:\n%s", errOut.String())
	}
	var res RRResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Mode != "rr" || res.Mix != defaultMix || res.Connected != 4 || res.DialFailed != 0 || res.PopulateErrors != nil {
		t.Fatalf("mode %q mix %q, connected %d, dial failed %d, populate errors %v", res.Mode, res.Mix, res.Connected,
			res.DialFailed, res.PopulateErrors)
	}
	if res.Requests < 100 || res.Errors != 0 || res.ErrorCodes != nil || res.OutsideErrorCodes != nil {
		t.Fatalf("requests %d, errors %d (%v; outside the window %v)", res.Requests, res.Errors, res.ErrorCodes,
			res.OutsideErrorCodes)
	}
	if res.Seconds < 0.69 || res.Seconds > 0.71 || res.Throughput <= 0 || res.OutsideAnswers == 0 {
		t.Fatalf("window %.3fs, %.0f/s, %d answers outside the window", res.Seconds, res.Throughput, res.OutsideAnswers)
	}
	checkSummary(t, "latency", res.Latency, int(res.Requests))
	var sum int64
	for _, name := range opNames {
		o := res.Ops[name]
		if o == nil || o.Requests == 0 || o.Errors != 0 {
			t.Fatalf("op %s: %+v", name, o)
		}
		checkSummary(t, name, o.Latency, int(o.Requests))
		sum += o.Requests
	}
	if sum != res.Requests {
		t.Fatalf("ops add up to %d, want %d", sum, res.Requests)
	}
	if res.CleanCloses != 4 || res.UnexpectedCloses != 0 || res.Timeouts != 0 || res.Unanswered != 0 {
		t.Fatalf("clean closes %d, unexpected %d (%v), timeouts %d, unanswered %d", res.CleanCloses,
			res.UnexpectedCloses, res.CloseReasons, res.Timeouts, res.Unanswered)
	}
	if res.Server == nil || res.Server.CPUSeconds <= 0 {
		t.Fatalf("server counters %v", res.Server)
	}
}

// Updates and deletes only touch a connection's own records, so a mix of
// them alone never fails; text output names every op of the mix.
func TestRRWritesOnlyText(t *testing.T) {
	url := startStoreServer(t, 1000)
	var out, errOut bytes.Buffer
	args := []string{"rr", "-url", url, "-conns", "3", "-inflight", "16", "-records", "50", "-mix", "update=1,delete=1",
		"-duration", "400ms", "-value-bytes", "300"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{"mode: rr\n", "mix update=1,delete=1\n", "errors: 0 (none)", "\n  update ",
		"\n  delete ", "clean closes: 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "  get ") {
		t.Errorf("get reported though not in the mix:\n%s", text)
	}
}

// Error answers are counted by protocol code.
func TestRRCountsErrorCodes(t *testing.T) {
	url := startStoreServerWith(t, func(cfg *noex.Config) {
		// Setup and fill (1 + 100 requests) fit; the load soon runs out.
		cfg.RateLimit = &noex.RateLimit{MaxRequests: 300, Window: time.Minute}
	})
	var res RRResult
	runJSON(t, &res, "rr", "-url", url, "-conns", "2", "-records", "100", "-duration", "300ms", "-mix", "get=1",
		"-progress", "0", "-json")
	if res.PopulateErrors != nil || res.Requests <= res.Errors || res.Errors == 0 {
		t.Fatalf("populate errors %v, requests %d, errors %d", res.PopulateErrors, res.Requests, res.Errors)
	}
	if len(res.ErrorCodes) != 1 || res.ErrorCodes["RATE_LIMITED"] != res.Errors || res.Ops["get"].Errors != res.Errors {
		t.Fatalf("error codes %v, get errors %d, want all %d RATE_LIMITED", res.ErrorCodes, res.Ops["get"].Errors, res.Errors)
	}
	checkSummary(t, "latency", res.Latency, int(res.Requests))
}

func TestRRRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"rr", "-url", "ws://10.0.0.1:8080/"},
		{"rr", "-url", "ws://127.0.0.1:1/", "-mix", "get=1,scan=2"},
		{"rr", "-url", "ws://127.0.0.1:1/", "-mix", "get=0"},
		{"rr", "-url", "ws://127.0.0.1:1/", "-inflight", "0"},
		{"rr", "-url", "ws://127.0.0.1:1/", "-duration", "0s"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code == 0 {
			t.Errorf("%v: exit 0, want a refusal", args)
		}
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix(" get=5, where=0,delete=2 ")
	if err != nil || m != (opMix{opGet: 5, opDelete: 2}) || m.String() != "get=5,delete=2" || m.sum() != 7 {
		t.Fatalf("got %v %q %v", m, m.String(), err)
	}
	for x, want := range []rrOp{opGet, opGet, opGet, opGet, opGet, opDelete, opDelete} {
		if got := m.pick(x); got != want {
			t.Errorf("pick(%d) = %s, want %s", x, opNames[got], opNames[want])
		}
	}
	for _, bad := range []string{"", "get", "get=x", "get=-1", "scan=1", "get=1,get=2", "get=0,update=0"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		in    string
		id    int64
		code  string
		isErr bool
		ok    bool
	}{
		{`{"id":17,"type":"result","data":{"id":"r1"}}`, 17, "", false, true},
		{`{"id":3,"type":"result"}`, 3, "", false, true},
		{`{"id":9,"type":"error","code":"RATE_LIMITED","message":"x"}`, 9, "RATE_LIMITED", true, true},
		{`{"id":9,"type":"resultx"}`, 0, "", false, false},
		{`{"id":-1,"type":"result"}`, 0, "", false, false},
		{`{"type":"ping","timestamp":1}`, 0, "", false, false},
		{`{"id":1.5,"type":"result"}`, 0, "", false, false},
	} {
		id, code, isErr, ok := parseAnswer([]byte(tc.in))
		if id != tc.id || string(code) != tc.code || isErr != tc.isErr || ok != tc.ok {
			t.Errorf("%s: got %d %q %v %v", tc.in, id, code, isErr, ok)
		}
	}
	for k, want := range map[int64]string{0: `"r00000000"`, 42: `"r00000042"`, 123456789: `"r123456789"`} {
		if got := string(appendKey(nil, k)); got != want {
			t.Errorf("appendKey(%d) = %s, want %s", k, got, want)
		}
	}
}

// The request path allocates nothing per request once its buffers have
// grown.
func TestRRBuildsRequestsWithoutAllocating(t *testing.T) {
	mix, _ := parseMix(defaultMix)
	run := &rrRun{conns: 1, inflight: 8, records: 100, groups: 10, mix: mix, mixSum: mix.sum(),
		bucket: []byte(`"b"`), value: []byte(`"vvvv"`)}
	c := newRRConn(run, 0, &rconn{}, 1)
	step := func() {
		for c.inflight < run.inflight {
			c.sendNext()
		}
		for id := c.unsent; id <= c.nextID; id++ {
			c.ring[id&c.mask].id = 0
		}
		c.unsent, c.inflight, c.out = c.nextID+1, 0, c.out[:0]
		// Keep the key sets from growing without bound.
		if len(c.absent) > 64 {
			c.absent = c.absent[:0]
		}
	}
	for range 100 {
		step()
	}
	if n := testing.AllocsPerRun(200, step); n > 0.5 {
		t.Fatalf("%.1f allocations per %d requests", n, run.inflight)
	}
}
