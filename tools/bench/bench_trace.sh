#!/bin/sh
# Tracer overhead: nginx throughput at saturation untraced vs under loadscope's full tracing
# (`loadscope trace --replica nginx=port:PORT`: sched, syscalls, sockets + request spans,
# profile at 49 Hz), and under tracing without the per-syscall hooks (--no-syscalls), in
# alternating runs, plus the CPU cost per traced request.
#
#   nginx: own config in a temp dir, 1 worker, pinned to core 1; wrk pinned to core 0,
#   1 thread, same connections and duration in every run; loadscope on core 0 with wrk.
#   ratio  = traced req/s / untraced req/s (target >= 0.97, aim >= 0.99)
#   cpu/req = extra CPU time of the nginx processes per request (traced - untraced), and the
#   BPF programs' own run time per request (kernel.bpf_stats_enabled, one extra traced run).
#
# Needs root (BPF), nginx and wrk (tools/install-deps.sh). make bench runs it under
# flock /tmp/loadscope-cpu.lock (tools/bench/run.sh); run by hand the same way.
set -eu
cd "$(dirname "$0")/../.."
BIN=${LOADSCOPE_BIN:-build/loadscope}
RUNS=${BENCH_TRACE_RUNS:-3}
SECS=${BENCH_TRACE_SECS:-10}
CONNS=${BENCH_TRACE_CONNS:-50}

if [ "$(id -u)" != 0 ]; then echo "bench_trace: skipped (needs root for BPF)"; exit 0; fi
for tool in nginx wrk taskset bpftool; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench_trace: $tool missing (tools/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench_trace: $BIN missing (make)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench_trace: needs 2 cores" >&2; exit 1; }

DIR=$(mktemp -d /tmp/loadscope-bench-trace.XXXXXX)
PORT=$(( 20000 + $$ % 20000 ))
NGINX_PID=""
TRACE_PID=""
cleanup() {
    [ -n "$TRACE_PID" ] && kill -INT "$TRACE_PID" 2>/dev/null && wait "$TRACE_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
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

# CPU time (jiffies) of the nginx processes: its own work plus the BPF programs that run in
# its context (other processes sharing the machine do not count, unlike a core's busy time)
nginx_cpu() {
    t=0
    for p in $NGINX_PID $(pgrep -P "$NGINX_PID"); do
        t=$((t + $(awk '{print $14+$15}' /proc/$p/stat)))
    done
    echo $t
}
HZ=$(getconf CLK_TCK)

# one wrk run: prints "REQS_PER_SEC REQUESTS BUSY_NS_PER_REQ"
run_wrk() {
    b0=$(nginx_cpu)
    out=$(taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" -H 'X-Request-Id: 0123456789abcdef' \
          "http://127.0.0.1:$PORT/")
    b1=$(nginx_cpu)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$rps $reqs $b0 $b1" | awk -v hz="$HZ" '{printf "%s %s %.0f\n", $1, $2, ($4-$3)*1e9/hz/$2}'
}

start_trace() {   # $1: extra flags
    taskset -c 0 "$BIN" trace --replica "nginx=port:$PORT" -t 600s -q --profile-hz 49 \
        --spans-csv /dev/null ${1:-} > "$DIR/trace.out" 2> "$DIR/trace.err" &
    TRACE_PID=$!
    sleep 1.5
    kill -0 "$TRACE_PID" 2>/dev/null || { cat "$DIR/trace.err" >&2; exit 1; }
}
stop_trace() {
    kill -INT "$TRACE_PID"
    wait "$TRACE_PID" || true
    TRACE_PID=""
}

taskset -c 0 wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$PORT/" >/dev/null   # warm up
add() { echo "$1 $2" | awk '{print $1+$2}'; }
base_sum=0; traced_sum=0; light_sum=0; base_cpu=0; traced_cpu=0; light_cpu=0
i=1
while [ "$i" -le "$RUNS" ]; do
    set -- $(run_wrk)
    echo "run $i untraced:     $1 req/s, $2 requests, nginx CPU $3 ns/request"
    base_sum=$(add "$base_sum" "$1"); base_cpu=$(add "$base_cpu" "$3")
    start_trace
    set -- $(run_wrk)
    stop_trace
    echo "run $i traced:       $1 req/s, $2 requests, nginx CPU $3 ns/request ($(tail -1 "$DIR/trace.err" | sed 's/loadscope trace: //'))"
    traced_sum=$(add "$traced_sum" "$1"); traced_cpu=$(add "$traced_cpu" "$3")
    start_trace --no-syscalls
    set -- $(run_wrk)
    stop_trace
    echo "run $i --no-syscalls: $1 req/s, $2 requests, nginx CPU $3 ns/request"
    light_sum=$(add "$light_sum" "$1"); light_cpu=$(add "$light_cpu" "$3")
    i=$((i + 1))
done

# BPF run time per request: one more traced run with kernel.bpf_stats_enabled
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

echo "$base_sum $traced_sum $base_cpu $traced_cpu $RUNS $bpf_ns $stats_reqs $light_sum $light_cpu" | awk '{
    b = $1/$5; t = $2/$5; ratio = t/b; l = $8/$5;
    printf "nginx untraced %.0f req/s, traced %.0f req/s: ratio %.4f (%.2f%% loss; target <= 3%%, aim <= 1%%)\n", b, t, ratio, (1-ratio)*100;
    printf "CPU per traced request in nginx: %+.0f ns (%.0f -> %.0f ns/request)\n", ($4-$3)/$5, $3/$5, $4/$5;
    if ($7 > 0) printf "BPF programs run time: %.0f ns per request (all programs, all CPUs)\n", $6/$7;
    printf "--no-syscalls: %.0f req/s, ratio %.4f (%.2f%% loss), nginx CPU %+.0f ns per request\n", l, l/b, (1-l/b)*100, ($9-$3)/$5;
}'
