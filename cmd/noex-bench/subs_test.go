package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/store"
)

// startStoreServer runs an in-process server with a memory store and the
// given global subscription limit.
func startStoreServer(t *testing.T, maxTotalSubs int) string {
	t.Helper()
	return startStoreServerWith(t, func(cfg *noex.Config) {
		cfg.ConnectionLimits.MaxTotalSubscriptions = maxTotalSubs
	})
}

// startStoreServerWith runs an in-process server with a memory store;
// mutate adjusts the rest of its configuration.
func startStoreServerWith(t *testing.T, mutate func(*noex.Config)) string {
	t.Helper()
	st, err := store.Open(store.Options{TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() }) // runs after the server's Stop
	return startServerWith(t, func(cfg *noex.Config) {
		cfg.Store = st
		mutate(cfg)
	})
}

func TestFanoutDeliversFinalState(t *testing.T) {
	url := startStoreServer(t, 1000)
	var res FanoutResult
	runJSON(t, &res, "fanout", "-url", url, "-subscribers", "20", "-concurrency", "5", "-writes", "10",
		"-interval", "5ms", "-sources", "127.0.0.1,127.0.0.2", "-json")
	if res.Connected != 20 || res.Failed != 0 || res.Writes != 10 || res.WriteErrors != nil {
		t.Fatalf("connected %d, failed %d (%v), writes %d (%v)", res.Connected, res.Failed, res.Failures,
			res.Writes, res.WriteErrors)
	}
	if res.FinalState != 20 || res.MissingFinal != 0 {
		t.Fatalf("final state reached by %d, missing %d", res.FinalState, res.MissingFinal)
	}
	if res.Deliveries < 20 || res.Deliveries > 200 || res.Deliveries+res.Skipped != 200 || res.PairsExpected != 200 {
		t.Fatalf("deliveries %d, skipped %d, pairs %d", res.Deliveries, res.Skipped, res.PairsExpected)
	}
	if res.AckToPush.Count != int(res.Deliveries) || res.SendToPush.Count != int(res.Deliveries) ||
		res.SendToPush.MaxMs < res.AckToPush.MaxMs || res.FanoutSpan.Count == 0 {
		t.Fatalf("latencies %+v / %+v / %+v for %d deliveries", res.AckToPush, res.SendToPush, res.FanoutSpan, res.Deliveries)
	}
	if res.Duplicates != 0 || res.OutOfOrder != 0 || res.OtherPushes != 0 || res.UnexpectedCloses != 0 {
		t.Fatalf("duplicates %d, out of order %d, other %d, unexpected closes %v", res.Duplicates, res.OutOfOrder,
			res.OtherPushes, res.CloseReasons)
	}
	if res.CleanCloses != 20 || res.PhaseRate <= 0 || res.Server == nil || res.Server.Evaluations < 1 {
		t.Fatalf("clean closes %d, rate %.0f, server %v", res.CleanCloses, res.PhaseRate, res.Server)
	}
	checkSummary(t, "write latency", res.AckLatency, 10)
	checkSummary(t, "ack to push", res.AckToPush, int(res.Deliveries))
	checkSummary(t, "send to push", res.SendToPush, int(res.Deliveries))
	checkSummary(t, "fan-out span", res.FanoutSpan, -1)
}

func TestFanoutSustained(t *testing.T) {
	url := startStoreServer(t, 1000)
	var res FanoutResult
	runJSON(t, &res, "fanout", "-url", url, "-subscribers", "10", "-interval", "0", "-duration", "300ms", "-json")
	if res.Connected != 10 || res.Writes < 5 || res.Duration != "300ms" {
		t.Fatalf("connected %d, writes %d, duration %q", res.Connected, res.Writes, res.Duration)
	}
	if res.FinalState != 10 || res.OutOfOrder != 0 || res.Duplicates != 0 {
		t.Fatalf("final state %d of 10, out of order %d, duplicates %d", res.FinalState, res.OutOfOrder, res.Duplicates)
	}
	if res.WriteSeconds < 0.25 || res.OverallRate <= 0 {
		t.Fatalf("write phase %.3fs, rate %.0f", res.WriteSeconds, res.OverallRate)
	}
}

func TestFanoutReportsRefusedSubscriptions(t *testing.T) {
	url := startStoreServer(t, 4)
	var res FanoutResult
	runJSON(t, &res, "fanout", "-url", url, "-subscribers", "6", "-concurrency", "1", "-writes", "2",
		"-interval", "0", "-json")
	if res.Connected != 4 || res.Failed != 2 || len(res.Failures) != 1 {
		t.Fatalf("connected %d, failed %d (%v); want 4 and 2 refusals", res.Connected, res.Failed, res.Failures)
	}
	for k := range res.Failures {
		if !strings.Contains(k, "Global subscription limit") {
			t.Fatalf("failure %q", k)
		}
	}
	if res.FinalState != 4 {
		t.Fatalf("final state %d of 4", res.FinalState)
	}
}

func TestParamsOnePushPerWrite(t *testing.T) {
	url := startStoreServer(t, 1000)
	var out, errOut bytes.Buffer
	args := []string{"params", "-url", url, "-subscriptions", "250", "-per-connection", "30", "-concurrency", "4",
		"-writes", "40", "-interval", "0", "-quiet", "50ms", "-pause", "10ms", "-seed", "7", "-hot-owners", "25", "-json"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"phase connected: 9 connections", "phase subscribed: 250 subscriptions"} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	var res SubsResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Connections != 9 || res.Subscriptions != 250 || res.SubFailed != 0 || res.DialFailed != 0 {
		t.Fatalf("connections %d, subscriptions %d, failed %d/%d (%v %v)", res.Connections, res.Subscriptions,
			res.DialFailed, res.SubFailed, res.DialFailures, res.SubFailures)
	}
	if res.Writes != 40 || res.Inserts+res.Updates != 40 || res.Inserts == 0 || res.Updates == 0 || res.WriteErrors != nil {
		t.Fatalf("writes %d (%d inserts, %d updates, errors %v)", res.Writes, res.Inserts, res.Updates, res.WriteErrors)
	}
	if res.Matched != 40 || res.Missing != 0 || res.Stray != 0 || res.Duplicates != 0 || res.TotalPushes != 40 {
		t.Fatalf("matched %d, missing %d, stray %d, duplicates %d, total %d", res.Matched, res.Missing, res.Stray,
			res.Duplicates, res.TotalPushes)
	}
	if res.Mode != "params" || res.CleanCloses != 9 || res.UnexpectedCloses != 0 {
		t.Fatalf("mode %q, clean closes %d, unexpected %v", res.Mode, res.CleanCloses, res.CloseReasons)
	}
	checkSummary(t, "write latency", res.AckLatency, 40)
	checkSummary(t, "ack to push", res.AckToPush, 40)
	checkSummary(t, "send to push", res.SendToPush, 40)
}

// subs is the name of the mode; -conns gives the subscriptions as
// C connections × M per connection.
func TestSubsConnsTimesPerConnection(t *testing.T) {
	url := startStoreServer(t, 1000)
	var res SubsResult
	runJSON(t, &res, "subs", "-url", url, "-conns", "3", "-per-connection", "7", "-writes", "10", "-interval", "0",
		"-quiet", "50ms", "-json")
	if res.Mode != "subs" || res.Connections != 3 || res.Subscriptions != 21 || res.Requested != 21 || res.SubFailed != 0 {
		t.Fatalf("mode %q, connections %d, subscriptions %d of %d, failed %d (%v)", res.Mode, res.Connections,
			res.Subscriptions, res.Requested, res.SubFailed, res.SubFailures)
	}
	if res.Writes != 10 || res.Matched != 10 || res.Missing != 0 || res.Stray != 0 || res.WriteErrors != nil {
		t.Fatalf("writes %d (%v), matched %d, missing %d, stray %d", res.Writes, res.WriteErrors, res.Matched,
			res.Missing, res.Stray)
	}
	checkSummary(t, "write latency", res.AckLatency, 10)
	checkSummary(t, "ack to push", res.AckToPush, 10)
}

func TestParsePush(t *testing.T) {
	for _, tc := range []struct {
		in       string
		id, data string
		seq      int64
	}{
		{`{"type":"push","channel":"subscription","subscriptionId":"sub-7","data":[{"seq":12}]}`, "sub-7", `[{"seq":12}]`, 12},
		{`{"type":"push","channel":"subscription","subscriptionId":"sub-8","data":[]}`, "sub-8", `[]`, -1},
		{`{"type":"push","channel":"subscription","subscriptionId":"sub-9"}`, "sub-9", ``, -1},
		// Another key order goes through encoding/json.
		{`{"channel":"subscription","type":"push","data":[{"seq": 3,"x":1}],"subscriptionId":"sub-1"}`, "sub-1", `[{"seq": 3,"x":1}]`, 3},
	} {
		id, data, ok := parsePush([]byte(tc.in))
		if !ok || string(id) != tc.id || string(data) != tc.data || seqOf(data) != tc.seq {
			t.Errorf("%s: got %q %q %v seq %d", tc.in, id, data, ok, seqOf(data))
		}
	}
	for _, in := range []string{`{"type":"push","channel":"event","subscriptionId":"sub-1","data":{}}`,
		`{"type":"result","id":1}`, `not json`} {
		if _, _, ok := parsePush([]byte(in)); ok {
			t.Errorf("%s: parsed as a subscription push", in)
		}
	}
	if classify([]byte(`{"type":"ping","timestamp":1}`)) != classPing ||
		classify([]byte(`{"id":3,"type":"error","code":"X"}`)) != classAnswer ||
		classify([]byte(`{"type":"system"}`)) != classOther {
		t.Error("classify")
	}
}
