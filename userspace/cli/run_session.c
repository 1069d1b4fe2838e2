#include "cli/run_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/stored_run.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/host_info.h"
#include "common/json_writer.h"
#include "correlate/analysis.h"
#include "report/document.h"
#include "report/flamegraph.h"
#include "store/client_table.h"
#include "store/server_tables.h"
#include "trace/procfs.h"

/* One per second of the run: the generator watching itself. */
struct generator_sample {
    double busy;
    uint64_t sends, late;
    double host_cpu; /* cores busy on the whole host */
    double self_cpu; /* of which this process */
};

struct run_session {
    struct store *store;
    int client_stream;
    struct server_streams server;
    const struct scenario *sc;
    uint64_t start_ns;
    double start_wall;
    /* tracing */
    struct trace_config trace_cfg;
    struct trace_session *trace;
    char trace_reason[512];
    struct trace_totals totals;
    /* per-second self-check */
    struct generator_sample *seconds;
    size_t second_count, second_cap;
    int64_t current_second;
    uint64_t thread_busy_ns[SCENARIO_MAX_THREADS];
    uint64_t last_sends, last_late;
    double busy_max; /* within the current second */
    uint64_t last_tick_ns;
    uint64_t host_busy_ticks, host_sample_ns; /* /proc/stat at the start of the second */
    uint64_t self_cpu_ns, self_sample_ns;     /* getrusage at the start of the second */
    struct run_session_options opts;
};

/* ---- the run directory ------------------------------------------------------------------- */

static void default_dir(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "loadscope-runs/%s", stamp);
    struct stat st;
    for (int i = 2; stat(buf, &st) == 0 && i < 1000; i++)
        snprintf(buf, len, "loadscope-runs/%s-%d", stamp, i);
}

static void wait_text(const struct scenario_wait *w, char *buf, size_t len)
{
    char a[32], b[32];
    if (w->kind == WAIT_CONSTANT)
        snprintf(buf, len, "constant:%s", duration_format(w->min_ns, a, sizeof(a)));
    else if (w->kind == WAIT_BETWEEN)
        snprintf(buf, len, "between:%s,%s", duration_format(w->min_ns, a, sizeof(a)),
                 duration_format(w->max_ns, b, sizeof(b)));
    else
        snprintf(buf, len, "none");
}

static void settings_fragment(struct json_writer *w, const void *ctx)
{
    const struct scenario *sc = ctx;
    if (!sc) {
        json_object_begin(w);
        json_kv_string(w, "model", "none");
        json_kv_string(w, "note", "server side traced without generating load");
        json_object_end(w);
        return;
    }
    char wait[96];
    wait_text(&sc->wait, wait, sizeof(wait));
    json_object_begin(w);
    json_kv_string(w, "model", sc->open_loop ? "open" : "closed");
    if (sc->open_loop) {
        json_key(w, "users");
        json_null(w);
        json_key(w, "spawn_rate");
        json_null(w);
        json_key(w, "wait");
        json_null(w);
        json_kv_double(w, "rate", sc->rate);
        json_kv_uint(w, "connections", sc->connections);
    } else {
        json_kv_uint(w, "users", sc->users);
        json_kv_double(w, "spawn_rate", sc->spawn_rate);
        json_kv_string(w, "wait", wait);
        json_key(w, "rate");
        json_null(w);
        json_key(w, "connections");
        json_null(w);
    }
    json_key(w, "stages");
    json_array_begin(w);
    for (size_t i = 0; i < sc->stage_count; i++) {
        json_object_begin(w);
        json_kv_double(w, "duration_s", (double)sc->stages[i].duration_ns / 1e9);
        json_kv_double(w, "target", sc->stages[i].target);
        json_object_end(w);
    }
    json_array_end(w);
    json_kv_uint(w, "threads", sc->threads);
    if (sc->max_requests)
        json_kv_uint(w, "max_requests", sc->max_requests);
    else {
        json_key(w, "max_requests");
        json_null(w);
    }
    json_kv_double(w, "run_time_s", (double)sc->run_time_ns / 1e9);
    json_kv_double(w, "timeout_s", (double)sc->timeout_ns / 1e9);
    json_object_end(w);
}

static void environment_fragment(struct json_writer *w, const void *ctx)
{
    host_info_write_json(w, ctx);
}

static int describe_run(struct run_session *s, const struct scenario *sc, struct error *err)
{
    struct store *st = s->store;
    for (size_t i = 0; sc && i < sc->host_count; i++)
        if (client_table_add_host(st, (unsigned)i, sc->hosts[i].url, sc->hosts[i].weight, err))
            return -1;
    for (size_t i = 0; sc && i < sc->endpoint_count; i++) {
        const struct scenario_endpoint *e = &sc->endpoints[i];
        if (client_table_add_endpoint(st, (unsigned)i, e->method, e->name, e->path, e->weight,
                                      err))
            return -1;
    }
    const char *slash = strrchr(store_dir(st), '/');
    if (store_set_info(st, "run_id", slash ? slash + 1 : store_dir(st), err) ||
        store_set_info(st, "command", s->opts.command ? s->opts.command : "loadscope run", err))
        return -1;
    char thresholds[8192] = "";
    for (size_t i = 0; sc && i < sc->threshold_count; i++) {
        size_t len = strlen(thresholds);
        snprintf(thresholds + len, sizeof(thresholds) - len, "%s\n", sc->thresholds[i]);
    }
    if (store_set_info(st, RUN_INFO_THRESHOLDS, thresholds, err))
        return -1;
    struct host_info host;
    struct error ignore;
    host_info_read(&host, &ignore);
    return document_store_fragment(st, DOC_SETTINGS, settings_fragment, sc, err) ||
                   document_store_fragment(st, DOC_ENVIRONMENT, environment_fragment, &host, err)
               ? -1
               : 0;
}

/* ---- tracing ------------------------------------------------------------------------------ */

static bool address_is_local(const char *address)
{
    struct in6_addr a6;
    struct in_addr a4;
    bool v4 = inet_pton(AF_INET, address, &a4) == 1;
    if (!v4 && inet_pton(AF_INET6, address, &a6) != 1)
        return false;
    if (v4 && (ntohl(a4.s_addr) >> 24) == 127)
        return true;
    if (!v4 && IN6_IS_ADDR_LOOPBACK(&a6))
        return true;
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return false;
    bool local = false;
    for (struct ifaddrs *i = list; i && !local; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (v4 && i->ifa_addr->sa_family == AF_INET)
            local = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a4.s_addr;
        else if (!v4 && i->ifa_addr->sa_family == AF_INET6)
            local = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &a6, sizeof(a6));
    }
    freeifaddrs(list);
    return local;
}

/* One replica per distinct local target port, unless --replica named them. Returns how many
 * targets were local. */
static unsigned default_replicas(const struct scenario *sc, struct trace_config *cfg)
{
    unsigned local = 0;
    for (size_t i = 0; i < sc->host_count && cfg->replica_count < TRACE_MAX_REPLICAS; i++) {
        const struct scenario_host *h = &sc->hosts[i];
        if (!address_is_local(h->address))
            continue;
        local++;
        bool seen = false;
        for (unsigned r = 0; r < cfg->replica_count; r++)
            seen |= cfg->replicas[r].port == h->port;
        if (seen)
            continue;
        char name[REPLICA_NAME_LEN];
        snprintf(name, sizeof(name), "port%d", h->port);
        replica_spec_for_port(&cfg->replicas[cfg->replica_count++], name, (uint16_t)h->port);
    }
    return local;
}

static void on_span(void *ctx, const struct server_span *span)
{
    struct run_session *s = ctx;
    store_push(s->store, s->server.spans, 0, span);
    if (s->opts.observer && s->opts.observer->on_span)
        s->opts.observer->on_span(s->opts.observer->ctx, span);
}

static void on_window(void *ctx, const struct replica_window *w)
{
    struct run_session *s = ctx;
    store_push(s->store, s->server.windows, 0, w);
    if (s->opts.observer && s->opts.observer->on_window)
        s->opts.observer->on_window(s->opts.observer->ctx, w);
}

/* CPUs the replica's processes may run on (the union of their affinity masks). */
static double replica_cores(const struct replica_members *m)
{
    cpu_set_t all;
    CPU_ZERO(&all);
    for (unsigned i = 0; i < m->pid_count; i++) {
        cpu_set_t set;
        if (sched_getaffinity(m->pids[i], sizeof(set), &set) == 0)
            CPU_OR(&all, &all, &set);
    }
    int n = CPU_COUNT(&all);
    return n > 0 ? n : (double)sysconf(_SC_NPROCESSORS_ONLN);
}

static int record_replicas(struct run_session *s, struct error *err)
{
    for (unsigned r = 0; r < s->trace_cfg.replica_count; r++) {
        const struct replica_members *m = trace_replica_members(s->trace, r);
        char spec[320], pids[4096] = "";
        replica_spec_format(&s->trace_cfg.replicas[r], spec, sizeof(spec));
        for (unsigned i = 0; m && i < m->pid_count; i++) {
            size_t len = strlen(pids);
            if (len + 16 >= sizeof(pids))
                break;
            snprintf(pids + len, sizeof(pids) - len, "%s%d", i ? " " : "", (int)m->pids[i]);
        }
        if (server_tables_add_replica(s->store, r, s->trace_cfg.replicas[r].name, spec, pids,
                                      m ? replica_cores(m) : 0, err) != 0)
            return -1;
    }
    return 0;
}

void run_session_options_init(struct run_session_options *o)
{
    memset(o, 0, sizeof(*o));
    o->profile_hz = -1;
    o->syscall_budget = -1;
    o->socket_budget = -1;
    o->span_rate = -1;
}

static void start_tracing(struct run_session *s, const struct scenario *sc)
{
    if (s->opts.no_trace) {
        snprintf(s->trace_reason, sizeof(s->trace_reason), "turned off with --no-trace");
        return;
    }
    if (s->opts.trace_base)
        s->trace_cfg = *s->opts.trace_base;
    else
        trace_config_defaults(&s->trace_cfg);
    if (s->opts.window_ns)
        s->trace_cfg.window_ns = s->opts.window_ns;
    if (s->opts.profile_hz >= 0)
        s->trace_cfg.profile_hz = (unsigned)s->opts.profile_hz;
    if (s->opts.syscall_budget >= 0)
        s->trace_cfg.syscall_budget = s->opts.syscall_budget;
    if (s->opts.socket_budget >= 0)
        s->trace_cfg.socket_budget = s->opts.socket_budget;
    if (s->opts.span_rate >= 0)
        s->trace_cfg.span_rate = (uint32_t)s->opts.span_rate;
    if (s->opts.replica_count) {
        memcpy(s->trace_cfg.replicas, s->opts.replicas,
               s->opts.replica_count * sizeof(s->opts.replicas[0]));
        s->trace_cfg.replica_count = s->opts.replica_count;
    } else if (!sc || default_replicas(sc, &s->trace_cfg) == 0) {
        snprintf(s->trace_reason, sizeof(s->trace_reason),
                 "no target is on this host (the tracer sees local processes only; name them "
                 "with --replica)");
        return;
    }
    struct trace_caps caps;
    struct error err = {{0}};
    if (trace_probe(&caps, &err) < 0) {
        snprintf(s->trace_reason, sizeof(s->trace_reason), "%s", err.msg);
        return;
    }
    struct trace_sinks sinks = {s, on_span, on_window};
    if (trace_start(&s->trace_cfg, &sinks, &s->trace, &err) < 0) {
        snprintf(s->trace_reason, sizeof(s->trace_reason), "%s", err.msg);
        s->trace = NULL;
        return;
    }
    if (record_replicas(s, &err) != 0) {
        snprintf(s->trace_reason, sizeof(s->trace_reason), "%s", err.msg);
        trace_stop(s->trace, &s->totals);
        trace_destroy(s->trace);
        s->trace = NULL;
    }
}

/* ---- open ------------------------------------------------------------------------------- */

int run_session_open(struct run_session **out, const struct scenario *sc,
                     const struct run_session_options *o, struct error *err)
{
    struct run_session *s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, "out of memory");
    s->opts = *o;
    s->sc = sc;
    s->current_second = -1;
    char dir[PATH_MAX];
    if (o->out_dir)
        snprintf(dir, sizeof(dir), "%s", o->out_dir);
    else
        default_dir(dir, sizeof(dir));
    if (store_create(dir, &s->store, err) != 0)
        goto fail;
    s->client_stream = client_table_add_stream(s->store, sc ? sc->threads : 1, err);
    if (s->client_stream < 0 || server_tables_add_streams(s->store, &s->server, err) != 0 ||
        describe_run(s, sc, err) != 0)
        goto fail;
    start_tracing(s, sc);
    /* inserting rows during the run would take CPU from the load and the server it measures */
    store_spool_during_run(s->store, true);
    if (store_writer_start(s->store, err) != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    run_session_free(s);
    return -1;
}

int run_session_begin(struct run_session *s, uint64_t start_ns, double start_wall,
                      struct error *err)
{
    s->start_ns = start_ns;
    s->start_wall = start_wall;
    char buf[64];
    time_t wall = (time_t)start_wall;
    struct tm tm;
    gmtime_r(&wall, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (store_set_info(s->store, "started_at", buf, err))
        return -1;
    snprintf(buf, sizeof(buf), "%.6f", start_wall);
    return store_set_info(s->store, RUN_INFO_START_WALL, buf, err);
}

void run_session_record(struct run_session *s, const struct client_record *r)
{
    /* a full queue is counted by the store (table losses) and reported */
    store_push(s->store, s->client_stream, r->thread, r);
}

/* ---- the generator's per-second self-check ---------------------------------------------- */

/* On-CPU plus run-queue time of a thread (schedstat): a thread starved of CPU is as saturated
 * as one that burns it. */
static uint64_t thread_busy_ns(pid_t tid)
{
    uint64_t cpu, delay;
    return procfs_schedstat(getpid(), tid, &cpu, &delay) == 0 ? cpu + delay : 0;
}

/* Busy CPU time of the whole host so far, in clock ticks (/proc/stat: all but idle and
 * iowait). */
static uint64_t host_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system [idle iowait] irq softirq steal; guest time is already in user */
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

/* Cores busy on the host since the last call. */
static double host_cpu_since(struct run_session *s, uint64_t now_ns)
{
    uint64_t ticks = host_busy_ticks();
    double cores = 0;
    if (s->host_sample_ns && now_ns > s->host_sample_ns && ticks >= s->host_busy_ticks)
        cores = (double)(ticks - s->host_busy_ticks) / (double)sysconf(_SC_CLK_TCK) /
                ((double)(now_ns - s->host_sample_ns) / 1e9);
    s->host_busy_ticks = ticks;
    s->host_sample_ns = now_ns;
    return cores;
}

/* Cores this process (engines, store writer, tracer reader) used since the last call. */
static double self_cpu_since(struct run_session *s, uint64_t now_ns)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NS_PER_SEC +
                   (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NS_PER_US;
    double cores = 0;
    if (s->self_sample_ns && now_ns > s->self_sample_ns && cpu >= s->self_cpu_ns)
        cores = (double)(cpu - s->self_cpu_ns) / (double)(now_ns - s->self_sample_ns);
    s->self_cpu_ns = cpu;
    s->self_sample_ns = now_ns;
    return cores;
}

static void push_second(struct run_session *s, int64_t second, double busy, uint64_t sends,
                        uint64_t late, double host_cpu, double self_cpu)
{
    if ((size_t)second >= s->second_cap) {
        size_t cap = s->second_cap ? s->second_cap * 2 : 64;
        while (cap <= (size_t)second)
            cap *= 2;
        struct generator_sample *more = realloc(s->seconds, cap * sizeof(*more));
        if (!more)
            return;
        memset(more + s->second_cap, 0, (cap - s->second_cap) * sizeof(*more));
        s->seconds = more;
        s->second_cap = cap;
    }
    s->seconds[second] = (struct generator_sample){busy, sends, late, host_cpu, self_cpu};
    if ((size_t)second + 1 > s->second_count)
        s->second_count = (size_t)second + 1;
}

void run_session_tick(struct run_session *s, const struct engine_pool *pool, uint64_t now_ns)
{
    if (now_ns < s->start_ns || now_ns < s->last_tick_ns + 100 * NS_PER_MS)
        return;
    int64_t second = (int64_t)((now_ns - s->start_ns) / NS_PER_SEC);
    uint64_t wall = s->last_tick_ns && now_ns > s->last_tick_ns ? now_ns - s->last_tick_ns : 0;
    unsigned threads = pool ? engine_pool_threads(pool) : 0;
    for (unsigned i = 0; i < threads && i < SCENARIO_MAX_THREADS; i++) {
        uint64_t busy = thread_busy_ns(engine_pool_thread_tid(pool, i));
        if (wall && busy >= s->thread_busy_ns[i]) {
            double share = (double)(busy - s->thread_busy_ns[i]) / (double)wall;
            if (share > s->busy_max)
                s->busy_max = share > 1 ? 1 : share;
        }
        s->thread_busy_ns[i] = busy;
    }
    s->last_tick_ns = now_ns;
    if (second == s->current_second)
        return;
    if (s->current_second >= 0) {
        struct engine_counters c = {0};
        if (pool)
            engine_pool_counters(pool, &c);
        bool open_loop = s->sc && s->sc->open_loop;
        uint64_t sends = open_loop ? c.started - s->last_sends : 0;
        uint64_t late = open_loop ? c.late - s->last_late : 0;
        push_second(s, s->current_second, s->busy_max, sends, late, host_cpu_since(s, now_ns),
                    self_cpu_since(s, now_ns));
        s->last_sends = c.started;
        s->last_late = c.late;
    } else {
        host_cpu_since(s, now_ns);
        self_cpu_since(s, now_ns);
    }
    s->current_second = second;
    s->busy_max = 0;
}

/* ---- finish ------------------------------------------------------------------------------ */

static void tracing_fragment(struct json_writer *w, const void *ctx)
{
    const struct run_session *s = ctx;
    const struct trace_totals *t = &s->totals;
    json_object_begin(w);
    json_kv_bool(w, "enabled", s->trace_reason[0] == '\0');
    json_kv_string(w, "reason", s->trace_reason[0] ? s->trace_reason : NULL);
    if (!s->trace_reason[0]) {
        json_kv_uint(w, "spans", t->spans);
        json_kv_uint(w, "spans_skipped", t->spans_skipped);
        json_kv_uint(w, "span_rate", t->span_rate);
        char spans_note[200];
        trace_span_note(t, spans_note, sizeof(spans_note));
        json_kv_string(w, "span_sampling", spans_note);
        json_kv_uint(w, "lost_events", t->lost_spans + t->lost_heads);
        json_kv_uint(w, "lost_spans", t->lost_spans);
        json_kv_uint(w, "lost_heads", t->lost_heads);
        json_kv_uint(w, "spans_without_head", t->spans_without_head);
        json_kv_uint(w, "connections_untracked", t->conn_map_full);
        json_kv_uint(w, "profile_samples", t->profile_samples);
        json_kv_uint(w, "profile_stacks_lost", t->profile_stacks_lost);
        json_kv_double(w, "window_s", (double)s->trace_cfg.window_ns / 1e9);
        json_kv_uint(w, "profile_hz", s->trace_cfg.profile_hz);
        json_kv_string(w, "modes", t->modes);
        json_kv_uint(w, "map_bytes", t->map_bytes);
        char note[256];
        trace_syscall_note(t, note, sizeof(note));
        json_kv_string(w, "syscall_hooks", note);
        json_kv_double(w, "syscall_hooks_s", (double)t->syscall_hooks_ns / 1e9);
        json_kv_double(w, "syscall_cost_share", t->syscall_cost_share);
        json_kv_uint(w, "syscall_period", t->syscall_period);
        trace_socket_note(t, note, sizeof(note));
        json_kv_string(w, "socket_hooks", note);
        json_kv_double(w, "socket_hooks_s", (double)t->socket_hooks_ns / 1e9);
        json_kv_double(w, "socket_cost_share", t->socket_cost_share);
        json_kv_uint(w, "socket_period", t->socket_period);
    }
    json_object_end(w);
}

static void self_check_fragment(struct json_writer *w, const void *ctx)
{
    const struct run_result *r = ctx;
    const struct selfcheck *c = r->selfcheck;
    json_object_begin(w);
    json_kv_double(w, "generator_cpu_max", c ? c->max_thread_busy : 0);
    json_kv_double(w, "process_cores", c ? c->process_cores : 0);
    json_kv_uint(w, "sends", c ? c->sends : 0);
    json_kv_uint(w, "late_sends", c ? c->late_sends : 0);
    json_kv_uint(w, "aborted_requests", r->aborted);
    json_key(w, "warnings");
    json_array_begin(w);
    char lines[2][256];
    int n = c ? selfcheck_warnings(c, lines) : 0;
    for (int i = 0; i < n; i++)
        json_string(w, lines[i]);
    json_array_end(w);
    json_object_end(w);
}

static int store_profiles(struct run_session *s, struct error *err)
{
    if (!s->trace_cfg.profile_hz) /* --profile-hz 0: no stacks to store */
        return 0;
    for (unsigned r = 0; r < s->trace_cfg.replica_count; r++) {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem)
            return error_set(err, "out of memory");
        int rc = trace_profile_write_folded(s->trace, r, mem, err);
        fclose(mem);
        struct folded_stacks stacks = {0};
        if (rc == 0 && len)
            rc = flamegraph_folded_parse(text, len, &stacks, err);
        for (size_t i = 0; rc == 0 && i < stacks.n; i++)
            rc = server_tables_add_stack(s->store, r, stacks.items[i].stack,
                                         stacks.items[i].count, err);
        flamegraph_stacks_free(&stacks);
        free(text);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int save_run_facts(struct run_session *s, const struct run_result *live, struct error *err)
{
    struct analysis_params p = {
        .start_ns = s->start_ns,
        .duration_ns = live->duration_ns,
        .open_loop = s->sc && s->sc->open_loop,
        .traced = s->trace_reason[0] == '\0',
        .generator_threads = s->sc ? s->sc->threads : 0,
        .host_cores = (double)sysconf(_SC_NPROCESSORS_ONLN),
    };
    for (size_t i = 0; s->sc && i < s->sc->host_count && p.target_port_count < ANALYSIS_MAX_PORTS;
         i++)
        p.target_ports[p.target_port_count++] = (uint16_t)s->sc->hosts[i].port;
    bool interrupted = live->stop_reason && !strcmp(live->stop_reason, "interrupted");
    if (analysis_write_params(s->store, &p, err) ||
        store_set_info(s->store, "stop_reason", live->stop_reason ? live->stop_reason : "", err) ||
        store_set_info(s->store, "interrupted", interrupted ? "1" : "0", err) ||
        document_store_fragment(s->store, DOC_TRACING, tracing_fragment, s, err) ||
        document_store_fragment(s->store, DOC_SELF_CHECK, self_check_fragment, live, err))
        return -1;
    for (size_t t = 0; t < s->second_count; t++)
        if (server_tables_add_generator_second(s->store, (int64_t)t, s->seconds[t].busy,
                                               s->seconds[t].sends, s->seconds[t].late,
                                               s->seconds[t].host_cpu, s->seconds[t].self_cpu,
                                               err))
            return -1;
    return 0;
}

int run_session_finish(struct run_session *s, const struct run_result *live, FILE *out,
                       bool *thresholds_passed, struct error *err)
{
    *thresholds_passed = true;
    if (s->current_second >= 0)
        push_second(s, s->current_second, s->busy_max, 0, 0, host_cpu_since(s, clock_now_ns()),
                    self_cpu_since(s, clock_now_ns()));
    if (s->trace) {
        trace_stop(s->trace, &s->totals);
        if (store_profiles(s, err) != 0)
            return -1;
    }
    if (store_writer_stop(s->store, err) != 0 || save_run_facts(s, live, err) != 0)
        return -1;
    struct stored_run run;
    if (stored_run_load(s->store, &run, err) != 0)
        return -1;
    outputs_print_verdict(out, &run);
    fprintf(out, "\nRun stored in %s (query it: sqlite3 %s/run.db)\n", store_dir(s->store),
            store_dir(s->store));
    int rc = outputs_write_all(&run, live, &s->opts.paths, s->opts.quiet ? NULL : out, err);
    *thresholds_passed = run.thresholds_passed;
    stored_run_free(&run);
    return rc;
}

const struct trace_totals *run_session_totals(const struct run_session *s)
{
    return &s->totals;
}

struct trace_session *run_session_tracer(const struct run_session *s)
{
    return s->trace;
}

const char *run_session_trace_reason(const struct run_session *s)
{
    return s->trace_reason;
}

const char *run_session_dir(const struct run_session *s)
{
    return store_dir(s->store);
}

void run_session_free(struct run_session *s)
{
    if (!s)
        return;
    if (s->trace)
        trace_destroy(s->trace);
    store_close(s->store);
    free(s->seconds);
    free(s);
}
