/* Names the bottleneck from the evidence, with its numbers.
 *
 * Each cause of DESIGN.md's table gets a score in [0, 1] from the signals that name it:
 *
 *   inference       service time mostly on CPU, and the replica's CPUs near full
 *   queue           a job queue: workers blocked on a downstream socket while CPU is burnt
 *                   outside request handling (the consumers); or requests waiting in the
 *                   accept/receive queue although workers are free
 *   workers         every worker busy (or blocked), CPU not saturated, requests waiting for a
 *                   free worker
 *   cpu-contention  large run-queue wait: more runnable threads than cores
 *   load-generator  the generator's own CPU near 100%, or its sends late against schedule
 *   network-errors  connection failures, resets, timeouts, HTTP errors
 *
 * Causes are ranked; when the first two are close the verdict says "mixed". Each finding
 * carries a one-sentence summary, its evidence lines and its onset: the first second from which
 * its signal holds for most of the rest of the run, with the users active then. */
#ifndef LOADSCOPE_CORRELATE_VERDICT_H
#define LOADSCOPE_CORRELATE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "correlate/breakdown.h"
#include "load/record.h"

enum cause {
    CAUSE_INFERENCE,
    CAUSE_QUEUE,
    CAUSE_WORKERS,
    CAUSE_CPU_CONTENTION,
    CAUSE_LOAD_GENERATOR,
    CAUSE_NETWORK_ERRORS,
    CAUSE_COUNT
};

const char *cause_name(enum cause c); /* "inference", "cpu-contention", ... */

/* Per-second signals, each array [seconds] (NULL when unknown). */
struct verdict_series {
    size_t seconds;
    const uint32_t *users;
    const double *requests;     /* completed in that second */
    const double *failures;
    const double *generator_busy;
    const double *late_fraction;
    const double *cpu_util;     /* replica cpu cores / cores available */
    const double *worker_util;  /* busy workers / workers */
    const double *runq_share;   /* run-queue time / (on-CPU + run-queue) time */
    const double *wait_ms;      /* accept + receive queue wait per request */
    const double *blocked_share;/* downstream off-CPU share of worker time */
};

struct verdict_input {
    const char *scope;          /* "the run" or a replica name, for sentences */
    /* client */
    uint64_t requests, failures;
    uint64_t failures_by_kind[FAILURE_KIND_COUNT];
    uint64_t http_5xx, http_4xx;
    uint16_t top_status;        /* the most frequent failing HTTP status (0: none) */
    uint64_t top_status_count;
    double duration_s;
    bool open_loop;
    uint64_t sends, late_sends;
    double generator_busy_max;  /* busiest engine thread, 0..1 */
    unsigned generator_threads;
    /* server (valid when traced) */
    bool traced;
    double matched_fraction;
    struct breakdown_band all;  /* matched requests' average breakdown */
    struct breakdown_band slow; /* the slowest band with requests (p99-100 or p90-99) */
    double cores_available;     /* CPUs the replica(s) may use */
    double host_cores;
    double cpu_cores;           /* average over loaded seconds */
    double span_cpu_cores;      /* of which inside request spans */
    double host_cpu_cores;      /* the whole host, every process (or the traced ones when
                                   the host was not sampled) */
    double traced_cpu_cores;    /* every traced replica together */
    double self_cpu_cores;      /* loadscope's own process */
    double outside_cpu_cores;   /* every traced replica's CPU outside request spans: queue
                                   consumers, model workers, background threads */
    double workers;             /* threads that served requests */
    double busy_workers;        /* average over loaded seconds */
    uint64_t listen_overflows, resets, retransmits;
    struct verdict_series series;
};

#define VERDICT_EVIDENCE 6
#define VERDICT_RECOMMENDATIONS 4

struct finding {
    enum cause cause;
    double score;
    char summary[400];
    char evidence[VERDICT_EVIDENCE][200];
    int evidence_count;
    int64_t onset_s;            /* -1: none found */
    uint32_t onset_users;
};

struct verdict {
    struct finding ranked[CAUSE_COUNT]; /* best first */
    bool mixed;
    bool none;                  /* no cause scored: nothing limited the run */
    char summary[600];
    char recommendations[VERDICT_RECOMMENDATIONS][400];
    int recommendation_count;
};

void verdict_decide(const struct verdict_input *in, struct verdict *out);

/* The primary cause's name, or "none". */
const char *verdict_primary(const struct verdict *v);

#endif
