#include "sweep/grid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sweep_axis_parse(struct sweep_axis *axis, const char *name, const char *list,
                     enum sweep_axis_kind kind, double max, struct error *err)
{
    memset(axis, 0, sizeof(*axis));
    axis->name = name;
    axis->varied = true;
    const char *p = list;
    if (!*p)
        return error_set(err, "--%s: empty list (e.g. --%s 1,2,4)", name, name);
    for (;;) {
        size_t len = strcspn(p, ",");
        char item[64];
        if (len == 0 || len >= sizeof(item))
            return error_set(err, "--%s: bad list '%s' (e.g. --%s 1,2,4)", name, list, name);
        memcpy(item, p, len);
        item[len] = '\0';
        char *end;
        double v = strtod(item, &end);
        if (*end || end == item || !isfinite(v))
            return error_set(err, "--%s: '%s' is not a number", name, item);
        if (kind == SWEEP_AXIS_INT && (v < 1 || v != floor(v)))
            return error_set(err, "--%s: '%s' is not a whole number >= 1", name, item);
        if (v <= 0 || v > max)
            return error_set(err, "--%s: %s is out of range (0..%g]", name, item, max);
        if (axis->count == SWEEP_MAX_VALUES)
            return error_set(err, "--%s: more than %d values", name, SWEEP_MAX_VALUES);
        for (int i = 0; i < axis->count; i++)
            if (axis->values[i] == v)
                return error_set(err, "--%s: %s appears twice", name, item);
        axis->values[axis->count++] = v;
        if (!p[len])
            break;
        p += len + 1;
    }
    qsort(axis->values, (size_t)axis->count, sizeof(double), compare_doubles);
    return 0;
}

void sweep_axis_fixed(struct sweep_axis *axis, const char *name, double value)
{
    memset(axis, 0, sizeof(*axis));
    axis->name = name;
    axis->values[0] = value;
    axis->count = 1;
}

void sweep_axis_format(const struct sweep_axis *axis, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    if (!axis->varied) {
        snprintf(buf, len, "-");
        return;
    }
    for (int i = 0; i < axis->count && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%.17g", i ? "," : "", axis->values[i]);
}

static void cell_name(const struct sweep_grid *g, struct sweep_cell *c)
{
    size_t off = 0, len = sizeof(c->name);
    c->name[0] = '\0';
    if (g->replicas.varied)
        off += (size_t)snprintf(c->name + off, len - off, "-r%d", c->replicas);
    if (g->workers.varied && off < len)
        off += (size_t)snprintf(c->name + off, len - off, "-w%d", c->workers);
    if (g->load.varied && off < len)
        off += (size_t)snprintf(c->name + off, len - off, g->load_is_rate ? "-rate%g" : "-u%g",
                                c->load);
    if (off == 0)
        snprintf(c->name, len, "-cell");
    memmove(c->name, c->name + 1, strlen(c->name)); /* drop the leading '-' */
}

int sweep_grid_build(struct sweep_grid *g, struct error *err)
{
    size_t n = (size_t)g->replicas.count * (size_t)g->workers.count * (size_t)g->load.count;
    if (n == 0)
        return error_set(err, "the grid has no cell");
    if (n > SWEEP_MAX_CELLS)
        return error_set(err, "the grid has %zu cells (at most %d)", n, SWEEP_MAX_CELLS);
    g->cells = calloc(n, sizeof(*g->cells));
    if (!g->cells)
        return error_set(err, "out of memory");
    size_t k = 0;
    for (int r = 0; r < g->replicas.count; r++)
        for (int w = 0; w < g->workers.count; w++)
            for (int l = 0; l < g->load.count; l++) {
                struct sweep_cell *c = &g->cells[k++];
                c->replicas = (int)g->replicas.values[r];
                c->workers = (int)g->workers.values[w];
                c->load = g->load.values[l];
                c->ri = r, c->wi = w, c->li = l;
                cell_name(g, c);
            }
    g->n_cells = n;
    return 0;
}

const struct sweep_cell *sweep_grid_at(const struct sweep_grid *g, int ri, int wi, int li)
{
    size_t k = ((size_t)ri * (size_t)g->workers.count + (size_t)wi) * (size_t)g->load.count +
               (size_t)li;
    return k < g->n_cells ? &g->cells[k] : NULL;
}

void sweep_grid_free(struct sweep_grid *g)
{
    free(g->cells);
    g->cells = NULL;
    g->n_cells = 0;
}
