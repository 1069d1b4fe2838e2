/* sweep.json: the sweep, every cell and the analysis, machine readable (docs/sweep.md). The
 * HTML page embeds the same document. Absent values are null, never 0. */
#include <math.h>
#include <stdio.h>

#include "common/json_writer.h"
#include "sweep/outputs.h"

#define SWEEP_SCHEMA 1

static void axis_json(struct json_writer *w, const char *key, const struct sweep_axis *a)
{
    json_key(w, key);
    json_object_begin(w);
    json_kv_bool(w, "varied", a->varied);
    json_key(w, "values");
    json_array_begin(w);
    for (int i = 0; i < a->count; i++) {
        if (a->values[i] > 0)
            json_double(w, a->values[i]);
        else
            json_null(w);
    }
    json_array_end(w);
    json_object_end(w);
}

static void kv_count(struct json_writer *w, const char *key, double v)
{
    json_kv_double(w, key, v > 0 ? v : NAN);
}

static void sweep_section(struct json_writer *w, const struct sweep *s,
                          const struct sweep_analysis *a)
{
    json_key(w, "sweep");
    json_object_begin(w);
    json_kv_string(w, "id", s->id);
    json_kv_string(w, "dir", s->dir);
    json_kv_string(w, "started_at", s->started_at);
    json_kv_string(w, "command", s->command);
    json_kv_string(w, "target", s->target);
    json_kv_string(w, "run_options", s->run_options);
    json_kv_double(w, "cell_s", s->cell_s);
    json_kv_bool(w, "interrupted", s->interrupted);
    json_kv_bool(w, "complete", a->done + a->failed == (int)s->grid->n_cells);
    json_kv_uint(w, "cells", s->grid->n_cells);
    json_kv_int(w, "cells_done", a->done);
    json_kv_int(w, "cells_failed", a->failed);
    json_kv_int(w, "cells_pending", a->pending);
    json_key(w, "axes");
    json_object_begin(w);
    axis_json(w, "replicas", &s->grid->replicas);
    axis_json(w, "workers", &s->grid->workers);
    axis_json(w, "load", &s->grid->load);
    json_kv_string(w, "load_kind", s->grid->load_is_rate ? "rate" : "users");
    json_object_end(w);
    json_key(w, "slo");
    json_array_begin(w);
    for (size_t i = 0; i < s->n_slos; i++)
        json_string(w, s->slos[i].text);
    json_array_end(w);
    json_object_end(w);
}

static void environment_section(struct json_writer *w, const struct sweep *s)
{
    json_key(w, "environment");
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell_result *r = sweep_done(s, i);
        if (!r || !r->report.cores)
            continue;
        json_object_begin(w);
        json_kv_int(w, "cores", r->report.cores);
        json_kv_string(w, "cpu_model", r->report.cpu_model);
        json_object_end(w);
        return;
    }
    json_null(w);
}

static void slo_results(struct json_writer *w, const struct sweep *s, const struct cell_report *p)
{
    json_key(w, "slo");
    json_array_begin(w);
    for (size_t k = 0; k < p->n_slo; k++) {
        const struct threshold *t = &s->slos[k];
        char shown[64];
        slo_format_value(t, p->slo[k].value, shown, sizeof(shown));
        json_object_begin(w);
        json_kv_string(w, "expr", t->text);
        json_kv_bool(w, "ok", p->slo[k].ok);
        json_kv_string(w, "shown", shown);
        json_object_end(w);
    }
    json_array_end(w);
}

static void cell_figures(struct json_writer *w, const struct sweep *s, const struct cell_report *p)
{
    json_kv_double(w, "rps", p->rps);
    json_kv_double(w, "median_ms", p->median_ms);
    json_kv_double(w, "p95_ms", p->p95_ms);
    json_kv_double(w, "p99_ms", p->p99_ms);
    json_kv_double(w, "avg_ms", p->avg_ms);
    json_kv_double(w, "max_ms", p->max_ms);
    json_kv_double(w, "failures_pct", p->failures_pct);
    json_kv_uint(w, "requests", p->requests);
    json_kv_uint(w, "failures", p->failures);
    json_kv_double(w, "duration_s", p->duration_s);
    json_kv_bool(w, "run_interrupted", p->interrupted);
    json_kv_string(w, "verdict", p->verdict);
    json_kv_string(w, "verdict_summary", p->verdict_summary);
    json_kv_bool(w, "verdict_mixed", p->verdict_mixed);
    json_kv_string(w, "runner_up", p->runner_up);
    json_kv_bool(w, "traced", p->traced);
    json_kv_double(w, "target_cores", p->target_cores);
    json_kv_double(w, "on_cpu_ms", p->on_cpu_ms);
    json_kv_double(w, "run_queue_ms", p->run_queue_ms);
    json_kv_double(w, "queue_ms", p->queue_ms);
    json_kv_double(w, "run_queue_share", p->run_queue_share);
    json_kv_double(w, "generator_cores", p->generator_cores);
    json_kv_string(w, "self_check_warning", p->warning);
    json_kv_int(w, "thresholds_broken", p->thresholds_broken);
    if (s->n_slos)
        json_kv_bool(w, "slo_ok", p->slo_ok);
    else
        json_kv_double(w, "slo_ok", NAN);
    slo_results(w, s, p);
}

static void cells_section(struct json_writer *w, const struct sweep *s)
{
    json_key(w, "cells");
    json_array_begin(w);
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell *c = &s->grid->cells[i];
        const struct sweep_cell_result *r = &s->results[i];
        json_object_begin(w);
        json_kv_string(w, "name", c->name);
        json_kv_string(w, "status", sweep_cell_status_name(r->status));
        json_kv_bool(w, "resumed", r->resumed);
        kv_count(w, "replicas", c->replicas);
        kv_count(w, "workers", c->workers);
        json_kv_double(w, "users", sweep_cell_users(s, i));
        json_kv_double(w, "rate", sweep_cell_rate(s, i));
        if (r->exit_code >= 0)
            json_kv_int(w, "exit_code", r->exit_code);
        else
            json_kv_double(w, "exit_code", NAN);
        json_kv_string(w, "error", r->error);
        json_kv_double(w, "host_busy_cores", r->host_busy_cores);
        json_kv_double(w, "other_cores", r->other_cores);
        if (r->status == SWEEP_CELL_DONE) {
            cell_figures(w, s, &r->report);
            char path[128];
            snprintf(path, sizeof(path), "cells/%s/report.html", c->name);
            json_kv_string(w, "report_html", path);
        }
        json_object_end(w);
    }
    json_array_end(w);
}

static void usl_json(struct json_writer *w, const struct usl_fit *u)
{
    json_key(w, "usl");
    if (!u->ok) {
        json_null(w);
        return;
    }
    json_object_begin(w);
    json_kv_double(w, "lambda", u->lambda);
    json_kv_double(w, "sigma", u->sigma);
    json_kv_double(w, "kappa", u->kappa);
    json_kv_double(w, "r2", u->r2);
    json_kv_double(w, "rmse", u->rmse);
    json_kv_int(w, "points", u->points);
    json_kv_int(w, "distinct_n", u->distinct_n);
    json_kv_int(w, "free_params", u->free_params);
    json_kv_bool(w, "exact", u->exact);
    json_kv_bool(w, "has_peak", u->has_peak);
    json_kv_double(w, "peak_n", u->has_peak ? u->peak_n : NAN);
    json_kv_double(w, "peak_rps", u->has_peak ? u->peak_x : NAN);
    json_kv_double(w, "best_n", u->has_peak ? u->best_n : NAN);
    json_kv_double(w, "best_rps", u->has_peak ? u->best_x : NAN);
    json_kv_double(w, "asymptote_rps", u->asymptote_x);
    json_object_end(w);
}

static void fixed_json(struct json_writer *w, const struct sweep *s, const struct sweep_series *sr)
{
    const struct sweep_grid *g = s->grid;
    json_key(w, "fixed");
    json_object_begin(w);
    int idx[3] = {sr->ri, sr->wi, sr->li};
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        if (idx[axis] < 0)
            continue;
        double v = sweep_axis_of(g, (enum sweep_axis_id)axis)->values[idx[axis]];
        json_kv_double(w, sweep_axis_label(g, (enum sweep_axis_id)axis), v > 0 ? v : NAN);
    }
    json_object_end(w);
}

static void series_json(struct json_writer *w, const struct sweep *s, const struct sweep_series *sr)
{
    json_object_begin(w);
    json_kv_string(w, "axis", sweep_axis_label(s->grid, sr->axis));
    fixed_json(w, s, sr);
    json_key(w, "points");
    json_array_begin(w);
    for (int i = 0; i < sr->n; i++) {
        const struct cell_report *p = &s->results[sr->cell[i]].report;
        json_object_begin(w);
        json_kv_double(w, "at", sr->at[i]);
        json_kv_double(w, "rps", sr->rps[i]);
        json_kv_double(w, "p95_ms", p->p95_ms);
        json_kv_string(w, "cell", s->grid->cells[sr->cell[i]].name);
        json_kv_string(w, "verdict", p->verdict);
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "steps");
    json_array_begin(w);
    for (int i = 0; i + 1 < sr->n; i++) {
        const struct sweep_step *st = &sr->steps[i];
        json_object_begin(w);
        json_kv_double(w, "from", st->from);
        json_kv_double(w, "to", st->to);
        json_kv_double(w, "ratio", st->ratio);
        json_kv_double(w, "efficiency", st->efficiency);
        json_kv_double(w, "marginal", st->marginal);
        json_object_end(w);
    }
    json_array_end(w);
    json_kv_double(w, "knee", sr->knee >= 0 ? sr->at[sr->knee] : NAN);
    json_kv_bool(w, "knee_found", sr->knee_found);
    usl_json(w, &sr->usl);
    json_object_end(w);
}

static void analysis_section(struct json_writer *w, const struct sweep *s,
                             const struct sweep_analysis *a)
{
    const struct sweep_grid *g = s->grid;
    json_key(w, "analysis");
    json_object_begin(w);
    json_key(w, "series");
    json_array_begin(w);
    for (size_t i = 0; i < a->n_series; i++)
        series_json(w, s, &a->series[i]);
    json_array_end(w);
    json_key(w, "slo_knees");
    json_array_begin(w);
    for (size_t i = 0; i < a->n_slo_knees; i++) {
        const struct sweep_slo_knee *k = &a->slo_knees[i];
        json_object_begin(w);
        kv_count(w, "replicas", g->replicas.values[k->ri]);
        kv_count(w, "workers", g->workers.values[k->wi]);
        json_kv_double(w, "knee_load", k->knee_li >= 0 ? g->load.values[k->knee_li] : NAN);
        json_kv_double(w, "broken_load", k->broken_li >= 0 ? g->load.values[k->broken_li] : NAN);
        json_kv_string(w, "broken_why", k->broken_why);
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "min_replicas");
    json_array_begin(w);
    for (size_t i = 0; g->replicas.varied && i < a->n_min_replicas; i++) {
        const struct sweep_min_replicas *m = &a->min_replicas[i];
        json_object_begin(w);
        kv_count(w, "workers", g->workers.values[m->wi]);
        kv_count(w, "load", g->load.values[m->li]);
        json_kv_double(w, "replicas", m->ri >= 0 ? g->replicas.values[m->ri] : NAN);
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "axis_effects");
    json_array_begin(w);
    for (int i = 0; i < a->n_effects; i++) {
        json_object_begin(w);
        json_kv_string(w, "axis", sweep_axis_label(g, a->effects[i].axis));
        json_kv_double(w, "spread", a->effects[i].spread);
        json_kv_int(w, "series", a->effects[i].series);
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "best_rps_cell");
    if (a->best_rps_cell >= 0)
        json_string(w, g->cells[a->best_rps_cell].name);
    else
        json_null(w);
    json_key(w, "best_p95_cell");
    if (a->best_p95_cell >= 0)
        json_string(w, g->cells[a->best_p95_cell].name);
    else
        json_null(w);
    json_object_end(w);
}

void sweep_write_json(FILE *out, const struct sweep_outputs *o, bool pretty)
{
    struct json_writer w;
    json_init(&w, out, pretty);
    json_object_begin(&w);
    json_kv_int(&w, "schema", SWEEP_SCHEMA);
    json_kv_string(&w, "kind", "loadscope-sweep");
    sweep_section(&w, o->sweep, o->analysis);
    environment_section(&w, o->sweep);
    cells_section(&w, o->sweep);
    analysis_section(&w, o->sweep, o->analysis);
    json_key(&w, "findings");
    json_array_begin(&w);
    for (size_t i = 0; i < o->findings->n; i++) {
        json_object_begin(&w);
        json_kv_string(&w, "kind", o->findings->items[i].kind);
        json_kv_string(&w, "text", o->findings->items[i].text);
        json_object_end(&w);
    }
    json_array_end(&w);
    json_object_end(&w);
}
