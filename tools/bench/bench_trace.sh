#!/bin/sh
# Tracer overhead: a server's throughput at saturation untraced vs under loadscope's full
# tracing as a user gets it (`loadscope trace --replica NAME=port:PORT`: sched, syscalls with
# their default duty cycle, sockets + request spans sampled above 10000/s, profile at 49 Hz),
# with a span for every request (--span-rate 0), without the per-syscall hooks, and untraced
# again (the control: the noise floor), in rounds whose order rotates, plus the CPU cost per
# traced request. Two servers:
#   nginx: a small static answer, ~10 us of CPU per request: the worst case for tracing;
#   the demo server: POST /predict at --model-cost 2 (2 ms of CPU), an inference API's shape.
#
#   each server: 1 worker, pinned to core 1; wrk pinned to core 0, 1 thread, same connections
#   and duration in every run; loadscope on core 0 with wrk (any CPU it takes there slows
#   wrk: a process spinning 5% of core 0 cost nginx ~10% of its throughput here).
#   ratio  = configuration req/s / untraced req/s in the same round (target >= 0.97, aim
#   >= 0.99); the control's ratio shows what noise alone does
#   cpu/req = extra CPU time of the server's processes per request (configuration -
#   untraced), and the BPF programs' own run time per request (kernel.bpf_stats_enabled, one
#   extra traced run).
#
# Needs root (BPF), nginx and wrk (tools/install-deps.sh). make bench runs it under
# flock /tmp/loadscope-cpu.lock (tools/bench/run.sh); run by hand the same way.
set -eu
cd "$(dirname "$0")/../.."
BIN=${LOADSCOPE_BIN:-build/loadscope}
DEMO=${DEMO_SERVER_BIN:-build/loadscope-demo-server}
RUNS=${BENCH_TRACE_RUNS:-7}
SECS=${BENCH_TRACE_SECS:-6}
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
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.2f-%.2f", lo, hi}'; }

# The configurations of a round: untraced; traced as a user gets it; traced with a span for
# every request (--span-rate 0); traced without the per-syscall hooks; and untraced again, the
# control: its ratio to the first untraced run is this VM's noise (its speed swings +-20%
# from second to second here), the yardstick for the others.
CONFIGS="untraced traced every_span no_syscalls control"
flags_of() {
    case $1 in
    every_span) echo "--span-rate 0" ;;
    no_syscalls) echo "--no-syscalls" ;;
    *) echo "" ;;
    esac
}

# one run of a configuration: sets RPS, REQS, CPU and NOTE (what the tracer said about its
# spans and per-syscall hooks)
run_config() {
    NOTE=""
    case $1 in
    untraced | control) ;;
    *) start_trace "$(flags_of "$1")" ;;
    esac
    set -- "$1" $(run_wrk)
    RPS=$2; REQS=$3; CPU=$4
    case $1 in
    untraced | control) ;;
    *)
        stop_trace
        NOTE=" ($(tail -2 "$DIR/trace.err" | sed 's/loadscope trace: //' | paste -sd '|' | sed 's/|/ \/ /'))"
        ;;
    esac
}

# RUNS rounds of the configurations, their order rotating from round to round (this VM's
# speed drifts: a fixed order would favour one), then one traced run for the BPF run time.
# Each configuration's loss is the median of its per-round ratios to the round's untraced
# run (robust to a round the VM slowed down), with their range.
measure() {
    taskset -c 0 wrk -t1 -c"$CONNS" -d2s $WRK_EXTRA "$URL" >/dev/null   # warm up
    for cfg in $CONFIGS; do eval "ratios_$cfg=''; cpu_$cfg=0; sum_$cfg=0"; done
    n=$(echo $CONFIGS | wc -w)
    i=1
    while [ "$i" -le "$RUNS" ]; do
        # rotate: round i starts with configuration number i
        order=$(echo $CONFIGS | awk -v k=$(( (i - 1) % n )) '{for (j = 0; j < NF; j++) printf "%s ", $((j + k) % NF + 1)}')
        for cfg in $order; do
            run_config "$cfg"
            echo "$SERVER run $i $cfg: $RPS req/s, $REQS requests, server CPU $CPU ns/request$NOTE"
            eval "rps_$cfg=$RPS"
            eval "sum_$cfg=\$(add \"\$sum_$cfg\" $RPS)"
            eval "cpu_$cfg=\$(add \"\$cpu_$cfg\" $CPU)"
        done
        for cfg in $CONFIGS; do
            [ "$cfg" = untraced ] && continue
            eval "ratios_$cfg=\"\$ratios_$cfg \$(echo \$rps_$cfg \$rps_untraced | awk '{print \$1 / \$2}')\""
        done
        i=$((i + 1))
    done

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

    base_rps=$(echo "$sum_untraced $RUNS" | awk '{print $1 / $2}')
    base_cpu=$(echo "$cpu_untraced $RUNS" | awk '{print $1 / $2}')
    echo "$base_rps $base_cpu" | awk -v name="$SERVER" '{
        printf "%s untraced: %.0f req/s on average, server CPU %.0f ns/request\n", name, $1, $2 }'
    for cfg in $CONFIGS; do
        [ "$cfg" = untraced ] && continue
        eval "r=\$ratios_$cfg; c=\$cpu_$cfg"
        med=$(median $r)
        case $cfg in
        control) what="untraced again (the noise floor)" ;;
        traced) what="traced, defaults (target <= 3% loss, aim <= 1%)" ;;
        every_span) what="traced, a span for every request (--span-rate 0)" ;;
        no_syscalls) what="traced, --no-syscalls" ;;
        esac
        echo "$med $(range $r) $c $RUNS $base_cpu" | awk -v name="$SERVER" -v what="$what" '{
            printf "%s %s: median ratio %.3f (%.1f%% loss), rounds %s; server CPU %+.0f ns/request\n",
                name, what, $1, (1 - $1) * 100, $2, $3 / $4 - $5 }'
    done
    echo "$bpf_ns $stats_reqs $base_cpu" | awk -v name="$SERVER" '$2 > 0 {
        printf "%s BPF programs run time: %.0f ns per request (all programs, all CPUs, bpf_stats on) = %.2f%% of the untraced server CPU per request\n", name, $1 / $2, $1 / $2 / $3 * 100 }'
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
