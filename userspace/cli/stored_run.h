/* A run as the store holds it: the client statistics rebuilt from the stored records (the same
 * numbers the live run printed), the thresholds re-evaluated on them, and the analysis. What
 * `loadscope report DIR` starts from, and what `loadscope run` ends with. */
#ifndef LOADSCOPE_CLI_STORED_RUN_H
#define LOADSCOPE_CLI_STORED_RUN_H

#include <stdbool.h>

#include "correlate/analysis.h"
#include "load/run_result.h"
#include "load/scenario.h"
#include "load/stats.h"
#include "load/threshold.h"
#include "store/store.h"

struct stored_run {
    struct store *store;
    struct stats *stats;
    uint64_t duration_ns;
    struct threshold thresholds[SCENARIO_MAX_THRESHOLDS];
    struct threshold_result threshold_results[SCENARIO_MAX_THRESHOLDS];
    size_t threshold_count;
    bool thresholds_passed;
    struct analysis analysis;
    bool analysed;
    char analysis_error[512]; /* why there is no analysis */
};

/* Rebuilds stats and thresholds from s (which stays the caller's), then analyses. A failed
 * analysis is not an error: analysed is false and analysis_error says why. */
int stored_run_load(struct store *s, struct stored_run *out, struct error *err);
void stored_run_free(struct stored_run *r);

/* Keys of run_info written by the live run and read back here. */
#define RUN_INFO_THRESHOLDS "thresholds" /* newline-separated expressions */
#define RUN_INFO_START_WALL "start_wall"

#endif
