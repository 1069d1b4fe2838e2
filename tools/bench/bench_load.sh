#!/bin/bash
# Load generator benchmark: loadscope (both engines: raw and curl) vs wrk vs Locust
# (FastHttpUser) against one nginx on loopback, same connection count and duration; nginx pinned
# to core 1, each client to core 0. Clients run one after the other in rounds, BENCH_REPEAT
# rounds; every figure printed is the median over the rounds (ratios: the median of each
# round's ratio, so drift on a shared machine cancels out).
#
# Client CPU = user+sys of the client process (wait4 rusage). For loadscope two figures:
#   run    CPU when the run ends (its summary is printed): engine thread, run-store writer
#          thread (spooling every record), live statistics — what load generation costs;
#   whole  the whole process, including what it does after the run (the store's inserts of the
#          spooled records, correlation, report.json, HTML, Markdown, CSVs, the Perfetto trace
#          of every request) — grows with the run;
# and the store writer thread's share of the run CPU ("store"), with the run figure recomputed
# without it ("no store": an estimate — the store's only other cost is a 72-byte queue push per
# request on the engine thread).
# Then loadscope's RSS over a long full-rate run (must stay flat).
#
#   BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_REPEAT=3
#   BENCH_RSS_SECONDS=60 (RSS sampled at 10 s and at the end); BENCH_LONG=1: 1 and 10 minutes
#   LOADSCOPE_BIN (default build/loadscope)
# loadscope runs with --no-trace: this measures the load generator (and its run store) alone;
# tools/bench/bench_trace.sh measures the tracer.
set -eu
cd "$(dirname "$0")/../.."
BIN=${LOADSCOPE_BIN:-$PWD/build/loadscope}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-50}
REPEAT=${BENCH_REPEAT:-3}
PORT=${BENCH_PORT:-18481}
if [ "${BENCH_LONG:-0}" = 1 ]; then RSS_FIRST=60; RSS_SECS=600; else RSS_FIRST=10; RSS_SECS=${BENCH_RSS_SECONDS:-60}; fi
PY=/usr/bin/python3
for tool in nginx wrk taskset "$BIN" "$PY"; do
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
for _ in $(seq 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.1
done

$PY - "$BIN" "http://127.0.0.1:$PORT" "$SECS" "$CONNS" "$REPEAT" "$DIR" "$PWD/tools/bench/locustfile.py" \
    "$RSS_FIRST" "$RSS_SECS" <<'PYEOF'
import json, os, statistics, subprocess, sys, time

BIN, URL, SECS, CONNS, REPEAT, DIR, LOCUSTFILE = sys.argv[1:8]
RSS_FIRST, RSS_SECS = int(sys.argv[8]), int(sys.argv[9])
SECS_F, REPEAT = float(SECS), int(REPEAT)
TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid, total):
    """CPU seconds of a process by thread: its live threads by name (schedstat: ns on CPU), and
    the engine threads (they have returned when the summary shows: total minus the rest)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            ns = int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except OSError:
            continue
        key = "engine" if comm.startswith("ls-engine") else "store" if comm == "ls-store" else "main"
        out[key] = out.get(key, 0.0) + ns / 1e9
    out["engine"] = out.get("engine", 0.0) + total - sum(out.values())
    return out


def process_cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK  # utime + stime


def measure(cmd, out_path, marker=None, cwd=None):
    """Runs cmd pinned to core 0; returns its CPU (wait4), wall time, and, when marker shows up
    in its stdout, the CPU at that moment (total and per thread)."""
    with open(out_path, "w") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=out, stderr=subprocess.STDOUT,
                             cwd=cwd)
        phase = last = None
        while marker and phase is None and p.poll() is None:
            time.sleep(0.01)
            try:
                seen = marker in open(out_path).read()
                cpu = process_cpu(p.pid)
                snap = {"cpu": cpu, "threads": thread_cpu(p.pid, cpu)}
            except OSError:
                break
            if not seen:
                last = snap
            else:
                # the run ended; if the store writer is gone already (this poll came late),
                # the last snapshot of the run is the better figure
                phase = snap if "store" in snap["threads"] or last is None else last
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = status
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": time.monotonic() - t0, "phase": phase,
            "maxrss_kb": ru.ru_maxrss}


def ls_requests(path):
    return json.load(open(path))["stats"]["aggregated"]["requests"]


rounds = []
have_locust = subprocess.run([sys.executable, "-c", "import locust"], capture_output=True).returncode == 0
if not have_locust:
    print("bench_load: python3-locust not installed: Locust column skipped", file=sys.stderr)
for k in range(REPEAT):
    r = {}
    m = measure(["wrk", "-t1", f"-c{CONNS}", f"-d{SECS}s", f"{URL}/index.html"], f"{DIR}/wrk.out")
    req = next(float(l.split()[0]) for l in open(f"{DIR}/wrk.out") if "requests in" in l)
    r["wrk"] = (req, m["cpu"])
    for engine in ("raw", "curl"):
        run_dir, js = f"{DIR}/ls-{engine}-{k}", f"{DIR}/ls-{engine}-{k}.json"
        m = measure([BIN, "run", "-H", URL, "-e", "GET /index.html", "-u", CONNS, "-t", f"{SECS}s",
                     "--engine", engine, "--only-summary", "--no-trace", "--out", run_dir,
                     "--json", js], f"{DIR}/ls-{engine}.out", marker="Engine: ")
        req = ls_requests(js)
        ph = m["phase"] or {"cpu": float("nan"), "threads": {}}
        store = ph["threads"].get("store", 0.0)
        r[f"loadscope {engine} (run)"] = (req, ph["cpu"])
        r[f"loadscope {engine} (whole)"] = (req, m["cpu"])
        r[f"loadscope {engine} (no store)"] = (req, ph["cpu"] - store)
        r[f"store share {engine}"] = store / ph["cpu"] if ph["cpu"] else float("nan")
        r[f"store us/record {engine}"] = store / req * 1e6 if req else float("nan")
        for part in ("engine", "main"):
            r[f"{part} us/request {engine}"] = ph["threads"].get(part, 0.0) / req * 1e6 if req else float("nan")
        subprocess.run(["rm", "-rf", run_dir])
    if have_locust:
        m = measure([sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "-u", CONNS,
                     "-r", CONNS, "-t", f"{SECS}s", "-H", URL, "--only-summary"],
                    f"{DIR}/lc.out", cwd=DIR)
        req = next((float(l.split()[1]) for l in open(f"{DIR}/lc.out") if "Aggregated" in l), 0.0)
        r["locust (FastHttpUser)"] = (req, m["cpu"])
    rounds.append(r)

med = statistics.median
clients = ["wrk"] + [f"loadscope {e} ({p})" for e in ("raw", "curl") for p in ("run", "whole", "no store")]
clients += ["locust (FastHttpUser)"] if have_locust else []
print(f"load generators vs nginx on loopback: {CONNS} connections, {SECS} s each, client on core 0, "
      f"nginx on core 1; medians of {REPEAT} rounds")
print(f"{'client':<28}{'requests':>10}{'req/s':>10}{'client CPU s':>14}{'req/CPU-s':>11}"
      f"{'vs wrk':>8}{'vs Locust':>10}")
for c in clients:
    req = med([r[c][0] for r in rounds])
    cpu = med([r[c][1] for r in rounds])
    eff = med([r[c][0] / r[c][1] for r in rounds])
    vs_wrk = med([(r[c][0] / r[c][1]) / (r["wrk"][0] / r["wrk"][1]) for r in rounds])
    vs_lc = (med([(r[c][0] / r[c][1]) / (r["locust (FastHttpUser)"][0] / r["locust (FastHttpUser)"][1])
                  for r in rounds]) if have_locust else float("nan"))
    print(f"{c:<28}{req:>10.0f}{req / SECS_F:>10.0f}{cpu:>14.2f}{eff:>11.0f}{vs_wrk:>7.2f}x{vs_lc:>9.2f}x")
for e in ("raw", "curl"):
    print(f"loadscope {e} run CPU by thread: engine {med([r[f'engine us/request {e}'] for r in rounds]):.2f} "
          f"us/request, main (live stats, sampling) {med([r[f'main us/request {e}'] for r in rounds]):.2f} "
          f"us/request, store writer {med([r[f'store us/record {e}'] for r in rounds]):.2f} us/record = "
          f"{100 * med([r[f'store share {e}'] for r in rounds]):.1f}% of the run's CPU")
for e in ("raw", "curl"):
    for peer in ("wrk", "locust (FastHttpUser)"):
        if peer in rounds[0]:
            ratios = [(r[f"loadscope {e} (run)"][0] / r[f"loadscope {e} (run)"][1]) /
                      (r[peer][0] / r[peer][1]) for r in rounds]
            print(f"loadscope {e} / {peer}: {med(ratios):.2f}x requests per client CPU-second "
                  f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})")

# --- RSS over a long full-rate run --------------------------------------------------------------
def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0

p = subprocess.Popen(["taskset", "-c", "0", BIN, "run", "-H", URL, "-e", "GET /index.html", "-u", CONNS,
                      "-t", f"{RSS_SECS + 60}s", "--only-summary", "--no-trace", "--out", f"{DIR}/rss-run"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(RSS_FIRST)
r1 = rss_kb(p.pid)
time.sleep(RSS_SECS - RSS_FIRST)
r2 = rss_kb(p.pid)
# Killed, not stopped: the outputs of tens of millions of requests take minutes to write and
# are not what this measures. The store has every request up to its last flush (100 ms): in
# run.db, or in the spool it inserts when a run stops (`loadscope report` recovers it after a
# kill), as raw 72-byte records (struct client_record).
p.kill()
p.wait()
import sqlite3
n = sqlite3.connect(f"{DIR}/rss-run/run.db").execute("SELECT count(*) FROM client_requests").fetchone()[0]
spool = f"{DIR}/rss-run/client_requests.spool"
if os.path.exists(spool):
    n += os.path.getsize(spool) // 72
subprocess.run(["rm", "-rf", f"{DIR}/rss-run"])
growth = (r2 - r1) / r1 * 100 if r1 else float("nan")
print(f"loadscope RSS at full rate (engine auto): {r1 / 1024:.1f} MB after {RSS_FIRST} s, "
      f"{r2 / 1024:.1f} MB after {RSS_SECS} s ({growth:+.1f}%), {n} requests stored")
print("RSS flat: " + ("yes" if abs(growth) < 10 else "NO"))
PYEOF
