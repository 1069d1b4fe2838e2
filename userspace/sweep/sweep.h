/* A sweep as its outputs see it: the grid, one result per cell (measured now, read back from
 * an earlier invocation, failed, or not run yet) and the facts about the sweep itself. The
 * analysis (sweep/analysis.h) and every output (sweep/outputs.h) read this and nothing else. */
#ifndef LOADSCOPE_SWEEP_SWEEP_H
#define LOADSCOPE_SWEEP_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "load/threshold.h"
#include "sweep/cell_report.h"
#include "sweep/grid.h"

enum sweep_cell_status {
    SWEEP_CELL_PENDING,     /* not run (the sweep was interrupted before it) */
    SWEEP_CELL_DONE,        /* its run completed: report is valid */
    SWEEP_CELL_FAILED,      /* the target did not come up, the run failed or wrote no report */
    SWEEP_CELL_INTERRUPTED, /* stopped by Ctrl-C: redone when the sweep is resumed */
};

struct sweep_cell_result {
    enum sweep_cell_status status;
    bool resumed;           /* done by an earlier invocation of the same sweep */
    int exit_code;          /* the run's exit code, -1 when it did not run */
    char error[512];        /* why it failed */
    double host_busy_cores; /* host CPU busy while it ran (median per second), NAN unknown */
    double other_cores;     /* host CPU minus target and generator (traced cells), NAN */
    struct cell_report report;
};

struct sweep {
    const struct sweep_grid *grid;
    struct sweep_cell_result *results; /* grid->n_cells */
    const struct threshold *slos;
    size_t n_slos;
    const char *dir;         /* the sweep directory */
    const char *id;          /* its name */
    const char *started_at;  /* wall clock, UTC, ISO 8601 */
    const char *command;     /* the command line as typed */
    const char *target;      /* what the target is, for people */
    const char *run_options; /* the options passed to every run, as typed */
    double cell_s;           /* duration of each cell */
    bool interrupted;        /* stopped by Ctrl-C / SIGTERM */
};

const char *sweep_cell_status_name(enum sweep_cell_status s);

#endif
