/* The sweep's findings in plain words, each backed by the numbers it cites: where throughput
 * stops scaling along each axis and why (the verdicts and host CPU of the cells beyond that
 * point), how the verdict shifts across the grid, which axis matters, the SLO knee, the USL
 * fit, the best cells, failures, and cells measured while other processes used the CPUs. */
#ifndef LOADSCOPE_SWEEP_FINDINGS_H
#define LOADSCOPE_SWEEP_FINDINGS_H

#include <stddef.h>

#include "common/error.h"
#include "sweep/analysis.h"
#include "sweep/sweep.h"

/* Host CPU at or above this share of the cores counts as saturated. */
#define SWEEP_SATURATED_SHARE 0.85
/* Other processes using more cores than this during a cell make its figures less reliable. */
#define SWEEP_NOISY_CORES 0.5
/* CPU time per request differing more than this between cells is worth a word. */
#define SWEEP_CPU_DRIFT 1.25

struct sweep_finding {
    const char *kind; /* scaling, cause, verdict-shift, axis, load, slo, usl, best, failures,
                         noise, incomplete */
    char *text;
};

struct sweep_findings {
    struct sweep_finding *items;
    size_t n;
};

int sweep_findings_build(const struct sweep *s, const struct sweep_analysis *a,
                         struct sweep_findings *f, struct error *err);
void sweep_findings_free(struct sweep_findings *f);

/* What a verdict means, in a few words ("run-queue wait dominates: threads wait for a core"). */
const char *sweep_verdict_phrase(const char *verdict);

#endif
