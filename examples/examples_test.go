package examples_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/noex-go/noex"
	"github.com/noex-go/noex/rules"
	"github.com/noex-go/noex/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestExamples builds every example and runs it against a fresh
// in-process server, checking what it printed.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := t.TempDir()
	build := exec.Command(goTool, "build", "-o", bin+string(filepath.Separator), "./dashboard", "./chat", "./alert")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name string
		want []string
	}{
		{"dashboard", []string{"page views: 0\npage views: 1\npage views: 2\npage views: 3\npage views: 4\npage views: 5\ndone\n"}},
		{"chat", []string{
			"[lobby] alice: hi bob!\n",
			"[lobby] bob: hi alice, how are you?\n",
			"[lobby] alice: great, bye!\n",
			"all messages delivered\n",
		}},
		{"alert", []string{
			"reading: s1 22.0°C\n",
			"ALERT alert.high-temperature: s2 at 35.5°C\n",
			"ALERT alert.high-temperature: s3 at 41.0°C\n",
			"2 alerts\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, filepath.Join(bin, tc.name), "-addr", addr)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", tc.name, err, &stdout, &stderr)
			}
			out := stdout.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s output lacks %q:\n%s", tc.name, w, out)
				}
			}
			t.Logf("%s printed:\n%s", tc.name, out)
		})
	}
}

// startServer starts a server with a memory store and a rule engine.
func startServer(t *testing.T) string {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Name: "examples", TTLCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rt, err := noex.OpenRules(st, rules.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background()) })
	cfg := noex.DefaultConfig()
	cfg.Host, cfg.Port = "127.0.0.1", 0
	cfg.Store, cfg.Rules, cfg.Logger = st, rt.Engine, quiet
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
