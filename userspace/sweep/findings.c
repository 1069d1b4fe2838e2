#include "sweep/findings.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTED 4

static int add(struct sweep_findings *f, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add(struct sweep_findings *f, const char *kind, const char *fmt, ...)
{
    struct sweep_finding *more = realloc(f->items, (f->n + 1) * sizeof(*more));
    if (!more)
        return -1;
    f->items = more;
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    f->items[f->n++] = (struct sweep_finding){kind, text};
    return 0;
}

const char *sweep_verdict_phrase(const char *verdict)
{
    static const struct {
        const char *name, *phrase;
    } phrases[] = {
        {"inference", "the model's own CPU time is the limit (inference)"},
        {"cpu-contention", "run-queue wait dominates: threads wait for a core (cpu-contention)"},
        {"queue", "requests wait in a queue before a worker takes them (queue)"},
        {"workers", "every worker is busy or blocked while CPU is left (workers)"},
        {"load-generator", "the load generator itself is the limit: these cells measure "
                           "loadscope, not the target (load-generator)"},
        {"network-errors", "errors and connection problems dominate (network-errors)"},
        {"none", "no bottleneck stood out (none)"},
    };
    for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
        if (verdict && !strcmp(verdict, phrases[i].name))
            return phrases[i].phrase;
    return "no server-side verdict (tracing off?)";
}

/* ---- words ---------------------------------------------------------------------------------- */

static const char *count_of(const struct sweep_grid *g, enum sweep_axis_id axis, double v,
                            char *buf, size_t len)
{
    if (axis == SWEEP_AXIS_LOAD && g->load_is_rate)
        snprintf(buf, len, "%g req/s", v);
    else
        snprintf(buf, len, "%g %s%s", v,
                 axis == SWEEP_AXIS_REPLICAS ? "replica" : axis == SWEEP_AXIS_WORKERS ? "worker"
                                                                                       : "user",
                 v == 1 ? "" : "s");
    return buf;
}

/* " with 4 workers and 800 users": the other varied axes of a series. */
static const char *context(const struct sweep *s, const struct sweep_series *sr, char *buf,
                           size_t len)
{
    const struct sweep_grid *g = s->grid;
    char parts[2][64];
    int n = 0;
    int fixed[3] = {sr->ri, sr->wi, sr->li};
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        const struct sweep_axis *ax = sweep_axis_of(g, (enum sweep_axis_id)axis);
        if ((int)sr->axis == axis || !ax->varied || fixed[axis] < 0)
            continue;
        count_of(g, (enum sweep_axis_id)axis, ax->values[fixed[axis]], parts[n++], 64);
    }
    if (n == 0)
        snprintf(buf, len, "%s", "");
    else if (n == 1)
        snprintf(buf, len, " with %s", parts[0]);
    else
        snprintf(buf, len, " with %s and %s", parts[0], parts[1]);
    return buf;
}

static const char *ms(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, v < 10 ? "%.1f ms" : "%.0f ms", v);
    return buf;
}

static const struct cell_report *report_of(const struct sweep *s, int cell)
{
    const struct sweep_cell_result *r = cell >= 0 ? sweep_done(s, (size_t)cell) : NULL;
    return r ? &r->report : NULL;
}

/* The series of axis with >= 2 points whose knee stands for all: the last one (highest
 * values of the other axes, where saturation shows first). */
static const struct sweep_series *representative(const struct sweep_analysis *a,
                                                 enum sweep_axis_id axis, int *count,
                                                 bool *agree)
{
    const struct sweep_series *rep = NULL;
    *count = 0;
    *agree = true;
    for (size_t i = 0; i < a->n_series; i++) {
        const struct sweep_series *sr = &a->series[i];
        if (sr->axis != axis || sr->n < 2)
            continue;
        if (rep && (sr->at[sr->knee] != rep->at[rep->knee] || sr->knee_found != rep->knee_found))
            *agree = false;
        rep = sr;
        (*count)++;
    }
    return rep;
}

/* ---- scaling along an axis and why it stops ------------------------------------------------- */

#define ARROW "\xE2\x86\x92"
#define TIMES "\xC3\x97"

/* Open loop: does the target answer what is offered? */
static int rate_sentence(const struct sweep *s, const struct sweep_series *sr, const char *lead,
                         const char *scope, struct sweep_findings *f)
{
    int k = sr->knee, last = sr->n - 1;
    (void)s;
    if (!sr->knee_found)
        return add(f, "scaling", "%she target answers every offered rate up to the largest "
                                 "tried, %g req/s (%.1f req/s answered)%s.",
                   lead, sr->at[last], sr->rps[last], scope);
    int first_short = sr->rps[k] >= SWEEP_KNEE_ACHIEVED * sr->at[k] ? k + 1 : k;
    double best = 0;
    for (int i = 0; i < sr->n; i++)
        best = fmax(best, sr->rps[i]);
    if (first_short == 0)
        return add(f, "scaling", "%she target cannot answer even the lowest offered rate: "
                                 "%g req/s offered, %.1f answered; its capacity is near %.1f "
                                 "req/s%s.",
                   lead, sr->at[0], sr->rps[0], best, scope);
    return add(f, "scaling", "%she target answers the offered rate up to %g req/s; at %g req/s "
                             "it answers %.1f (%.0f%%): its capacity is near %.1f req/s%s.",
               lead, sr->at[k], sr->at[first_short],
               sr->rps[first_short], 100 * sr->rps[first_short] / sr->at[first_short], best,
               scope);
}

static int scaling_sentence(const struct sweep *s, const struct sweep_series *sr, int groups,
                            bool agree, struct sweep_findings *f)
{
    const struct sweep_grid *g = s->grid;
    const char *name = sweep_axis_label(g, sr->axis);
    char ctx[160], lead[200], a0[64], ak[64], an[64], scope[96] = "";
    context(s, sr, ctx, sizeof(ctx));
    if (groups > 1 && agree) {
        snprintf(scope, sizeof(scope), " (the same in all %d series)", groups);
        ctx[0] = '\0';
    }
    if (ctx[0])
        snprintf(lead, sizeof(lead), "With %s, t", ctx + 6); /* ctx is " with ..." */
    else
        snprintf(lead, sizeof(lead), "T");
    int k = sr->knee, last = sr->n - 1;
    count_of(g, sr->axis, sr->at[0], a0, sizeof(a0));
    count_of(g, sr->axis, sr->at[k], ak, sizeof(ak));
    count_of(g, sr->axis, sr->at[last], an, sizeof(an));
    if (sr->axis == SWEEP_AXIS_LOAD && g->load_is_rate)
        return rate_sentence(s, sr, lead, scope, f);
    if (sr->knee_found && k > 0) {
        const struct sweep_step *after = &sr->steps[k];
        char next[64];
        count_of(g, sr->axis, after->to, next, sizeof(next));
        return add(f, "scaling",
                   "%shroughput scales with %s up to %s: %s " ARROW " %s gives " TIMES "%.2f "
                   "(%.0f%% of linear); beyond that it stops: %s " ARROW " %s gives " TIMES
                   "%.2f (%.1f " ARROW " %.1f req/s, %.0f%% of what linear scaling would "
                   "add)%s.",
                   lead, name, ak, a0, ak, sr->rps[k] / sr->rps[0],
                   sr->steps[k - 1].efficiency * 100, ak, next, after->ratio, sr->rps[k],
                   sr->rps[k + 1], fmax(after->marginal, 0) * 100, scope);
    }
    if (sr->knee_found && sr->axis == SWEEP_AXIS_LOAD)
        return add(f, "scaling",
                   "%shroughput is at its limit from the lowest load: %s " ARROW " %s gives "
                   TIMES "%.2f (%.1f " ARROW " %.1f req/s)%s.",
                   lead, a0, count_of(g, sr->axis, sr->at[1], ak, sizeof(ak)),
                   sr->steps[0].ratio, sr->rps[0], sr->rps[1], scope);
    if (sr->knee_found)
        return add(f, "scaling",
                   "%shroughput barely rises with more %s: %s " ARROW " %s gives " TIMES
                   "%.2f (%.1f " ARROW " %.1f req/s): the limit is not the number of %s%s.",
                   lead, name, a0, count_of(g, sr->axis, sr->at[1], ak, sizeof(ak)),
                   sr->steps[0].ratio, sr->rps[0], sr->rps[1], name, scope);
    return add(f, "scaling",
               "%shroughput keeps scaling with %s up to the largest value tried: %s " ARROW
               " %s gives " TIMES "%.2f (%.0f%% of linear)%s; more %s would likely still "
               "help.",
               lead, name, a0, an, sr->rps[last] / sr->rps[0],
               sr->steps[last - 1].efficiency * 100, scope, name);
}

/* The verdict most cells past the knee share, with how many of them. */
static const char *majority_verdict(const struct sweep *s, const struct sweep_series *sr,
                                    int *votes, int *cells)
{
    const char *best = NULL;
    *votes = *cells = 0;
    for (int i = sr->knee + 1; i < sr->n; i++) {
        const struct cell_report *r = report_of(s, sr->cell[i]);
        if (!r || !r->verdict[0])
            continue;
        (*cells)++;
        int n = 0;
        for (int k = sr->knee + 1; k < sr->n; k++) {
            const struct cell_report *o = report_of(s, sr->cell[k]);
            n += o && !strcmp(o->verdict, r->verdict);
        }
        if (n > *votes)
            *votes = n, best = r->verdict;
    }
    return best;
}

static int cause_sentence(const struct sweep *s, const struct sweep_series *sr,
                          struct sweep_findings *f)
{
    const struct sweep_grid *g = s->grid;
    if (!sr->knee_found)
        return 0;
    int last = sr->n - 1, votes, cells;
    const struct sweep_cell_result *worst = sweep_done(s, (size_t)sr->cell[last]);
    const struct cell_report *r = &worst->report;
    const char *verdict = majority_verdict(s, sr, &votes, &cells);
    char at[64], lastv[64], cpu[200] = "";
    count_of(g, sr->axis, sr->at[sr->knee], at, sizeof(at));
    count_of(g, sr->axis, sr->at[last], lastv, sizeof(lastv));
    double busy = worst->host_busy_cores;
    bool saturated = r->cores > 0 && busy >= SWEEP_SATURATED_SHARE * r->cores;
    if (r->cores > 0 && !isnan(busy) && saturated)
        snprintf(cpu, sizeof(cpu), "the host's %d cores are saturated (host CPU %.2f of %d at %s)",
                 r->cores, busy, r->cores, lastv);
    else if (r->cores > 0 && !isnan(busy))
        snprintf(cpu, sizeof(cpu), "the host CPU is not saturated (%.2f of %d cores busy at %s)",
                 busy, r->cores, lastv);
    bool runq = verdict && (!strcmp(verdict, "cpu-contention") ||
                            (r->run_queue_share >= 0.25 && !strcmp(verdict, "inference")));
    char why[400];
    if (!verdict)
        snprintf(why, sizeof(why), "%s", "no server-side verdict (tracing off?)");
    else if (runq && strcmp(verdict, "cpu-contention"))
        snprintf(why, sizeof(why), "run-queue wait dominates: %.0f%% of the CPU time requests "
                                   "need is spent waiting for a core (verdict %s)",
                 r->run_queue_share * 100, verdict);
    else
        snprintf(why, sizeof(why), "%s", sweep_verdict_phrase(verdict));
    char ctx[160];
    context(s, sr, ctx, sizeof(ctx));
    char evidence[1024] = "";
    if (r->verdict_summary[0])
        snprintf(evidence, sizeof(evidence), " At %s%s: %s.", lastv, ctx, r->verdict_summary);
    return add(f, "cause", "Beyond %s %s%s%s (%d of %d cells past that point agree).%s", at,
               cpu, cpu[0] ? ": " : "", why, votes, cells, evidence);
}

/* Past the knee of a load axis: throughput flat, latency growing (Little's law). */
static int load_sentence(const struct sweep *s, const struct sweep_series *sr,
                         struct sweep_findings *f)
{
    const struct sweep_grid *g = s->grid;
    int k = sr->knee, last = sr->n - 1;
    if (!sr->knee_found)
        return 0;
    const struct cell_report *rk = report_of(s, sr->cell[k]), *rl = report_of(s, sr->cell[last]);
    if (!rk || !rl || !(rk->median_ms > 0))
        return 0;
    char at[64], lastv[64], ctx[160], m0[32], m1[32];
    count_of(g, sr->axis, sr->at[k], at, sizeof(at));
    count_of(g, sr->axis, sr->at[last], lastv, sizeof(lastv));
    context(s, sr, ctx, sizeof(ctx));
    if (g->load_is_rate)
        return add(f, "load",
                   "Past %s%s requests queue: p95 grows " TIMES "%.1f (%s " ARROW " %s at %s).",
                   at, ctx, rl->p95_ms / rk->p95_ms, ms(rk->p95_ms, m0, sizeof(m0)),
                   ms(rl->p95_ms, m1, sizeof(m1)), lastv);
    return add(f, "load",
               "Beyond %s%s throughput stays near %.1f req/s (%.1f at %s) while the median "
               "latency grows " TIMES "%.1f (%s " ARROW " %s): the extra load only waits in "
               "queues.",
               at, ctx, rk->rps, rl->rps, lastv, rl->median_ms / rk->median_ms,
               ms(rk->median_ms, m0, sizeof(m0)), ms(rl->median_ms, m1, sizeof(m1)));
}

static int scaling_findings(const struct sweep *s, const struct sweep_analysis *a,
                            struct sweep_findings *f)
{
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        int groups;
        bool agree;
        const struct sweep_series *rep = representative(a, (enum sweep_axis_id)axis, &groups,
                                                        &agree);
        if (!rep)
            continue;
        if (scaling_sentence(s, rep, groups, agree, f) < 0)
            return -1;
        if (!agree) {
            char list[600] = "", ctx[160], at[64];
            size_t off = 0;
            int listed = 0;
            for (size_t i = 0; i < a->n_series && listed < MAX_LISTED; i++) {
                const struct sweep_series *sr = &a->series[i];
                if ((int)sr->axis != axis || sr->n < 2 || sr == rep)
                    continue;
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s: %s %s",
                                        listed++ ? "; " : "", context(s, sr, ctx, sizeof(ctx)) + 1,
                                        sr->knee_found ? "stops after" : "still scales at",
                                        count_of(s->grid, sr->axis, sr->at[sr->knee], at,
                                                 sizeof(at)));
                if (off >= sizeof(list))
                    break;
            }
            if (listed && add(f, "scaling", "Where %s stop helping depends on the other axes: %s.",
                              sweep_axis_label(s->grid, (enum sweep_axis_id)axis), list) < 0)
                return -1;
        }
        int rc = axis == SWEEP_AXIS_LOAD ? load_sentence(s, rep, f) : cause_sentence(s, rep, f);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- verdict shifts, axis effects ----------------------------------------------------------- */

static int verdict_shifts(const struct sweep *s, const struct sweep_analysis *a,
                          struct sweep_findings *f)
{
    struct shift {
        int axis;
        const char *from, *to;
        double last_from, first_to;
        int series;
    } shifts[16];
    int n = 0;
    for (size_t i = 0; i < a->n_series; i++) {
        const struct sweep_series *sr = &a->series[i];
        for (int k = 1; k < sr->n; k++) {
            const struct cell_report *p = report_of(s, sr->cell[k - 1]);
            const struct cell_report *c = report_of(s, sr->cell[k]);
            if (!p || !c || !p->verdict[0] || !c->verdict[0] || !strcmp(p->verdict, c->verdict))
                continue;
            int j = 0;
            while (j < n && !(shifts[j].axis == (int)sr->axis &&
                              !strcmp(shifts[j].from, p->verdict) &&
                              !strcmp(shifts[j].to, c->verdict)))
                j++;
            if (j == n) {
                if (n == 16)
                    continue;
                shifts[n++] = (struct shift){(int)sr->axis, p->verdict, c->verdict, sr->at[k - 1],
                                             sr->at[k], 0};
            }
            shifts[j].series++;
        }
    }
    for (int j = 0; j < n && j < MAX_LISTED; j++) {
        char lo[64], hi[64];
        enum sweep_axis_id axis = (enum sweep_axis_id)shifts[j].axis;
        if (add(f, "verdict-shift",
                "The verdict shifts with %s from %s (at %s) to %s (at %s), in %d series: %s.",
                sweep_axis_label(s->grid, axis), shifts[j].from,
                count_of(s->grid, axis, shifts[j].last_from, lo, sizeof(lo)), shifts[j].to,
                count_of(s->grid, axis, shifts[j].first_to, hi, sizeof(hi)), shifts[j].series,
                sweep_verdict_phrase(shifts[j].to)) < 0)
            return -1;
    }
    return 0;
}

static int axis_finding(const struct sweep *s, const struct sweep_analysis *a,
                        struct sweep_findings *f)
{
    if (a->n_effects < 2)
        return 0;
    char rest[300] = "";
    size_t off = 0;
    for (int i = 1; i < a->n_effects && off < sizeof(rest); i++)
        off += (size_t)snprintf(rest + off, sizeof(rest) - off, "%s%s " TIMES "%.2f",
                                i > 1 ? ", " : "",
                                sweep_axis_label(s->grid, a->effects[i].axis),
                                a->effects[i].spread);
    const char *top = sweep_axis_label(s->grid, a->effects[0].axis);
    return add(f, "axis",
               "%c%s matter%s most: throughput spans " TIMES "%.2f across the %s values (mean "
               "max/min per series), against %s.",
               top[0] - 32, top + 1, !strcmp(top, "rate") ? "s" : "", a->effects[0].spread, top,
               rest);
}

/* ---- SLO, USL, best cells ------------------------------------------------------------------- */

static void slo_list(const struct sweep *s, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_slos && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " and " : "", s->slos[i].text);
}

/* "4 replicas and 8 workers": the varied target axes of a cell. */
static void target_of(const struct sweep *s, const struct sweep_cell *c, char *buf, size_t len)
{
    const struct sweep_grid *g = s->grid;
    char r[64], w[64];
    count_of(g, SWEEP_AXIS_REPLICAS, c->replicas, r, sizeof(r));
    count_of(g, SWEEP_AXIS_WORKERS, c->workers, w, sizeof(w));
    if (g->replicas.varied && g->workers.varied)
        snprintf(buf, len, " with %s and %s", r, w);
    else if (g->replicas.varied || g->workers.varied)
        snprintf(buf, len, " with %s", g->replicas.varied ? r : w);
    else
        buf[0] = '\0';
}

static int slo_findings(const struct sweep *s, const struct sweep_analysis *a,
                        struct sweep_findings *f)
{
    if (!s->n_slos || !a->done)
        return 0;
    const struct sweep_grid *g = s->grid;
    char slos[300], load[64], who[160];
    slo_list(s, slos, sizeof(slos));
    const struct sweep_slo_knee *best = NULL;
    for (size_t i = 0; i < a->n_slo_knees; i++) {
        const struct sweep_slo_knee *k = &a->slo_knees[i];
        if (k->knee_li >= 0 && (!best || k->knee_li > best->knee_li))
            best = k;
    }
    if (!best) {
        if (add(f, "slo", "No cell meets %s at its lowest load.", slos) < 0)
            return -1;
    } else {
        const struct sweep_cell *c = sweep_grid_at(g, best->ri, best->wi, best->knee_li);
        target_of(s, c, who, sizeof(who));
        const struct cell_report *r = report_of(s, (int)(c - g->cells));
        char p95[32];
        if (add(f, "slo", "The most load meeting %s is %s%s (p95 %s, %.1f req/s)%s%s.", slos,
                g->load.values[best->knee_li] > 0
                    ? count_of(g, SWEEP_AXIS_LOAD, g->load.values[best->knee_li], load,
                               sizeof(load))
                    : "the run's load",
                who, ms(r ? r->p95_ms : NAN, p95, sizeof(p95)), r ? r->rps : NAN,
                best->broken_li >= 0 ? "; the next load breaks it: " : "",
                best->broken_li >= 0 ? best->broken_why : "") < 0)
            return -1;
    }
    if (!g->replicas.varied)
        return 0;
    for (size_t i = 0; i < a->n_min_replicas; i++) { /* the highest load, per workers value */
        const struct sweep_min_replicas *m = &a->min_replicas[i];
        if (m->li != g->load.count - 1 || g->load.values[m->li] <= 0)
            continue;
        char w[80] = "", r[64], wc[64];
        if (g->workers.varied)
            snprintf(w, sizeof(w), " (%s)",
                     count_of(g, SWEEP_AXIS_WORKERS, g->workers.values[m->wi], wc, sizeof(wc)));
        count_of(g, SWEEP_AXIS_LOAD, g->load.values[m->li], load, sizeof(load));
        int rc = m->ri >= 0
                     ? add(f, "slo", "At %s%s meeting %s takes at least %s.", load, w, slos,
                           count_of(g, SWEEP_AXIS_REPLICAS, g->replicas.values[m->ri], r,
                                    sizeof(r)))
                     : add(f, "slo", "At %s%s no replica count tried meets %s.", load, w, slos);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int usl_sentence(const struct sweep *s, const struct sweep_series *sr,
                        struct sweep_findings *f)
{
    const struct usl_fit *u = &sr->usl;
    const char *unit = sr->axis == SWEEP_AXIS_REPLICAS ? "replica" : "worker";
    char ctx[160], shape[300], r2[48] = "";
    context(s, sr, ctx, sizeof(ctx));
    if (u->has_peak)
        snprintf(shape, sizeof(shape), "predicted peak at N* = %.1f %ss (%.1f req/s; best whole "
                                       "count %d), beyond which more %ss lower throughput",
                 u->peak_n, unit, u->peak_x, u->best_n, unit);
    else if (!isnan(u->asymptote_x))
        snprintf(shape, sizeof(shape), "no peak: throughput approaches %.1f req/s "
                                       "(lambda/sigma) with diminishing gains", u->asymptote_x);
    else
        snprintf(shape, sizeof(shape), "no contention or coherency cost measured: linear so "
                                       "far");
    if (!isnan(u->r2))
        snprintf(r2, sizeof(r2), ", R^2 = %.3f", u->r2);
    return add(f, "usl",
               "Universal Scalability Law fit of throughput vs %ss%s: lambda = %.1f req/s per "
               "%s, contention sigma = %.4f, coherency kappa = %.4f%s; %s%s.",
               unit, ctx, u->lambda, unit, u->sigma, u->kappa, r2, shape,
               u->exact ? " (as many points as coefficients: an exact fit, not evidence of the "
                          "law)"
                        : "");
}

/* One sentence per fit when there are few; else the representative series in full and the
 * range of the others' peaks. */
static int usl_findings(const struct sweep *s, const struct sweep_analysis *a,
                        struct sweep_findings *f)
{
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_WORKERS; axis++) {
        const struct sweep_series *last = NULL;
        int fits = 0, peaks = 0;
        double lo = INFINITY, hi = 0;
        for (size_t i = 0; i < a->n_series; i++) {
            const struct sweep_series *sr = &a->series[i];
            /* with 2 values a fit only restates them: not a finding */
            if ((int)sr->axis != axis || !sr->usl.ok || sr->usl.distinct_n < 3)
                continue;
            fits++;
            last = sr;
            if (sr->usl.has_peak) {
                peaks++;
                lo = fmin(lo, sr->usl.peak_n);
                hi = fmax(hi, sr->usl.peak_n);
            }
        }
        if (!fits)
            continue;
        if (fits <= 2) {
            for (size_t i = 0; i < a->n_series; i++)
                if ((int)a->series[i].axis == axis && a->series[i].usl.ok &&
                    a->series[i].usl.distinct_n >= 3 && usl_sentence(s, &a->series[i], f) < 0)
                    return -1;
            continue;
        }
        if (usl_sentence(s, last, f) < 0)
            return -1;
        const char *unit = axis == SWEEP_AXIS_REPLICAS ? "replicas" : "workers";
        int rc;
        if (peaks > 1)
            rc = add(f, "usl", "Of the %d series fitted along %s, %d predict a peak, between "
                               "%.1f and %.1f %s.", fits, unit, peaks, lo, hi, unit);
        else if (peaks == 1)
            rc = add(f, "usl", "Of the %d series fitted along %s, one predicts a peak, at %.1f "
                               "%s.", fits, unit, lo, unit);
        else
            rc = add(f, "usl", "None of the %d series fitted along %s predicts a peak.", fits,
                     unit);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int best_findings(const struct sweep *s, const struct sweep_analysis *a,
                         struct sweep_findings *f)
{
    if (a->best_rps_cell < 0)
        return 0;
    const struct cell_report *r = report_of(s, a->best_rps_cell);
    const struct cell_report *p = a->best_p95_cell >= 0 ? report_of(s, a->best_p95_cell) : NULL;
    char p95[32];
    return add(f, "best", "Highest throughput: %.1f req/s in cell %s. Lowest p95: %s in cell %s.",
               r->rps, s->grid->cells[a->best_rps_cell].name,
               ms(p ? p->p95_ms : NAN, p95, sizeof(p95)),
               p ? s->grid->cells[a->best_p95_cell].name : "none");
}

/* ---- failures, noise, completeness ---------------------------------------------------------- */

static int list_cells(const struct sweep *s, char *buf, size_t len, int *count,
                      bool (*pick)(const struct sweep_cell_result *, char *, size_t))
{
    size_t off = 0;
    *count = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        char detail[300];
        if (!pick(&s->results[i], detail, sizeof(detail)))
            continue;
        if (++*count <= MAX_LISTED && off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s%s (%s)", *count > 1 ? "; " : "",
                                    s->grid->cells[i].name, detail);
    }
    if (*count > MAX_LISTED && off < len)
        snprintf(buf + off, len - off, "; and %d more", *count - MAX_LISTED);
    return *count;
}

static bool pick_failed(const struct sweep_cell_result *r, char *d, size_t len)
{
    snprintf(d, len, "%s", r->error);
    return r->status == SWEEP_CELL_FAILED;
}

static bool pick_errors(const struct sweep_cell_result *r, char *d, size_t len)
{
    snprintf(d, len, "%.3g%% of %llu requests", r->report.failures_pct,
             (unsigned long long)r->report.requests);
    return r->status == SWEEP_CELL_DONE && r->report.failures > 0;
}

static bool pick_noisy(const struct sweep_cell_result *r, char *d, size_t len)
{
    snprintf(d, len, "%.2f cores", r->other_cores);
    return r->status == SWEEP_CELL_DONE && r->other_cores > SWEEP_NOISY_CORES;
}

static bool pick_generator(const struct sweep_cell_result *r, char *d, size_t len)
{
    snprintf(d, len, "%s", r->report.warning[0] ? r->report.warning : r->report.verdict_summary);
    return r->status == SWEEP_CELL_DONE &&
           (!strcmp(r->report.verdict, "load-generator") || r->report.warning[0]);
}

/* The same work should cost the same CPU in every cell: a wide spread means the CPU's speed
 * or other load changed while the sweep ran (or contention slowed the busiest cells). */
static int cpu_drift(const struct sweep *s, struct sweep_findings *f)
{
    int lo = -1, hi = -1;
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell_result *r = sweep_done(s, i);
        if (!r || !(r->report.on_cpu_ms > 0))
            continue;
        if (lo < 0 || r->report.on_cpu_ms < s->results[lo].report.on_cpu_ms)
            lo = (int)i;
        if (hi < 0 || r->report.on_cpu_ms > s->results[hi].report.on_cpu_ms)
            hi = (int)i;
    }
    if (lo < 0 ||
        s->results[hi].report.on_cpu_ms < SWEEP_CPU_DRIFT * s->results[lo].report.on_cpu_ms)
        return 0;
    return add(f, "noise",
               "CPU time per request ranges from %.2f ms (cell %s) to %.2f ms (cell %s): if "
               "every request does the same work, the CPU's speed or other load changed "
               "between cells, or contention slowed the busiest ones; compare their throughput "
               "with care.",
               s->results[lo].report.on_cpu_ms, s->grid->cells[lo].name,
               s->results[hi].report.on_cpu_ms, s->grid->cells[hi].name);
}

static int health_findings(const struct sweep *s, const struct sweep_analysis *a,
                           struct sweep_findings *f)
{
    char list[1600];
    int n;
    if (list_cells(s, list, sizeof(list), &n, pick_failed) &&
        add(f, "failures", "%d cell%s failed and %s no figures: %s.", n, n == 1 ? "" : "s",
            n == 1 ? "has" : "have", list) < 0)
        return -1;
    if (list_cells(s, list, sizeof(list), &n, pick_errors) &&
        add(f, "failures", "Requests failed in %d cell%s: %s.", n, n == 1 ? "" : "s", list) < 0)
        return -1;
    if (list_cells(s, list, sizeof(list), &n, pick_noisy) &&
        add(f, "noise", "Other processes or kernel work used more than %.1f cores of this host "
                        "besides the target and loadscope during %d cell%s, whose figures are "
                        "less reliable: %s.",
            SWEEP_NOISY_CORES, n, n == 1 ? "" : "s", list) < 0)
        return -1;
    if (cpu_drift(s, f) < 0)
        return -1;
    if (list_cells(s, list, sizeof(list), &n, pick_generator) &&
        add(f, "noise", "The load generator checked itself and warned in %d cell%s: %s.", n,
            n == 1 ? "" : "s", list) < 0)
        return -1;
    if (a->pending &&
        add(f, "incomplete", "%s: %d of %zu cells are done, %d not run yet; run the same "
                             "command again to resume.",
            s->interrupted ? "The sweep was interrupted" : "The sweep is incomplete", a->done,
            s->grid->n_cells, a->pending) < 0)
        return -1;
    return 0;
}

int sweep_findings_build(const struct sweep *s, const struct sweep_analysis *a,
                         struct sweep_findings *f, struct error *err)
{
    memset(f, 0, sizeof(*f));
    if (scaling_findings(s, a, f) < 0 || verdict_shifts(s, a, f) < 0 ||
        axis_finding(s, a, f) < 0 || slo_findings(s, a, f) < 0 || usl_findings(s, a, f) < 0 ||
        best_findings(s, a, f) < 0 || health_findings(s, a, f) < 0) {
        sweep_findings_free(f);
        return error_set(err, "out of memory");
    }
    return 0;
}

void sweep_findings_free(struct sweep_findings *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->items[i].text);
    free(f->items);
    memset(f, 0, sizeof(*f));
}
