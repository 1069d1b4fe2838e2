#include "sweep/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sweep_cell_status_name(enum sweep_cell_status s)
{
    switch (s) {
    case SWEEP_CELL_DONE: return "done";
    case SWEEP_CELL_FAILED: return "failed";
    case SWEEP_CELL_INTERRUPTED: return "interrupted";
    case SWEEP_CELL_PENDING: break;
    }
    return "pending";
}

const struct sweep_axis *sweep_axis_of(const struct sweep_grid *g, enum sweep_axis_id axis)
{
    return axis == SWEEP_AXIS_REPLICAS ? &g->replicas
           : axis == SWEEP_AXIS_WORKERS ? &g->workers
                                        : &g->load;
}

const char *sweep_axis_label(const struct sweep_grid *g, enum sweep_axis_id axis)
{
    if (axis == SWEEP_AXIS_LOAD)
        return g->load_is_rate ? "rate" : "users";
    return axis == SWEEP_AXIS_REPLICAS ? "replicas" : "workers";
}

const struct sweep_cell_result *sweep_done(const struct sweep *s, size_t cell)
{
    const struct sweep_cell_result *r = &s->results[cell];
    return r->status == SWEEP_CELL_DONE ? r : NULL;
}

static int cell_index(const struct sweep_grid *g, int ri, int wi, int li)
{
    const struct sweep_cell *c = sweep_grid_at(g, ri, wi, li);
    return c ? (int)(c - g->cells) : -1;
}

/* ---- scaling series ------------------------------------------------------------------------- */

/* Open loop: the load is offered, not reached. The knee is the last rate the target still
 * answered (SWEEP_KNEE_ACHIEVED of it), and so on for every lower rate. */
static void rate_knee(struct sweep_series *sr)
{
    sr->knee = -1;
    sr->knee_found = false;
    for (int i = 0; i < sr->n; i++) {
        if (!(sr->rps[i] >= SWEEP_KNEE_ACHIEVED * sr->at[i])) {
            sr->knee_found = true;
            break;
        }
        sr->knee = i;
    }
    if (sr->knee < 0 && sr->n)
        sr->knee = 0; /* even the lowest rate was too much: the knee is below the grid */
}

static void series_steps(struct sweep_series *sr, bool open_loop)
{
    sr->knee = sr->n ? 0 : -1;
    sr->knee_found = false;
    bool scaling = true;
    for (int i = 1; i < sr->n; i++) {
        struct sweep_step *st = &sr->steps[i - 1];
        double from = sr->at[i - 1], to = sr->at[i];
        st->from = from;
        st->to = to;
        st->ratio = sr->rps[i - 1] > 0 ? sr->rps[i] / sr->rps[i - 1] : NAN;
        st->efficiency = sr->rps[0] > 0 ? (sr->rps[i] / sr->rps[0]) / (to / sr->at[0]) : NAN;
        double per_unit = sr->rps[i - 1] / from;
        st->marginal = per_unit > 0 ? (sr->rps[i] - sr->rps[i - 1]) / (per_unit * (to - from))
                                    : NAN;
        if (!scaling || open_loop)
            continue;
        if (st->marginal >= SWEEP_KNEE_MARGINAL)
            sr->knee = i;
        else
            scaling = false, sr->knee_found = true;
    }
}

static void series_fill(const struct sweep *s, struct sweep_series *sr)
{
    const struct sweep_grid *g = s->grid;
    const struct sweep_axis *axis = sweep_axis_of(g, sr->axis);
    sr->n = 0;
    for (int v = 0; v < axis->count; v++) {
        int ri = sr->axis == SWEEP_AXIS_REPLICAS ? v : sr->ri;
        int wi = sr->axis == SWEEP_AXIS_WORKERS ? v : sr->wi;
        int li = sr->axis == SWEEP_AXIS_LOAD ? v : sr->li;
        int k = cell_index(g, ri, wi, li);
        const struct sweep_cell_result *r = k >= 0 ? sweep_done(s, (size_t)k) : NULL;
        if (!r || !(r->report.rps >= 0))
            continue;
        sr->at[sr->n] = axis->values[v];
        sr->rps[sr->n] = r->report.rps;
        sr->cell[sr->n] = k;
        sr->n++;
    }
    bool open_loop = sr->axis == SWEEP_AXIS_LOAD && g->load_is_rate;
    series_steps(sr, open_loop);
    if (open_loop)
        rate_knee(sr);
    if (sr->axis != SWEEP_AXIS_LOAD && sr->n >= 2)
        usl_fit(sr->at, sr->rps, (size_t)sr->n, &sr->usl);
}

static int build_series(const struct sweep *s, struct sweep_analysis *a, struct error *err)
{
    const struct sweep_grid *g = s->grid;
    size_t cap = 0;
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++)
        if (sweep_axis_of(g, (enum sweep_axis_id)axis)->count >= 2)
            cap += g->n_cells;
    a->series = calloc(cap ? cap : 1, sizeof(*a->series));
    if (!a->series)
        return error_set(err, "out of memory");
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        if (sweep_axis_of(g, (enum sweep_axis_id)axis)->count < 2)
            continue;
        for (int ri = 0; ri < (axis == SWEEP_AXIS_REPLICAS ? 1 : g->replicas.count); ri++)
            for (int wi = 0; wi < (axis == SWEEP_AXIS_WORKERS ? 1 : g->workers.count); wi++)
                for (int li = 0; li < (axis == SWEEP_AXIS_LOAD ? 1 : g->load.count); li++) {
                    struct sweep_series *sr = &a->series[a->n_series++];
                    sr->axis = (enum sweep_axis_id)axis;
                    sr->ri = axis == SWEEP_AXIS_REPLICAS ? -1 : ri;
                    sr->wi = axis == SWEEP_AXIS_WORKERS ? -1 : wi;
                    sr->li = axis == SWEEP_AXIS_LOAD ? -1 : li;
                    series_fill(s, sr);
                }
    }
    return 0;
}

/* ---- which axis matters --------------------------------------------------------------------- */

static int compare_effects(const void *x, const void *y)
{
    const struct sweep_axis_effect *a = x, *b = y;
    return (b->spread > a->spread) - (b->spread < a->spread);
}

static void axis_effects(struct sweep_analysis *a)
{
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        double sum = 0;
        int n = 0;
        for (size_t i = 0; i < a->n_series; i++) {
            const struct sweep_series *sr = &a->series[i];
            if ((int)sr->axis != axis || sr->n < 2)
                continue;
            double lo = INFINITY, hi = 0;
            for (int k = 0; k < sr->n; k++)
                lo = fmin(lo, sr->rps[k]), hi = fmax(hi, sr->rps[k]);
            if (lo > 0) {
                sum += hi / lo;
                n++;
            }
        }
        if (n)
            a->effects[a->n_effects++] =
                (struct sweep_axis_effect){(enum sweep_axis_id)axis, sum / n, n};
    }
    qsort(a->effects, (size_t)a->n_effects, sizeof(a->effects[0]), compare_effects);
}

/* ---- SLO knees ------------------------------------------------------------------------------ */

static void broken_reason(const struct sweep *s, const struct cell_report *r, char *buf,
                          size_t len)
{
    buf[0] = '\0';
    size_t off = 0;
    for (size_t i = 0; i < r->n_slo && off < len; i++) {
        if (r->slo[i].ok)
            continue;
        char value[64];
        slo_format_value(&s->slos[i], r->slo[i].value, value, sizeof(value));
        off += (size_t)snprintf(buf + off, len - off, "%s%s: %s", off ? "; " : "",
                                s->slos[i].text, value);
    }
}

static int slo_knees(const struct sweep *s, struct sweep_analysis *a, struct error *err)
{
    const struct sweep_grid *g = s->grid;
    if (!s->n_slos)
        return 0;
    a->slo_knees = calloc((size_t)(g->replicas.count * g->workers.count), sizeof(*a->slo_knees));
    a->min_replicas = calloc((size_t)(g->workers.count * g->load.count), sizeof(*a->min_replicas));
    if (!a->slo_knees || !a->min_replicas)
        return error_set(err, "out of memory");
    for (int ri = 0; ri < g->replicas.count; ri++)
        for (int wi = 0; wi < g->workers.count; wi++) {
            struct sweep_slo_knee *k = &a->slo_knees[a->n_slo_knees++];
            *k = (struct sweep_slo_knee){ri, wi, -1, -1, ""};
            for (int li = 0; li < g->load.count; li++) {
                const struct sweep_cell_result *r =
                    sweep_done(s, (size_t)cell_index(g, ri, wi, li));
                if (!r)
                    break; /* a gap: nothing is known beyond it */
                if (!r->report.slo_ok) {
                    k->broken_li = li;
                    broken_reason(s, &r->report, k->broken_why, sizeof(k->broken_why));
                    break;
                }
                k->knee_li = li;
            }
        }
    for (int wi = 0; wi < g->workers.count; wi++)
        for (int li = 0; li < g->load.count; li++) {
            struct sweep_min_replicas *m = &a->min_replicas[a->n_min_replicas++];
            *m = (struct sweep_min_replicas){wi, li, -1};
            for (int ri = 0; ri < g->replicas.count && m->ri < 0; ri++) {
                const struct sweep_cell_result *r =
                    sweep_done(s, (size_t)cell_index(g, ri, wi, li));
                if (r && r->report.slo_ok)
                    m->ri = ri;
            }
        }
    return 0;
}

/* ---- the whole grid ------------------------------------------------------------------------- */

static void grid_totals(const struct sweep *s, struct sweep_analysis *a)
{
    a->best_rps_cell = a->best_p95_cell = -1;
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell_result *r = &s->results[i];
        if (r->status == SWEEP_CELL_FAILED)
            a->failed++;
        else if (r->status != SWEEP_CELL_DONE)
            a->pending++;
        if (r->status != SWEEP_CELL_DONE)
            continue;
        a->done++;
        const struct cell_report *c = &r->report;
        if (c->rps >= 0 && (a->best_rps_cell < 0 ||
                            c->rps > s->results[a->best_rps_cell].report.rps))
            a->best_rps_cell = (int)i;
        if (c->p95_ms >= 0 && (a->best_p95_cell < 0 ||
                               c->p95_ms < s->results[a->best_p95_cell].report.p95_ms))
            a->best_p95_cell = (int)i;
    }
}

int sweep_analyse(const struct sweep *s, struct sweep_analysis *a, struct error *err)
{
    memset(a, 0, sizeof(*a));
    grid_totals(s, a);
    if (build_series(s, a, err) < 0 || slo_knees(s, a, err) < 0) {
        sweep_analysis_free(a);
        return -1;
    }
    axis_effects(a);
    return 0;
}

void sweep_analysis_free(struct sweep_analysis *a)
{
    free(a->series);
    free(a->slo_knees);
    free(a->min_replicas);
    memset(a, 0, sizeof(*a));
}
