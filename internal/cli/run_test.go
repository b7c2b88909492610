package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noex-go/noex"
)

// syncBuffer is a bytes.Buffer safe for one writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func noEnv(string) string { return "" }

func TestRunExitsWithoutServing(t *testing.T) {
	t.Parallel()
	help := Usage()
	const usageHint = "Run \"noex-server --help\" for usage information.\n"
	tests := []struct {
		name           string
		args           []string
		env            map[string]string
		code           int
		stdout, stderr string
	}{
		{"help", []string{"--help"}, nil, 0, help, ""},
		{"help short", []string{"-h"}, nil, 0, help, ""},
		{"version", []string{"--version"}, nil, 0, "noex-server v" + noex.Version + "\n", ""},
		{"version short", []string{"-v"}, nil, 0, "noex-server v" + noex.Version + "\n", ""},
		{"help wins over version", []string{"-v", "-h"}, nil, 0, help, ""},
		{"help wins over invalid values and a missing config", []string{"--port", "x", "--config", "/nonexistent", "-h"}, nil, 0, help, ""},
		{"version wins over invalid variables", []string{"--version"}, map[string]string{"NOEX_PORT": "x"}, 0, "noex-server v" + noex.Version + "\n", ""},
		{"unknown option", []string{"--bogus"}, nil, 1, "", "Error: Unknown option '--bogus'\n" + usageHint},
		{"switch with value", []string{"--auth=true"}, nil, 1, "", "Error: Option '--auth' does not take an argument\n" + usageHint},
		{"positional", []string{"start"}, nil, 1, "", "Error: Unexpected argument 'start'. This command does not take positional arguments\n" + usageHint},
		{"missing argument", []string{"--port"}, nil, 1, "", "Error: Option '-p, --port <number>' argument missing\n" + usageHint},
		{"parse error before help", []string{"--help", "--bogus"}, nil, 1, "", "Error: Unknown option '--bogus'\n" + usageHint},
		{"validation", []string{"--port", "abc", "--persistence", "x"}, nil, 1, "",
			"Error: Invalid port: NaN (must be integer 0-65535)\nError: Unknown persistence type: x (must be memory, file, or sqlite)\n"},
		{"auth without secret", []string{"--auth"}, nil, 1, "", "Error: --admin-secret is required when --auth is enabled\n"},
		{"env validation", nil, map[string]string{"NOEX_NO_RULES": "maybe"}, 1, "", "Error: Invalid NOEX_NO_RULES: maybe (must be true, 1, false or 0)\n"},
		{"config file", []string{"-c", "/nonexistent/noex.json"}, nil, 1, "",
			"Error loading config file: open /nonexistent/noex.json: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // should one of these start a server, stop it at once
			code := Run(ctx, tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if stdout.String() != tt.stdout {
				t.Errorf("stdout\n%q\nwant\n%q", stdout.String(), tt.stdout)
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr\n%q\nwant\n%q", stderr.String(), tt.stderr)
			}
		})
	}
}

// startRun runs Run in the background and waits for the banner's URL.
func startRun(t *testing.T, args []string, getenv func(string) string) (url string, stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, getenv, stdout, stderr) }()
	urlRE := regexp.MustCompile(`URL:\s+(ws://\S+)`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("Run exited with %d before the banner; stderr:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no banner after 5s; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped := false
	stop = func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return 5s after the signal")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return url, stdout, stderr, stop
}

func TestRunServesUntilSignalled(t *testing.T) {
	t.Parallel()
	url, stdout, stderr, stop := startRun(t,
		[]string{"--port", "0", "--host", "127.0.0.1", "--path", "/ws", "--persistence", "memory", "--log-format", "json"},
		noEnv)
	hostPort, ok := strings.CutSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	if !ok {
		t.Fatalf("banner URL %q does not end in the path /ws", url)
	}
	if _, port, _ := net.SplitHostPort(hostPort); port == "0" {
		t.Fatalf("banner shows port 0, want the actual port: %q", url)
	}
	resp, err := http.Get("http://" + hostPort + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", resp.StatusCode, body)
	}

	if code := stop(); code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"noex-server v" + noex.Version + "\n",
		"  Persistence:  memory\n",
		"  Rules:        enabled\n",
		"  Metrics:      http://" + hostPort + "/metrics",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n\nShutting down...\n") {
		t.Errorf("stdout does not end with an empty line and Shutting down...:\n%q", out)
	}
	if !strings.Contains(stderr.String(), `"msg":"listening"`) {
		t.Errorf("stderr has no JSON log line:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "Warning: rate limiting") {
		t.Errorf("rate limit warning on 127.0.0.1:\n%s", stderr.String())
	}
	if _, err := net.DialTimeout("tcp", hostPort, time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestRunWarnsWithoutRateLimit(t *testing.T) {
	t.Parallel()
	_, _, stderr, stop := startRun(t, []string{"--port", "0", "--log-level", "error", "--persistence", "memory"}, noEnv)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := stderr.String(); got != rateLimitWarning+"\n" {
		t.Errorf("stderr %q, want only the warning", got)
	}
}

func TestRunPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"-H", "127.0.0.1", "-p", port, "--log-level", "error", "--persistence", "memory"}, noEnv, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "Fatal: listen tcp 127.0.0.1:"+port+": ") || !strings.Contains(got, "address already in use") {
		t.Errorf("stderr %q, want Fatal: listen … address already in use", got)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
}

func TestProcsFor(t *testing.T) {
	for _, tt := range []struct {
		persistence string
		current     int
		explicit    bool
		want        int
	}{
		{PersistenceFile, 1, false, 2},
		{PersistenceSQLite, 1, false, 2},
		{PersistenceFile, 1, true, 1},
		{PersistenceMemory, 1, false, 1},
		{PersistenceFile, 4, false, 4},
	} {
		if got := procsFor(tt.persistence, tt.current, tt.explicit); got != tt.want {
			t.Errorf("procsFor(%q, %d, %v) = %d, want %d", tt.persistence, tt.current, tt.explicit, got, tt.want)
		}
	}
}
