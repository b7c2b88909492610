package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/noex-go/noex"
)

// startServer runs an in-process server on a loopback port with a fast
// heartbeat, so a short idle run sees pings.
func startServer(t *testing.T) string {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith starts an in-process server on a loopback port with a
// 100 ms heartbeat; mutate adjusts its configuration. It is stopped when
// the test ends.
func startServerWith(t *testing.T, mutate func(*noex.Config)) string {
	t.Helper()
	cfg := noex.DefaultConfig()
	cfg.Host = "127.0.0.1"
	cfg.Port = 0
	cfg.Heartbeat = noex.Heartbeat{Interval: 100 * time.Millisecond, Timeout: 2 * time.Second}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := noex.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx, 0)
	})
	return "ws://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/"
}

func runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("noex-bench %v: exit %d\nstderr: %s", args, code, errOut.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
}

func TestIdleAnswersPings(t *testing.T) {
	url := startServer(t)
	var res IdleResult
	// The server runs in this process: -pid reads this process's RSS.
	runJSON(t, &res, "idle", "-url", url, "-n", "20", "-concurrency", "5", "-duration", "700ms",
		"-sources", "127.0.0.1,127.0.0.2", "-pid", strconv.Itoa(os.Getpid()), "-json")
	if res.Connected != 20 || res.Failed != 0 {
		t.Fatalf("connected %d, failed %d (%v); want 20, 0", res.Connected, res.Failed, res.Failures)
	}
	// 100 ms interval over ≥ 700 ms: several pings per connection, all
	// answered but for at most one per connection arriving as it closes.
	if res.PingsReceived < 20*3 || res.PongsSent > res.PingsReceived || res.PongsSent < res.PingsReceived-20 {
		t.Fatalf("pings %d, pongs %d; want ≥ 60 pings, all answered", res.PingsReceived, res.PongsSent)
	}
	if res.UnexpectedCloses != 0 || res.ErrorFrames != 0 {
		t.Fatalf("unexpected closes %v, error frames %d", res.CloseReasons, res.ErrorFrames)
	}
	if res.OpenAtEnd != 20 || res.CleanCloses != 20 {
		t.Fatalf("open at end %d, clean closes %d (%v); want 20, 20", res.OpenAtEnd, res.CleanCloses, res.CloseErrors)
	}
	checkSummary(t, "dial latency", res.DialLatency, 20)
	if res.ServerPID != os.Getpid() || res.RSSBeforeKiB <= 0 || res.RSSAfterKiB <= 0 ||
		res.RSSPerConn != float64(res.RSSAfterKiB-res.RSSBeforeKiB)/20 {
		t.Fatalf("pid %d, RSS before %d KiB, after %d KiB, per connection %.2f KiB", res.ServerPID, res.RSSBeforeKiB,
			res.RSSAfterKiB, res.RSSPerConn)
	}
}

func TestAcceptCountsConnections(t *testing.T) {
	url := startServer(t)
	for _, mode := range []string{"ws", "tcp"} {
		var res AcceptResult
		runJSON(t, &res, "accept", "-url", url, "-n", "200", "-concurrency", "8", "-close", mode, "-json")
		if res.Completed != 200 || res.Failed != 0 {
			t.Fatalf("close=%s: completed %d, failed %d (%v)", mode, res.Completed, res.Failed, res.Failures)
		}
		if res.Rate <= 0 || res.Cycle.P50Ms < res.Connect.MinMs {
			t.Fatalf("close=%s: implausible figures %+v", mode, res)
		}
		checkSummary(t, "connect latency", res.Connect, 200)
		checkSummary(t, "cycle latency", res.Cycle, 200)
	}
}

func TestTextOutput(t *testing.T) {
	url := startServer(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"accept", "-url", url, "-n", "10"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"mode: accept\n", "completed: 10\n", "rate: "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, args := range [][]string{
		{"idle", "-url", "ws://10.1.2.3:8080/", "-n", "1"},
		{"accept", "-url", "ws://127.0.0.1:8080/", "-sources", "192.168.1.1", "-n", "1"},
		{"accept", "-url", "wss://127.0.0.1:8080/", "-n", "1"},
		{"idle", "-url", "ws://127.0.0.1:8080/", "-n", "1", "-pid", "999999999"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code == 0 {
			t.Fatalf("%v: exit 0, want a refusal", args)
		}
	}
}

func TestUnknownMode(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
