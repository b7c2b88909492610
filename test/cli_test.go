//go:build unix

// Package test holds black-box tests that run the real noex-server binary.
package test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/noex-go/noex"
)

// binary is the noex-server built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "noex-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "noex-server")
	build := exec.Command("go", "build", "-o", binary, "github.com/noex-go/noex/cmd/noex-server")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building noex-server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one running noex-server.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer // read only after done
	done           chan struct{}
	exit           int
}

// command prepares the binary with args and env (added to an environment
// without NOEX_ variables), working in a temporary directory.
func command(t *testing.T, args []string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOEX_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runToEnd runs a command that is expected to exit by itself.
func runToEnd(t *testing.T, args []string, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := command(t, args, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Start()
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	timer := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	_ = cmd.Wait()
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// start runs a server and waits until it accepts TCP connections on port.
func start(t *testing.T, port int, args []string, env ...string) *proc {
	t.Helper()
	p := &proc{cmd: command(t, args, env...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.exit = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("noex-server %q exited with %d before listening on %s\nstdout:\n%s\nstderr:\n%s",
				args, p.exit, addr, p.stdout.String(), p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("noex-server %q not listening on %s after 5s", args, addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signal sends sig and waits for the exit; it returns stdout, stderr and
// the exit status.
func (p *proc) signal(t *testing.T, sig os.Signal) (string, string, int) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("noex-server did not exit 5s after %v", sig)
	}
	return p.stdout.String(), p.stderr.String(), p.exit
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "noex.json")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func p2s(port int) string { return strconv.Itoa(port) }

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-v", "--help"}, {"--help", "--port", "x", "-c", "/nonexistent"}} {
		stdout, stderr, code := runToEnd(t, args, "NOEX_PORT=bad")
		if code != 0 || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q; want 0 and nothing", args, code, stderr)
		}
		if !strings.HasPrefix(stdout, "Usage: noex-server [options]\n") || !strings.Contains(stdout, "--max-connections-per-ip") {
			t.Errorf("%q: stdout is not the usage:\n%s", args, stdout)
		}
	}
	for _, args := range [][]string{{"--version"}, {"-v"}} {
		stdout, stderr, code := runToEnd(t, args)
		if want := "noex-server v" + noex.Version + "\n"; code != 0 || stdout != want || stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0, %q", args, code, stdout, stderr, want)
		}
	}
}

func TestStartupErrors(t *testing.T) {
	t.Parallel()
	const hint = "Run \"noex-server --help\" for usage information.\n"
	wrongType := writeConfig(t, `{"port": "8080"}`)
	notJSON := writeConfig(t, `{"port": 80,}`)
	tests := []struct {
		name   string
		args   []string
		env    []string
		stderr string
	}{
		{"unknown option", []string{"--prot", "80"}, nil, "Error: Unknown option '--prot'\n" + hint},
		{"switch with value", []string{"--auth=true"}, nil, "Error: Option '--auth' does not take an argument\n" + hint},
		{"positional", []string{"serve"}, nil, "Error: Unexpected argument 'serve'. This command does not take positional arguments\n" + hint},
		{"missing argument", []string{"-p"}, nil, "Error: Option '-p, --port <number>' argument missing\n" + hint},
		{"dash value", []string{"--port", "-1"}, nil,
			"Error: Option '-p, --port <number>' argument is ambiguous: a value that starts with '-' must be attached, as in '--port=-1'\n" + hint},
		{"port NaN", []string{"--port", "abc"}, nil, "Error: Invalid port: NaN (must be integer 0-65535)\n"},
		{"port fraction", []string{"--port", "80.5"}, nil, "Error: Invalid port: 80.5 (must be integer 0-65535)\n"},
		{"port negative", []string{"--port=-5"}, nil, "Error: Invalid port: -5 (must be integer 0-65535)\n"},
		{"several at once", []string{"--auth", "--persistence", "disk", "--max-connections-per-ip", "abc"}, nil,
			"Error: Unknown persistence type: disk (must be memory, file, or sqlite)\n" +
				"Error: Invalid --max-connections-per-ip: abc (must be a positive integer)\n" +
				"Error: --admin-secret is required when --auth is enabled\n"},
		{"invalid variable", nil, []string{"NOEX_MAX_CONNECTIONS_PER_IP=-3"},
			"Error: Invalid NOEX_MAX_CONNECTIONS_PER_IP: -3 (must be a positive integer)\n"},
		{"invalid switch variable", nil, []string{"NOEX_NO_RULES=yes"}, "Error: Invalid NOEX_NO_RULES: yes (must be true, 1, false or 0)\n"},
		{"config port as string", []string{"-c", wrongType}, nil, "Error: Invalid port: 8080 (must be integer 0-65535)\n"},
		{"config from NOEX_CONFIG", nil, []string{"NOEX_CONFIG=" + wrongType}, "Error: Invalid port: 8080 (must be integer 0-65535)\n"},
		{"config not JSON", []string{"--config", notJSON}, nil,
			"Error loading config file: " + notJSON + ": invalid character '}' looking for beginning of object key string (line 1, column 13)\n"},
		{"config missing", []string{"--config=/nonexistent/noex.json"}, nil,
			"Error loading config file: open /nonexistent/noex.json: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runToEnd(t, tt.args, tt.env...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr\n%q\nwant\n%q", stderr, tt.stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := p2s(ln.Addr().(*net.TCPAddr).Port)
	_, stderr, code := runToEnd(t, []string{"-H", "127.0.0.1", "-p", port, "--log-level", "error"})
	if code != 1 || !strings.HasPrefix(stderr, "Fatal: listen tcp 127.0.0.1:"+port+": ") {
		t.Errorf("exit %d, stderr %q; want 1 and Fatal: listen tcp …", code, stderr)
	}
}

// TestSourcesTakeEffect starts the server from a config file, then
// overrides the file with variables and options, and checks where it
// listens and what the banner says.
func TestSourcesTakeEffect(t *testing.T) {
	t.Parallel()
	filePort, envPort, flagPort := freePort(t), freePort(t), freePort(t)
	config := writeConfig(t, fmt.Sprintf(`{
		"port": %d, "host": "127.0.0.1", "persistence": "memory", "name": "from-file",
		"allowedOrigins": ["https://file.example"], "maxConnectionsPerIp": 2,
		"rateLimit": {"maxRequests": 100, "windowMs": 1000}, "rules": false, "logLevel": "warn"
	}`, filePort))

	tests := []struct {
		name string
		port int
		args []string
		env  []string
		want []string
	}{
		{"file", filePort, []string{"--config", config}, nil, []string{
			"  URL:          ws://127.0.0.1:" + p2s(filePort) + "\n",
			"  Persistence:  memory\n",
			"  Rules:        disabled\n",
			"  Origins:      https://file.example\n",
			"  Max conn/IP:  2\n",
		}},
		{"env over file", envPort, nil, []string{
			"NOEX_CONFIG=" + config, "NOEX_PORT=" + p2s(envPort), "NOEX_MAX_CONNECTIONS_PER_IP=5",
			"NOEX_ALLOWED_ORIGINS=https://a.example, https://b.example", "NOEX_PERSISTENCE=sqlite", "NOEX_DB=/tmp/x.db",
		}, []string{
			"  URL:          ws://127.0.0.1:" + p2s(envPort) + "\n",
			"  Persistence:  sqlite (/tmp/x.db)\n",
			"  Origins:      https://a.example, https://b.example\n",
			"  Max conn/IP:  5\n",
		}},
		{"flags over env and file", flagPort,
			[]string{"-c", config, "-p", p2s(flagPort), "--max-connections-per-ip=9", "--path", "/ws", "--no-error-details",
				"--persistence", "file", "--data-dir", "/srv/noex"},
			[]string{"NOEX_PORT=" + p2s(envPort), "NOEX_MAX_CONNECTIONS_PER_IP=5"},
			[]string{
				"  URL:          ws://127.0.0.1:" + p2s(flagPort) + "/ws\n",
				"  Persistence:  file (/srv/noex)\n",
				"  Error details: hidden\n",
				"  Max conn/IP:  9\n",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, tt.port, tt.args, tt.env...)
			stdout, stderr, code := p.signal(t, syscall.SIGTERM)
			if code != 0 {
				t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, stderr)
			}
			if !strings.HasPrefix(stdout, "noex-server v"+noex.Version+"\n") {
				t.Errorf("stdout does not start with the version line:\n%s", stdout)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("banner lacks %q:\n%s", want, stdout)
				}
			}
			if !strings.HasSuffix(stdout, "\n\nShutting down...\n") {
				t.Errorf("stdout does not end with an empty line and Shutting down...:\n%q", stdout)
			}
			if stderr != "" { // log level warn from the file; rate limit configured
				t.Errorf("stderr %q, want nothing", stderr)
			}
		})
	}
}

func TestSIGINTAndGracePeriod(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	p := start(t, port, []string{"-H", "127.0.0.1", "-p", p2s(port), "--shutdown-grace-ms", "200", "--log-format", "json"})
	stdout, stderr, code := p.signal(t, os.Interrupt)
	if code != 0 || !strings.HasSuffix(stdout, "\n\nShutting down...\n") {
		t.Fatalf("exit %d, stdout %q; want 0 and Shutting down...", code, stdout)
	}
	if !strings.Contains(stderr, `"msg":"stopping","gracePeriod":200000000`) {
		t.Errorf("stderr does not log the 200ms grace period:\n%s", stderr)
	}
}

func TestMetricsAddr(t *testing.T) {
	t.Parallel()
	port, metricsPort := freePort(t), freePort(t)
	metricsAddr := "127.0.0.1:" + p2s(metricsPort)
	p := start(t, port, []string{"-H", "127.0.0.1", "-p", p2s(port), "--log-level", "error"},
		"NOEX_METRICS_ADDR="+metricsAddr)

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("http://" + metricsAddr + "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics on the metrics listener = %d, want 200 with Prometheus text", code)
	}
	if code, body := get("http://" + metricsAddr + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz on the metrics listener = %d %q", code, body)
	}
	if code, _ := get("http://127.0.0.1:" + p2s(port) + "/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on the WebSocket listener = %d, want 404", code)
	}

	stdout, _, code := p.signal(t, syscall.SIGTERM)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if want := "  Metrics:      http://" + metricsAddr + "/metrics"; !strings.Contains(stdout, want) {
		t.Errorf("banner lacks %q:\n%s", want, stdout)
	}
}
