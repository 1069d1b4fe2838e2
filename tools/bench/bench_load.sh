#!/bin/bash
# Load generator benchmark: loadscope vs wrk vs Locust (FastHttpUser) against one nginx on
# loopback, same connection count and duration; nginx pinned to core 1, each client to core 0.
# Prints requests/s and requests per client CPU-second (user+sys of the client process, from
# bash's `times` for the waited-for child) and the ratios, then loadscope's RSS over a long
# full-rate run (must stay flat).
#
#   BENCH_SECONDS=10 BENCH_CONNECTIONS=50   per-client run
#   BENCH_RSS_SECONDS=60 (RSS sampled at 10 s and at the end); BENCH_LONG=1: 1 and 10 minutes
#   LOADSCOPE_BIN (default build/loadscope)
# loadscope runs with --no-trace: this measures the load generator (and its run store) alone;
# tools/bench/bench_trace.sh measures the tracer.
set -eu
cd "$(dirname "$0")/../.."
BIN=${LOADSCOPE_BIN:-$PWD/build/loadscope}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-50}
PORT=${BENCH_PORT:-18481}
if [ "${BENCH_LONG:-0}" = 1 ]; then RSS_FIRST=60; RSS_SECS=600; else RSS_FIRST=10; RSS_SECS=${BENCH_RSS_SECONDS:-60}; fi
PY=/usr/bin/python3
for tool in nginx wrk taskset "$BIN"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench_load: missing $tool (tools/install-deps.sh, make)" >&2; exit 1; }
done

DIR=$(mktemp -d /tmp/loadscope-bench-XXXXXX)
NGINX_PID=
cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

mkdir -p "$DIR/html" "$DIR/tmp"
head -c 600 /dev/urandom | base64 > "$DIR/html/index.html"   # ~800 bytes
cat > "$DIR/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $DIR/tmp;
  proxy_temp_path $DIR/tmp;
  fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp;
  scgi_temp_path $DIR/tmp;
  server { listen 127.0.0.1:$PORT; root $DIR/html; }
}
CONF
taskset -c 1 nginx -c "$DIR/nginx.conf" -p "$DIR" 2>"$DIR/nginx.err" &
NGINX_PID=$!
URL=http://127.0.0.1:$PORT
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.1
done

# timed FILE CMD...: runs CMD, then writes its user+sys CPU seconds to FILE
timed() {
    local file=$1
    shift
    (
        "$@" && rc=0 || rc=$?
        times > "$file.all" # second line, the children: "XmY.YYYs XmY.YYYs"
        tail -n 1 "$file.all" > "$file"
        exit $rc
    )
}
# requests_in FILE: the aggregated request count of a --json report document
requests_in() {
    $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["aggregated"]["requests"])' "$1"
}
cpu_of() { awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$1"; }

# --- wrk -----------------------------------------------------------------------------------
timed "$DIR/wrk.time" taskset -c 0 \
    wrk -t1 -c"$CONNS" -d"${SECS}s" "$URL/index.html" > "$DIR/wrk.out" 2>&1
WRK_REQ=$(awk '/requests in/ {print $1}' "$DIR/wrk.out")
WRK_CPU=$(cpu_of "$DIR/wrk.time")

# --- loadscope (closed model, no think time, users = connections) ----------------------------
timed "$DIR/ls.time" taskset -c 0 \
    "$BIN" run -H "$URL" -e "GET /index.html" -u "$CONNS" -t "${SECS}s" --only-summary \
    --no-trace --out "$DIR/ls-run" --json "$DIR/ls.json" > "$DIR/ls.out" 2>&1
LS_REQ=$(requests_in "$DIR/ls.json")
LS_CPU=$(cpu_of "$DIR/ls.time")

# --- Locust FastHttpUser ---------------------------------------------------------------------
LC_REQ=0; LC_CPU=0
if $PY -c 'import locust' 2>/dev/null; then
    (cd "$DIR" && timed "$DIR/lc.time" taskset -c 0 \
        $PY -m locust -f "$OLDPWD/tools/bench/locustfile.py" --headless -u "$CONNS" -r "$CONNS" \
        -t "${SECS}s" -H "$URL" --only-summary > "$DIR/lc.out" 2>&1) || true
    # the first "Aggregated" row of the summary: its first number is the request count
    LC_REQ=$(awk '/Aggregated/ {print $2; exit}' "$DIR/lc.out")
    LC_CPU=$(cpu_of "$DIR/lc.time")
else
    echo "bench_load: python3-locust not installed: Locust column skipped" >&2
fi

$PY - "$SECS" "$CONNS" "$WRK_REQ" "$WRK_CPU" "$LS_REQ" "$LS_CPU" "${LC_REQ:-0}" "${LC_CPU:-0}" <<'PYEOF'
import sys
secs, conns = float(sys.argv[1]), sys.argv[2]
rows = [("wrk", float(sys.argv[3]), float(sys.argv[4])),
        ("loadscope", float(sys.argv[5]), float(sys.argv[6])),
        ("locust (FastHttpUser)", float(sys.argv[7]), float(sys.argv[8]))]
print(f"load generators vs nginx on loopback: {conns} connections, {secs:g} s each, client on core 0, nginx on core 1")
print(f"{'client':<24}{'requests':>12}{'req/s':>12}{'client CPU s':>14}{'req/CPU-s':>12}")
eff = {}
for name, req, cpu in rows:
    if req <= 0 or cpu <= 0:
        print(f"{name:<24}{'-':>12}")
        continue
    eff[name] = (req / secs, req / cpu)
    print(f"{name:<24}{req:>12.0f}{req / secs:>12.0f}{cpu:>14.2f}{req / cpu:>12.0f}")
ls = eff.get("loadscope")
for peer in ("wrk", "locust (FastHttpUser)"):
    if ls and peer in eff:
        print(f"loadscope / {peer}: {ls[0] / eff[peer][0]:.2f}x requests/s, "
              f"{ls[1] / eff[peer][1]:.2f}x requests per client CPU-second")
PYEOF

# --- RSS over a long full-rate run ----------------------------------------------------------------
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
taskset -c 0 "$BIN" run -H "$URL" -e "GET /index.html" -u "$CONNS" -t "$((RSS_SECS + 2))s" \
    --only-summary --no-trace --out "$DIR/rss-run" --json "$DIR/rss.json" > "$DIR/rss.out" 2>&1 &
LS_PID=$!
sleep "$RSS_FIRST"; RSS1=$(rss_kb $LS_PID)
sleep "$((RSS_SECS - RSS_FIRST))"; RSS2=$(rss_kb $LS_PID)
wait $LS_PID || true
RSS_REQ=$(requests_in "$DIR/rss.json")
$PY - "$RSS_FIRST" "$RSS1" "$RSS_SECS" "$RSS2" "$RSS_REQ" <<'PYEOF'
import sys
t1, r1, t2, r2, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
growth = (r2 - r1) / r1 * 100 if r1 else float("nan")
print(f"loadscope RSS at full rate: {r1 / 1024:.1f} MB after {t1} s, {r2 / 1024:.1f} MB after {t2} s "
      f"({growth:+.1f}%), {n} requests")
print("RSS flat: " + ("yes" if abs(growth) < 10 else "NO"))
PYEOF
