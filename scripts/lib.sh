# Helpers shared by the benchmark scripts (sourced, not run).

log() { echo "== $*" >&2; }

# rss_kib PID: resident set size in KiB.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# metric NAME FILE: value of an unlabelled series in a Prometheus text dump.
metric() { awk -v n="$1" '$1 == n {printf "%.0f\n", $2; exit}' "$2"; }

# free_port FIRST LAST [COUNT]: the first port p in FIRST..LAST such that
# p .. p+COUNT-1 (default 1) have nobody listening on loopback.
free_port() {
	local p q ok count=${3:-1}
	for p in $(seq "$1" "$2"); do
		ok=1
		for q in $(seq "$p" $((p + count - 1))); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null; then
				ok=0
				break
			fi
		done
		if [[ $ok == 1 ]]; then
			echo "$p"
			return
		fi
	done
	echo "no free port in $1-$2" >&2
	return 1
}

wait_listening() { # PORT PID
	for _ in $(seq 1 100); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$1/metrics" 2>/dev/null; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_server: SIGTERM the server in $SERVER_PID, SIGKILL it after 15 s,
# reap it and clear SERVER_PID.
stop_server() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 150); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	[[ -n $SERVER_PID ]] && wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}
