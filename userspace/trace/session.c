/* A tracing session: load, seed, then one reader thread that drains the request ring buffer
 * every few milliseconds and closes a window at each window boundary. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "common/batch_thread.h"
#include "common/clock.h"
#include "trace/loader.h"
#include "trace/profiler.h"
#include "trace/seed.h"
#include "trace/socket_duty.h"
#include "trace/spans.h"
#include "trace/syscall_duty.h"
#include "trace/trace.h"
#include "trace/windows.h"

/* Ring-buffer drain period: the kernel side wakes us only when the ring is a quarter full.
 * Each wakeup of this thread costs the traced host a little: nginx at saturation on the other
 * core kept ~1% more of its throughput with a 100 ms poll than with 10 ms (in the noise of one
 * run, the same direction in two). 50 ms keeps most of that and the mid-window look at the
 * syscall hooks' cost on time (SYSCALL_DUTY_EARLY_NS / 2); a window still closes on time
 * (the poll stops at its end), and 50 ms of spans at the span rate fill ~5% of the ring. */
#define POLL_MS 50

struct trace_session {
    struct trace_config cfg;
    struct trace_sinks sinks;
    struct loader *loader;
    struct replica_members *members;
    struct window_reader windows;
    struct span_reader spans;
    struct profile_reader *profile;
    struct trace_totals totals;
    struct syscall_duty duty;
    bool duty_broken; /* a reattach failed: the hooks stay off, said once */
    uint64_t duty_checked_ns; /* last mid-window look at the hooks' cost */
    uint64_t host_syscalls_mark; /* host syscalls counted when the last window closed */
    struct socket_duty sock_duty;
    bool sock_duty_broken; /* a reattach failed: the socket hooks stay off */
    struct replica_window scratch[TRACE_MAX_REPLICAS];
    pthread_t reader;
    bool reader_running;
    bool stopped;
    atomic_bool stop;
    uint64_t start_ns;
};

const char *off_reason_name(enum off_reason r)
{
    static const char *const names[OFF_REASONS] = {"lock",  "downstream", "disk",
                                                   "sleep", "idle",       "other"};
    return (unsigned)r < OFF_REASONS ? names[r] : "?";
}

void trace_config_defaults(struct trace_config *c)
{
    memset(c, 0, sizeof(*c));
    c->window_ns = NS_PER_SEC;
    c->profile_hz = 49;
    c->max_conns = 8192;
    c->ring_bytes = 4u << 20;
    c->syscalls = true;
    c->syscall_budget = 0.01;
    c->socket_budget = 0.005;
    c->span_rate = 10000;
}

static int check_config(const struct trace_config *c, struct error *err)
{
    if (c->replica_count == 0 || c->replica_count > TRACE_MAX_REPLICAS)
        return error_set(err, "tracing needs 1 to %d replicas (got %u)", TRACE_MAX_REPLICAS,
                         c->replica_count);
    if (c->window_ns < 10 * NS_PER_MS)
        return error_set(err, "the trace window must be at least 10ms");
    if (c->profile_hz > 10000)
        return error_set(err, "--profile-hz must be at most 10000");
    if (c->ring_bytes < 4096 || (c->ring_bytes & (c->ring_bytes - 1)))
        return error_set(err, "the ring buffer size must be a power of two >= 4096");
    if (c->max_conns < 16)
        return error_set(err, "max connections must be at least 16");
    for (unsigned i = 0; i < c->replica_count; i++)
        for (unsigned k = 0; k < i; k++)
            if (!strcmp(c->replicas[i].name, c->replicas[k].name))
                return error_set(err, "two replicas are named '%s'", c->replicas[i].name);
    return 0;
}

/* Attaches or detaches the per-syscall hooks (their duty cycle). */
static void set_syscall_hooks(struct trace_session *s, bool on)
{
    if (on == s->duty.on || s->duty_broken || !loader_syscall_hooks_detachable(s->loader))
        return;
    struct error err = {{0}};
    if (loader_set_syscall_hooks(s->loader, on, &err) < 0) {
        /* they stay off: the windows say the hooks did not run */
        fprintf(stderr, "loadscope: per-syscall hooks: %s\n", err.msg);
        s->duty_broken = true;
        return;
    }
    syscall_duty_switched(&s->duty, on, clock_now_ns());
}

/* Syscalls of the whole host while the hooks ran, since the last window closed: the hooks
 * cost every process's syscalls (the load generator's too), not only the replicas'. */
static uint64_t host_syscalls_since_window(struct trace_session *s, uint64_t *now_count)
{
    *now_count = window_reader_counter(&s->windows, CNT_HOST_SYSCALLS);
    return *now_count - s->host_syscalls_mark;
}

/* After a window: the per-syscall hooks on or off for the next one (their duty cycle). */
static void steer_syscall_hooks(struct trace_session *s, uint64_t hooks_ns, uint64_t window_ns)
{
    uint64_t oncpu = 0, count;
    for (unsigned r = 0; r < s->cfg.replica_count; r++)
        oncpu += s->scratch[r].oncpu_ns;
    uint64_t syscalls = host_syscalls_since_window(s, &count);
    s->host_syscalls_mark = count;
    set_syscall_hooks(s, syscall_duty_next(&s->duty, hooks_ns, window_ns, syscalls, oncpu));
}

/* Mid-window: hooks with no duty cycle yet that cost too much come off now rather than at the
 * window's end (a window of them is a large share of a short run, a sweep cell). */
static void check_syscall_hooks_early(struct trace_session *s, uint64_t now)
{
    if (!s->cfg.syscalls || s->duty_broken ||
        now < s->duty_checked_ns + SYSCALL_DUTY_EARLY_NS / 2 ||
        !syscall_duty_early_due(&s->duty, now))
        return;
    s->duty_checked_ns = now;
    uint64_t count, syscalls = host_syscalls_since_window(s, &count);
    uint64_t oncpu = window_reader_peek_oncpu(&s->windows, now);
    if (syscall_duty_early(&s->duty, syscalls, oncpu, now))
        set_syscall_hooks(s, false);
}

/* The socket hooks on or off as their duty cycle plans it for now. If they cannot be
 * reattached they stay off for the rest of the session (said once; their counters stop). */
static void steer_socket_hooks(struct trace_session *s, uint64_t now)
{
    bool on = !s->sock_duty_broken && socket_duty_wanted(&s->sock_duty, now);
    if (on == s->sock_duty.on)
        return;
    struct error err = {{0}};
    if (loader_set_socket_hooks(s->loader, on, s->sock_duty.period, &err) < 0) {
        fprintf(stderr, "loadscope: %s: no more socket hooks in this session\n", err.msg);
        s->sock_duty_broken = true;
        return;
    }
    socket_duty_switched(&s->sock_duty, on, now);
}

/* After a window: how much of the next one the socket hooks run (their duty cycle), from what
 * the last one's requests would have cost them whole. */
static void plan_socket_hooks(struct trace_session *s, uint64_t window_ns, uint64_t now)
{
    uint64_t requests = 0, oncpu = 0;
    for (unsigned r = 0; r < s->cfg.replica_count; r++) {
        requests += s->scratch[r].requests;
        oncpu += s->scratch[r].oncpu_ns;
    }
    socket_duty_next(&s->sock_duty, requests, oncpu, window_ns, now);
    /* a new period while they run goes to the spans starting from now */
    if (s->sock_duty.on && socket_duty_wanted(&s->sock_duty, now))
        loader_set_socket_hooks(s->loader, true, s->sock_duty.period, NULL); /* the weight */
    steer_socket_hooks(s, now);
}

static void deliver_windows(struct trace_session *s, uint64_t now, uint64_t index)
{
    s->windows.index = index;
    uint64_t start = s->windows.last_ns;
    window_reader_close(&s->windows, now, s->scratch);
    uint64_t hooks_ns = s->cfg.syscalls ? syscall_duty_window(&s->duty, start, now) : 0;
    uint64_t sock_ns = socket_duty_window(&s->sock_duty, now);
    for (unsigned r = 0; r < s->cfg.replica_count; r++) {
        s->scratch[r].syscall_hooks_ns = hooks_ns;
        s->scratch[r].socket_hooks_ns = sock_ns;
        socket_duty_scale(&s->scratch[r], sock_ns);
    }
    if (s->cfg.syscalls && !s->stopped)
        steer_syscall_hooks(s, hooks_ns, now - start);
    if (!s->stopped)
        plan_socket_hooks(s, now - start, now);
    for (unsigned r = 0; r < s->cfg.replica_count; r++) {
        window_accumulate(&s->totals.replica[r], &s->scratch[r]);
        s->totals.windows++;
        if (s->sinks.on_window)
            s->sinks.on_window(s->sinks.ctx, &s->scratch[r]);
    }
    if (s->profile)
        profile_reader_refresh(s->profile);
}

static void *reader_main(void *arg)
{
    struct trace_session *s = arg;
    batch_thread_enter(); /* its wakeups must not preempt the replicas it measures */
    uint64_t w = s->cfg.window_ns;
    uint64_t next_end = s->start_ns + w;
    while (!atomic_load(&s->stop)) {
        uint64_t now = clock_now_ns();
        if (now >= next_end) {
            uint64_t index = (next_end - s->start_ns) / w - 1;
            deliver_windows(s, now, index);
            while (next_end <= now)
                next_end += w;
            continue;
        }
        check_syscall_hooks_early(s, now);
        steer_socket_hooks(s, now);
        uint64_t until = socket_duty_next_switch(&s->sock_duty, now, next_end);
        uint64_t left_ms = until > now ? (until - now + NS_PER_MS - 1) / NS_PER_MS : 0;
        span_reader_poll(&s->spans, left_ms < POLL_MS ? (int)left_ms : POLL_MS);
    }
    return NULL;
}

static int resolve_all(struct trace_session *s, struct error *err)
{
    s->members = calloc(s->cfg.replica_count, sizeof(*s->members));
    if (!s->members)
        return error_set(err, "out of memory");
    for (unsigned r = 0; r < s->cfg.replica_count; r++)
        if (replica_resolve(&s->cfg.replicas[r], &s->members[r], err) < 0)
            return -1;
    return 0;
}

static int seed_all(struct trace_session *s, struct error *err)
{
    struct seed_maps maps = {loader_map_fd(s->loader, "threads"),
                             loader_map_fd(s->loader, "tgid_replica"),
                             loader_map_fd(s->loader, "listen_ports")};
    if (maps.threads_fd < 0 || maps.tgids_fd < 0 || maps.ports_fd < 0)
        return error_set(err, "the BPF objects lack their shared maps");
    for (unsigned r = 0; r < s->cfg.replica_count; r++)
        seed_replica(&maps, r, &s->members[r], s->start_ns, &s->windows.base[r]);
    return 0;
}

static int open_readers(struct trace_session *s, struct error *err)
{
    struct window_maps wm = {
        .accs_fd = loader_map_fd(s->loader, "replica_accs"),
        .procs_fd = loader_map_fd(s->loader, "replica_procs"),
        .slots_fd = loader_map_fd(s->loader, "window_slots"),
        .socks_fd = loader_map_fd(s->loader, "sock_accs"),
        .socks_any_fd = loader_map_fd(s->loader, "sock_accs_any"),
        .syscalls_fd = loader_map_fd(s->loader, "syscall_stats"),
        .counters_fd = loader_map_fd(s->loader, "counters"),
        .tgids_fd = loader_map_fd(s->loader, "tgid_replica"),
    };
    if (window_reader_init(&s->windows, &wm, s->start_ns, s->cfg.window_ns,
                           s->cfg.replica_count, err) < 0)
        return -1;
    for (unsigned r = 0; r < s->cfg.replica_count; r++)
        memcpy(s->windows.names[r], s->cfg.replicas[r].name, REPLICA_NAME_LEN);
    if (span_reader_init(&s->spans, loader_map_fd(s->loader, "events"), &s->sinks, err) < 0)
        return -1;
    if (s->cfg.profile_hz) {
        s->profile = profile_reader_new(loader_map_fd(s->loader, "stacks"),
                                        loader_map_fd(s->loader, "stack_counts"),
                                        wm.tgids_fd);
        if (!s->profile)
            return error_set(err, "out of memory");
    }
    return 0;
}

static int start(struct trace_session *s, struct error *err)
{
    struct trace_caps caps;
    if (check_config(&s->cfg, err) < 0 || trace_probe(&caps, err) < 0 || resolve_all(s, err) < 0)
        return -1;
    s->start_ns = clock_now_ns();
    s->totals.start_ns = s->start_ns;
    uint32_t learn = 0;
    for (unsigned r = 0; r < s->cfg.replica_count && r < 32; r++)
        if (s->cfg.replicas[r].kind != REPLICA_PORT)
            learn |= 1u << r;
    struct load_config lc = {s->start_ns,           s->cfg.window_ns,
                             s->cfg.max_conns,      s->cfg.ring_bytes,
                             s->cfg.ring_wakeup_bytes, s->cfg.profile_hz,
                             s->cfg.replica_count,     s->cfg.syscalls,
                             s->cfg.syscalls && s->cfg.syscall_budget > 0,
                             learn,                    s->cfg.span_rate};
    if (loader_open(&lc, &s->loader, err) < 0 || open_readers(s, err) < 0 ||
        seed_all(s, err) < 0 || loader_start_profile(s->loader, err) < 0)
        return -1;
    syscall_duty_init(&s->duty, s->cfg.syscall_budget, s->start_ns);
    socket_duty_init(&s->sock_duty, s->cfg.socket_budget, s->start_ns);
    if (pthread_create(&s->reader, NULL, reader_main, s) != 0)
        return error_set(err, "cannot start the trace reader thread");
    s->reader_running = true;
    return 0;
}

int trace_start(const struct trace_config *config, const struct trace_sinks *sinks,
                struct trace_session **out, struct error *err)
{
    struct trace_session *s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(err, "out of memory");
    s->cfg = *config;
    if (sinks)
        s->sinks = *sinks;
    atomic_init(&s->stop, false);
    if (start(s, err) < 0) {
        trace_destroy(s);
        return -1;
    }
    *out = s;
    return 0;
}

static void fill_totals(struct trace_session *s, uint64_t now)
{
    struct trace_totals *t = &s->totals;
    uint64_t cnt[CNT_COUNT];
    window_reader_counters(&s->windows, cnt, CNT_COUNT);
    t->end_ns = now;
    t->spans = s->spans.spans;
    t->spans_without_head = s->spans.without_head;
    t->lost_spans = cnt[CNT_RB_LOST_SPAN];
    t->lost_heads = cnt[CNT_RB_LOST_HEAD];
    t->conn_map_full = cnt[CNT_CONN_MAP_FULL];
    t->syscall_map_full = cnt[CNT_SYSCALL_MAP_FULL];
    t->thread_storage_failed = cnt[CNT_THREAD_STORAGE];
    t->profile_samples = cnt[CNT_SAMPLES];
    t->profile_stacks_lost = cnt[CNT_STACK_LOST];
    t->profile_map_full = cnt[CNT_PROFILE_MAP_FULL];
    t->map_bytes = loader_map_bytes(s->loader);
    loader_modes(s->loader, t->modes, sizeof(t->modes));
    t->replica_count = s->cfg.replica_count;
    t->spans_skipped = 0;
    for (unsigned r = 0; r < s->cfg.replica_count; r++) {
        window_reader_session_syscalls(&s->windows, r, &t->replica[r]);
        t->spans_skipped += t->replica[r].spans_skipped;
    }
    t->span_rate = s->cfg.span_rate;
    t->syscall_hooks_ns = t->replica_count ? t->replica[0].syscall_hooks_ns : 0;
    t->syscall_cost_share = s->duty.share;
    t->syscall_budget = s->cfg.syscalls ? s->cfg.syscall_budget : 0;
    t->syscall_period = s->cfg.syscalls ? s->duty.period : 0;
    t->socket_hooks_ns = t->replica_count ? t->replica[0].socket_hooks_ns : 0;
    t->socket_cost_share = s->sock_duty.max_share;
    t->socket_budget = s->cfg.socket_budget;
    t->socket_period = s->sock_duty.max_period;
}

void trace_syscall_note(const struct trace_totals *t, char *buf, size_t len)
{
    double run = t->end_ns > t->start_ns ? (double)(t->end_ns - t->start_ns) : 0;
    double ran = run > 0 ? (double)t->syscall_hooks_ns / run : 0;
    if (!t->syscall_period)
        snprintf(buf, len, "per-syscall hooks off (--no-syscalls): no syscall table");
    else if (ran >= 0.95 || t->syscall_period == 1)
        snprintf(buf, len, "per-syscall hooks on all along (estimated cost %.2g%% of the "
                 "replicas' CPU)", t->syscall_cost_share * 100);
    else
        snprintf(buf, len, "per-syscall hooks ran %.0f%% of the time, one window in %u (their "
                 "estimated cost, %.2g%% of the replicas' CPU, is above the %.2g%% budget): "
                 "the syscall table and accept-queue waits are a sample",
                 ran * 100, t->syscall_period, t->syscall_cost_share * 100,
                 t->syscall_budget * 100);
}

void trace_span_note(const struct trace_totals *t, char *buf, size_t len)
{
    /* spans + skipped: the requests the socket hooks saw; under their duty cycle the windows'
     * request counts, scaled, stand for all */
    uint64_t all = t->spans + t->spans_skipped, requests = 0;
    for (unsigned r = 0; r < t->replica_count; r++)
        requests += t->replica[r].requests;
    bool stretches = requests > all;
    if (stretches)
        all = requests;
    if (t->spans >= all) {
        snprintf(buf, len, "a span for every request (%llu)", (unsigned long long)t->spans);
        return;
    }
    char rate[64] = "";
    if (t->spans_skipped)
        snprintf(rate, sizeof(rate), "above %u/s a random sample (--span-rate)", t->span_rate);
    snprintf(buf, len, "spans for %.2g%% of the requests (%llu of %s%llu): %s%s%s; the per-window "
             "counters stand for them all (receive-queue waits: the sample's, weighted)",
             100.0 * (double)t->spans / (double)all, (unsigned long long)t->spans,
             stretches ? "~" : "", (unsigned long long)all, rate,
             rate[0] && stretches ? ", " : "",
             stretches ? "the socket hooks' stretches (--socket-budget)" : "");
}

void trace_socket_note(const struct trace_totals *t, char *buf, size_t len)
{
    double run = t->end_ns > t->start_ns ? (double)(t->end_ns - t->start_ns) : 0;
    double ran = run > 0 ? (double)t->socket_hooks_ns / run : 0;
    if (ran >= 0.95 || t->socket_period <= 1)
        snprintf(buf, len, "socket hooks on all along (estimated cost %.2g%% of the replicas' "
                 "CPU)", t->socket_cost_share * 100);
    else
        snprintf(buf, len, "socket hooks ran %.0f%% of the time, down to 1/%u of a window (their "
                 "estimated cost, up to %.2g%% of the replicas' CPU, is above the %.2g%% "
                 "--socket-budget): request counts, waits and bytes are scaled from it, and "
                 "each span stands for as many requests", ran * 100, t->socket_period,
                 t->socket_cost_share * 100, t->socket_budget * 100);
}

int trace_stop(struct trace_session *s, struct trace_totals *totals)
{
    if (!s->stopped) {
        s->stopped = true;
        atomic_store(&s->stop, true);
        if (s->reader_running)
            pthread_join(s->reader, NULL);
        s->reader_running = false;
        loader_detach(s->loader);
        uint64_t now = clock_now_ns();
        span_reader_poll(&s->spans, 0);
        span_reader_flush_open(&s->spans, loader_map_fd(s->loader, "conns"), now);
        if (now > s->windows.last_ns)
            deliver_windows(s, now, (now - s->start_ns) / s->cfg.window_ns);
        fill_totals(s, now);
    }
    if (totals)
        *totals = s->totals;
    return 0;
}

int trace_profile_write_folded(struct trace_session *s, unsigned replica, FILE *out,
                               struct error *err)
{
    if (!s->profile)
        return error_set(err, "profiling was off (--profile-hz 0)");
    if (replica >= s->cfg.replica_count)
        return error_set(err, "no replica %u", replica);
    return profile_reader_write(s->profile, replica, out, err);
}

const struct replica_members *trace_replica_members(const struct trace_session *s,
                                                    unsigned replica)
{
    return replica < s->cfg.replica_count && s->members ? &s->members[replica] : NULL;
}

void trace_destroy(struct trace_session *s)
{
    if (!s)
        return;
    if (s->reader_running) {
        atomic_store(&s->stop, true);
        pthread_join(s->reader, NULL);
    }
    profile_reader_free(s->profile);
    span_reader_free(&s->spans);
    window_reader_free(&s->windows);
    loader_close(s->loader);
    free(s->members);
    free(s);
}
