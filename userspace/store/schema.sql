-- loadscope run store: one SQLite database per run (<run dir>/run.db).
-- Times are CLOCK_MONOTONIC nanoseconds (the same clock in client and kernel records);
-- run_info('start_ns') and run_info('start_wall') relate them to wall-clock time.
-- Query it directly, e.g. the slowest requests with their server-side breakdown:
--   SELECT c.request_id, c.total_us, s.oncpu_ns, s.runq_ns
--     FROM client_requests c JOIN request_matches m USING (request_id)
--     JOIN server_spans s ON s.span_id = m.span_id ORDER BY c.total_us DESC LIMIT 10;

PRAGMA user_version = 3; -- store.c: upgrade_schema() brings older stores here

-- Settings, environment and results summary as key/value text (command line, host CPU, ...).
CREATE TABLE IF NOT EXISTS run_info (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Target base URLs, in scenario order (client_requests.host is the index).
CREATE TABLE IF NOT EXISTS hosts (
    host   INTEGER PRIMARY KEY,
    url    TEXT NOT NULL,
    weight REAL NOT NULL
);

-- Endpoints, in scenario order (client_requests.endpoint is the index).
CREATE TABLE IF NOT EXISTS endpoints (
    endpoint INTEGER PRIMARY KEY,
    method   TEXT NOT NULL,
    name     TEXT NOT NULL,
    path     TEXT NOT NULL,
    weight   REAL NOT NULL
);

-- One row per client request (load/record.h: struct client_record).
CREATE TABLE IF NOT EXISTS client_requests (
    request_id  INTEGER PRIMARY KEY,  -- sent as X-Request-Id (16 hex digits)
    endpoint    INTEGER NOT NULL,
    host        INTEGER NOT NULL,
    thread      INTEGER NOT NULL,
    intended_ns INTEGER NOT NULL,     -- due time (open loop schedule; = start_ns when closed)
    start_ns    INTEGER NOT NULL,
    end_ns      INTEGER NOT NULL,
    connect_us  INTEGER NOT NULL,     -- libcurl phase ends from start
    tls_us      INTEGER NOT NULL,
    ttfb_us     INTEGER NOT NULL,
    total_us    INTEGER NOT NULL,
    bytes_in    INTEGER NOT NULL,
    bytes_out   INTEGER NOT NULL,
    users       INTEGER NOT NULL,
    status      INTEGER NOT NULL,     -- HTTP status, 0 when none
    failure     INTEGER NOT NULL,     -- load/record.h enum failure_kind (0 = success)
    local_port  INTEGER NOT NULL,     -- client TCP port: joins server_spans.client_port
    reused      INTEGER NOT NULL,     -- 1 when sent on a kept-alive connection
    error_code  INTEGER NOT NULL      -- libcurl CURLcode of a failed transfer, 0 otherwise
);
CREATE INDEX IF NOT EXISTS client_requests_by_end ON client_requests(end_ns);

-- What was lost on the way to this database (by stream), so nothing disappears silently.
CREATE TABLE IF NOT EXISTS losses (
    stream TEXT PRIMARY KEY,
    count  INTEGER NOT NULL
);

-- Traced replicas (trace/replica.h), in configuration order (server tables' replica index).
CREATE TABLE IF NOT EXISTS replicas (
    replica INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    spec    TEXT NOT NULL,    -- "port:8000", "pid:1234", "cgroup:/sys/fs/cgroup/..."
    pids    TEXT NOT NULL,    -- space-separated processes found when tracing started
    cores   REAL NOT NULL     -- CPUs the replica may run on (affinity), for saturation
);

-- One row per server-side request (trace/span.h: struct server_span).
CREATE TABLE IF NOT EXISTS server_spans (
    span_id           INTEGER PRIMARY KEY,
    conn_id           INTEGER NOT NULL,
    seq               INTEGER NOT NULL,  -- request number on its connection
    replica           INTEGER NOT NULL,
    tgid              INTEGER NOT NULL,  -- worker process / thread that read the request
    tid               INTEGER NOT NULL,
    end_reason        INTEGER NOT NULL,
    flags             INTEGER NOT NULL,  -- SPAN_* bits
    family            INTEGER NOT NULL,  -- 4 or 6
    server_addr       TEXT NOT NULL,
    server_port       INTEGER NOT NULL,
    client_addr       TEXT NOT NULL,
    client_port       INTEGER NOT NULL,  -- = client_requests.local_port for a direct request
    established_ns    INTEGER NOT NULL,  -- 0 when unknown (kept-alive connection)
    accept_ns         INTEGER NOT NULL,
    arrival_ns        INTEGER NOT NULL,
    first_read_ns     INTEGER NOT NULL,
    response_start_ns INTEGER NOT NULL,
    response_end_ns   INTEGER NOT NULL,
    oncpu_ns          INTEGER NOT NULL,  -- worker thread time between first read and last send
    runq_ns           INTEGER NOT NULL,
    off_lock_ns       INTEGER NOT NULL,
    off_downstream_ns INTEGER NOT NULL,
    off_disk_ns       INTEGER NOT NULL,
    off_sleep_ns      INTEGER NOT NULL,
    off_idle_ns       INTEGER NOT NULL,
    off_other_ns      INTEGER NOT NULL,
    bytes_in          INTEGER NOT NULL,
    bytes_out         INTEGER NOT NULL,
    request_id        INTEGER,           -- X-Request-Id as a number, NULL when absent
    request_id_text   TEXT NOT NULL,
    method            TEXT NOT NULL,
    path              TEXT NOT NULL,
    sample_weight     INTEGER NOT NULL   -- requests it stands for: N when 1 in N was recorded
);

-- What each replica did in each window (trace/window.h: struct replica_window). Histograms
-- are BLOBs of 40 little-endian uint32 log2 slots (slot i: [2^(i-1), 2^i) ns).
CREATE TABLE IF NOT EXISTS replica_windows (
    replica INTEGER NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
    processes INTEGER NOT NULL, threads INTEGER NOT NULL, busy_threads INTEGER NOT NULL,
    oncpu_ns INTEGER NOT NULL, runq_ns INTEGER NOT NULL,
    off_lock_ns INTEGER NOT NULL, off_downstream_ns INTEGER NOT NULL,
    off_disk_ns INTEGER NOT NULL, off_sleep_ns INTEGER NOT NULL,
    off_idle_ns INTEGER NOT NULL, off_other_ns INTEGER NOT NULL,
    switches INTEGER NOT NULL, involuntary_switches INTEGER NOT NULL,
    runq_waits INTEGER NOT NULL, runq_hist BLOB NOT NULL,
    forks INTEGER NOT NULL, exits INTEGER NOT NULL,
    accepts INTEGER NOT NULL, accept_wait_ns INTEGER NOT NULL, accept_wait_hist BLOB NOT NULL,
    accept_queue_samples INTEGER NOT NULL, accept_queue_sum INTEGER NOT NULL,
    accept_queue_max INTEGER NOT NULL,
    requests INTEGER NOT NULL, recvq_wait_ns INTEGER NOT NULL, recvq_hist BLOB NOT NULL,
    open_spans INTEGER NOT NULL,
    spans_skipped INTEGER NOT NULL, -- requests the span sampler did not record (--span-rate)
    -- how long the socket hooks ran in the window (--socket-budget; the socket counters are
    -- scaled from it to the whole window); 0: all of it (runs stored before the duty cycle)
    socket_hooks_ns INTEGER NOT NULL DEFAULT 0,
    bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    downstream_bytes_in INTEGER NOT NULL, downstream_bytes_out INTEGER NOT NULL,
    retransmits INTEGER NOT NULL, resets_sent INTEGER NOT NULL, resets_received INTEGER NOT NULL,
    host_listen_overflows INTEGER NOT NULL, host_listen_drops INTEGER NOT NULL,
    lost_spans INTEGER NOT NULL, lost_heads INTEGER NOT NULL, lost_other INTEGER NOT NULL,
    syscall_hooks_ns INTEGER NOT NULL, -- how long the per-syscall hooks ran in the window
    syscalls INTEGER NOT NULL, syscall_kinds INTEGER NOT NULL,
    PRIMARY KEY (replica, start_ns)
);

-- Per replica and window, the syscalls with the most time (count, latency sum, histogram).
CREATE TABLE IF NOT EXISTS syscall_windows (
    replica  INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    nr       INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    total_ns INTEGER NOT NULL,
    hist     BLOB NOT NULL
);

-- CPU stack samples per replica, folded ("comm;frame;...;frame", root first).
CREATE TABLE IF NOT EXISTS stacks (
    replica INTEGER NOT NULL,
    stack   TEXT NOT NULL,
    count   INTEGER NOT NULL
);

-- The load generator watching itself, and the host's CPU, per second of the run.
CREATE TABLE IF NOT EXISTS generator_seconds (
    second         INTEGER PRIMARY KEY,
    busy           REAL NOT NULL,    -- busiest engine thread: (on-CPU + run-queue) / wall, 0..1
    sends          INTEGER NOT NULL, -- open loop: sends due
    late_sends     INTEGER NOT NULL,
    host_cpu_cores REAL NOT NULL,    -- CPU busy on the whole host (every process), in cores
    self_cpu_cores REAL NOT NULL     -- of which loadscope itself (engines, store, tracer reader)
);

-- The correlator's join: client request -> the server span that served it (method 1 =
-- X-Request-Id, 2 = 4-tuple). Through a proxy, the deepest span (the backend's) is kept.
CREATE TABLE IF NOT EXISTS request_matches (
    request_id      INTEGER PRIMARY KEY,
    span_id         INTEGER NOT NULL,
    method          INTEGER NOT NULL
);
