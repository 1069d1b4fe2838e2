/* What the sweep keeps of one cell's run: the figures of the matrix row and of the analysis,
 * read from the cell's report document (SWEEP_DIR/cells/NAME/report.json, schema in
 * docs/report-document.md) with cJSON. Anything the document lacks is NAN / "" / 0, never a
 * made-up value. */
#ifndef LOADSCOPE_SWEEP_CELL_REPORT_H
#define LOADSCOPE_SWEEP_CELL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "load/threshold.h"
#include "sweep/slo.h"

struct cell_report {
    /* stats.aggregated */
    double rps, median_ms, p95_ms, p99_ms, avg_ms, max_ms;
    double failures_pct; /* 100 * failures / requests */
    uint64_t requests, failures;
    /* run */
    double users, rate; /* run.load (NAN when absent) */
    double duration_s;
    bool interrupted;
    char stop_reason[32];
    /* verdict.run */
    char verdict[32]; /* primary: inference | queue | workers | cpu-contention | ... | none */
    char verdict_summary[512];
    bool verdict_mixed;
    char runner_up[32]; /* the second cause, "" when none */
    /* server side, when traced */
    bool traced;
    double target_cores;    /* mean CPU of the traced replicas over the seconds with requests */
    double on_cpu_ms;       /* per request, breakdown row "all" */
    double run_queue_ms;    /* waiting for a core */
    double queue_ms;        /* accept + receive queue */
    double run_queue_share; /* run_queue / (on_cpu + run_queue) */
    /* environment and self-check */
    int cores;
    char cpu_model[128];
    double generator_cores; /* self_check.process_cores */
    char warning[256];      /* the first self-check warning, "" when none */
    int thresholds_broken;  /* the run's own --threshold */
    /* the sweep's SLOs */
    struct slo_result slo[SWEEP_MAX_SLOS];
    size_t n_slo;
    bool slo_ok;
};

/* Reads path (a report.json) and evaluates slos on it. Returns 0, or -1 with err set (missing,
 * not JSON, not a report document). */
int cell_report_read(const char *path, const struct threshold *slos, size_t n_slos,
                     struct cell_report *r, struct error *err);

#endif
