/* The sweep's grid: up to three axes (replicas, workers per replica, and the load: users or a
 * request rate) and the cells they span, in the one order cells always run in: replicas
 * ascending, then workers, then load. A cell's name ("r2-w4-u400") names only the axes the
 * user varied; it is the cell's directory under SWEEP_DIR/cells/ and its key in sweep-state.
 *
 *   struct sweep_grid g;
 *   sweep_axis_parse(&g.replicas, "replicas", "1,2,4", SWEEP_AXIS_INT, &err);
 *   ...
 *   sweep_grid_build(&g, &err);      // g.cells[0..g.n_cells)
 *   sweep_grid_free(&g);
 */
#ifndef LOADSCOPE_SWEEP_GRID_H
#define LOADSCOPE_SWEEP_GRID_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define SWEEP_MAX_VALUES 32
#define SWEEP_MAX_CELLS 1024

enum sweep_axis_kind { SWEEP_AXIS_INT, SWEEP_AXIS_REAL };

/* An axis the user gave (varied = true, values ascending, no duplicates), or a fixed value the
 * sweep knows (varied = false, one value; 0 = unknown, e.g. the replicas of a target that the
 * sweep does not start). */
struct sweep_axis {
    const char *name; /* "replicas", "workers", "users", "rate" */
    double values[SWEEP_MAX_VALUES];
    int count;
    bool varied;
};

struct sweep_cell {
    int replicas;   /* 0 = unknown */
    int workers;    /* 0 = unknown */
    double load;    /* users or requests/s; 0 = the run options decide */
    int ri, wi, li; /* index of the value on each axis */
    char name[64];
};

struct sweep_grid {
    struct sweep_axis replicas, workers, load;
    bool load_is_rate; /* the load axis is --rate (open loop), else --users */
    struct sweep_cell *cells;
    size_t n_cells;
};

/* Parses "200,400,800" into axis (varied, sorted ascending). Integers must be whole and
 * >= 1; reals > 0. Returns 0, or -1 with err set ("--users: '2x' is not a number"). */
int sweep_axis_parse(struct sweep_axis *axis, const char *name, const char *list,
                     enum sweep_axis_kind kind, double max, struct error *err);

/* An axis the user did not vary: one value (0 = unknown). */
void sweep_axis_fixed(struct sweep_axis *axis, const char *name, double value);

/* Writes the axis values as "1,2,4" (or "-" when not varied) into buf. */
void sweep_axis_format(const struct sweep_axis *axis, char *buf, size_t len);

/* Builds g->cells from the three axes (each with count >= 1). Returns 0, or -1 with err set
 * when the grid has more than SWEEP_MAX_CELLS cells or is out of memory. */
int sweep_grid_build(struct sweep_grid *g, struct error *err);

/* The cell at axis indexes (ri, wi, li). */
const struct sweep_cell *sweep_grid_at(const struct sweep_grid *g, int ri, int wi, int li);

void sweep_grid_free(struct sweep_grid *g);

#endif
