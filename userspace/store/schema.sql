-- loadscope run store: one SQLite database per run (<run dir>/run.db).
-- Times are CLOCK_MONOTONIC nanoseconds (the same clock in client and kernel records);
-- run_info('start_ns') and run_info('start_wall') relate them to wall-clock time.
-- Query it directly, e.g. the slowest requests with their server-side breakdown:
--   SELECT c.request_id, c.total_us, s.oncpu_ns, s.runq_ns
--     FROM client_requests c JOIN request_matches m USING (request_id)
--     JOIN server_spans s ON s.span_id = m.span_id ORDER BY c.total_us DESC LIMIT 10;

PRAGMA user_version = 1;

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
