/* What the sweep's numbers say, computed from the completed cells:
 *
 *  - scaling series: throughput along one varied axis with the other axes fixed (one per
 *    value of the others: the "Throughput Scaling by Replica Count" tables), each step's gain
 *    (RPS ratio, efficiency against linear scaling from the first point, marginal efficiency
 *    of the added units) and its knee: the last value up to which every step still added at
 *    least half of what linear scaling would (SWEEP_KNEE_MARGINAL);
 *  - a Universal Scalability Law fit (sweep/usl.h) of each replicas and workers series;
 *  - SLO knees: per (replicas, workers), the highest load whose cell and every lower load's
 *    cell meet every --slo, and the first load that breaks one; per (workers, load), the
 *    fewest replicas that meet them;
 *  - which axis matters: the mean max/min throughput ratio along each varied axis;
 *  - the best throughput and the best p95 over the grid.
 * Findings in plain words are built on this by sweep/findings.h. */
#ifndef LOADSCOPE_SWEEP_ANALYSIS_H
#define LOADSCOPE_SWEEP_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "sweep/sweep.h"
#include "sweep/usl.h"

#define SWEEP_KNEE_MARGINAL 0.5
/* Along an open-loop --rate axis: the share of the offered rate the target must answer. */
#define SWEEP_KNEE_ACHIEVED 0.9

enum sweep_axis_id { SWEEP_AXIS_REPLICAS, SWEEP_AXIS_WORKERS, SWEEP_AXIS_LOAD };

struct sweep_step {
    double from, to;   /* axis values */
    double ratio;      /* rps(to) / rps(from) */
    double efficiency; /* (rps(to) / rps(first)) / (to / first): 1 = linear from the first */
    double marginal;   /* added rps / (rps(from) per unit x added units): 1 = linear step */
};

struct sweep_series {
    enum sweep_axis_id axis;
    int ri, wi, li; /* the fixed index of each other axis; the series' own axis is -1 */
    int n;          /* points: done cells with a throughput */
    double at[SWEEP_MAX_VALUES];
    double rps[SWEEP_MAX_VALUES];
    int cell[SWEEP_MAX_VALUES]; /* index into grid->cells */
    struct sweep_step steps[SWEEP_MAX_VALUES];
    int knee;        /* index in at[] of the last value that still scaled, -1 without points */
    bool knee_found; /* a later step added less than SWEEP_KNEE_MARGINAL */
    struct usl_fit usl; /* replicas and workers series with >= 2 points */
};

struct sweep_slo_knee {
    int ri, wi;
    int knee_li;   /* highest load meeting every SLO (and so every lower load), -1 none */
    int broken_li; /* first load breaking one, -1 none (or no cell) */
    char broken_why[200];
};

struct sweep_min_replicas {
    int wi, li;
    int ri; /* fewest replicas meeting every SLO, -1 none */
};

struct sweep_axis_effect {
    enum sweep_axis_id axis;
    double spread; /* mean over its series of max rps / min rps */
    int series;    /* series that had >= 2 points */
};

struct sweep_analysis {
    struct sweep_series *series;
    size_t n_series;
    struct sweep_slo_knee *slo_knees;
    size_t n_slo_knees;
    struct sweep_min_replicas *min_replicas;
    size_t n_min_replicas;
    struct sweep_axis_effect effects[3]; /* sorted by spread, largest first */
    int n_effects;
    int best_rps_cell, best_p95_cell; /* -1 when no cell is done */
    int done, failed, pending;        /* cells by status (interrupted counts as pending) */
};

int sweep_analyse(const struct sweep *s, struct sweep_analysis *a, struct error *err);
void sweep_analysis_free(struct sweep_analysis *a);

const struct sweep_axis *sweep_axis_of(const struct sweep_grid *g, enum sweep_axis_id axis);
/* "replicas", "workers", "users" or "rate". */
const char *sweep_axis_label(const struct sweep_grid *g, enum sweep_axis_id axis);

/* The result of a done cell, or NULL. */
const struct sweep_cell_result *sweep_done(const struct sweep *s, size_t cell);

#endif
