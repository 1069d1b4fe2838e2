/* loadscope run: drive an HTTP API with load and report what the clients saw.
 *
 * Reads top-down: options (file, then flags) -> scenario -> check the targets -> open the run
 * session (run store, server-side tracer) -> start the engines -> report every 2 s while they
 * run -> stop (time, count, Ctrl-C) -> console summary -> the session's end: tracer stopped,
 * store flushed, correlation and verdict, every output -> exit code (3 when a threshold broke).
 * Records flow from the engine threads through on_record into per-thread stats shards (the live
 * tables) and into the run store (everything after the run is computed from the store). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/run_session.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/error.h"
#include "common/number.h"
#include "load/engine.h"
#include "load/run_result.h"
#include "load/scenario.h"
#include "load/schedule.h"
#include "load/selfcheck.h"
#include "load/stats.h"
#include "load/target.h"
#include "load/threshold.h"
#include "report/console.h"
#include "report/locust_csv.h"
#include "trace/socket_duty.h"
#include "trace/syscall_duty.h"

#define REPORT_INTERVAL_NS (2 * NS_PER_SEC)
#define TICK_NS (100 * NS_PER_MS)
#define CHECK_TIMEOUT_NS (3 * NS_PER_SEC)

/* Set by the signal handler only (the one global the rules allow). */
static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
    (void)sig;
    interrupts++;
    if (interrupts >= 3)
        _exit(130); /* a third Ctrl-C: the user really wants out */
}

static const char usage_text[] =
    "usage: loadscope run -H URL [options]\n"
    "\n"
    "Targets and requests\n"
    "  -H, --host URL[=W]        target base URL; repeat for several hosts (replicas), W = weight\n"
    "  -e, --endpoint SPEC       'METHOD PATH [name=N] [weight=W] [header=K:V]... [body=TEXT|body=@file]\n"
    "                            [upload=FIELD=@file[;type=image/jpeg]] [timeout=5s]'; repeatable,\n"
    "                            default 'GET /'\n"
    "  -f, --scenario FILE       YAML or JSON scenario (flags given here override it)\n"
    "      --timeout D           per-request timeout (default 30s)\n"
    "      --engine E            how requests go out: raw (built-in HTTP/1.1 client, http:// only,\n"
    "                            fastest), curl (libcurl: http and https), auto (default: raw when\n"
    "                            every host is http://, else curl); the summary names the one used\n"
    "\n"
    "Closed model (Locust users)\n"
    "  -u, --users N             concurrent users (default 1)\n"
    "  -r, --spawn-rate R        users started per second (default: all at once)\n"
    "      --wait W              think time after each response: none (default), constant:1s,\n"
    "                            between:0.5s,2s\n"
    "      --stage D:N           ramp linearly to N users over D (repeatable, e.g. --stage 30s:100\n"
    "                            --stage 1m:100 --stage 30s:0); the run ends with the last stage\n"
    "Open model (constant arrival rate, wrk2)\n"
    "      --rate R              requests per second in total; with --stage D:R the rate ramps\n"
    "  -c, --connections C       at most C requests in flight (default 100)\n"
    "                            latency is measured from each request's intended send time\n"
    "                            (coordinated-omission corrected) and also from the actual send\n"
    "\n"
    "Duration\n"
    "  -t, --run-time D          30s, 3m, 1h30m (default: until the stages end or Ctrl-C)\n"
    "      --max-requests N      stop after N requests\n"
    "      --stop-timeout D      grace for in-flight requests at the stop (default 5s)\n"
    "      --threads N           engine threads, one per core (default 1)\n"
    "\n"
    "Server side (BPF, when the targets are on this host and loadscope runs as root)\n"
    "      --replica NAME=SPEC   what to trace: NAME=port:8001, NAME=pid:1234,\n"
    "                            NAME=cgroup:/sys/fs/cgroup/...; repeatable (default: one replica\n"
    "                            per local target port)\n"
    "      --no-trace            client side only\n"
    "      --window D            server aggregation window (default 1s)\n"
    "      --profile-hz N        CPU stack samples per second per CPU (default 49, 0 = off)\n"
    "      --syscall-budget PCT  the per-syscall hooks (counts, latency) cost ~0.2 us per\n"
    "                            syscall of the host; above PCT% of the replicas' CPU they\n"
    "                            run one window out of N (default 1)\n"
    "      --all-syscalls        the per-syscall hooks all the time, whatever they cost\n"
    "      --socket-budget PCT   the socket hooks (spans, queue waits, request and byte\n"
    "                            counts) cost ~1.5 us per request; above PCT% of the replicas'\n"
    "                            CPU they run 1/N of each window (default 0.5)\n"
    "      --all-sockets         the socket hooks all the time, whatever they cost\n"
    "      --span-rate N         request spans recorded per second; above it a random 1 in M\n"
    "                            requests (default 10000, 0 = every request)\n"
    "\n"
    "Output (every run is stored in a directory: run.db, report.json/.html/.md, stats_*.csv,\n"
    "trace.json, profiles/; 'loadscope report DIR' regenerates them)\n"
    "      --out DIR             the run directory (default loadscope-runs/<date>-<time>)\n"
    "      --csv PREFIX          PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv\n"
    "                            (Locust's columns, unrounded)\n"
    "      --json FILE           the report document (summary, timeline, verdict) as JSON\n"
    "      --html FILE           a self-contained HTML report\n"
    "      --markdown FILE       the Markdown report\n"
    "      --trace-out FILE      Perfetto / chrome://tracing timeline of client and server\n"
    "      --threshold EXPR      p95<200ms, p99<=1s, avg<100ms, fail<1%, rps>100, or per endpoint\n"
    "                            'POST /predict:p95<500ms'; a broken one exits with code 3\n"
    "      --only-summary        no table every 2 s, only the final summary\n"
    "      --no-check            start even if a host does not accept connections\n"
    "      --headless            accepted for Locust compatibility (always headless)\n"
    "\n"
    "The table every 2 s goes to stderr, the final summary to stdout. Ctrl-C stops cleanly and\n"
    "still writes every output; a second Ctrl-C aborts the requests in flight.\n"
    "Exit codes: 0 ok, 1 runtime error, 2 bad usage or unreachable target, 3 threshold broken.\n";

enum { OPT_HEADLESS = 256, OPT_CSV, OPT_JSON, OPT_MAX_REQUESTS, OPT_THRESHOLD, OPT_THREADS,
       OPT_TIMEOUT, OPT_STOP_TIMEOUT, OPT_WAIT, OPT_STAGE, OPT_RATE, OPT_NO_CHECK,
       OPT_ONLY_SUMMARY, OPT_CSV_FULL_HISTORY, OPT_OUT, OPT_HTML, OPT_MARKDOWN, OPT_TRACE_OUT,
       OPT_NO_TRACE, OPT_REPLICA, OPT_WINDOW, OPT_PROFILE_HZ, OPT_ENGINE,
       OPT_SYSCALL_BUDGET, OPT_ALL_SYSCALLS, OPT_SPAN_RATE, OPT_SOCKET_BUDGET, OPT_ALL_SOCKETS };

static const struct option long_options[] = {
    {"host", required_argument, NULL, 'H'},
    {"users", required_argument, NULL, 'u'},
    {"spawn-rate", required_argument, NULL, 'r'},
    {"run-time", required_argument, NULL, 't'},
    {"endpoint", required_argument, NULL, 'e'},
    {"scenario", required_argument, NULL, 'f'},
    {"connections", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {"headless", no_argument, NULL, OPT_HEADLESS},
    {"csv", required_argument, NULL, OPT_CSV},
    {"csv-full-history", no_argument, NULL, OPT_CSV_FULL_HISTORY},
    {"json", required_argument, NULL, OPT_JSON},
    {"max-requests", required_argument, NULL, OPT_MAX_REQUESTS},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"stage", required_argument, NULL, OPT_STAGE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"no-check", no_argument, NULL, OPT_NO_CHECK},
    {"only-summary", no_argument, NULL, OPT_ONLY_SUMMARY},
    {"out", required_argument, NULL, OPT_OUT},
    {"html", required_argument, NULL, OPT_HTML},
    {"markdown", required_argument, NULL, OPT_MARKDOWN},
    {"trace-out", required_argument, NULL, OPT_TRACE_OUT},
    {"no-trace", no_argument, NULL, OPT_NO_TRACE},
    {"replica", required_argument, NULL, OPT_REPLICA},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"profile-hz", required_argument, NULL, OPT_PROFILE_HZ},
    {"syscall-budget", required_argument, NULL, OPT_SYSCALL_BUDGET},
    {"all-syscalls", no_argument, NULL, OPT_ALL_SYSCALLS},
    {"span-rate", required_argument, NULL, OPT_SPAN_RATE},
    {"socket-budget", required_argument, NULL, OPT_SOCKET_BUDGET},
    {"all-sockets", no_argument, NULL, OPT_ALL_SOCKETS},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {NULL, 0, NULL, 0},
};

/* A flag as a scenario key (scenario_set), applied after the file. */
struct flag {
    const char *key;
    const char *value;
};

struct run_args {
    const char *scenario_file;
    struct flag *flags;
    size_t flag_count;
    bool only_summary;
    bool help;
    struct run_session_options session; /* run store, tracing, extra outputs */
};

/* Options about the run's store, tracing and outputs rather than the load. Returns 1 when opt
 * was one of them, 0 when not, -1 on a bad value. */
static int session_option(int opt, const char *value, struct run_session_options *o,
                          struct error *err)
{
    uint32_t v;
    switch (opt) {
    case OPT_OUT: o->out_dir = value; return 1;
    case OPT_HTML: o->paths.html = value; return 1;
    case OPT_MARKDOWN: o->paths.markdown = value; return 1;
    case OPT_TRACE_OUT: o->paths.trace_out = value; return 1;
    case OPT_NO_TRACE: o->no_trace = true; return 1;
    case OPT_REPLICA:
        if (o->replica_count == TRACE_MAX_REPLICAS)
            return error_set(err, "at most %d --replica", TRACE_MAX_REPLICAS);
        return replica_spec_parse(value, &o->replicas[o->replica_count++], err) < 0 ? -1 : 1;
    case OPT_WINDOW:
        if (duration_parse(value, &o->window_ns, err) < 0)
            return error_prefix(err, "--window");
        if (o->window_ns < 10 * NS_PER_MS)
            return error_set(err, "--window must be at least 10ms");
        return 1;
    case OPT_SYSCALL_BUDGET:
        return syscall_budget_parse(value, &o->syscall_budget, err) < 0 ? -1 : 1;
    case OPT_ALL_SYSCALLS: o->syscall_budget = 0; return 1;
    case OPT_SOCKET_BUDGET:
        return socket_budget_parse(value, &o->socket_budget, err) < 0 ? -1 : 1;
    case OPT_ALL_SOCKETS: o->socket_budget = 0; return 1;
    case OPT_SPAN_RATE:
        if (uint_parse(value, 0, SPAN_RATE_MAX, &v) < 0)
            return error_set(err, "--span-rate takes 0..%u, not '%s'", SPAN_RATE_MAX, value);
        o->span_rate = v;
        return 1;
    case OPT_PROFILE_HZ:
        if (uint_parse(value, 0, 10000, &v) < 0)
            return error_set(err, "--profile-hz takes 0..10000, not '%s'", value);
        o->profile_hz = (int)v;
        return 1;
    default: return 0;
    }
}

static const char *flag_key(int opt)
{
    switch (opt) {
    case 'H': return "host";
    case 'u': return "users";
    case 'r': return "spawn-rate";
    case 't': return "run-time";
    case 'e': return "endpoint";
    case 'c': return "connections";
    case OPT_CSV: return "csv";
    case OPT_JSON: return "json";
    case OPT_MAX_REQUESTS: return "max-requests";
    case OPT_THRESHOLD: return "threshold";
    case OPT_THREADS: return "threads";
    case OPT_TIMEOUT: return "timeout";
    case OPT_STOP_TIMEOUT: return "stop-timeout";
    case OPT_WAIT: return "wait";
    case OPT_STAGE: return "stage";
    case OPT_RATE: return "rate";
    case OPT_NO_CHECK: return "check";
    case OPT_ENGINE: return "engine";
    default: return NULL;
    }
}

static int parse_args(int argc, char **argv, struct run_args *a, struct error *err)
{
    memset(a, 0, sizeof(*a));
    run_session_options_init(&a->session);
    a->flags = calloc((size_t)argc + 1, sizeof(*a->flags));
    if (!a->flags)
        return error_set(err, "out of memory");
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":H:u:r:t:e:f:c:h", long_options, NULL)) != -1) {
        if (opt == '?')
            return error_set(err, "unknown option '%s' (see 'loadscope run --help')",
                             optopt ? (char[]){'-', (char)optopt, 0} : argv[optind - 1]);
        if (opt == ':')
            return error_set(err, "option '%s' needs a value", argv[optind - 1]);
        if (opt == 'h') {
            a->help = true;
            return 0;
        }
        if (opt == 'f') {
            a->scenario_file = optarg;
            continue;
        }
        if (opt == OPT_HEADLESS || opt == OPT_CSV_FULL_HISTORY)
            continue; /* Locust habits: always headless, history is always full */
        if (opt == OPT_ONLY_SUMMARY) {
            a->only_summary = true;
            continue;
        }
        int session = session_option(opt, optarg, &a->session, err);
        if (session < 0)
            return -1;
        if (session)
            continue;
        const char *key = flag_key(opt);
        a->flags[a->flag_count++] = (struct flag){key, opt == OPT_NO_CHECK ? "false" : optarg};
    }
    if (optind < argc)
        return error_set(err, "unexpected argument '%s' (see 'loadscope run --help')", argv[optind]);
    return 0;
}

/* The file first, then the flags; a list flag replaces the file's list. */
static int build_scenario(const struct run_args *a, struct scenario *sc, struct error *err)
{
    if (a->scenario_file && scenario_load_file(sc, a->scenario_file, err) < 0)
        return -1;
    const char *cleared[8];
    size_t ncleared = 0;
    for (size_t i = 0; i < a->flag_count; i++) {
        const struct flag *f = &a->flags[i];
        if (scenario_key_is_list(f->key)) {
            bool seen = false;
            for (size_t k = 0; k < ncleared; k++)
                seen = seen || !strcmp(cleared[k], f->key);
            if (!seen) {
                scenario_clear_list(sc, f->key);
                cleared[ncleared++] = f->key;
            }
        }
        if (scenario_set(sc, f->key, f->value, err) < 0)
            return -1;
    }
    return scenario_finish(sc, err);
}

static int parse_thresholds(const struct scenario *sc, const struct stats *s,
                            struct threshold *out, struct error *err)
{
    for (size_t i = 0; i < sc->threshold_count; i++)
        if (threshold_parse(sc->thresholds[i], &out[i], err) < 0 ||
            threshold_bind(&out[i], s, err) < 0)
            return -1;
    return 0;
}

/* Threshold syntax is checked before anything touches the network. */
static int check_thresholds(const struct scenario *sc, struct error *err)
{
    struct threshold t;
    for (size_t i = 0; i < sc->threshold_count; i++)
        if (threshold_parse(sc->thresholds[i], &t, err) < 0)
            return -1;
    return 0;
}

/* What an engine thread's records feed: its live stats shard and the run store. */
struct record_sink {
    struct stats_shard *shard;
    struct run_session *session;
};

static void on_record(void *ctx, const struct client_record *r)
{
    struct record_sink *sink = ctx;
    stats_shard_add(sink->shard, r);
    run_session_record(sink->session, r);
}

struct live {
    const struct scenario *sc;
    const struct schedule *sched;
    struct engine_pool *pool;
    struct stats_shard **shards;
    struct stats *stats;
    struct run_session *session;
    uint64_t start_ns;
    bool only_summary;
};

static void drain(struct live *l, uint64_t now)
{
    for (unsigned i = 0; i < l->sc->threads; i++)
        stats_shard_drain(l->shards[i], l->stats);
    stats_close_seconds(l->stats, now);
}

static void status_line(const struct live *l, uint64_t now, char *buf, size_t len)
{
    struct engine_counters c;
    engine_pool_counters(l->pool, &c);
    double t = now > l->start_ns ? (double)(now - l->start_ns) / 1e9 : 0;
    if (l->sc->open_loop)
        snprintf(buf, len, "[%.0fs] rate %.1f/s, %llu in flight, behind schedule %.0f ms", t,
                 schedule_level_at(l->sched, now - l->start_ns), (unsigned long long)c.in_flight,
                 (double)c.behind_ns / 1e6);
    else
        snprintf(buf, len, "[%.0fs] %llu users, %llu in flight", t, (unsigned long long)c.users,
                 (unsigned long long)c.in_flight);
}

/* Runs until the engines end, reporting; reacts to Ctrl-C. */
static void watch(struct live *l, struct selfcheck *check)
{
    struct console_progress progress;
    console_progress_init(&progress, l->stats, l->start_ns);
    uint64_t next_report = l->start_ns + REPORT_INTERVAL_NS;
    int handled = 0;
    char warning[256] = "";
    while (!engine_pool_done(l->pool)) {
        struct timespec ts = {0, (long)TICK_NS};
        nanosleep(&ts, NULL);
        uint64_t now = clock_now_ns();
        if (interrupts > handled) {
            handled = interrupts;
            if (handled == 1) {
                fprintf(stderr, "\nloadscope: stopping: waiting up to %.0fs for requests in flight "
                                "(Ctrl-C again to abort them)\n",
                        (double)l->sc->stop_timeout_ns / 1e9);
                engine_pool_stop(l->pool);
            } else {
                fprintf(stderr, "\nloadscope: aborting requests in flight\n");
                engine_pool_abort(l->pool);
            }
        }
        drain(l, now);
        run_session_tick(l->session, l->pool, now);
        char msg[256];
        if (selfcheck_sample(check, l->pool, l->sc->open_loop, now, msg, sizeof(msg)))
            snprintf(warning, sizeof(warning), "%s", msg); /* shown with the next table */
        if (now >= next_report) {
            next_report += REPORT_INTERVAL_NS;
            if (!l->only_summary) {
                char line[256];
                status_line(l, now, line, sizeof(line));
                console_print_progress(stderr, &progress, l->stats, now, line);
                if (warning[0])
                    fprintf(stderr, "loadscope: %s\n", warning);
            }
            warning[0] = 0;
        }
    }
    console_progress_free(&progress);
}

static const char *stop_reason(const struct scenario *sc, const struct engine_counters *c,
                               uint64_t elapsed)
{
    if (interrupts)
        return "interrupted";
    if (sc->max_requests && c->started >= sc->max_requests)
        return "max requests";
    if (sc->run_time_ns && elapsed >= sc->run_time_ns)
        return "run time";
    if (sc->stage_count)
        return "stages done";
    return "schedule end";
}


static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static struct stats_labels labels_of(const struct scenario *sc, const char **methods,
                                     const char **names, const char **hosts)
{
    for (size_t i = 0; i < sc->endpoint_count; i++) {
        methods[i] = sc->endpoints[i].method;
        names[i] = sc->endpoints[i].name;
    }
    for (size_t i = 0; i < sc->host_count; i++)
        hosts[i] = sc->hosts[i].url;
    return (struct stats_labels){sc->endpoint_count, methods, names, sc->host_count, hosts,
                                 sc->open_loop};
}

static int run_load(struct scenario *sc, const struct run_args *args)
{
    bool only_summary = args->only_summary;
    struct error err = {{0}};
    const char *methods[SCENARIO_MAX_ENDPOINTS], *names[SCENARIO_MAX_ENDPOINTS];
    const char *hosts[SCENARIO_MAX_HOSTS];
    struct stats_labels labels = labels_of(sc, methods, names, hosts);
    struct run_session *session = NULL;
    struct run_session_options session_opts = args->session;
    session_opts.paths.csv_prefix = sc->csv_prefix;
    session_opts.paths.json = sc->json_path;
    if (run_session_open(&session, sc, &session_opts, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    if (run_session_trace_reason(session)[0])
        fprintf(stderr, "loadscope: server tracing off: %s\n", run_session_trace_reason(session));
    /* Engines start together a moment from now, so none gets a head start. */
    uint64_t now = clock_now_ns();
    uint64_t start_ns = now + 20 * NS_PER_MS;
    double start_wall = clock_wall_seconds() + 0.020;
    struct stats *stats = stats_create(&labels, start_ns, start_wall);
    struct stats_shard *shards[SCENARIO_MAX_THREADS] = {0};
    struct record_sink sinks[SCENARIO_MAX_THREADS];
    void *ctxs[SCENARIO_MAX_THREADS];
    struct threshold thresholds[SCENARIO_MAX_THRESHOLDS];
    struct threshold_result results[SCENARIO_MAX_THRESHOLDS];
    int code = EXIT_RUNTIME;
    struct engine_pool *pool = NULL;
    if (!stats) {
        fprintf(stderr, "loadscope: out of memory\n");
        goto out;
    }
    if (parse_thresholds(sc, stats, thresholds, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        code = EXIT_USAGE;
        goto out;
    }
    if (run_session_begin(session, start_ns, start_wall, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        goto out;
    }
    for (unsigned i = 0; i < sc->threads; i++) {
        shards[i] = stats_shard_create(&labels, start_ns, start_wall);
        if (!shards[i]) {
            fprintf(stderr, "loadscope: out of memory\n");
            goto out;
        }
        sinks[i] = (struct record_sink){shards[i], session};
        ctxs[i] = &sinks[i];
    }
    struct schedule sched;
    schedule_init(&sched, sc);
    install_signals();
    pool = engine_pool_start(sc, &sched, start_ns, on_record, ctxs, &err);
    if (!pool) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        goto out;
    }
    struct selfcheck check;
    selfcheck_init(&check, sc->threads, start_ns);
    struct live live = {sc, &sched, pool, shards, stats, session, start_ns, only_summary};
    watch(&live, &check);
    int engine_rc = engine_pool_join(pool, &err);
    now = clock_now_ns();
    selfcheck_finish(&check, pool, sc->open_loop, now);
    for (unsigned i = 0; i < sc->threads; i++)
        stats_shard_drain(shards[i], stats);
    stats_close_seconds(stats, UINT64_MAX);
    struct engine_counters counters;
    engine_pool_counters(pool, &counters);
    const struct stats_entry *agg = stats_aggregated(stats);
    uint64_t duration = (agg->requests ? agg->last_end_ns : now) - start_ns;
    bool passed = true;
    for (size_t i = 0; i < sc->threshold_count; i++) {
        threshold_eval(&thresholds[i], stats, duration, &results[i]);
        passed = passed && results[i].passed;
    }
    struct run_result res = {
        .scenario = sc,
        .stats = stats,
        .duration_ns = duration,
        .stop_reason = stop_reason(sc, &counters, now - start_ns),
        .aborted = counters.aborted,
        .thresholds = thresholds,
        .threshold_results = results,
        .threshold_count = sc->threshold_count,
        .selfcheck = &check,
    };
    console_print_summary(stdout, &res);
    printf("Engine: %s (--engine %s)\n", engine_pool_transport_name(pool),
           scenario_engine_name(sc->engine));
    fflush(stdout); /* the summary shows now, not after the outputs are written */
    bool stored_passed;
    if (run_session_finish(session, &res, stdout, &stored_passed, &err) < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        goto out;
    }
    if (engine_rc < 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        goto out;
    }
    code = passed ? EXIT_OK : EXIT_THRESHOLD;
    if (!passed)
        fprintf(stderr, "loadscope: threshold broken\n");
out:
    engine_pool_destroy(pool);
    run_session_free(session);
    for (unsigned i = 0; i < sc->threads; i++)
        stats_shard_destroy(shards[i]);
    stats_destroy(stats);
    return code;
}

/* The command line as typed (argv[0] is "run"), quoted where needed, for the reports. */
static void command_line(int argc, char **argv, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "loadscope");
    for (int i = 0; i < argc && off < len; i++) {
        bool plain = argv[i][0] && strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                                   "QRSTUVWXYZ0123456789-_=:/.,@%+") ==
                                       strlen(argv[i]);
        off += (size_t)snprintf(buf + off, len - off, plain ? " %s" : " '%s'", argv[i]);
    }
}

int cmd_run(int argc, char **argv)
{
    char command[4096];
    struct run_args args;
    struct error err = {{0}};
    struct scenario sc;
    scenario_init(&sc);
    int code = EXIT_USAGE;
    if (parse_args(argc, argv, &args, &err) < 0)
        goto fail;
    command_line(argc, argv, command, sizeof(command));
    args.session.command = command;
    if (args.help) {
        fputs(usage_text, stdout);
        code = EXIT_OK;
        goto done;
    }
    if (build_scenario(&args, &sc, &err) < 0 || check_thresholds(&sc, &err) < 0 ||
        target_resolve(&sc, &err) < 0)
        goto fail;
    if (sc.check && target_check(&sc, CHECK_TIMEOUT_NS, &err) < 0)
        goto fail;
    code = run_load(&sc, &args);
    goto done;
fail:
    fprintf(stderr, "loadscope: %s\n", err.msg);
done:
    free(args.flags);
    scenario_free(&sc);
    return code;
}
