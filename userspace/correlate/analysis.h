/* The correlation of one stored run, start to end: join client requests to server spans,
 * build the per-second timeline, break request time down, and decide the verdict for the run
 * and for each replica. Reads only the run store (so `loadscope report DIR` redoes exactly what
 * `loadscope run` did); the run's parameters come from run_info (analysis_write_params). */
#ifndef LOADSCOPE_CORRELATE_ANALYSIS_H
#define LOADSCOPE_CORRELATE_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "correlate/breakdown.h"
#include "correlate/join.h"
#include "correlate/timeline.h"
#include "correlate/verdict.h"
#include "store/store.h"

#define ANALYSIS_MAX_PORTS 32

/* What the analysis needs to know about the run, stored in run_info. */
struct analysis_params {
    uint64_t start_ns;        /* second 0 of the run */
    uint64_t duration_ns;
    bool open_loop;
    bool traced;
    unsigned generator_threads;
    double host_cores;
    uint16_t target_ports[ANALYSIS_MAX_PORTS];
    unsigned target_port_count;
};

int analysis_write_params(struct store *s, const struct analysis_params *p, struct error *err);
int analysis_read_params(struct store *s, struct analysis_params *p, struct error *err);

/* The client side of each second, for onsets and the report's timeline. */
struct client_second {
    uint32_t users;           /* most users active during the second */
    uint64_t requests;        /* completed in the second */
    uint64_t failures;
};

struct analysis {
    struct analysis_params params;
    struct join_result join;
    struct breakdown breakdown; /* every matched request: what the report shows */
    struct breakdown steady;    /* the steady part of the run: what the verdict reads */
    size_t steady_from, steady_to; /* seconds [from, to) */
    struct timeline timeline;
    struct client_second *client; /* [timeline.seconds] */
    struct verdict run;
    struct verdict replicas[TIMELINE_MAX_REPLICAS];
    struct verdict_input run_input; /* what the run verdict was decided from */
};

int analysis_run(struct store *s, struct analysis *out, struct error *err);
void analysis_free(struct analysis *a);

#endif
