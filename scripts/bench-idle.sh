#!/usr/bin/env bash
# bench-idle.sh — server memory per idle connection.
#
# Builds noex-bench and a server, starts the server on a loopback port with
# a short heartbeat (so idle connections really exchange pings and pongs),
# reads its RSS, opens N idle connections that answer every ping, waits
# until a couple of heartbeat rounds have passed, reads the RSS again and
# prints (RSS_after - RSS_before) / N, with the heap/stack split from the
# server's /metrics. Then it runs `noex-bench accept` against the same
# server unless ACCEPT_N=0.
#
# Environment (all optional):
#   N=10000            idle connections (one client process; < 19,900)
#   HOLD=60s           how long noex-bench holds them after dialing
#   HEARTBEAT_MS=5000  server ping interval; timeout is 2x
#   SETTLE=12          seconds to wait after the dial phase before reading
#                      RSS (>= 2 heartbeat rounds)
#   LATE=50            a second reading this many seconds after the dial
#                      phase (must stay below HOLD; 0 skips it): how much
#                      of the first figure is the connection burst's garbage
#                      the runtime has not returned to the OS yet
#   SOURCES=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4   client source addresses
#   SERVER=auto        auto: cmd/noex-server if it builds and starts,
#                      otherwise a temporary server main built outside the
#                      repository; cli or temp force one of them
#   IDLE_REQUEST='{"id":1,"type":"server.stats"}'   a request each connection
#                      sends once after the welcome before going idle
#   ACCEPT_N=20000 ACCEPT_CONCURRENCY=64   the accept-rate run (0 skips it)
#   PPROF=1            (temp server only) serve net/http/pprof on another
#                      loopback port and save a heap profile and goroutine
#                      dump next to the results
#   KEEP=1             keep the work directory
#   TARGET_KIB=12      the figure to compare against
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10000}
HOLD=${HOLD:-60s}
HEARTBEAT_MS=${HEARTBEAT_MS:-5000}
SETTLE=${SETTLE:-12}
LATE=${LATE:-50}
SOURCES=${SOURCES:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4}
SERVER=${SERVER:-auto}
IDLE_REQUEST=${IDLE_REQUEST:-}
ACCEPT_N=${ACCEPT_N:-20000}
ACCEPT_CONCURRENCY=${ACCEPT_CONCURRENCY:-64}
PPROF=${PPROF:-0}
KEEP=${KEEP:-0}
TARGET_KIB=${TARGET_KIB:-12}

WORK=$(mktemp -d /tmp/noex-bench-idle.XXXXXX)
SERVER_PID=""
BENCH_PID=""

cleanup() {
	if [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
		kill "$BENCH_PID" 2>/dev/null || true
		wait "$BENCH_PID" 2>/dev/null || true
	fi
	stop_server
	if [[ $KEEP == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

log "building noex-bench"
(cd "$ROOT" && go build -o "$WORK/noex-bench" ./cmd/noex-bench)

PORT=$(free_port 18080 18180)
HB_TIMEOUT_MS=$((HEARTBEAT_MS * 2))
SERVER_KIND=""

start_cli() {
	(cd "$ROOT" && go build -o "$WORK/noex-server" ./cmd/noex-server) >"$WORK/build-cli.log" 2>&1 || return 1
	cat >"$WORK/server.json" <<-EOF
		{"host": "127.0.0.1", "port": $PORT, "persistence": "memory", "logLevel": "warn",
		 "heartbeat": {"intervalMs": $HEARTBEAT_MS, "timeoutMs": $HB_TIMEOUT_MS}}
	EOF
	(cd "$WORK" && exec "$WORK/noex-server" --config "$WORK/server.json") >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	if ! wait_listening "$PORT" "$SERVER_PID"; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
		return 1
	fi
	SERVER_KIND="cmd/noex-server (--config: memory persistence, log level warn, heartbeat ${HEARTBEAT_MS} ms)"
}

start_temp() {
	local dir="$WORK/tempserver"
	mkdir -p "$dir"
	cat >"$dir/go.mod" <<-EOF
		module noexbenchserver

		go 1.26.8

		require github.com/noex-go/noex v0.0.0

		replace github.com/noex-go/noex => $ROOT
	EOF
	cp "$ROOT/go.sum" "$dir/go.sum"
	cat >"$dir/main.go" <<-'EOF'
		// A minimal noex server for benchmarks: a loopback listener, a
		// configurable heartbeat, optional pprof, stop on SIGTERM.
		package main

		import (
			"context"
			"flag"
			"fmt"
			"io"
			"log"
			"log/slog"
			"net/http"
			_ "net/http/pprof"
			"os"
			"os/signal"
			"syscall"
			"time"

			"github.com/noex-go/noex"
		)

		func main() {
			port := flag.Int("port", 0, "listen port on 127.0.0.1")
			interval := flag.Duration("heartbeat", 5*time.Second, "ping interval")
			timeout := flag.Duration("heartbeat-timeout", 10*time.Second, "pong timeout")
			pprofAddr := flag.String("pprof", "", "loopback address for net/http/pprof")
			flag.Parse()
			cfg := noex.DefaultConfig()
			cfg.Host = "127.0.0.1"
			cfg.Port = *port
			cfg.Heartbeat = noex.Heartbeat{Interval: *interval, Timeout: *timeout}
			// Like the CLI at --log-level warn: per-connection logs are
			// not formatted at all.
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
			srv, err := noex.New(cfg)
			if err != nil {
				log.Fatal(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := srv.Start(ctx); err != nil {
				log.Fatal(err)
			}
			if *pprofAddr != "" {
				go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
			}
			fmt.Printf("PORT=%d\n", srv.Port())
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Stop(sctx, 0)
		}
	EOF
	(cd "$dir" && GOFLAGS=-mod=mod go build -o "$WORK/noex-tempserver" .)
	local pprof_args=()
	if [[ $PPROF == 1 ]]; then
		PPROF_PORT=$((PORT + 1))
		pprof_args=(-pprof "127.0.0.1:$PPROF_PORT")
	fi
	"$WORK/noex-tempserver" -port "$PORT" -heartbeat "${HEARTBEAT_MS}ms" \
		-heartbeat-timeout "${HB_TIMEOUT_MS}ms" "${pprof_args[@]}" >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	wait_listening "$PORT" "$SERVER_PID" || { cat "$WORK/server.log" >&2; return 1; }
	SERVER_KIND="temporary main (noex.Config{Heartbeat: ${HEARTBEAT_MS} ms}), built outside the repository"
}

case $SERVER in
auto)
	if ! start_cli; then
		log "cmd/noex-server did not build or start; using a temporary server main"
		start_temp
	fi
	;;
cli) start_cli || { cat "$WORK/build-cli.log" "$WORK/server.log" >&2 2>/dev/null; exit 1; } ;;
temp) start_temp ;;
*)
	echo "SERVER must be auto, cli or temp" >&2
	exit 2
	;;
esac
log "server: $SERVER_KIND, pid $SERVER_PID, port $PORT"
log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3)"
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the machine)"

URL="ws://127.0.0.1:$PORT/"
# Warm up the metrics handler so its own allocations are in the baseline.
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/metrics"
sleep 2
curl -fsS -o "$WORK/metrics-before.txt" "http://127.0.0.1:$PORT/metrics"
RSS_BEFORE=$(rss_kib "$SERVER_PID")
log "server RSS before: $RSS_BEFORE KiB"

log "opening $N idle connections (hold $HOLD, sources $SOURCES)"
IDLE_ARGS=()
if [[ -n $IDLE_REQUEST ]]; then
	IDLE_ARGS=(-request "$IDLE_REQUEST")
fi
"$WORK/noex-bench" idle -url "$URL" -n "$N" -duration "$HOLD" -sources "$SOURCES" -json "${IDLE_ARGS[@]}" \
	>"$WORK/idle.json" 2>"$WORK/idle.log" &
BENCH_PID=$!
for _ in $(seq 1 1200); do
	grep -q "dial phase done" "$WORK/idle.log" && break
	kill -0 "$BENCH_PID" 2>/dev/null || break
	sleep 0.1
done
grep "dial phase done" "$WORK/idle.log" >&2 || { cat "$WORK/idle.log" >&2; exit 1; }
# measure NAME: server RSS, /metrics and load average, saved under NAME.
measure() {
	rss_kib "$SERVER_PID" >"$WORK/rss-$1"
	cut -d' ' -f1-3 /proc/loadavg >"$WORK/load-$1"
	curl -fsS -o "$WORK/metrics-$1.txt" "http://127.0.0.1:$PORT/metrics"
	log "server RSS ($1): $(cat "$WORK/rss-$1") KiB"
}

# report NAME: the per-connection figures of measurement NAME.
report() {
	local n
	n=$(metric noex_connections "$WORK/metrics-$1.txt")
	echo "--- server memory: $1"
	echo "load average: $(cat "$WORK/load-$1")"
	echo "open connections (noex_connections): $n"
	awk -v before="$RSS_BEFORE" -v after="$(cat "$WORK/rss-$1")" -v n="$n" -v target="$TARGET_KIB" \
		-v mb="$WORK/metrics-before.txt" -v ma="$WORK/metrics-$1.txt" '
	function load(file, arr,   line, f) {
		while ((getline line < file) > 0) {
			if (line ~ /^go_memstats_|^go_goroutines /) { split(line, f, " "); arr[f[1]] = f[2] + 0 }
		}
		close(file)
	}
	function per(k) { return (a[k] - b[k]) / n / 1024 }
	BEGIN {
		load(mb, b); load(ma, a)
		if (n <= 0) { print "no open connections at measurement time"; exit 1 }
		d = after - before
		printf "RSS: before %d KiB, after %d KiB, delta %d KiB\n", before, after, d
		printf "KiB per connection (RSS): %.2f (target <= %s: %s)\n", d / n, target, (d / n <= target ? "met" : "MISSED")
		printf "  heap in use %.2f + stacks %.2f + heap idle not yet returned to the OS %.2f + runtime metadata %.2f KiB\n",
			per("go_memstats_heap_inuse_bytes"), per("go_memstats_stack_inuse_bytes"),
			per("go_memstats_heap_idle_bytes") - per("go_memstats_heap_released_bytes"),
			per("go_memstats_mspan_inuse_bytes") + per("go_memstats_gc_sys_bytes") + per("go_memstats_other_sys_bytes")
		split("go_memstats_heap_inuse_bytes go_memstats_stack_inuse_bytes go_memstats_heap_alloc_bytes go_memstats_heap_idle_bytes go_memstats_heap_released_bytes go_memstats_mspan_inuse_bytes go_memstats_gc_sys_bytes go_memstats_other_sys_bytes go_memstats_sys_bytes go_goroutines", keys, " ")
		for (i = 1; i in keys; i++) {
			k = keys[i]
			if (k == "go_goroutines") {
				printf "%-36s before %10d after %10d  per connection %6.2f\n", k, b[k], a[k], (a[k] - b[k]) / n
			} else {
				printf "%-36s before %10d after %10d  per connection %8.2f KiB\n", k, b[k], a[k], per(k)
			}
		}
	}'
}

log "waiting ${SETTLE}s (heartbeat every ${HEARTBEAT_MS} ms)"
sleep "$SETTLE"
measure settled
if [[ $PPROF == 1 && $SERVER_KIND == temporary* ]]; then
	curl -fsS -o "$WORK/heap.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap"
	curl -fsS -o "$WORK/goroutines.txt" "http://127.0.0.1:$PPROF_PORT/debug/pprof/goroutine?debug=1"
	log "heap profile: $WORK/heap.pprof, goroutines: $WORK/goroutines.txt (KEEP=1 to keep them)"
fi
HOLD_S=${HOLD%s}
if [[ ! $HOLD_S =~ ^[0-9]+$ ]] || ((LATE + 3 > HOLD_S)); then
	LATE=0 # HOLD is not whole seconds, or too short for a second reading
fi
if ((LATE > SETTLE)); then
	log "waiting until ${LATE}s after the dial phase for a second reading"
	sleep $((LATE - SETTLE))
	measure late
fi
log "waiting for noex-bench to finish"
wait "$BENCH_PID"
BENCH_PID=""

echo "--- noex-bench idle"
cat "$WORK/idle.json"
echo "server: $SERVER_KIND"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3)"
if ((LATE > SETTLE)); then
	echo "heartbeat: ${HEARTBEAT_MS} ms; readings ${SETTLE}s and ${LATE}s after the dial phase"
else
	echo "heartbeat: ${HEARTBEAT_MS} ms; reading ${SETTLE}s after the dial phase"
fi
report settled
if [[ -f $WORK/rss-late ]]; then
	report late
fi

if [[ $ACCEPT_N != 0 ]]; then
	echo "--- noex-bench accept (idle connections closed; same server)"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	"$WORK/noex-bench" accept -url "$URL" -n "$ACCEPT_N" -concurrency "$ACCEPT_CONCURRENCY" -sources "$SOURCES" 2>"$WORK/accept.log"
fi
