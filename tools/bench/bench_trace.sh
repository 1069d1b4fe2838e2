#!/bin/sh
# Tracer overhead: a server's throughput at saturation untraced vs under loadscope's full
# tracing as a user gets it (`loadscope trace --replica NAME=port:PORT`: sched, syscalls with
# their default duty cycle, sockets + request spans, profile at 49 Hz), and under tracing
# without the per-syscall hooks (--no-syscalls), in rounds whose order rotates, plus the CPU
# cost per traced request. Two servers:
#   nginx: a small static answer, ~10 us of CPU per request: the worst case for tracing;
#   the demo server: POST /predict at --model-cost 2 (2 ms of CPU), an inference API's shape.
#
#   each server: 1 worker, pinned to core 1; wrk pinned to core 0, 1 thread, same connections
#   and duration in every run; loadscope on core 0 with wrk.
#   ratio  = traced req/s / untraced req/s (target >= 0.97, aim >= 0.99); with a 2 ms model
#   the VM's CPU speed (+-25% between runs here) swamps the ratio, so the BPF run time per
#   request as a share of the server's CPU per request is printed too
#   cpu/req = extra CPU time of the nginx processes per request (traced - untraced), and the
#   BPF programs' own run time per request (kernel.bpf_stats_enabled, one extra traced run).
#
# Needs root (BPF), nginx and wrk (tools/install-deps.sh). make bench runs it under
# flock /tmp/loadscope-cpu.lock (tools/bench/run.sh); run by hand the same way.
set -eu
cd "$(dirname "$0")/../.."
BIN=${LOADSCOPE_BIN:-build/loadscope}
DEMO=${DEMO_SERVER_BIN:-build/loadscope-demo-server}
RUNS=${BENCH_TRACE_RUNS:-5}
SECS=${BENCH_TRACE_SECS:-10}
CONNS=${BENCH_TRACE_CONNS:-50}

if [ "$(id -u)" != 0 ]; then echo "bench_trace: skipped (needs root for BPF)"; exit 0; fi
for tool in nginx wrk taskset bpftool; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench_trace: $tool missing (tools/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] && [ -x "$DEMO" ] || { echo "bench_trace: $BIN or $DEMO missing (make)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench_trace: needs 2 cores" >&2; exit 1; }

DIR=$(mktemp -d /tmp/loadscope-bench-trace.XXXXXX)
PORT=$(( 20000 + $$ % 20000 ))
DEMO_PORT=$((PORT + 1))
NGINX_PID=""
DEMO_PID=""
TRACE_PID=""
cleanup() {
    [ -n "$TRACE_PID" ] && kill -INT "$TRACE_PID" 2>/dev/null && wait "$TRACE_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
    [ -n "$DEMO_PID" ] && kill "$DEMO_PID" 2>/dev/null || true
    sleep 0.3
    rm -rf "$DIR"
    sysctl -q -w kernel.bpf_stats_enabled=0 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkdir -p "$DIR/www" "$DIR/logs"
chmod 755 "$DIR" "$DIR/www"   # the worker runs as nobody
# a small JSON answer, like an inference API's
printf '{"label":"cat","score":0.9731,"model":"resnet18","latency_ms":12.5}\n' > "$DIR/www/index.html"
cat > "$DIR/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$PORT;
        root $DIR/www;
        location / { index index.html; }
    }
}
CONF
taskset -c 1 nginx -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/logs/error.log" &
NGINX_PID=$!
sleep 0.5
curl -sf "http://127.0.0.1:$PORT/" >/dev/null || { echo "bench_trace: nginx did not start" >&2; exit 1; }

# The server under test: SERVER (name), SERVER_PID, SERVER_PORT, URL, WRK_EXTRA.
# CPU time (jiffies) of its processes: its own work plus the BPF programs that run in its
# context (other processes sharing the machine do not count, unlike a core's busy time)
server_cpu() {
    t=0
    for p in $SERVER_PID $(pgrep -P "$SERVER_PID"); do
        t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0)))
    done
    echo $t
}
HZ=$(getconf CLK_TCK)

# one wrk run: prints "REQS_PER_SEC REQUESTS BUSY_NS_PER_REQ"
run_wrk() {
    b0=$(server_cpu)
    out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" -H 'X-Request-Id: 0123456789abcdef' \
          $WRK_EXTRA "$URL")
    b1=$(server_cpu)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$rps $reqs $b0 $b1" | awk -v hz="$HZ" '{printf "%s %s %.0f\n", $1, $2, ($4-$3)*1e9/hz/$2}'
}

start_trace() {   # $1: extra flags
    # every output as a user gets it: spans, windows and profiles in the run store, the
    # reports written when it stops (after the measurement)
    taskset -c 0 "$BIN" trace --replica "$SERVER=port:$SERVER_PORT" -t 600s -q --profile-hz 49 \
        --out "$DIR/run" ${1:-} > "$DIR/trace.out" 2> "$DIR/trace.err" &
    TRACE_PID=$!
    sleep 1.5
    kill -0 "$TRACE_PID" 2>/dev/null || { cat "$DIR/trace.err" >&2; exit 1; }
}
stop_trace() {
    kill -INT "$TRACE_PID"
    wait "$TRACE_PID" || true
    TRACE_PID=""
    rm -rf "$DIR/run"
}

add() { echo "$1 $2" | awk '{print $1+$2}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# one run of a configuration (untraced, traced, light = --no-syscalls): sets RPS, REQS, CPU and
# NOTE (what the tracer said about its per-syscall hooks)
run_config() {
    NOTE=""
    case $1 in
    traced) start_trace ;;
    light) start_trace --no-syscalls ;;
    esac
    set -- "$1" $(run_wrk)
    RPS=$2; REQS=$3; CPU=$4
    if [ "$1" != untraced ]; then
        stop_trace
        NOTE=" ($(tail -1 "$DIR/trace.err" | sed 's/loadscope trace: //'))"
    fi
}

# RUNS rounds of the three configurations, their order rotating from round to round (this
# VM's speed drifts: a fixed order would favour one), then one traced run for the BPF run
# time. The loss is given two ways: from the mean throughputs, and as the median of each
# round's traced / untraced ratio (robust to a round the VM slowed down).
measure() {
    taskset -c 0 wrk -t1 -c"$CONNS" -d2s $WRK_EXTRA "$URL" >/dev/null   # warm up
    sum_untraced=0; sum_traced=0; sum_light=0; cpu_untraced=0; cpu_traced=0; cpu_light=0
    ratios_traced=""; ratios_light=""
    i=1
    while [ "$i" -le "$RUNS" ]; do
        case $((i % 3)) in
        1) order="untraced traced light" ;;
        2) order="traced light untraced" ;;
        0) order="light untraced traced" ;;
        esac
        for cfg in $order; do
            run_config "$cfg"
            echo "$SERVER run $i $cfg: $RPS req/s, $REQS requests, server CPU $CPU ns/request$NOTE"
            eval "rps_$cfg=$RPS"
            eval "sum_$cfg=\$(add \"\$sum_$cfg\" $RPS)"
            eval "cpu_$cfg=\$(add \"\$cpu_$cfg\" $CPU)"
        done
        ratios_traced="$ratios_traced $(echo "$rps_traced $rps_untraced" | awk '{print $1 / $2}')"
        ratios_light="$ratios_light $(echo "$rps_light $rps_untraced" | awk '{print $1 / $2}')"
        i=$((i + 1))
    done
    med_traced=$(median $ratios_traced)
    med_light=$(median $ratios_light)

    sysctl -q -w kernel.bpf_stats_enabled=1
    start_trace
    set -- $(run_wrk)
    stats_reqs=$2
    bpf_ns=$(bpftool prog show -j | tr '}' '\n' | awk -v pid="$TRACE_PID" '
        /"pids"/ && index($0, "\"pid\":" pid) == 0 { next }
        { if (match($0, /"run_time_ns":[0-9]+/)) { s += substr($0, RSTART+14, RLENGTH-14) } }
        END { print s+0 }')
    stop_trace
    sysctl -q -w kernel.bpf_stats_enabled=0

    echo "$sum_untraced $sum_traced $cpu_untraced $cpu_traced $RUNS $bpf_ns $stats_reqs $sum_light $cpu_light $med_traced $med_light" | awk -v name="$SERVER" '{
        b = $1/$5; t = $2/$5; ratio = t/b; l = $8/$5;
        printf "%s untraced %.0f req/s, traced %.0f req/s: ratio %.4f (%.2f%% loss), median of the rounds %.4f (%.2f%% loss; target <= 3%%, aim <= 1%%)\n", name, b, t, ratio, (1-ratio)*100, $10, (1-$10)*100;
        printf "%s CPU per traced request: %+.0f ns (%.0f -> %.0f ns/request)\n", name, ($4-$3)/$5, $3/$5, $4/$5;
        if ($7 > 0) printf "%s BPF programs run time: %.0f ns per request (all programs, all CPUs) = %.2f%% of the untraced server CPU per request\n", name, $6/$7, $6/$7/($3/$5)*100;
        printf "%s --no-syscalls: %.0f req/s, ratio %.4f (%.2f%% loss), median of the rounds %.4f (%.2f%% loss), server CPU %+.0f ns per request\n", name, l, l/b, (1-l/b)*100, $11, (1-$11)*100, ($9-$3)/$5;
    }'
}

SERVER=nginx SERVER_PID=$NGINX_PID SERVER_PORT=$PORT URL="http://127.0.0.1:$PORT/" WRK_EXTRA=""
measure
kill "$NGINX_PID"; NGINX_PID=""

# The demo server: one worker, a 2 ms model; wrk POSTs a 4 KB image (raw grayscale bytes).
head -c 4096 /dev/urandom > "$DIR/image.bin"
cat > "$DIR/post.lua" <<LUA
local f = io.open("$DIR/image.bin", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
taskset -c 1 "$DEMO" --port "$DEMO_PORT" --workers 1 --model-cost 2 > "$DIR/demo.out" 2> "$DIR/demo.err" &
DEMO_PID=$!
i=0
until grep -q "ready" "$DIR/demo.err" "$DIR/demo.out" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -le 300 ] || { cat "$DIR/demo.err" >&2; exit 1; }; sleep 0.1
done
SERVER=demo SERVER_PID=$DEMO_PID SERVER_PORT=$DEMO_PORT URL="http://127.0.0.1:$DEMO_PORT/predict" \
    WRK_EXTRA="-s $DIR/post.lua" CONNS=4
measure
