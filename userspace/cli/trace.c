/* loadscope trace: trace server replicas without generating load (for users who keep Locust
 * or real traffic), and write the same outputs as `run`: a run directory with its store, the
 * report document, HTML and Markdown reports, the Perfetto trace, flame graphs and the verdict
 * (from the server side alone), plus per-window aggregates as JSON, one CSV row per request and
 * folded stacks if asked.
 *
 * Reads top-down: options -> run session (store; tracer, with a one-line reason when it cannot
 * run) -> print a line per replica per window until the duration or Ctrl-C -> finish (verdict,
 * outputs) -> the extra outputs. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cli/commands.h"
#include "cli/run_session.h"
#include "common/batch_thread.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/error.h"
#include "common/number.h"
#include "common/json_writer.h"
#include "load/stats.h"
#include "trace/socket_duty.h"
#include "trace/syscall_duty.h"
#include "trace/trace.h"

/* Set by the signal handler only (the one global the rules allow). */
static volatile sig_atomic_t trace_interrupts;

static void on_trace_signal(int sig)
{
    (void)sig;
    trace_interrupts++;
    if (trace_interrupts >= 3)
        _exit(130);
}

static const char usage_text[] =
    "usage: loadscope trace --replica NAME=port:N|pid:N|cgroup:PATH [options]\n"
    "\n"
    "Traces the server side of running replicas with BPF (no load is generated): CPU per\n"
    "replica (on-CPU, run-queue wait, off-CPU by reason), syscalls, sockets and queues, one\n"
    "record per request, and CPU stack samples. Needs root (or CAP_BPF + CAP_PERFMON).\n"
    "\n"
    "  -R, --replica SPEC     NAME=port:8001 (owners of the listening socket),\n"
    "                         NAME=pid:1234 (the process and its children), or\n"
    "                         NAME=cgroup:/sys/fs/cgroup/... ; repeat for several replicas\n"
    "  -t, --time D           how long to trace (30s, 5m; default: until Ctrl-C)\n"
    "      --window D         aggregation window (default 1s)\n"
    "      --profile-hz N     stack samples per second per CPU (default 49, 0 = off)\n"
    "      --out DIR          the run directory (default loadscope-runs/<date>-<time>): run.db,\n"
    "                         report.json/.html/.md, trace.json, profiles/\n"
    "      --json FILE        the report document (as 'loadscope run --json')\n"
    "      --html FILE        the HTML report\n"
    "      --markdown FILE    the Markdown report\n"
    "      --trace-out FILE   the Perfetto / chrome://tracing timeline\n"
    "      --windows-json F   every window's aggregates and the totals as JSON\n"
    "      --spans-csv FILE   one row per server-side request\n"
    "      --folded-dir DIR   DIR/NAME.folded per replica (flame graph input)\n"
    "      --syscall-budget PCT\n"
    "                         the hooks on every syscall (per-syscall counts, latency) cost\n"
    "                         ~0.2 us per syscall of the host; above PCT% of the replicas'\n"
    "                         CPU they run one window out of N, at most 20 (default 1)\n"
    "      --all-syscalls     the per-syscall hooks all the time, whatever they cost\n"
    "      --no-syscalls      no per-syscall counts/latency: no hooks on every syscall\n"
    "      --socket-budget PCT\n"
    "                         the socket hooks (spans, queue waits, request and byte counts)\n"
    "                         cost ~1.5 us per request; above PCT% of the replicas' CPU they\n"
    "                         run 1/N of each window, at most 20, and the counts are\n"
    "                         scaled from it (default 0.5)\n"
    "      --all-sockets      the socket hooks all the time, whatever they cost\n"
    "      --span-rate N      request spans recorded per second; above it a random 1 in M\n"
    "                         requests (counters and histograms still count all; default\n"
    "                         10000, 0 = every request)\n"
    "      --max-conns N      server connections tracked at once (default 8192)\n"
    "      --ring-kb N        request ring buffer in KiB, a power of two (default 4096)\n"
    "  -q, --quiet            no per-window lines\n"
    "  -h, --help\n"
    "\n" TRACE_MEMORY_TEXT;

struct trace_cli {
    struct trace_config cfg;
    uint64_t duration_ns;
    struct output_paths paths;
    const char *out_dir;
    const char *json_path; /* --windows-json */
    const char *spans_path;
    const char *folded_dir;
    int quiet;
};

struct outputs {
    FILE *spans;
    FILE *json;
    struct json_writer jw;
    int quiet;
    uint64_t start_ns;
};

static int parse_args(int argc, char **argv, struct trace_cli *c, struct error *err)
{
    enum { OPT_WINDOW = 256, OPT_HZ, OPT_JSON, OPT_CSV, OPT_FOLDED, OPT_CONNS, OPT_RING,
           OPT_NO_SYSCALLS, OPT_ALL_SYSCALLS, OPT_BUDGET, OPT_SPAN_RATE, OPT_SOCKET_BUDGET, OPT_ALL_SOCKETS, OPT_OUT, OPT_DOC, OPT_HTML, OPT_MARKDOWN, OPT_TRACE_OUT };
    static const struct option opts[] = {
        {"replica", required_argument, NULL, 'R'}, {"time", required_argument, NULL, 't'},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"profile-hz", required_argument, NULL, OPT_HZ},
        {"windows-json", required_argument, NULL, OPT_JSON},
        {"json", required_argument, NULL, OPT_DOC},
        {"out", required_argument, NULL, OPT_OUT},
        {"html", required_argument, NULL, OPT_HTML},
        {"markdown", required_argument, NULL, OPT_MARKDOWN},
        {"trace-out", required_argument, NULL, OPT_TRACE_OUT},
        {"spans-csv", required_argument, NULL, OPT_CSV},
        {"folded-dir", required_argument, NULL, OPT_FOLDED},
        {"max-conns", required_argument, NULL, OPT_CONNS},
        {"ring-kb", required_argument, NULL, OPT_RING},
        {"no-syscalls", no_argument, NULL, OPT_NO_SYSCALLS},
        {"all-syscalls", no_argument, NULL, OPT_ALL_SYSCALLS},
        {"syscall-budget", required_argument, NULL, OPT_BUDGET},
        {"span-rate", required_argument, NULL, OPT_SPAN_RATE},
        {"socket-budget", required_argument, NULL, OPT_SOCKET_BUDGET},
        {"all-sockets", no_argument, NULL, OPT_ALL_SOCKETS},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    trace_config_defaults(&c->cfg);
    optind = 1;
    opterr = 0;
    int opt;
    uint32_t v;
    while ((opt = getopt_long(argc, argv, ":R:t:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'R':
            if (c->cfg.replica_count == TRACE_MAX_REPLICAS)
                return error_set(err, "at most %d replicas", TRACE_MAX_REPLICAS);
            if (replica_spec_parse(optarg, &c->cfg.replicas[c->cfg.replica_count], err) < 0)
                return -1;
            c->cfg.replica_count++;
            break;
        case 't':
            if (duration_parse(optarg, &c->duration_ns, err) < 0 || !c->duration_ns)
                return error_set(err, "bad --time '%s'", optarg);
            break;
        case OPT_WINDOW:
            if (duration_parse(optarg, &c->cfg.window_ns, err) < 0)
                return error_set(err, "bad --window '%s'", optarg);
            break;
        case OPT_HZ:
            if (uint_parse(optarg, 0, 10000, &v) < 0)
                return error_set(err, "bad --profile-hz '%s' (0..10000)", optarg);
            c->cfg.profile_hz = v;
            break;
        case OPT_JSON: c->json_path = optarg; break;
        case OPT_DOC: c->paths.json = optarg; break;
        case OPT_OUT: c->out_dir = optarg; break;
        case OPT_HTML: c->paths.html = optarg; break;
        case OPT_MARKDOWN: c->paths.markdown = optarg; break;
        case OPT_TRACE_OUT: c->paths.trace_out = optarg; break;
        case OPT_CSV: c->spans_path = optarg; break;
        case OPT_FOLDED: c->folded_dir = optarg; break;
        case OPT_CONNS:
            if (uint_parse(optarg, 16, 1u << 20, &c->cfg.max_conns) < 0)
                return error_set(err, "bad --max-conns '%s' (16..1048576)", optarg);
            break;
        case OPT_RING:
            if (uint_parse(optarg, 4, 1u << 20, &v) < 0 || (v & (v - 1)))
                return error_set(err, "bad --ring-kb '%s' (a power of two >= 4)", optarg);
            c->cfg.ring_bytes = v * 1024;
            break;
        case OPT_NO_SYSCALLS: c->cfg.syscalls = false; break;
        case OPT_ALL_SYSCALLS: c->cfg.syscall_budget = 0; break;
        case OPT_BUDGET:
            if (syscall_budget_parse(optarg, &c->cfg.syscall_budget, err) < 0)
                return -1;
            break;
        case OPT_ALL_SOCKETS: c->cfg.socket_budget = 0; break;
        case OPT_SOCKET_BUDGET:
            if (socket_budget_parse(optarg, &c->cfg.socket_budget, err) < 0)
                return -1;
            break;
        case OPT_SPAN_RATE:
            if (uint_parse(optarg, 0, SPAN_RATE_MAX, &c->cfg.span_rate) < 0)
                return error_set(err, "bad --span-rate '%s' (0..%u)", optarg, SPAN_RATE_MAX);
            break;
        case 'q': c->quiet = 1; break;
        case 'h': return 1;
        case ':': return error_set(err, "option %s needs a value", argv[optind - 1]);
        default: return error_set(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return error_set(err, "unexpected argument '%s'", argv[optind]);
    if (!c->cfg.replica_count)
        return error_set(err, "trace needs at least one --replica (e.g. --replica web=port:8000)");
    return 0;
}

static void format_addr(uint8_t family, const uint8_t *addr, char *buf, size_t len)
{
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len))
        snprintf(buf, len, "?");
}

static void write_span_header(FILE *f)
{
    fprintf(f, "span_id,replica,tgid,tid,server,server_port,client,client_port,seq,flags,"
               "end_reason,established_ns,accept_ns,arrival_ns,first_read_ns,"
               "response_start_ns,response_end_ns,oncpu_ns,runq_ns");
    for (int r = 0; r < OFF_REASONS; r++)
        fprintf(f, ",off_%s_ns", off_reason_name(r));
    fprintf(f, ",bytes_in,bytes_out,request_id,method,path,sample_weight\n");
}

/* CSV field: quoted, inner quotes doubled (paths come from clients). */
static void csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void on_span(void *ctx, const struct server_span *s)
{
    struct outputs *o = ctx;
    if (!o->spans)
        return;
    char sa[64], ca[64];
    format_addr(s->family, s->server_addr, sa, sizeof(sa));
    format_addr(s->family, s->client_addr, ca, sizeof(ca));
    fprintf(o->spans, "%llu,%u,%u,%u,%s,%u,%s,%u,%u,%u,%u,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu",
            (unsigned long long)s->span_id, s->replica, s->tgid, s->tid, sa, s->server_port, ca,
            s->client_port, s->seq, s->flags, s->end_reason,
            (unsigned long long)s->established_ns, (unsigned long long)s->accept_ns,
            (unsigned long long)s->arrival_ns, (unsigned long long)s->first_read_ns,
            (unsigned long long)s->response_start_ns, (unsigned long long)s->response_end_ns,
            (unsigned long long)s->oncpu_ns, (unsigned long long)s->runq_ns);
    for (int r = 0; r < OFF_REASONS; r++)
        fprintf(o->spans, ",%llu", (unsigned long long)s->offcpu_ns[r]);
    fprintf(o->spans, ",%llu,%llu,", (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_out);
    csv_text(o->spans, s->request_id_text);
    fputc(',', o->spans);
    csv_text(o->spans, s->method);
    fputc(',', o->spans);
    csv_text(o->spans, s->path);
    fprintf(o->spans, ",%u\n", span_sample_weight(s));
}

static void json_hist(struct json_writer *w, const char *key, const uint32_t *h)
{
    json_key(w, key);
    json_array_begin(w);
    for (int i = 0; i < WINDOW_HIST_SLOTS; i++)
        json_uint(w, h[i]);
    json_array_end(w);
}

static void json_window(struct json_writer *w, const struct replica_window *x)
{
    double secs = (double)(x->end_ns - x->start_ns) / 1e9;
    json_object_begin(w);
    json_kv_string(w, "replica", x->name);
    json_kv_uint(w, "start_ns", x->start_ns);
    json_kv_uint(w, "end_ns", x->end_ns);
    json_kv_uint(w, "processes", x->processes);
    json_kv_uint(w, "threads", x->threads);
    json_kv_uint(w, "busy_threads", x->busy_threads);
    json_kv_double(w, "cores_used", secs > 0 ? (double)x->oncpu_ns / 1e9 / secs : 0);
    json_kv_uint(w, "oncpu_ns", x->oncpu_ns);
    json_kv_uint(w, "runq_ns", x->runq_ns);
    json_key(w, "offcpu_ns");
    json_object_begin(w);
    for (int r = 0; r < OFF_REASONS; r++)
        json_kv_uint(w, off_reason_name(r), x->offcpu_ns[r]);
    json_object_end(w);
    json_kv_uint(w, "switches", x->switches);
    json_kv_uint(w, "involuntary_switches", x->involuntary_switches);
    json_kv_uint(w, "runq_waits", x->runq_waits);
    json_hist(w, "runq_log2_hist", x->runq_hist);
    json_kv_uint(w, "forks", x->forks);
    json_kv_uint(w, "exits", x->exits);
    json_kv_uint(w, "accepts", x->accepts);
    json_kv_uint(w, "accept_wait_ns", x->accept_wait_ns);
    json_hist(w, "accept_wait_log2_hist", x->accept_wait_hist);
    json_kv_uint(w, "accept_queue_max", x->accept_queue_max);
    json_kv_double(w, "accept_queue_mean",
                   x->accept_queue_samples
                       ? (double)x->accept_queue_sum / (double)x->accept_queue_samples
                       : 0);
    json_kv_uint(w, "requests", x->requests);
    json_kv_uint(w, "recvq_wait_ns", x->recvq_wait_ns);
    json_hist(w, "recvq_wait_log2_hist", x->recvq_hist);
    json_kv_int(w, "open_requests", x->open_spans);
    json_kv_uint(w, "spans_skipped", x->spans_skipped);
    json_kv_uint(w, "bytes_in", x->bytes_in);
    json_kv_uint(w, "bytes_out", x->bytes_out);
    json_kv_uint(w, "downstream_bytes_in", x->downstream_bytes_in);
    json_kv_uint(w, "downstream_bytes_out", x->downstream_bytes_out);
    json_kv_uint(w, "retransmits", x->retransmits);
    json_kv_uint(w, "resets_sent", x->resets_sent);
    json_kv_uint(w, "resets_received", x->resets_received);
    json_kv_uint(w, "host_listen_overflows", x->host_listen_overflows);
    json_kv_uint(w, "host_listen_drops", x->host_listen_drops);
    json_kv_uint(w, "lost_spans", x->lost_spans);
    json_kv_uint(w, "lost_heads", x->lost_heads);
    json_kv_uint(w, "lost_other", x->lost_other);
    json_kv_uint(w, "syscall_hooks_ns", x->syscall_hooks_ns);
    json_kv_uint(w, "socket_hooks_ns", x->socket_hooks_ns);
    json_kv_uint(w, "syscalls", x->syscalls);
    json_key(w, "syscalls_top");
    json_array_begin(w);
    for (uint32_t i = 0; i < x->syscall_count_kept; i++) {
        const struct syscall_window *s = &x->syscalls_top[i];
        json_object_begin(w);
        json_kv_uint(w, "nr", s->nr);
        json_kv_uint(w, "count", s->count);
        json_kv_uint(w, "total_ns", s->total_ns);
        json_hist(w, "log2_hist", s->hist);
        json_object_end(w);
    }
    json_array_end(w);
    json_object_end(w);
}

static void print_window(const struct replica_window *x, uint64_t start_ns)
{
    double secs = (double)(x->end_ns - x->start_ns) / 1e9;
    if (secs <= 0)
        return;
    uint64_t off = 0;
    for (int r = 0; r < OFF_REASONS; r++)
        off += x->offcpu_ns[r];
    printf("%7.1fs %-12s cpu %.2f cores  runq %.1fms  off %.2fs (lock %.0fms down %.0fms "
           "disk %.0fms sleep %.0fms idle %.0fms)  req %.0f/s  busy %u/%u thr\n",
           (double)(x->end_ns - start_ns) / 1e9, x->name, (double)x->oncpu_ns / 1e9 / secs,
           (double)x->runq_ns / 1e6, (double)off / 1e9, (double)x->offcpu_ns[OFF_LOCK] / 1e6,
           (double)x->offcpu_ns[OFF_DOWNSTREAM] / 1e6, (double)x->offcpu_ns[OFF_DISK] / 1e6,
           (double)x->offcpu_ns[OFF_SLEEP] / 1e6, (double)x->offcpu_ns[OFF_IDLE] / 1e6,
           (double)x->requests / secs, x->busy_threads, x->threads);
    fflush(stdout);
}

static void on_window(void *ctx, const struct replica_window *x)
{
    struct outputs *o = ctx;
    if (o->json)
        json_window(&o->jw, x);
    if (!o->quiet)
        print_window(x, o->start_ns);
}

static int write_folded(struct trace_session *s, const struct trace_cli *c, struct error *err)
{
    if (mkdir(c->folded_dir, 0755) < 0 && errno != EEXIST)
        return error_set(err, "cannot create %s: %s", c->folded_dir, strerror(errno));
    for (unsigned r = 0; r < c->cfg.replica_count; r++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.folded", c->folded_dir, c->cfg.replicas[r].name);
        FILE *f = fopen(path, "w");
        if (!f)
            return error_set(err, "cannot write %s: %s", path, strerror(errno));
        int rc = trace_profile_write_folded(s, r, f, err);
        if (fclose(f) != 0 && rc == 0)
            rc = error_set(err, "writing %s failed", path);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static void json_totals(struct json_writer *w, const struct trace_totals *t)
{
    json_key(w, "totals");
    json_object_begin(w);
    json_kv_uint(w, "start_ns", t->start_ns);
    json_kv_uint(w, "end_ns", t->end_ns);
    json_kv_string(w, "attach_modes", t->modes);
    json_kv_uint(w, "spans", t->spans);
    json_kv_uint(w, "spans_skipped", t->spans_skipped);
    json_kv_uint(w, "span_rate", t->span_rate);
    json_kv_uint(w, "lost_spans", t->lost_spans);
    json_kv_uint(w, "lost_heads", t->lost_heads);
    json_kv_uint(w, "spans_without_head", t->spans_without_head);
    json_kv_uint(w, "conn_map_full", t->conn_map_full);
    json_kv_uint(w, "syscall_map_full", t->syscall_map_full);
    json_kv_uint(w, "thread_storage_failed", t->thread_storage_failed);
    json_kv_uint(w, "profile_samples", t->profile_samples);
    json_kv_uint(w, "profile_stacks_lost", t->profile_stacks_lost);
    json_kv_uint(w, "profile_map_full", t->profile_map_full);
    json_kv_uint(w, "bpf_map_bytes", t->map_bytes);
    json_kv_uint(w, "syscall_hooks_ns", t->syscall_hooks_ns);
    json_kv_double(w, "syscall_cost_share", t->syscall_cost_share);
    json_kv_double(w, "syscall_budget", t->syscall_budget);
    json_kv_uint(w, "syscall_period", t->syscall_period);
    json_kv_uint(w, "socket_hooks_ns", t->socket_hooks_ns);
    json_kv_double(w, "socket_cost_share", t->socket_cost_share);
    json_kv_double(w, "socket_budget", t->socket_budget);
    json_kv_uint(w, "socket_period", t->socket_period);
    json_key(w, "replicas");
    json_array_begin(w);
    for (unsigned r = 0; r < t->replica_count; r++)
        json_window(w, &t->replica[r]);
    json_array_end(w);
    json_object_end(w);
}

static int open_outputs(const struct trace_cli *c, struct outputs *o, struct error *err)
{
    memset(o, 0, sizeof(*o));
    o->quiet = c->quiet;
    if (c->spans_path) {
        o->spans = fopen(c->spans_path, "w");
        if (!o->spans)
            return error_set(err, "cannot write %s: %s", c->spans_path, strerror(errno));
        write_span_header(o->spans);
    }
    if (c->json_path) {
        o->json = fopen(c->json_path, "w");
        if (!o->json)
            return error_set(err, "cannot write %s: %s", c->json_path, strerror(errno));
        json_init(&o->jw, o->json, true);
        json_object_begin(&o->jw);
        json_key(&o->jw, "replicas");
        json_array_begin(&o->jw);
        for (unsigned r = 0; r < c->cfg.replica_count; r++) {
            char spec[300];
            replica_spec_format(&c->cfg.replicas[r], spec, sizeof(spec));
            json_object_begin(&o->jw);
            json_kv_string(&o->jw, "name", c->cfg.replicas[r].name);
            json_kv_string(&o->jw, "spec", spec);
            json_object_end(&o->jw);
        }
        json_array_end(&o->jw);
        json_kv_uint(&o->jw, "window_ns", c->cfg.window_ns);
        json_key(&o->jw, "windows");
        json_array_begin(&o->jw);
    }
    return 0;
}

static int close_outputs(struct outputs *o, const struct trace_totals *t, struct error *err)
{
    int rc = 0;
    if (o->json) {
        json_array_end(&o->jw);
        json_totals(&o->jw, t);
        json_object_end(&o->jw);
        fputc('\n', o->json);
        if (fclose(o->json) != 0)
            rc = error_set(err, "writing the JSON output failed");
    }
    if (o->spans && fclose(o->spans) != 0)
        rc = error_set(err, "writing the spans CSV failed");
    return rc;
}

/* Without load to drive, the main thread only ticks the session (which acts every 100 ms):
 * a background thread like the reader, one wakeup per tick. */
static void wait_until(struct run_session *session, uint64_t end_ns)
{
    batch_thread_enter();
    uint64_t now;
    while (!trace_interrupts && (!end_ns || (now = clock_now_ns()) < end_ns)) {
        uint64_t nap = 100 * NS_PER_MS;
        if (end_ns && end_ns - now < nap)
            nap = end_ns - now;
        struct timespec ts = {0, (long)nap};
        nanosleep(&ts, NULL);
        run_session_tick(session, NULL, clock_now_ns());
    }
}

/* What `run` reports about its load, for a traced stretch without load: no requests. */
static struct stats *empty_stats(uint64_t start_ns)
{
    struct stats_labels labels = {0};
    return stats_create(&labels, start_ns, clock_wall_seconds());
}

static void print_totals(const struct trace_totals *t)
{
    fprintf(stderr,
            "loadscope trace: %.1fs, %llu spans, modes: %s; lost: %llu spans, %llu request "
            "heads, %llu connections untracked; BPF maps %.1f MiB\n",
            (double)(t->end_ns - t->start_ns) / 1e9, (unsigned long long)t->spans, t->modes,
            (unsigned long long)t->lost_spans, (unsigned long long)t->lost_heads,
            (unsigned long long)t->conn_map_full, (double)t->map_bytes / (1 << 20));
    char note[256];
    trace_span_note(t, note, sizeof(note));
    fprintf(stderr, "loadscope trace: %s\n", note);
    trace_socket_note(t, note, sizeof(note));
    fprintf(stderr, "loadscope trace: %s\n", note);
    trace_syscall_note(t, note, sizeof(note));
    fprintf(stderr, "loadscope trace: %s\n", note);
}

int cmd_trace(int argc, char **argv)
{
    struct trace_cli c = {0};
    struct error err = {{0}};
    int rc = parse_args(argc, argv, &c, &err);
    if (rc == 1) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (rc < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_USAGE;
    }
    struct outputs o;
    if (open_outputs(&c, &o, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_USAGE;
    }
    struct trace_sinks sinks = {&o, on_span, on_window};
    struct run_session_options opts;
    run_session_options_init(&opts); /* the tracer's settings all come from trace_base */
    opts.out_dir = c.out_dir;
    opts.command = "loadscope trace";
    opts.trace_base = &c.cfg;
    opts.observer = &sinks;
    opts.paths = c.paths;
    memcpy(opts.replicas, c.cfg.replicas, sizeof(opts.replicas));
    opts.replica_count = c.cfg.replica_count;
    struct sigaction sa = {.sa_handler = on_trace_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Say why tracing cannot run before anything is created. */
    struct trace_caps caps;
    struct replica_members *members = malloc(sizeof(*members));
    rc = trace_probe(&caps, &err) < 0 || !members ? -1 : 0;
    for (unsigned r = 0; rc == 0 && r < c.cfg.replica_count; r++)
        rc = replica_resolve(&c.cfg.replicas[r], members, &err);
    free(members);
    if (rc < 0) {
        fprintf(stderr, "loadscope: cannot trace: %s\n", err.msg[0] ? err.msg : "out of memory");
        struct trace_totals none = {0};
        close_outputs(&o, &none, &err);
        return EXIT_RUNTIME;
    }
    struct run_session *session = NULL;
    if (run_session_open(&session, NULL, &opts, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        struct trace_totals none = {0};
        close_outputs(&o, &none, &err);
        return EXIT_RUNTIME;
    }
    if (run_session_trace_reason(session)[0]) {
        fprintf(stderr, "loadscope: cannot trace: %s\n", run_session_trace_reason(session));
        run_session_free(session);
        struct trace_totals none = {0};
        close_outputs(&o, &none, &err);
        return EXIT_RUNTIME;
    }
    o.start_ns = clock_now_ns();
    struct stats *stats = empty_stats(o.start_ns);
    rc = run_session_begin(session, o.start_ns, clock_wall_seconds(), &err) < 0 || !stats
             ? EXIT_RUNTIME
             : EXIT_OK;
    if (rc == EXIT_OK) {
        wait_until(session, c.duration_ns ? o.start_ns + c.duration_ns : 0);
        struct run_result res = {
            .stats = stats,
            .duration_ns = clock_now_ns() - o.start_ns,
            .stop_reason = trace_interrupts ? "interrupted" : "run time",
        };
        bool passed;
        if (run_session_finish(session, &res, stdout, &passed, &err) < 0)
            rc = EXIT_RUNTIME;
    }
    struct trace_totals totals = *run_session_totals(session);
    struct trace_session *s = run_session_tracer(session);
    if (rc == EXIT_OK && s && c.folded_dir && c.cfg.profile_hz && write_folded(s, &c, &err) < 0)
        rc = EXIT_RUNTIME;
    struct error err2 = {{0}};
    if (close_outputs(&o, &totals, &err2) < 0) {
        err = err2;
        rc = EXIT_RUNTIME;
    }
    print_totals(&totals);
    run_session_free(session);
    stats_destroy(stats);
    if (rc != EXIT_OK)
        fprintf(stderr, "loadscope: %s\n", err.msg);
    return rc;
}
