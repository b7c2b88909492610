#!/usr/bin/env bash
# bench-fanout.sh — subscriptions and fan-out.
#
# Builds noex-bench and a server, then runs three measurements, each
# against a fresh server on a loopback port (memory persistence, log level
# warn, a 10-minute heartbeat so that pings do not interfere, subscription
# limits raised):
#
#   1. fan-out latency: SUBSCRIBERS connections subscribe to one query, a
#      writer updates the record it reads WRITES times, INTERVAL apart;
#      ack-to-push latency over all (write, subscriber) pairs, final state
#      reached by every subscriber, deliveries/s;
#   2. sustained fan-out: the same with writes back to back for
#      SUSTAINED_DURATION, for each count in SUSTAINED_SUBSCRIBERS; push
#      deliveries/s received by all subscribers together;
#   3. parametrised subscriptions: PARAMS_SUBS subscriptions, PER_CONN per
#      connection, each with its own {"owner": …}; PARAMS_WRITES writes to
#      one random owner each, the one push it causes timed against its ack;
#      server memory read after the connections are open and again after
#      the subscriptions are made, so that memory per subscription excludes
#      the connections' own.
#
# Environment (all optional):
#   SUBSCRIBERS=10000 WRITES=50 INTERVAL=100ms     measurement 1
#   SWEEP=""                more subscriber counts for measurement 1 (e.g.
#                           "1000 2000 5000"), same writes and interval
#   SUSTAINED_SUBSCRIBERS="1000 10000" SUSTAINED_DURATION=10s   measurement 2
#   PARAMS_SUBS=100000 PER_CONN=100 PARAMS_WRITES=200            measurement 3
#   PARAMS_HOT=0            write only to this many owners (most writes are
#                           then updates); 0: any owner (mostly inserts)
#   RUNS="fanout sustained params"   which measurements to run
#   SETTLE=3                seconds between a phase marker and the memory
#                           reading
#   SOURCES=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4   client source addresses
#   SERVER=cli              cli: cmd/noex-server --config; temp: a small
#                           main built outside the repository (same
#                           settings) that also serves net/http/pprof on the
#                           next port, forces a GC before each memory
#                           reading (so the heap figures are live bytes) and
#                           saves heap profiles and a CPU profile of the
#                           first sustained run
#   KEEP=1                  keep the work directory (outputs, profiles)
#   TARGET_P99_MS=50 TARGET_RATE=200000 TARGET_PARAMS_P99_MS=1 TARGET_BYTES_PER_SUB=1024
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-10000}
WRITES=${WRITES:-50}
INTERVAL=${INTERVAL:-100ms}
SWEEP=${SWEEP:-}
SUSTAINED_SUBSCRIBERS=${SUSTAINED_SUBSCRIBERS:-1000 10000}
SUSTAINED_DURATION=${SUSTAINED_DURATION:-10s}
PARAMS_SUBS=${PARAMS_SUBS:-100000}
PER_CONN=${PER_CONN:-100}
PARAMS_WRITES=${PARAMS_WRITES:-200}
PARAMS_HOT=${PARAMS_HOT:-0}
RUNS=${RUNS:-fanout sustained params}
SETTLE=${SETTLE:-3}
SOURCES=${SOURCES:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4}
SERVER=${SERVER:-cli}
KEEP=${KEEP:-0}
TARGET_P99_MS=${TARGET_P99_MS:-50}
TARGET_RATE=${TARGET_RATE:-200000}
TARGET_PARAMS_P99_MS=${TARGET_PARAMS_P99_MS:-1}
TARGET_BYTES_PER_SUB=${TARGET_BYTES_PER_SUB:-1024}
# Bound on any one noex-bench run.
RUN_LIMIT=${RUN_LIMIT:-600}

WORK=$(mktemp -d /tmp/noex-bench-fanout.XXXXXX)
SERVER_PID=""
BENCH_PID=""

stop_bench() {
	if [[ -n $BENCH_PID ]] && kill -0 "$BENCH_PID" 2>/dev/null; then
		kill -INT "$BENCH_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$BENCH_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$BENCH_PID" 2>/dev/null || true
	fi
	[[ -n $BENCH_PID ]] && wait "$BENCH_PID" 2>/dev/null || true
	BENCH_PID=""
}

cleanup() {
	stop_bench
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

MAX_PER_CONN=$((PER_CONN > 100 ? PER_CONN : 100))
MAX_TOTAL=$((PARAMS_SUBS > SUBSCRIBERS ? PARAMS_SUBS : SUBSCRIBERS))
for n in $SUSTAINED_SUBSCRIBERS $SWEEP; do
	if ((n > MAX_TOTAL)); then MAX_TOTAL=$n; fi
done
MAX_TOTAL=$((MAX_TOTAL * 2))

log "building noex-bench and the server"
(cd "$ROOT" && go build -o "$WORK/noex-bench" ./cmd/noex-bench)
case $SERVER in
cli)
	(cd "$ROOT" && go build -o "$WORK/noex-server" ./cmd/noex-server)
	SERVER_KIND="cmd/noex-server --config (memory persistence, log level warn, heartbeat 600 s, limits $MAX_PER_CONN per connection / $MAX_TOTAL in all)"
	;;
temp)
	mkdir -p "$WORK/tempserver"
	cat >"$WORK/tempserver/go.mod" <<-EOF
		module noexbenchserver

		go 1.26.8

		require github.com/noex-go/noex v0.0.0

		replace github.com/noex-go/noex => $ROOT
	EOF
	cp "$ROOT/go.sum" "$WORK/tempserver/go.sum"
	cat >"$WORK/tempserver/main.go" <<-'EOF'
		// A noex server for benchmarks with the CLI's settings for this
		// script (memory store, warn logging, long heartbeat, raised
		// subscription limits) plus net/http/pprof on a second loopback port.
		package main

		import (
			"context"
			"flag"
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
			"github.com/noex-go/noex/store"
		)

		func main() {
			port := flag.Int("port", 0, "listen port on 127.0.0.1")
			pprofAddr := flag.String("pprof", "", "loopback address for net/http/pprof")
			perConn := flag.Int("max-per-connection", 100, "")
			total := flag.Int("max-total", 10000, "")
			flag.Parse()
			st, err := store.Open(store.Options{Name: "store-1"})
			if err != nil {
				log.Fatal(err)
			}
			cfg := noex.DefaultConfig()
			cfg.Host, cfg.Port, cfg.Store = "127.0.0.1", *port, st
			cfg.Heartbeat = noex.Heartbeat{Interval: 600 * time.Second, Timeout: 600 * time.Second}
			cfg.ConnectionLimits = noex.ConnectionLimits{MaxSubscriptionsPerConnection: *perConn, MaxTotalSubscriptions: *total}
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
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = srv.Stop(sctx, 0)
			_ = st.Close()
		}
	EOF
	(cd "$WORK/tempserver" && GOFLAGS=-mod=mod go build -o "$WORK/noex-tempserver" .)
	SERVER_KIND="temporary main (memory store, heartbeat 600 s, limits $MAX_PER_CONN / $MAX_TOTAL, pprof), built outside the repository"
	;;
*)
	echo "SERVER must be cli or temp" >&2
	exit 2
	;;
esac

PORT=""
PPROF_PORT=""
start_server() {
	PORT=$(free_port 18280 18380 2) # the temp server also uses PORT+1
	PPROF_PORT=$((PORT + 1))
	if [[ $SERVER == cli ]]; then
		cat >"$WORK/server.json" <<-EOF
			{"host": "127.0.0.1", "port": $PORT, "persistence": "memory", "logLevel": "warn",
			 "heartbeat": {"intervalMs": 600000, "timeoutMs": 600000},
			 "connectionLimits": {"maxSubscriptionsPerConnection": $MAX_PER_CONN, "maxTotalSubscriptions": $MAX_TOTAL}}
		EOF
		(cd "$WORK" && exec "$WORK/noex-server" --config "$WORK/server.json") >>"$WORK/server.log" 2>&1 &
	else
		"$WORK/noex-tempserver" -port "$PORT" -pprof "127.0.0.1:$PPROF_PORT" \
			-max-per-connection "$MAX_PER_CONN" -max-total "$MAX_TOTAL" >>"$WORK/server.log" 2>&1 &
	fi
	SERVER_PID=$!
	if ! wait_listening "$PORT" "$SERVER_PID"; then
		cat "$WORK/server.log" >&2
		exit 1
	fi
	URL="ws://127.0.0.1:$PORT/"
	log "server: pid $SERVER_PID, $URL"
}

# bench NAME ARGS...: one bounded noex-bench run, text output to NAME.txt
# and stdout.
bench() {
	local name=$1
	shift
	log "noex-bench $* (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$WORK/$name.txt"
	timeout --signal=INT --kill-after=30 "$RUN_LIMIT" "$WORK/noex-bench" "$@" >>"$WORK/$name.txt" 2>"$WORK/$name.log" ||
		{ cat "$WORK/$name.log" >&2; return 1; }
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/$name.txt"
	cat "$WORK/$name.txt"
}

# figure FILE LINE-PREFIX KEY: the number after KEY= on the line starting
# with LINE-PREFIX.
figure() { grep -m1 "^$2" "$1" | sed -n "s/.*[ (]$3=\([0-9.]*\).*/\1/p"; }

# verdict VALUE OP TARGET: "met" or "MISSED".
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == "<=") ? (v <= t) : (v >= t); print (v != "" && ok) ? "met" : "MISSED" }'; }

SUMMARY="$WORK/summary.txt"
: >"$SUMMARY"
log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3)"
log "server: $SERVER_KIND"

for run in $RUNS; do
	case $run in
	fanout)
		for n in $SUBSCRIBERS $SWEEP; do
			start_server
			echo "--- 1. fan-out latency: $n subscribers, $WRITES writes, interval $INTERVAL"
			bench "fanout-$n" fanout -url "$URL" -subscribers "$n" -writes "$WRITES" -interval "$INTERVAL" -sources "$SOURCES"
			p99=$(figure "$WORK/fanout-$n.txt" "ack to push:" p99)
			missing=$(sed -n 's/.*missing it: \([0-9]*\).*/\1/p' "$WORK/fanout-$n.txt")
			echo "fan-out $n subscribers, interval $INTERVAL: ack-to-push p99 ${p99} ms (target <= $TARGET_P99_MS: $(verdict "$p99" "<=" "$TARGET_P99_MS")), missing final state: $missing" >>"$SUMMARY"
			stop_server
		done
		;;
	sustained)
		first=1
		for n in $SUSTAINED_SUBSCRIBERS; do
			start_server
			echo "--- 2. sustained fan-out: $n subscribers, writes back to back for $SUSTAINED_DURATION"
			PROF_PID=""
			if [[ $SERVER == temp && $first == 1 ]]; then
				# A CPU profile of 5 s inside the write phase (the dial
				# phase of 10,000 subscribers takes ~2 s).
				(sleep 4 && curl -fsS -o "$WORK/cpu-sustained-$n.pprof" \
					"http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=5") &
				PROF_PID=$!
			fi
			bench "sustained-$n" fanout -url "$URL" -subscribers "$n" -interval 0 -duration "$SUSTAINED_DURATION" -sources "$SOURCES"
			if [[ -n $PROF_PID ]]; then
				wait "$PROF_PID" || true
				log "CPU profile: $WORK/cpu-sustained-$n.pprof (KEEP=1 keeps it)"
			fi
			rate=$(sed -n 's/^deliveries\/s: \([0-9]*\) during.*/\1/p' "$WORK/sustained-$n.txt")
			echo "sustained $n subscribers: $rate deliveries/s (target >= $TARGET_RATE: $(verdict "$rate" ">=" "$TARGET_RATE"))" >>"$SUMMARY"
			first=0
			stop_server
		done
		;;
	params)
		start_server
		conns=$(((PARAMS_SUBS + PER_CONN - 1) / PER_CONN))
		echo "--- 3. parametrised subscriptions: $PARAMS_SUBS on $conns connections"
		# measure NAME: RSS and /metrics (after a forced GC with SERVER=temp).
		measure() {
			if [[ $SERVER == temp ]]; then
				curl -fsS -o "$WORK/heap-$1.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/heap?gc=1"
			fi
			rss_kib "$SERVER_PID" >"$WORK/rss-$1"
			curl -fsS -o "$WORK/metrics-$1.txt" "http://127.0.0.1:$PORT/metrics"
			log "server RSS ($1): $(cat "$WORK/rss-$1") KiB"
		}
		curl -fsS -o /dev/null "http://127.0.0.1:$PORT/metrics"
		sleep 1
		measure start
		log "noex-bench params (load average $(cut -d' ' -f1-3 /proc/loadavg))"
		echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$WORK/params.txt"
		"$WORK/noex-bench" params -url "$URL" -subscriptions "$PARAMS_SUBS" -per-connection "$PER_CONN" \
			-writes "$PARAMS_WRITES" -hot-owners "$PARAMS_HOT" -pause 120s -sources "$SOURCES" >>"$WORK/params.txt" 2>"$WORK/params.log" &
		BENCH_PID=$!
		# wait_phase WORD: wait (bounded) for the bench to reach a phase.
		wait_phase() {
			for _ in $(seq 1 3000); do
				grep -q "phase $1" "$WORK/params.log" && return 0
				kill -0 "$BENCH_PID" 2>/dev/null || break
				sleep 0.1
			done
			cat "$WORK/params.log" >&2
			return 1
		}
		wait_phase connected
		sleep "$SETTLE"
		measure connected
		kill -USR1 "$BENCH_PID"
		wait_phase subscribed
		sleep "$SETTLE"
		measure subscribed
		kill -USR1 "$BENCH_PID"
		for _ in $(seq 1 "$RUN_LIMIT"); do
			kill -0 "$BENCH_PID" 2>/dev/null || break
			sleep 1
		done
		stop_bench
		echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/params.txt"
		cat "$WORK/params.txt"
		subs=$(sed -n 's/^subscriptions: \([0-9]*\) of.*/\1/p' "$WORK/params.txt")
		echo "--- server memory (params run)$([[ $SERVER == temp ]] && echo ', each reading after a forced GC')"
		awk -v conns="$conns" -v subs="$subs" -v target="$TARGET_BYTES_PER_SUB" \
			-v r0="$(cat "$WORK/rss-start")" -v r1="$(cat "$WORK/rss-connected")" -v r2="$(cat "$WORK/rss-subscribed")" \
			-v m0="$WORK/metrics-start.txt" -v m1="$WORK/metrics-connected.txt" -v m2="$WORK/metrics-subscribed.txt" '
		function load(file, arr,   line, f) {
			while ((getline line < file) > 0) {
				if (line ~ /^go_memstats_|^go_goroutines |^noex_connections |^noex_store_subscriptions /) { split(line, f, " "); arr[f[1]] = f[2] + 0 }
			}
			close(file)
		}
		BEGIN {
			load(m0, a); load(m1, b); load(m2, c)
			printf "RSS: start %d KiB, %d connections open %d KiB, %d subscriptions made %d KiB\n", r0, b["noex_connections"], r1, c["noex_store_subscriptions"], r2
			printf "per connection (RSS): %.0f bytes\n", (r1 - r0) * 1024 / (b["noex_connections"] - a["noex_connections"])
			per = (r2 - r1) * 1024 / subs
			printf "per subscription (RSS): %.0f bytes (target <= %d: %s)\n", per, target, (per <= target ? "met" : "MISSED")
			split("go_memstats_heap_alloc_bytes go_memstats_heap_inuse_bytes go_memstats_stack_inuse_bytes go_memstats_heap_idle_bytes go_memstats_heap_released_bytes go_memstats_sys_bytes", keys, " ")
			for (i = 1; i in keys; i++) {
				k = keys[i]
				printf "%-34s start %11d connected %11d subscribed %11d  per subscription %7.0f bytes\n", k, a[k], b[k], c[k], (c[k] - b[k]) / subs
			}
			printf "go_goroutines: start %d, connected %d, subscribed %d\n", a["go_goroutines"], b["go_goroutines"], c["go_goroutines"]
		}' | tee "$WORK/params-memory.txt"
		p99=$(figure "$WORK/params.txt" "ack to push:" p99)
		stray=$(sed -n 's/^pushes: .* missing, \([0-9]*\) stray.*/\1/p' "$WORK/params.txt")
		missingp=$(sed -n 's/^pushes: [0-9]* matched, \([0-9]*\) missing.*/\1/p' "$WORK/params.txt")
		echo "params $subs subscriptions: ack-to-push p99 ${p99} ms (target <= $TARGET_PARAMS_P99_MS: $(verdict "$p99" "<=" "$TARGET_PARAMS_P99_MS")), missing $missingp, stray $stray" >>"$SUMMARY"
		grep "^per subscription (RSS)" "$WORK/params-memory.txt" | sed 's/^/params memory /' >>"$SUMMARY"
		stop_server
		;;
	*)
		echo "unknown run $run (RUNS: fanout sustained params)" >&2
		exit 2
		;;
	esac
done

echo "--- summary"
echo "server: $SERVER_KIND"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$SUMMARY"
