/* What a finished (or interrupted) load run produced, as one plain model for the reports
 * (report/console, report/locust_csv, the report document): they read it, never the engine. */
#ifndef LOADSCOPE_LOAD_RUN_RESULT_H
#define LOADSCOPE_LOAD_RUN_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "load/scenario.h"
#include "load/selfcheck.h"
#include "load/stats.h"
#include "load/threshold.h"

struct run_result {
    const struct scenario *scenario;
    const struct stats *stats;
    uint64_t duration_ns;    /* start to the last request's end (the rate denominator) */
    const char *stop_reason; /* "run time", "max requests", "stages done", "interrupted" */
    uint64_t aborted;        /* in flight when stopped: neither successes nor failures */
    const struct threshold *thresholds;
    const struct threshold_result *threshold_results;
    size_t threshold_count;
    const struct selfcheck *selfcheck; /* NULL when rebuilt from stored records */
};

#endif
