#!/bin/sh
# Tracer overhead: a server's throughput at saturation under loadscope's full tracing as a
# user gets it (`loadscope trace --replica NAME=port:PORT`: sched, syscalls and sockets with
# their default duty cycles, request spans sampled above 10000/s, profile at 49 Hz), with the
# socket hooks all along and a span for every request (--all-sockets --span-rate 0) and without
# the per-syscall hooks, against the same server untraced, plus the CPU cost per traced
# request. Two servers:
#   nginx: a small static answer, ~10 us of CPU per request: the worst case for tracing;
#   the demo server: POST /predict at --model-cost 2 (2 ms of CPU), an inference API's shape.
#
# How: twins. This VM's speed swings by +-20% from second to second (runs of the same
# configuration one after the other differed by up to 50%), far more than the few percent to
# measure. So two identical instances of the server (twin A and twin B) share core 1 and are
# driven at the same time by two wrk processes on core 0; loadscope traces one of them. Both
# twins always want the CPU, the scheduler shares it fairly, and each twin serves its share
# divided by what a request costs it: the ratio traced twin / untraced twin is the throughput
# the tracing costs, measured in the same seconds on the same core, whatever the VM's speed.
# Which twin is traced alternates from round to round; the control (both untraced) shows the
# method's own floor. But the hooks are host-wide: the untraced twin pays for them too (every
# socket operation, context switch and, while the per-syscall hooks run, every syscall of the
# host goes through a program), so the twin ratio is only the traced replica's extra cost.
# The whole cost needs a yardstick the hooks do not touch: a third process on core 1, a
# spinner with no syscalls, counts its iterations during the same seconds. The scheduler gives
# each of the three a third of the core, so each twin's req/s per spinner iteration is its
# throughput per unit of CPU, whatever the VM's speed; against the same figure in the control
# rounds it is the throughput under tracing vs untraced.
#   vs untraced = traced twin's req/s per spin / the twins' req/s per spin in the control
#             rounds, median of the rounds: the throughput loss (target >= 0.97, aim >= 0.99)
#   same round = the traced twin's req/s per spin / the control's in the same round, median
#             of the rounds (configurations run in an order rotated every round; the VM's
#             drift between rounds then cancels out of this one)
#   untraced twin = the same for the twin not traced: what the hooks cost everything else
#   floor   = no tracer, empty programs on the socket and scheduler tracepoints the tracer
#             uses (bpf/hook_floor.bpf.c): what merely running a program on those events
#             costs on this machine, the lower bound of any design built on them
#   ratio   = traced twin req/s / untraced twin req/s, median of the rounds
#   cpu/req = traced twin's CPU time per request - the untraced twin's (same seconds), and
#             that as a share of the untraced CPU per request: the traced server's own extra
#             cost, steadier than the req/s ratio (the twins' shares of the core differ by a
#             few % from round to round even untraced)
#   BPF run time per request: kernel.bpf_stats_enabled, one extra run, one twin traced and
#             loaded alone
#   BENCH_TRACE_SERVERS="nginx demo" (the default) picks the servers, BENCH_TRACE_RUNS the
#   rounds (7), BENCH_TRACE_SECS their length (6)
#   core 1 idle: should be ~0 (the twins saturate it; if not, the ratio understates the cost)
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
SERVERS=${BENCH_TRACE_SERVERS:-nginx demo}

if [ "$(id -u)" != 0 ]; then echo "bench_trace: skipped (needs root for BPF)"; exit 0; fi
for tool in nginx wrk taskset bpftool; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench_trace: $tool missing (tools/install-deps.sh)" >&2; exit 1; }
done
[ -x "$BIN" ] && [ -x "$DEMO" ] || { echo "bench_trace: $BIN or $DEMO missing (make)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench_trace: needs 2 cores" >&2; exit 1; }

DIR=$(mktemp -d /tmp/loadscope-bench-trace.XXXXXX)
BASE_PORT=$(( 20000 + $$ % 20000 ))
PIDS=""        # servers to stop at exit
TRACE_PID=""
cleanup() {
    [ -n "$TRACE_PID" ] && kill -INT "$TRACE_PID" 2>/dev/null && wait "$TRACE_PID" 2>/dev/null || true
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    rm -rf "$DIR"
    sysctl -q -w kernel.bpf_stats_enabled=0 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The yardstick: spins for $1 seconds (wall time), prints its iterations (x 100000). Its loop
# makes no syscall (the clock is read through the vDSO), so no hook ever runs for it.
cat > "$DIR/spin.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1;
    struct timespec t0, t;
    volatile unsigned long x = 1;
    unsigned long n = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
        n++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
    printf("%lu\n", n);
    return 0;
}
C
cc -O2 -o "$DIR/spin" "$DIR/spin.c" || { echo "bench_trace: cannot build the spinner (cc)" >&2; exit 1; }

# The design's floor: empty programs on the tracepoints of the request path and the scheduler
# (bpf/hook_floor.bpf.c), attached until SIGINT or SIGTERM, stopped like the tracer. What they
# cost is the price of running a program on those events at all, on this machine, whatever
# loadscope's programs do in them. (A background job of a script starts with SIGINT ignored:
# the handler puts it back.)
cat > "$DIR/hook_floor.c" <<'C'
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include "hook_floor.skel.h"
static void on_stop(int sig) { (void)sig; }
int main(void)
{
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    struct hook_floor_bpf *skel = hook_floor_bpf__open_and_load();
    if (!skel || hook_floor_bpf__attach(skel)) {
        fprintf(stderr, "hook_floor: cannot load or attach the empty programs\n");
        return 1;
    }
    printf("attached\n");
    fflush(stdout);
    pause();
    hook_floor_bpf__destroy(skel);
    return 0;
}
C
cc -O2 -I"$(dirname "$BIN")/skel" -o "$DIR/hook_floor" "$DIR/hook_floor.c" -lbpf ||
    { echo "bench_trace: cannot build the hook floor (make bench builds its skeleton)" >&2; exit 1; }

# ---- the servers ----------------------------------------------------------------------------

mkdir -p "$DIR/www" "$DIR/logs"
chmod 755 "$DIR" "$DIR/www"   # the worker runs as nobody
# a small JSON answer, like an inference API's
printf '{"label":"cat","score":0.9731,"model":"resnet18","latency_ms":12.5}\n' > "$DIR/www/index.html"

wait_http() {   # $1: URL path on port $2 answers (a POST-only path answers 405 to curl: fine)
    i=0
    until curl -s -o /dev/null "http://127.0.0.1:$2$1"; do
        i=$((i + 1)); [ "$i" -le 300 ] || { echo "bench_trace: no server on port $2" >&2; exit 1; }
        sleep 0.1
    done
}

start_nginx() {   # $1: twin name, $2: port; sets STARTED_PID
    cat > "$DIR/nginx-$1.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $DIR/nginx-$1.pid;
error_log $DIR/logs/error-$1.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$2;
        root $DIR/www;
        location / { index index.html; }
    }
}
CONF
    taskset -c 1 nginx -p "$DIR" -c "$DIR/nginx-$1.conf" -e "$DIR/logs/error-$1.log" &
    STARTED_PID=$!
    PIDS="$PIDS $STARTED_PID"
    wait_http / "$2"
}

start_demo() {   # $1: twin name, $2: port, $3: model flags; sets STARTED_PID
    taskset -c 1 "$DEMO" --port "$2" --workers 1 $3 > "$DIR/demo-$1.out" 2> "$DIR/demo-$1.err" &
    STARTED_PID=$!
    PIDS="$PIDS $STARTED_PID"
    wait_http /health "$2"
}
# the network twin A calibrated ("model=32x32/29/1" in its ready line) as --model-shape S,C,D:
# twins calibrated apart can differ by a few % in what a request costs
demo_shape() {
    sed -n 's#.*ready.* model=\([0-9]*\)x[0-9]*/\([0-9]*\)/\([0-9]*\).*#\1,\2,\3#p' "$DIR/demo-A.out" "$DIR/demo-A.err" | head -n 1
}

# CPU time (jiffies) of a server's processes ($1: its pid): its own work plus the BPF
# programs that run in its context
server_cpu() {
    t=0
    for p in $1 $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0)))
    done
    echo $t
}
HZ=$(getconf CLK_TCK)
core1_idle() { awk '/^cpu1 / {print $5 + $6}' /proc/stat; }

# ---- one measurement --------------------------------------------------------------------------

start_floor() {   # the empty programs instead of the tracer
    "$DIR/hook_floor" > "$DIR/floor.out" 2>&1 &
    TRACE_PID=$!
    sleep 1
    grep -q attached "$DIR/floor.out" || { cat "$DIR/floor.out" >&2; exit 1; }
}

start_trace() {   # $1: port, $2: extra flags
    # every output as a user gets it: spans, windows and profiles in the run store, the
    # reports written when it stops (after the measurement)
    taskset -c 0 "$BIN" trace --replica "$SERVER=port:$1" -t 600s -q --profile-hz 49 \
        --out "$DIR/run" ${2:-} > "$DIR/trace.out" 2> "$DIR/trace.err" &
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

wrk_twin() {   # $1: twin (A|B): a wrk run against it, output in $DIR/wrk-$1.out
    eval "port=\$PORT_$1"
    taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" -H 'X-Request-Id: 0123456789abcdef' \
        $WRK_EXTRA "http://127.0.0.1:$port$URL_PATH" > "$DIR/wrk-$1.out"
}
wrk_field() {   # $1: twin, $2: rps|reqs
    case $2 in
    rps) awk '/Requests\/sec/ {print $2}' "$DIR/wrk-$1.out" ;;
    reqs) awk '/requests in/ {print $1}' "$DIR/wrk-$1.out" ;;
    esac
}

cpu_per_request() {   # $1 $2: server_cpu before and after, $3: twin -> ns per request
    echo "$1 $2 $(wrk_field "$3" reqs)" | awk -v hz="$HZ" '{printf "%.0f", ($2 - $1) * 1e9 / hz / $3}'
}

# Both twins loaded at once, twin $1 (A|B) traced with flags $2 ($1 = none: neither), the
# spinner beside them. Sets RPS_A RPS_B, CPU_A CPU_B (ns of server CPU per request), SPIN
# (its iterations), IDLE (core 1 idle, %), NOTE.
run_twins() {
    NOTE=""
    case $1 in
    none) ;;
    floor) start_floor ;;
    *) eval "start_trace \$PORT_$1 \"\$2\"" ;;
    esac
    a0=$(server_cpu "$PID_A"); b0=$(server_cpu "$PID_B"); i0=$(core1_idle)
    taskset -c 1 "$DIR/spin" "$SECS" > "$DIR/spin.out" & ws=$!
    wrk_twin A & wa=$!
    wrk_twin B
    wait "$wa" "$ws"
    SPIN=$(cat "$DIR/spin.out")
    a1=$(server_cpu "$PID_A"); b1=$(server_cpu "$PID_B"); i1=$(core1_idle)
    [ "$1" = none ] || stop_trace
    if [ "$1" != none ] && [ "$1" != floor ]; then
        NOTE=" ($(tail -2 "$DIR/trace.err" | sed 's/loadscope trace: //' | paste -sd '|' | sed 's/|/ \/ /'))"
    fi
    RPS_A=$(wrk_field A rps); RPS_B=$(wrk_field B rps)
    CPU_A=$(cpu_per_request "$a0" "$a1" A)
    CPU_B=$(cpu_per_request "$b0" "$b1" B)
    IDLE=$(echo "$i0 $i1" | awk -v hz="$HZ" -v s="$SECS" '{printf "%.1f", ($2-$1)/hz/s*100}')
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'; }
mean() { printf '%s\n' "$@" | awk '{s += $1} END {printf "%.0f", NR ? s / NR : 0}'; }

# The configurations: traced as a user gets it; the socket hooks all along and a span for
# every request (--all-sockets --span-rate 0);
# without the per-syscall hooks; the floor (no tracer, empty programs on the same socket and
# scheduler tracepoints: both twins pay it, what any design built on them pays); and the
# control, both twins untraced.
CONFIGS="traced every_span no_syscalls floor control"
flags_of() {
    case $1 in
    every_span) echo "--all-sockets --span-rate 0" ;;
    no_syscalls) echo "--no-syscalls" ;;
    *) echo "" ;;
    esac
}

# Round $1's order of the configurations: CONFIGS rotated by one more each round. In a fixed
# order a configuration always followed the same one and always sat at the same point of the
# round; this VM's speed drifts within a round, and one configuration measured 0.999 and 0.940
# of the control in two runs that way.
round_order() {
    echo "$CONFIGS" | awk -v i="$1" '{ for (k = 0; k < NF; k++) printf "%s ", $((k + i - 1) % NF + 1) }'
}

# Each round's $1 against the mean of that round's $2 and $3 (lists in round order).
against_rounds() {
    awk -v x="$1" -v a="$2" -v b="$3" 'BEGIN {
        n = split(x, v, " "); split(a, p, " "); split(b, q, " ")
        for (i = 1; i <= n; i++) if (p[i] + q[i] > 0) print v[i] / ((p[i] + q[i]) / 2) }'
}

# RUNS rounds of every configuration; the traced twin alternates (A in odd rounds, B in even
# ones; the control's ratio is A/B or B/A the same way), so neither twin's small advantage
# (which wrk started first, which listener...) leans on one side.
measure() {
    wrk_twin A & w=$!; wrk_twin B; wait "$w"   # warm up
    for cfg in $CONFIGS; do
        eval "ratios_$cfg=''; extra_$cfg=''; base_$cfg=''; idle_$cfg=''; pst_$cfg=''; psu_$cfg=''"
    done
    i=1
    while [ "$i" -le "$RUNS" ]; do
        if [ $((i % 2)) = 1 ]; then t=A; u=B; else t=B; u=A; fi
        for cfg in $(round_order "$i"); do
            case $cfg in
            control) run_twins none ;;
            floor) run_twins floor ;;
            *) run_twins "$t" "$(flags_of "$cfg")" ;;
            esac
            eval "rt=\$RPS_$t; ru=\$RPS_$u; ct=\$CPU_$t; cu=\$CPU_$u"
            ratio=$(echo "$rt $ru" | awk '{printf "%.4f", $1 / $2}')
            echo "$SERVER round $i $cfg: twin $t$(case $cfg in control | floor) ;; *) echo ' traced' ;; esac) $rt req/s (CPU $ct ns/request), twin $u $ru req/s (CPU $cu ns/request): ratio $ratio, spinner $SPIN, core 1 idle $IDLE%$NOTE"
            eval "pst_$cfg=\"\$pst_$cfg $(echo "$rt $SPIN" | awk '{printf "%.5f", $1 / $2}')\""
            eval "psu_$cfg=\"\$psu_$cfg $(echo "$ru $SPIN" | awk '{printf "%.5f", $1 / $2}')\""
            eval "ratios_$cfg=\"\$ratios_$cfg $ratio\""
            eval "extra_$cfg=\"\$extra_$cfg $((ct - cu))\""
            eval "base_$cfg=\"\$base_$cfg $cu\""
            eval "idle_$cfg=\"\$idle_$cfg $IDLE\""
        done
        i=$((i + 1))
    done

    # the BPF programs' own run time: one twin traced and loaded alone
    sysctl -q -w kernel.bpf_stats_enabled=1
    start_trace "$PORT_A"
    wrk_twin A
    stats_reqs=$(wrk_field A reqs)
    bpftool prog show -j | tr '}' '\n' | awk '
        match($0, /"run_time_ns":[0-9]+/) {
            t = substr($0, RSTART + 14, RLENGTH - 14)
            n = match($0, /"run_cnt":[0-9]+/) ? substr($0, RSTART + 10, RLENGTH - 10) : 0
            name = match($0, /"name":"[^"]*"/) ? substr($0, RSTART + 8, RLENGTH - 9) : "?"
            if (t > 0) print t, n, name
        }' | sort -rn > "$DIR/bpf-progs"
    bpf_ns=$(awk '{s += $1} END {print s + 0}' "$DIR/bpf-progs")
    stop_trace
    sysctl -q -w kernel.bpf_stats_enabled=0

    base_cpu=$(mean $base_control)
    # untraced throughput per spin: both twins of every control round
    untraced=$(printf '%s\n' $pst_control $psu_control | awk '{s += $1} END {printf "%.5f", s / NR}')
    for cfg in $CONFIGS; do
        eval "r=\$ratios_$cfg; x=\$extra_$cfg; d=\$idle_$cfg; pt=\$pst_$cfg; pu=\$psu_$cfg"
        case $cfg in
        control) what="both untraced (the method's floor)" ;;
        floor) what="empty programs on the socket and scheduler tracepoints, no tracer (the design's floor)" ;;
        traced) what="traced, defaults (target <= 3% loss, aim <= 1%)" ;;
        every_span) what="traced, socket hooks all along, a span for every request (--all-sockets --span-rate 0)" ;;
        no_syscalls) what="traced, --no-syscalls" ;;
        esac
        vs=$(printf '%s\n' $pt | awk -v u="$untraced" '{print $1 / u}')
        vu=$(printf '%s\n' $pu | awk -v u="$untraced" '{print $1 / u}')
        same=$(against_rounds "$pt" "$pst_control" "$psu_control")
        echo "$(median $vs) $(range $vs) $(median $vu) $(median $r) $(range $r) $(median $x) $(median $d) $(median $same)" |
            awk -v name="$SERVER" -v what="$what" -v base="$base_cpu" '{
            printf "%s %s: vs untraced %.3f (%.1f%% loss), rounds %s; against the same round'"'"'s control %.3f; untraced twin %.3f; twin ratio %.3f (%s); server CPU %+.0f ns/request (%+.1f%%); core 1 idle %.1f%%\n",
                name, what, $1, (1 - $1) * 100, $2, $8, $3, $4, $5, $6, (base > 0 ? $6 / base * 100 : 0), $7 }'
    done
    echo "$bpf_ns $stats_reqs $base_cpu" | awk -v name="$SERVER" '$2 > 0 && $3 > 0 {
        printf "%s BPF programs run time: %.0f ns per request (all programs, all CPUs, bpf_stats on) = %.2f%% of the untraced server CPU per request (%.0f ns)\n", name, $1 / $2, $1 / $2 / $3 * 100, $3 }'
    # where it goes: the programs that ran, runs per request and ns per run
    awk -v name="$SERVER" -v reqs="$stats_reqs" 'reqs > 0 && $2 > 0 {
        line = line sprintf("%s%s %.2f x %.0f ns", sep, $3, $2 / reqs, $1 / $2); sep = ", " }
        END { if (line != "") printf "%s BPF per program (runs per request x ns per run): %s\n", name, line }' "$DIR/bpf-progs"
}

stop_twins() { kill "$PID_A" "$PID_B" 2>/dev/null || true; wait "$PID_A" "$PID_B" 2>/dev/null || true; PIDS=""; }

bench_nginx() {
    PORT_A=$BASE_PORT PORT_B=$((BASE_PORT + 1))
    start_nginx A "$PORT_A"; PID_A=$STARTED_PID
    start_nginx B "$PORT_B"; PID_B=$STARTED_PID
    SERVER=nginx URL_PATH=/ WRK_EXTRA=""
    measure
    stop_twins
}

# The demo server: one worker, a 2 ms model; wrk POSTs a 4 KB image (raw grayscale bytes).
bench_demo() {
    head -c 4096 /dev/urandom > "$DIR/image.bin"
    cat > "$DIR/post.lua" <<LUA
local f = io.open("$DIR/image.bin", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
    PORT_A=$((BASE_PORT + 2)) PORT_B=$((BASE_PORT + 3))
    start_demo A "$PORT_A" "--model-cost 2"; PID_A=$STARTED_PID
    shape=$(demo_shape)
    [ -n "$shape" ] || { echo "bench_trace: no model shape in the demo server's ready line" >&2; exit 1; }
    start_demo B "$PORT_B" "--model-shape $shape"; PID_B=$STARTED_PID
    SERVER=demo URL_PATH=/predict WRK_EXTRA="-s $DIR/post.lua" CONNS=4
    measure
    stop_twins
}

for server in $SERVERS; do "bench_$server"; done
