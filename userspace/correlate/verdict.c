#include "correlate/verdict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scores below this are not findings; the first two closer than MIXED_RATIO are "mixed". */
#define FINDING_MIN_SCORE 0.25
#define MIXED_RATIO 0.8

static const char *const cause_names[CAUSE_COUNT] = {
    [CAUSE_INFERENCE] = "inference",
    [CAUSE_QUEUE] = "queue",
    [CAUSE_WORKERS] = "workers",
    [CAUSE_CPU_CONTENTION] = "cpu-contention",
    [CAUSE_LOAD_GENERATOR] = "load-generator",
    [CAUSE_NETWORK_ERRORS] = "network-errors",
};

const char *cause_name(enum cause c) { return cause_names[c]; }

static double clamp01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* 0 at lo, 1 at hi, linear between. */
static double ramp(double v, double lo, double hi)
{
    return clamp01((v - lo) / (hi - lo));
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void add_evidence(struct finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_evidence(struct finding *f, const char *fmt, ...)
{
    if (f->evidence_count == VERDICT_EVIDENCE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->evidence[f->evidence_count++], sizeof(f->evidence[0]), fmt, ap);
    va_end(ap);
}

static double ms(double ns)
{
    return ns / 1e6;
}

/* ---- the derived quantities every rule reads -------------------------------------------- */

struct signals {
    double latency_ms;
    double wait_ms;        /* accept + receive queue */
    double service_ms;     /* worker time: CPU, run queue, off-CPU, send */
    double oncpu_ms, runq_ms, blocked_ms, downstream_ms;
    double oncpu_share;    /* of service */
    double runq_share;     /* of on-CPU + run queue */
    double runq_service_share; /* of the worker's whole request time */
    double wait_share;     /* of latency */
    double client_ms;      /* outside the server: wire, the generator's own delays */
    double client_share;   /* of latency */
    double downstream_share;
    double cpu_util;       /* replica CPU / its cores */
    double host_util;      /* the whole host's CPU / its cores */
    double cpu_saturation; /* the tighter of the two */
    double others_cpu;     /* cores used by processes outside the traced replicas and loadscope */
    double queue_spread;   /* downstream wait p50 / p10 among requests that waited */
    double worker_util;
    double fail_share;
    double late_share;
};

static void derive(const struct verdict_input *in, struct signals *s)
{
    memset(s, 0, sizeof(*s));
    const double *p = in->all.part_ns;
    s->latency_ms = ms(in->all.latency_ns);
    s->wait_ms = ms(p[COMP_ACCEPT_QUEUE] + p[COMP_RECEIVE_QUEUE]);
    s->oncpu_ms = ms(p[COMP_ON_CPU]);
    s->runq_ms = ms(p[COMP_RUN_QUEUE]);
    s->downstream_ms = ms(p[COMP_DOWNSTREAM]);
    s->blocked_ms = ms(p[COMP_LOCK] + p[COMP_DOWNSTREAM] + p[COMP_DISK] + p[COMP_SLEEP]);
    s->service_ms = s->oncpu_ms + s->runq_ms + s->blocked_ms +
                    ms(p[COMP_EVENT_WAIT] + p[COMP_OTHER_OFFCPU] + p[COMP_SEND]);
    s->oncpu_share = ratio(s->oncpu_ms, s->service_ms);
    s->runq_share = ratio(s->runq_ms, s->oncpu_ms + s->runq_ms);
    s->runq_service_share = ratio(s->runq_ms, s->service_ms);
    s->wait_share = ratio(s->wait_ms, s->latency_ms);
    s->client_ms = ms(p[COMP_NETWORK_CLIENT] + p[COMP_SEND_LAG]);
    s->client_share = ratio(s->client_ms, s->latency_ms);
    s->downstream_share = ratio(s->downstream_ms, s->service_ms);
    s->cpu_util = ratio(in->cpu_cores, in->cores_available);
    s->host_util = ratio(in->host_cpu_cores, in->host_cores);
    s->cpu_saturation = s->cpu_util > s->host_util ? s->cpu_util : s->host_util;
    s->others_cpu = in->host_cpu_cores - in->traced_cpu_cores - in->self_cpu_cores;
    if (s->others_cpu < 0)
        s->others_cpu = 0;
    s->queue_spread = in->all.downstream_p10_ns
                          ? (double)in->all.downstream_p50_ns / (double)in->all.downstream_p10_ns
                          : 0;
    s->worker_util = ratio(in->busy_workers, in->workers);
    s->fail_share = ratio((double)in->failures, (double)in->requests);
    s->late_share = ratio((double)in->late_sends, (double)in->sends);
}

/* ---- one rule per cause ------------------------------------------------------------------ */

static void rule_network_errors(const struct verdict_input *in, const struct signals *s,
                                struct finding *f)
{
    f->score = ramp(s->fail_share, 0.005, 0.10);
    if (in->failures == 0)
        return;
    const uint64_t *k = in->failures_by_kind;
    snprintf(f->summary, sizeof(f->summary),
             "%.1f%% of requests failed (%llu of %llu)", 100 * s->fail_share,
             (unsigned long long)in->failures, (unsigned long long)in->requests);
    if (k[FAILURE_CONNECT_REFUSED])
        add_evidence(f, "%llu connections refused: nothing listening on the port",
                     (unsigned long long)k[FAILURE_CONNECT_REFUSED]);
    if (k[FAILURE_RESET])
        add_evidence(f, "%llu connections reset by the server", (unsigned long long)k[FAILURE_RESET]);
    if (k[FAILURE_TIMEOUT])
        add_evidence(f, "%llu requests timed out", (unsigned long long)k[FAILURE_TIMEOUT]);
    if (in->http_5xx)
        add_evidence(f, "%llu HTTP 5xx answers (server errors)", (unsigned long long)in->http_5xx);
    if (in->http_4xx)
        add_evidence(f, "%llu HTTP 4xx answers (rejected requests)",
                     (unsigned long long)in->http_4xx);
    if (in->top_status_count)
        add_evidence(f, "most frequent: HTTP %u (%llu times)", in->top_status,
                     (unsigned long long)in->top_status_count);
    if (k[FAILURE_CONNECT] || k[FAILURE_OTHER])
        add_evidence(f, "%llu other transfer errors",
                     (unsigned long long)(k[FAILURE_CONNECT] + k[FAILURE_OTHER]));
    if (in->listen_overflows)
        add_evidence(f, "%llu listen-queue overflows on the host (accept backlog full)",
                     (unsigned long long)in->listen_overflows);
    if (in->resets)
        add_evidence(f, "%llu TCP resets seen by the tracer", (unsigned long long)in->resets);
}

static void rule_load_generator(const struct verdict_input *in, const struct signals *s,
                                struct finding *f)
{
    double busy = ramp(in->generator_busy_max, 0.80, 0.97);
    double late = ramp(s->late_share, 0.01, 0.10);
    /* on a local target the wire is nearly free: latency spent outside an idle server is the
     * generator's (starved of CPU, or too slow to read answers) */
    double outside = in->traced && in->matched_fraction > 0.5
                         ? ramp(s->client_share, 0.5, 0.8) * ramp(0.6 - s->worker_util, 0, 0.3) *
                               ramp(s->client_ms, 0.2, 1.0)
                         : 0;
    f->score = busy > late ? busy : late;
    if (outside > f->score)
        f->score = outside;
    /* A saturated server slows a closed-loop generator's users without loading its CPU; the
     * generator is the limit only when the server had room. */
    if (in->traced && (s->worker_util > 0.9 || s->cpu_util > 0.9))
        f->score *= 0.5;
    snprintf(f->summary, sizeof(f->summary),
             "the load generator limited the run: busiest thread %.0f%% busy%s, %.0f%% of latency "
             "outside the server",
             100 * in->generator_busy_max, s->late_share > 0.01 ? ", sends late" : "",
             100 * s->client_share);
    add_evidence(f, "busiest generator thread at %.0f%% of a core (%u thread%s)",
                 100 * in->generator_busy_max, in->generator_threads,
                 in->generator_threads == 1 ? "" : "s");
    if (in->open_loop)
        add_evidence(f, "%.1f%% of sends later than scheduled (%llu of %llu)", 100 * s->late_share,
                     (unsigned long long)in->late_sends, (unsigned long long)in->sends);
    if (in->traced) {
        add_evidence(f, "server workers busy %.0f%% of the time, CPU %.2f of %.0f cores",
                     100 * s->worker_util, in->cpu_cores, in->cores_available);
        if (s->client_share > 0.3)
            add_evidence(f, "%.0f%% of each request's latency (%.1f of %.1f ms) passes outside "
                            "the server: on the wire or in the generator",
                         100 * s->client_share, s->client_ms, s->latency_ms);
    }
}

static void rule_cpu_contention(const struct verdict_input *in, const struct signals *s,
                                struct finding *f)
{
    if (!in->traced)
        return;
    /* waiting for a core must be a real part of the request, not of a sliver of CPU time */
    f->score = ramp(s->runq_share, 0.2, 0.5) * ramp(s->runq_service_share, 0.1, 0.3) *
               ramp(s->host_util, 0.6, 0.85) * ramp(s->runq_ms, 0.2, 1.0);
    snprintf(f->summary, sizeof(f->summary),
             "CPU contention: requests wait %.1f ms for a core (%.0f%% of their CPU time), "
             "host CPU %.2f of %.0f cores busy",
             s->runq_ms, 100 * s->runq_share, in->host_cpu_cores, in->host_cores);
    add_evidence(f, "run-queue wait %.1f ms per request, %.0f%% of on-CPU + run-queue time",
                 s->runq_ms, 100 * s->runq_share);
    add_evidence(f, "host CPU %.2f of %.0f cores busy: traced replicas %.2f, other processes "
                    "%.2f",
                 in->host_cpu_cores, in->host_cores, in->traced_cpu_cores, s->others_cpu);
    add_evidence(f, "%.0f worker threads compete for %.0f cores", in->workers, in->host_cores);
}

static void rule_inference(const struct verdict_input *in, const struct signals *s,
                           struct finding *f)
{
    if (!in->traced)
        return;
    /* compute-bound work on saturated CPUs; a large run queue is contention instead */
    /* the host's saturation counts when the traced servers are what fills it */
    double host = s->host_util * ramp(ratio(in->traced_cpu_cores, in->host_cpu_cores), 0.3, 0.6);
    double saturation = s->cpu_util > host ? s->cpu_util : host;
    f->score = ramp(s->oncpu_share, 0.35, 0.65) * ramp(saturation, 0.6, 0.85) *
               ramp(s->worker_util, 0.5, 0.8) * (1 - ramp(s->runq_share, 0.3, 0.6));
    snprintf(f->summary, sizeof(f->summary),
             "inference: %.0f%% of the workers' request time is on-CPU (%.1f ms per request), "
             "CPU %.2f of %.0f cores",
             100 * s->oncpu_share, s->oncpu_ms, in->cpu_cores, in->cores_available);
    add_evidence(f, "%.0f%% of service time on-CPU: %.1f ms of CPU per request",
                 100 * s->oncpu_share, s->oncpu_ms);
    add_evidence(f, "CPU %.2f of the %.0f cores the replica may use (%.0f%%)", in->cpu_cores,
                 in->cores_available, 100 * s->cpu_util);
    if (s->others_cpu >= 0.25)
        add_evidence(f, "the host's CPU is %.0f%% busy: other processes take %.2f cores",
                     100 * s->host_util, s->others_cpu);
    add_evidence(f, "run-queue wait %.2f ms per request", s->runq_ms);
    if (s->wait_ms > 0.1 * s->latency_ms)
        add_evidence(f, "requests queue %.1f ms for a worker (a consequence of the busy CPU)",
                     s->wait_ms);
}

/* The job-queue pattern: workers block on a downstream socket while something computes the
 * jobs: CPU burnt outside request handling in a traced replica (model workers), or by other
 * processes on the host (a consumer nobody traced: weaker evidence, it may be unrelated), or
 * a downstream wait that varies widely between requests (jobs queueing). Returns its
 * strength in [0, 1]. */
static double job_queue_strength(const struct signals *s, const struct verdict_input *in)
{
    double consumer = ramp(in->outside_cpu_cores, 0.3, 0.8);
    double others = 0.4 * ramp(s->others_cpu, 0.3, 0.8);
    double spread = ramp(s->queue_spread, 1.5, 3.0);
    double any = consumer > others ? consumer : others;
    if (spread > any)
        any = spread;
    return ramp(s->downstream_share, 0.3, 0.7) * ramp(s->downstream_ms, 0.5, 2.0) * any;
}

static void rule_queue(const struct verdict_input *in, const struct signals *s,
                       struct finding *f)
{
    if (!in->traced)
        return;
    double job = job_queue_strength(s, in);
    /* waits of microseconds are wakeup latency, not a queue */
    double socket_queue = ramp(s->wait_share, 0.3, 0.6) * ramp(0.85 - s->worker_util, 0.0, 0.3) *
                          ramp(s->wait_ms, 0.5, 2.0);
    f->score = job > socket_queue ? job : socket_queue;
    if (job >= socket_queue) {
        snprintf(f->summary, sizeof(f->summary),
                 "queue: workers spend %.0f%% of each request (%.1f ms) waiting on a job queue "
                 "whose consumers use %.2f cores",
                 100 * s->downstream_share, s->downstream_ms,
                 in->outside_cpu_cores + s->others_cpu);
        add_evidence(f, "%.1f ms per request blocked on a downstream socket (%.0f%% of service)",
                     s->downstream_ms, 100 * s->downstream_share);
        if (in->outside_cpu_cores >= 0.2)
            add_evidence(f, "%.2f cores busy in traced processes outside request handling (the "
                            "queue's consumers)",
                         in->outside_cpu_cores);
        if (s->others_cpu >= 0.2)
            add_evidence(f, "%.2f cores busy in untraced processes on the host (a consumer not "
                            "traced? name it with --replica)",
                         s->others_cpu);
        if (s->queue_spread >= 1.5)
            add_evidence(f, "the downstream wait varies %.1fx between requests (p50 %.1f ms, "
                            "p10 %.1f ms): jobs queue",
                         s->queue_spread, ms((double)in->all.downstream_p50_ns),
                         ms((double)in->all.downstream_p10_ns));
        add_evidence(f, "only %.1f ms per request on-CPU in the API workers", s->oncpu_ms);
    } else {
        snprintf(f->summary, sizeof(f->summary),
                 "queue: requests wait %.1f ms (%.0f%% of latency) in the accept/receive queue "
                 "while workers are only %.0f%% busy",
                 s->wait_ms, 100 * s->wait_share, 100 * s->worker_util);
        add_evidence(f, "accept queue %.1f ms + receive queue %.1f ms per request",
                     ms(in->all.part_ns[COMP_ACCEPT_QUEUE]),
                     ms(in->all.part_ns[COMP_RECEIVE_QUEUE]));
        add_evidence(f, "workers busy %.0f%% of the time", 100 * s->worker_util);
    }
    if (in->listen_overflows)
        add_evidence(f, "%llu listen-queue overflows", (unsigned long long)in->listen_overflows);
}

static void rule_workers(const struct verdict_input *in, const struct signals *s,
                         struct finding *f)
{
    if (!in->traced)
        return;
    /* CPU must have room both in the replica and on the host */
    double cpu_used = s->cpu_util > s->host_util ? s->cpu_util : s->host_util;
    f->score = ramp(s->worker_util, 0.70, 0.92) * ramp(s->wait_share, 0.05, 0.35) *
               ramp(1 - cpu_used, 0.10, 0.35) * ramp(s->wait_ms, 0.5, 2.0);
    /* blocked on a saturated job queue, more workers would only wait longer */
    f->score *= 1 - 0.8 * job_queue_strength(s, in);
    snprintf(f->summary, sizeof(f->summary),
             "workers: %.1f of %.0f workers busy, requests wait %.1f ms for a free one, "
             "CPU only %.2f of %.0f cores",
             in->busy_workers, in->workers, s->wait_ms, in->cpu_cores, in->cores_available);
    add_evidence(f, "%.1f of %.0f workers busy on average (%.0f%%)", in->busy_workers,
                 in->workers, 100 * s->worker_util);
    add_evidence(f, "requests wait %.1f ms for a worker (%.0f%% of latency)", s->wait_ms,
                 100 * s->wait_share);
    add_evidence(f, "CPU %.2f of %.0f cores: the workers are not CPU-bound", in->cpu_cores,
                 in->cores_available);
    if (s->blocked_ms > s->oncpu_ms)
        add_evidence(f, "a worker spends %.1f ms per request blocked (downstream %.1f ms, "
                     "lock %.1f ms, disk %.1f ms, sleep %.1f ms) and %.1f ms on-CPU",
                     s->blocked_ms, s->downstream_ms, ms(in->all.part_ns[COMP_LOCK]),
                     ms(in->all.part_ns[COMP_DISK]), ms(in->all.part_ns[COMP_SLEEP]),
                     s->oncpu_ms);
}

/* ---- onset: from when the signal holds ---------------------------------------------------- */

static bool signal_at(const struct verdict_series *se, enum cause c, size_t t)
{
    switch (c) {
    case CAUSE_INFERENCE:
        return se->cpu_util && se->cpu_util[t] >= 0.75;
    case CAUSE_WORKERS:
        return se->worker_util && se->worker_util[t] >= 0.9;
    case CAUSE_QUEUE:
        return (se->blocked_share && se->blocked_share[t] >= 0.5) ||
               (se->wait_ms && se->wait_ms[t] >= 10);
    case CAUSE_CPU_CONTENTION:
        return se->runq_share && se->runq_share[t] >= 0.2;
    case CAUSE_LOAD_GENERATOR:
        return (se->generator_busy && se->generator_busy[t] >= 0.9) ||
               (se->late_fraction && se->late_fraction[t] >= 0.05);
    case CAUSE_NETWORK_ERRORS:
        return se->failures && se->requests && se->requests[t] > 0 &&
               se->failures[t] / se->requests[t] >= 0.05;
    default:
        return false;
    }
}

static bool loaded(const struct verdict_series *se, size_t t)
{
    return !se->requests || se->requests[t] > 0;
}

/* First second from which the signal holds in >= 60% of the loaded seconds that follow. */
static void find_onset(const struct verdict_series *se, struct finding *f)
{
    f->onset_s = -1;
    if (!se->seconds)
        return;
    size_t n = se->seconds;
    size_t *held_after = calloc(n + 1, sizeof(size_t)), *loaded_after = calloc(n + 1, sizeof(size_t));
    if (!held_after || !loaded_after)
        goto done;
    for (size_t t = n; t-- > 0;) {
        bool l = loaded(se, t);
        loaded_after[t] = loaded_after[t + 1] + l;
        held_after[t] = held_after[t + 1] + (l && signal_at(se, f->cause, t));
    }
    for (size_t t = 0; t < n; t++) {
        if (!loaded(se, t) || !signal_at(se, f->cause, t))
            continue;
        if ((double)held_after[t] >= 0.6 * (double)loaded_after[t]) {
            f->onset_s = (int64_t)t;
            f->onset_users = se->users ? se->users[t] : 0;
            break;
        }
    }
done:
    free(held_after);
    free(loaded_after);
}

/* ---- recommendations ----------------------------------------------------------------------- */

static void recommend(const struct verdict_input *in, const struct signals *s,
                      const struct finding *f, struct verdict *v)
{
    char *r = v->recommendations[v->recommendation_count];
    size_t len = sizeof(v->recommendations[0]);
    double rps = ratio((double)in->requests, in->duration_s);
    switch (f->cause) {
    case CAUSE_INFERENCE: {
        double ceiling = s->oncpu_ms > 0 ? in->cores_available * 1000.0 / s->oncpu_ms : 0;
        snprintf(r, len,
                 "Each request costs %.1f ms of CPU: %.0f cores cap throughput near %.0f req/s "
                 "(measured %.1f). More workers or replicas on these cores will not help: make "
                 "the model cheaper (smaller input, quantization, batching) or add CPUs/replicas "
                 "on other hosts.",
                 s->oncpu_ms, in->cores_available, ceiling, rps);
        break;
    }
    case CAUSE_WORKERS: {
        double per_worker = s->service_ms > 0 ? 1000.0 / s->service_ms : 0;
        double cpu_per_req = s->oncpu_ms > 0 ? s->oncpu_ms : 0.01;
        double cpu_cap = in->cores_available * 1000.0 / cpu_per_req;
        snprintf(r, len,
                 "Add workers: each one completes %.1f req/s (%.1f ms per request, %.1f ms of it "
                 "on-CPU), so %.0f workers cap throughput near %.0f req/s. CPU would only "
                 "saturate near %.0f req/s: size workers as target req/s x %.3f s, or make the "
                 "blocking call asynchronous.",
                 per_worker, s->service_ms, s->oncpu_ms, in->workers, per_worker * in->workers,
                 cpu_cap, s->service_ms / 1000.0);
        break;
    }
    case CAUSE_QUEUE:
        if (job_queue_strength(s, in) > 0)
            snprintf(r, len,
                     "The job queue's consumers are the limit (%.2f cores busy outside request "
                     "handling while API workers wait %.1f ms per request): add consumer "
                     "processes (model workers) up to the free cores (%.2f of %.0f used), or make "
                     "each job cheaper.",
                     in->outside_cpu_cores + s->others_cpu, s->downstream_ms,
                     in->host_cpu_cores, in->host_cores);
        else
            snprintf(r, len,
                     "Requests wait in the socket queues while workers have room: check the "
                     "accept path (a single acceptor, a proxy in front, the listen backlog).");
        break;
    case CAUSE_CPU_CONTENTION:
        if (s->others_cpu * 2 >= in->host_cpu_cores)
            snprintf(r, len,
                     "Other processes on this host took %.2f of its %.0f cores, so the %.0f "
                     "worker threads wait %.1f ms per request for a core: load-test on a quiet "
                     "host (or give the server dedicated cores) before reading its capacity "
                     "from these numbers.",
                     s->others_cpu, in->host_cores, in->workers, s->runq_ms);
        else
            snprintf(r, len,
                     "More runnable threads than cores: about %.0f worker threads share %.0f "
                     "cores and wait %.1f ms per request for one. Reduce replicas x workers to "
                     "the core count, pin replicas to distinct cores, or move replicas to other "
                     "hosts.",
                     in->workers, in->host_cores, s->runq_ms);
        break;
    case CAUSE_LOAD_GENERATOR:
        snprintf(r, len,
                 "The generator, not the server, set these numbers: run it with more --threads, "
                 "on other cores than the server, or from another machine, then measure again.");
        break;
    case CAUSE_NETWORK_ERRORS:
        if (in->http_4xx * 2 > in->failures)
            snprintf(r, len, "Most failures are HTTP 4xx answers (%llu x HTTP %u): the server "
                             "rejects the requests as sent; check the method, path, headers and "
                             "body (Content-Type, upload field) of the failing endpoint.",
                     (unsigned long long)in->top_status_count, in->top_status);
        else if (in->failures_by_kind[FAILURE_CONNECT_REFUSED] * 2 > in->failures)
            snprintf(r, len, "Most failures are refused connections: the server was not "
                             "listening (not started, crashed, or wrong port).");
        else if (in->http_5xx * 2 > in->failures)
            snprintf(r, len, "Most failures are HTTP 5xx answers: an application error, not a "
                             "capacity limit; read the server's logs for the failing endpoint.");
        else if (in->failures_by_kind[FAILURE_TIMEOUT] * 2 > in->failures)
            snprintf(r, len, "Most failures are timeouts: the server is too slow under this load "
                             "(see the other findings for why), or the timeout is too short.");
        else
            snprintf(r, len, "Connections are reset or dropped: check the listen backlog "
                             "(somaxconn, the server's --backlog) and the server's connection "
                             "limits.");
        break;
    default:
        return;
    }
    v->recommendation_count++;
}

/* ---- decision ------------------------------------------------------------------------------ */

/* On equal scores, failures come first (nothing else matters while requests fail), then the
 * generator (its numbers would not describe the server). */
static int priority(enum cause c)
{
    return c == CAUSE_NETWORK_ERRORS ? -2 : c == CAUSE_LOAD_GENERATOR ? -1 : (int)c;
}

static int by_score(const void *a, const void *b)
{
    const struct finding *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return priority(x->cause) - priority(y->cause);
}

void verdict_decide(const struct verdict_input *in, struct verdict *out)
{
    static void (*const rules[CAUSE_COUNT])(const struct verdict_input *, const struct signals *,
                                            struct finding *) = {
        [CAUSE_INFERENCE] = rule_inference,
        [CAUSE_QUEUE] = rule_queue,
        [CAUSE_WORKERS] = rule_workers,
        [CAUSE_CPU_CONTENTION] = rule_cpu_contention,
        [CAUSE_LOAD_GENERATOR] = rule_load_generator,
        [CAUSE_NETWORK_ERRORS] = rule_network_errors,
    };
    memset(out, 0, sizeof(*out));
    struct signals s;
    derive(in, &s);
    for (int c = 0; c < CAUSE_COUNT; c++) {
        struct finding *f = &out->ranked[c];
        f->cause = (enum cause)c;
        f->onset_s = -1;
        rules[c](in, &s, f);
        if (!isfinite(f->score))
            f->score = 0;
    }
    qsort(out->ranked, CAUSE_COUNT, sizeof(out->ranked[0]), by_score);
    for (int c = 0; c < CAUSE_COUNT; c++)
        if (out->ranked[c].score >= FINDING_MIN_SCORE)
            find_onset(&in->series, &out->ranked[c]);

    const struct finding *first = &out->ranked[0], *second = &out->ranked[1];
    out->none = first->score < FINDING_MIN_SCORE;
    out->mixed = !out->none && second->score >= FINDING_MIN_SCORE &&
                 second->score >= MIXED_RATIO * first->score;
    if (out->none) {
        uint32_t users = 0;
        for (size_t t = 0; in->series.users && t < in->series.seconds; t++)
            if (in->series.users[t] > users)
                users = in->series.users[t];
        char closed[200] = "";
        if (!in->open_loop && users)
            snprintf(closed, sizeof(closed),
                     "; %u users each wait for their answer, so throughput is users / "
                     "latency: add users (or --rate) to find the limit",
                     users);
        if (in->traced)
            snprintf(out->summary, sizeof(out->summary),
                     "no bottleneck: %s kept up with the load (CPU %.2f of %.0f cores, workers "
                     "%.0f%% busy, %.1f%% failures)%s",
                     in->scope, in->cpu_cores, in->cores_available, 100 * s.worker_util,
                     100 * s.fail_share, closed);
        else
            snprintf(out->summary, sizeof(out->summary),
                     "no bottleneck visible from the client in %s (%.1f%% failures, generator "
                     "%.0f%% busy); server tracing was off, so server-side causes were not "
                     "examined",
                     in->scope, 100 * s.fail_share, 100 * in->generator_busy_max);
        return;
    }
    char onset[96] = "";
    if (first->onset_s >= 0)
        snprintf(onset, sizeof(onset), " (from t=%lld s, at %u users)",
                 (long long)first->onset_s, first->onset_users);
    if (out->mixed)
        snprintf(out->summary, sizeof(out->summary), "mixed: %s%s; also %s (%.2f vs %.2f)",
                 first->summary, onset, cause_name(second->cause), first->score, second->score);
    else
        snprintf(out->summary, sizeof(out->summary), "%s%s", first->summary, onset);
    recommend(in, &s, first, out);
    if (out->mixed)
        recommend(in, &s, second, out);
}

const char *verdict_primary(const struct verdict *v)
{
    return v->none ? "none" : cause_name(v->ranked[0].cause);
}
