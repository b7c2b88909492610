#!/usr/bin/env bash
# bench-rr.sh — request/response throughput and latency.
#
# Builds cmd/noex-server and noex-bench, then for each persistence mode
# starts a fresh server on a loopback port, pinned to one CPU, and runs
# `noex-bench rr` pinned to another: CONNS connections × INFLIGHT requests
# in flight, the op mix MIX over a bucket of RECORDS records that the tool
# defines and fills itself, WARMUP then DURATION measured. Prints each
# run's report and a summary (requests/s, latency percentiles, errors).
#
# Persistence modes:
#   memory    --persistence memory (nothing kept)
#   durable   --persistence file --data-dir <fresh directory> (the server's
#             default: every write is acknowledged once it is durable)
#
# Environment (all optional):
#   CONNS=64 INFLIGHT=8 RECORDS=10000 VALUE_BYTES=100
#   MIX=get=50,update=20,where=10,insert=10,delete=10
#   DURATION=30s WARMUP=5s
#   PERSISTENCE="memory durable"   which modes to run, in this order
#   SERVER_CPU=0 BENCH_CPU=1       CPUs for taskset (empty: no pinning)
#   DATA_DIR=                      parent of the durable data directory
#                                  (default: the work directory, under /tmp)
#   KEEP=1                         keep the work directory (reports, logs)
#   RUN_LIMIT=600                  bound on one noex-bench run, seconds
#
# Nothing is installed: it needs go, curl and taskset (util-linux).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONNS=${CONNS:-64}
INFLIGHT=${INFLIGHT:-8}
RECORDS=${RECORDS:-10000}
VALUE_BYTES=${VALUE_BYTES:-100}
MIX=${MIX:-get=50,update=20,where=10,insert=10,delete=10}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-5s}
PERSISTENCE=${PERSISTENCE:-memory durable}
SERVER_CPU=${SERVER_CPU-0}
BENCH_CPU=${BENCH_CPU-1}
KEEP=${KEEP:-0}
RUN_LIMIT=${RUN_LIMIT:-600}

WORK=$(mktemp -d /tmp/noex-bench-rr.XXXXXX)
DATA_DIR=${DATA_DIR:-$WORK}
SERVER_PID=""

cleanup() {
	stop_server
	if [[ $KEEP == 1 ]]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
		if [[ $DATA_DIR != "$WORK" ]]; then
			rm -rf "$DATA_DIR"/noex-bench-rr-data.*
		fi
	fi
}
trap cleanup EXIT

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# pinned CPU CMD...: CMD on that CPU, or as it is when CPU is empty.
pinned() {
	local cpu=$1
	shift
	if [[ -n $cpu ]]; then
		exec taskset -c "$cpu" "$@"
	fi
	exec "$@"
}

if [[ -n $SERVER_CPU || -n $BENCH_CPU ]] && ! command -v taskset >/dev/null; then
	echo "taskset (util-linux) is needed for pinning; set SERVER_CPU= BENCH_CPU= to run unpinned" >&2
	exit 1
fi

log "building noex-server and noex-bench"
(cd "$ROOT" && go build -o "$WORK/noex-server" ./cmd/noex-server && go build -o "$WORK/noex-bench" ./cmd/noex-bench)

# start_server MODE: a fresh server with that persistence on a free
# loopback port; sets SERVER_PID and URL.
start_server() {
	local args=(--host 127.0.0.1 --port "$PORT" --log-level warn)
	case $1 in
	memory) args+=(--persistence memory) ;;
	durable)
		local dir
		dir=$(mktemp -d "$DATA_DIR/noex-bench-rr-data.XXXXXX")
		args+=(--persistence file --data-dir "$dir")
		;;
	*)
		echo "unknown persistence $1 (PERSISTENCE: memory durable)" >&2
		exit 2
		;;
	esac
	(cd "$WORK" && pinned "$SERVER_CPU" "$WORK/noex-server" "${args[@]}") >"$WORK/server-$1.log" 2>&1 &
	SERVER_PID=$!
	if ! wait_listening "$PORT" "$SERVER_PID"; then
		cat "$WORK/server-$1.log" >&2
		exit 1
	fi
	URL="ws://127.0.0.1:$PORT/"
	log "server ($1): noex-server ${args[*]}, pid $SERVER_PID, CPU ${SERVER_CPU:-any}"
}

# figure FILE LINE-PREFIX KEY: the number after KEY= on the line starting
# with LINE-PREFIX.
figure() { grep -m1 "^$2" "$1" | sed -n "s/.*[ (]$3=\([0-9.]*\)ms.*/\1/p"; }

MACHINE="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version | cut -d' ' -f3)"
log "machine: $MACHINE"
SUMMARY="$WORK/summary.txt"
printf '%-8s %12s %10s %10s %10s %10s %s\n' persistence "requests/s" "p50 ms" "p90 ms" "p99 ms" "max ms" errors >"$SUMMARY"

for mode in $PERSISTENCE; do
	PORT=$(free_port 18380 18480)
	start_server "$mode"
	log "noex-bench rr ($mode): $CONNS × $INFLIGHT, mix $MIX, $RECORDS records, warmup $WARMUP, $DURATION (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	out="$WORK/rr-$mode.txt"
	echo "--- rr, $mode persistence" >"$out"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
	if ! (pinned "$BENCH_CPU" timeout --signal=INT --kill-after=30 "$RUN_LIMIT" "$WORK/noex-bench" rr -url "$URL" \
		-conns "$CONNS" -inflight "$INFLIGHT" -mix "$MIX" -records "$RECORDS" -value-bytes "$VALUE_BYTES" \
		-duration "$DURATION" -warmup "$WARMUP") >>"$out" 2>"$WORK/rr-$mode.log"; then
		cat "$out" "$WORK/rr-$mode.log" >&2
		exit 1
	fi
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
	cat "$out"
	rate=$(sed -n 's/^requests: [0-9]* (\([0-9]*\)\/s).*/\1/p' "$out")
	errors=$(sed -n 's/^requests: .*, errors: \(.*\)$/\1/p' "$out")
	printf '%-8s %12s %10s %10s %10s %10s %s\n' "$mode" "$rate" "$(figure "$out" "latency" p50)" \
		"$(figure "$out" "latency" p90)" "$(figure "$out" "latency" p99)" "$(figure "$out" "latency" max)" "$errors" >>"$SUMMARY"
	stop_server
done

echo "--- summary: rr, $CONNS connections × $INFLIGHT in flight, mix $MIX, $RECORDS records of $VALUE_BYTES B, warmup $WARMUP, $DURATION"
echo "server on CPU ${SERVER_CPU:-any}, noex-bench on CPU ${BENCH_CPU:-any}; machine: $MACHINE; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$SUMMARY"
