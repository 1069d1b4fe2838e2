/* The server side of the correlated timeline: per second of the run and per replica, what the
 * replica's processes did (from the tracer's windows) and how busy its workers were (from the
 * spans: worker-seconds inside requests), plus the generator's own per-second self-check.
 * The client side of each second (RPS, users, percentiles) comes from the client statistics'
 * history (load/stats.h); the report document puts both on one row. */
#ifndef LOADSCOPE_CORRELATE_TIMELINE_H
#define LOADSCOPE_CORRELATE_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "trace/span.h"

#define TIMELINE_MAX_REPLICAS 16

struct replica_second {
    bool traced;            /* a window covered this second */
    double cpu_cores;       /* on-CPU thread-seconds per second */
    double span_cpu_cores;  /* of which inside request spans (the serving work) */
    double runq_ms;         /* run-queue thread-time in this second */
    double runq_p99_ms;     /* upper bound of the p99 run-queue wait (log2 histogram) */
    double offcpu_ms[OFF_REASONS];
    uint64_t accepts;
    double accept_wait_ms;  /* average accept-queue wait of connections accepted */
    uint64_t accept_queue_max;
    uint64_t requests;      /* requests the replica started reading */
    double recv_wait_ms;    /* average receive-queue wait */
    double busy_workers;    /* worker-seconds inside request spans per second */
    uint32_t threads;       /* threads alive */
    uint64_t retransmits, resets;
    uint64_t listen_overflows, listen_drops; /* host-wide */
};

struct generator_second {
    bool present;
    double busy;            /* busiest engine thread: (on-CPU + run-queue) / wall, 0..1 */
    uint64_t sends, late_sends;
    double host_cpu_cores;  /* the whole host's busy CPU (every process) */
    double self_cpu_cores;  /* of which loadscope's own process */
};

struct replica_info {
    char name[64];
    char spec[96];
    double cores;           /* CPUs it may run on */
    uint32_t workers;       /* distinct threads that served requests */
    uint64_t spans;
};

struct timeline {
    uint64_t start_ns;      /* second 0 starts here (the run's start) */
    size_t seconds;
    double last_second_s;   /* how much of the last second the run covered, (0, 1] */
    unsigned replica_count;
    struct replica_info replicas[TIMELINE_MAX_REPLICAS];
    struct replica_second *rows; /* [seconds * replica_count], row(t, r) */
    struct generator_second *generator; /* [seconds] */
    uint64_t lost_spans, lost_heads, lost_other;
};

static inline struct replica_second *timeline_row(const struct timeline *t, size_t second,
                                                  unsigned replica)
{
    return &t->rows[second * t->replica_count + replica];
}

/* How much of second t a run of duration_ns covers: 1, or the fraction of its last second. */
static inline double run_second_length(uint64_t duration_ns, size_t t)
{
    uint64_t from = (uint64_t)t * 1000000000ULL;
    if (duration_ns <= from)
        return 1.0;
    uint64_t left = duration_ns - from;
    return left < 1000000000ULL ? (double)left / 1e9 : 1.0;
}

/* Length of a second of the timeline: 1, except the last one, which usually covers only the
 * run's final fraction of a second. A row's amounts (CPU-seconds, worker-seconds, requests)
 * are what happened in that length; divide by it for rates. */
static inline double timeline_second_s(const struct timeline *t, size_t second)
{
    return second + 1 == t->seconds ? t->last_second_s : 1.0;
}

/* Builds the timeline of a stored run: seconds [0, duration) from start_ns. */
int timeline_build(struct store *s, uint64_t start_ns, uint64_t duration_ns, struct timeline *out,
                   struct error *err);
void timeline_free(struct timeline *t);

/* Upper bound (ns) of the p-th percentile of a log2 histogram (slot i: [2^(i-1), 2^i)). */
uint64_t log2_hist_percentile(const uint32_t *slots, unsigned n, double p);

#endif
