/* The generator watching itself: when its own CPU is near saturation, or open-model sends go
 * out behind schedule, the numbers describe the generator rather than the server. Sampled by the
 * reporting thread (engine threads' CPU clocks), warned during the run and in the summary. */
#ifndef LOADSCOPE_LOAD_SELFCHECK_H
#define LOADSCOPE_LOAD_SELFCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "load/engine.h"

#define SELFCHECK_CPU_LIMIT 0.90  /* busiest engine thread's share of one core */
#define SELFCHECK_LATE_LIMIT 0.01 /* share of open-model sends later than ENGINE_LATE_NS */

struct selfcheck {
    unsigned threads;
    double max_thread_busy; /* highest busiest-thread CPU share over the samples (0..1) */
    double process_cores;   /* the whole process's CPU over the run, in cores */
    uint64_t samples, busy_samples;
    uint64_t sends, late_sends; /* open model */
    uint64_t max_behind_ns, last_behind_ns;
    bool cpu_saturated, fell_behind;
    /* sampler state */
    uint64_t start_ns, last_ns, start_process_cpu_ns;
    uint64_t last_thread_cpu[SCENARIO_MAX_THREADS];
    uint64_t last_started, last_late;
};

void selfcheck_init(struct selfcheck *c, unsigned threads, uint64_t now_ns);
/* One sample (every reporting interval). Returns true and writes a one-line warning into msg
 * when this interval shows saturation or lateness. */
bool selfcheck_sample(struct selfcheck *c, const struct engine_pool *p, bool open_loop,
                      uint64_t now_ns, char *msg, size_t len);
/* Final figures, once the engines stopped. */
void selfcheck_finish(struct selfcheck *c, const struct engine_pool *p, bool open_loop,
                      uint64_t now_ns);
/* The summary's warning lines (0, 1 or 2); returns how many were written. */
int selfcheck_warnings(const struct selfcheck *c, char lines[2][256]);

#endif
