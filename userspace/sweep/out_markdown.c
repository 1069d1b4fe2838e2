/* sweep.md: the report users assemble by hand after a grid of Locust runs
 * (shared/user-reports/000), complete (p95 and p99 filled in, failed cells said) and with
 * the why: findings, scaling and gain tables, the USL fit, the SLO knee and every cell's
 * verdict. Strings from the target or the user are escaped (common/escape.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/escape.h"
#include "sweep/outputs.h"

static void num(FILE *out, double v, const char *fmt)
{
    if (!isnan(v))
        fprintf(out, fmt, v);
}

static void code(FILE *out, const char *s)
{
    escape_markdown_code(out, s);
}

static const char *load_title(const struct sweep_grid *g)
{
    return g->load_is_rate ? "Rate (req/s)" : "Users";
}

static void axis_line(FILE *out, const char *title, const struct sweep_axis *a)
{
    fprintf(out, "- **%s**: ", title);
    if (!a->varied) {
        if (a->values[0] > 0)
            fprintf(out, "%g (fixed)\n", a->values[0]);
        else
            fputs("not varied (set by the target or the run options)\n", out);
        return;
    }
    for (int i = 0; i < a->count; i++)
        fprintf(out, "%s%g", i ? ", " : "", a->values[i]);
    fputc('\n', out);
}

static void header(FILE *out, const struct sweep *s, const struct sweep_analysis *a)
{
    fputs("# Sweep results \xE2\x80\x94 ", out);
    escape_markdown(out, s->id);
    fputs("\n\n**Test date**: ", out);
    escape_markdown(out, s->started_at);
    fprintf(out, "  \n**Duration per cell**: %gs  \n", s->cell_s);
    fprintf(out, "**Cells**: %zu (%d done, %d failed, %d not run)%s  \n", s->grid->n_cells,
            a->done, a->failed, a->pending, s->interrupted ? " \xE2\x80\x94 interrupted" : "");
    fputs("**Target**: ", out);
    escape_markdown(out, s->target);
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell_result *r = sweep_done(s, i);
        if (r && r->report.cores) {
            fprintf(out, "  \n**Host**: %d cores, ", r->report.cores);
            escape_markdown(out, r->report.cpu_model[0] ? r->report.cpu_model : "unknown CPU");
            break;
        }
    }
    fputs("  \n**Command**: ", out);
    code(out, s->command);
    fputs("\n\n## Configuration Matrix\n\n", out);
    axis_line(out, "Replicas", &s->grid->replicas);
    axis_line(out, "Workers per replica", &s->grid->workers);
    axis_line(out, load_title(s->grid), &s->grid->load);
    if (s->n_slos) {
        fputs("- **SLO**: ", out);
        for (size_t i = 0; i < s->n_slos; i++) {
            fputs(i ? ", " : "", out);
            code(out, s->slos[i].text);
        }
        fputc('\n', out);
    }
    if (s->run_options[0]) {
        fputs("- **Run options**: ", out);
        code(out, s->run_options);
        fputc('\n', out);
    }
}

static void findings(FILE *out, const struct sweep_findings *f)
{
    fputs("\n## Key Findings\n\n", out);
    if (!f->n)
        fputs("No cell has completed yet.\n", out);
    for (size_t i = 0; i < f->n; i++) {
        fprintf(out, "%zu. ", i + 1);
        escape_markdown(out, f->items[i].text);
        fputc('\n', out);
    }
}

static void count_cell(FILE *out, int v)
{
    if (v > 0)
        fprintf(out, "%d", v);
}

static void results(FILE *out, const struct sweep *s)
{
    fprintf(out, "\n## Complete Results\n\n| Replicas | Workers | %s | RPS | Median (ms) | P95 "
                 "(ms) | P99 (ms) | Failures (%%) | Total Requests | Verdict |%s\n",
            load_title(s->grid), s->n_slos ? " SLO |" : "");
    fprintf(out, "|---|---|---|---|---|---|---|---|---|---|%s\n", s->n_slos ? "---|" : "");
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell *c = &s->grid->cells[i];
        const struct sweep_cell_result *r = &s->results[i];
        const struct cell_report *p = &r->report;
        bool done = r->status == SWEEP_CELL_DONE;
        fputs("| ", out);
        count_cell(out, c->replicas);
        fputs(" | ", out);
        count_cell(out, c->workers);
        fputs(" | ", out);
        num(out, s->grid->load_is_rate ? sweep_cell_rate(s, i) : sweep_cell_users(s, i), "%g");
        fputs(" | ", out);
        if (done) {
            num(out, p->rps, "%.1f");
            fputs(" | ", out);
            num(out, p->median_ms, "%.1f");
            fputs(" | ", out);
            num(out, p->p95_ms, "%.1f");
            fputs(" | ", out);
            num(out, p->p99_ms, "%.1f");
            fputs(" | ", out);
            num(out, p->failures_pct, "%.2f");
            fprintf(out, " | %llu | ", (unsigned long long)p->requests);
            escape_markdown(out, p->verdict[0] ? p->verdict : "n/a");
            if (s->n_slos)
                fprintf(out, " | %s", p->slo_ok ? "met" : "**broken**");
        } else {
            fprintf(out, " |  |  |  |  |  | %s", sweep_cell_status_name(r->status));
            if (r->error[0]) {
                fputs(": ", out);
                escape_markdown(out, r->error);
            }
            if (s->n_slos)
                fputs(" | ", out);
        }
        fputs(" |\n", out);
    }
}

/* One table per value of the third axis: rows along axis, columns along the load. */
static void scaling_tables(FILE *out, const struct sweep *s, enum sweep_axis_id axis)
{
    const struct sweep_grid *g = s->grid;
    const struct sweep_axis *rows = sweep_axis_of(g, axis);
    const struct sweep_axis *other =
        sweep_axis_of(g, axis == SWEEP_AXIS_REPLICAS ? SWEEP_AXIS_WORKERS : SWEEP_AXIS_REPLICAS);
    if (rows->count < 2)
        return;
    const char *name = axis == SWEEP_AXIS_REPLICAS ? "Replica" : "Worker";
    const char *other_name = axis == SWEEP_AXIS_REPLICAS ? "Worker" : "Replica";
    fprintf(out, "\n### Throughput Scaling by %s Count\n", name);
    for (int o = 0; o < other->count; o++) {
        if (other->varied)
            fprintf(out, "\n#### %g %s%s\n", other->values[o], other_name,
                    other->values[o] == 1 ? "" : "s");
        fprintf(out, "\n| %ss |", name);
        for (int l = 0; l < g->load.count; l++) {
            if (g->load.values[l] > 0)
                fprintf(out, " %g %s RPS |", g->load.values[l],
                        g->load_is_rate ? "req/s" : "Users");
            else
                fputs(" RPS |", out);
        }
        fputs("\n|---|", out);
        for (int l = 0; l < g->load.count; l++)
            fputs("---|", out);
        fputc('\n', out);
        for (int v = 0; v < rows->count; v++) {
            fprintf(out, "| %g |", rows->values[v]);
            for (int l = 0; l < g->load.count; l++) {
                int ri = axis == SWEEP_AXIS_REPLICAS ? v : o;
                int wi = axis == SWEEP_AXIS_REPLICAS ? o : v;
                const struct sweep_cell *c = sweep_grid_at(g, ri, wi, l);
                const struct sweep_cell_result *r = sweep_done(s, (size_t)(c - g->cells));
                fputc(' ', out);
                if (r)
                    num(out, r->report.rps, "%.1f");
                else
                    fputs(sweep_cell_status_name(s->results[c - g->cells].status), out);
                fputs(" |", out);
            }
            fputc('\n', out);
        }
    }
}

static void latency_table(FILE *out, const struct sweep *s)
{
    const struct sweep_grid *g = s->grid;
    if (g->load.count < 2)
        return;
    fprintf(out, "\n### P95 Latency (ms) by %s\n\n| Replicas | Workers |", load_title(g));
    for (int l = 0; l < g->load.count; l++)
        fprintf(out, " %g |", g->load.values[l]);
    fputs("\n|---|---|", out);
    for (int l = 0; l < g->load.count; l++)
        fputs("---|", out);
    fputc('\n', out);
    for (int ri = 0; ri < g->replicas.count; ri++)
        for (int wi = 0; wi < g->workers.count; wi++) {
            fputs("| ", out);
            count_cell(out, (int)g->replicas.values[ri]);
            fputs(" | ", out);
            count_cell(out, (int)g->workers.values[wi]);
            fputs(" |", out);
            for (int l = 0; l < g->load.count; l++) {
                const struct sweep_cell *c = sweep_grid_at(g, ri, wi, l);
                const struct sweep_cell_result *r = sweep_done(s, (size_t)(c - g->cells));
                fputc(' ', out);
                if (r)
                    num(out, r->report.p95_ms, "%.1f");
                fputs(" |", out);
            }
            fputc('\n', out);
        }
}

static void fixed_text(FILE *out, const struct sweep *s, const struct sweep_series *sr)
{
    const struct sweep_grid *g = s->grid;
    int idx[3] = {sr->ri, sr->wi, sr->li};
    bool any = false;
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        const struct sweep_axis *ax = sweep_axis_of(g, (enum sweep_axis_id)axis);
        if (idx[axis] < 0 || !ax->varied)
            continue;
        fprintf(out, "%s%s %g", any ? ", " : "", sweep_axis_label(g, (enum sweep_axis_id)axis),
                ax->values[idx[axis]]);
        any = true;
    }
    if (!any)
        fputs("\xE2\x80\x94", out);
}

static void gain_tables(FILE *out, const struct sweep *s, const struct sweep_analysis *a)
{
    for (int axis = SWEEP_AXIS_REPLICAS; axis <= SWEEP_AXIS_LOAD; axis++) {
        bool any = false;
        for (size_t i = 0; i < a->n_series; i++) {
            const struct sweep_series *sr = &a->series[i];
            if ((int)sr->axis != axis || sr->n < 2)
                continue;
            const char *label = sweep_axis_label(s->grid, sr->axis);
            if (!any)
                fprintf(out, "\n### Gain From Each Step in %c%s\n\nEfficiency: throughput "
                             "relative to linear scaling from the first value. Marginal: what "
                             "the step added relative to what linear scaling would add. The "
                             "knee is the last value before a step adds less than %.0f%% (along "
                             "a rate axis: the last offered rate answered at 90%%).\n\n"
                             "| Other axes | From \xE2\x86\x92 To | RPS | \xC3\x97 | Efficiency "
                             "| Marginal |\n|---|---|---|---|---|---|\n",
                        label[0] - 32, label + 1, SWEEP_KNEE_MARGINAL * 100);
            any = true;
            for (int k = 0; k + 1 < sr->n; k++) {
                const struct sweep_step *st = &sr->steps[k];
                fputs("| ", out);
                fixed_text(out, s, sr);
                fprintf(out, " | %g \xE2\x86\x92 %g | %.1f \xE2\x86\x92 %.1f | %.2f | %.0f%% | "
                             "%.0f%% |\n",
                        st->from, st->to, sr->rps[k], sr->rps[k + 1], st->ratio,
                        st->efficiency * 100, st->marginal * 100);
            }
            fputs("| ", out);
            fixed_text(out, s, sr);
            if (sr->knee_found)
                fprintf(out, " | **knee: %g** | | | | |\n", sr->at[sr->knee]);
            else
                fprintf(out, " | still scaling at %g | | | | |\n", sr->at[sr->n - 1]);
        }
    }
}

static void usl_table(FILE *out, const struct sweep *s, const struct sweep_analysis *a)
{
    bool any = false;
    for (size_t i = 0; i < a->n_series; i++) {
        const struct sweep_series *sr = &a->series[i];
        const struct usl_fit *u = &sr->usl;
        if (!u->ok)
            continue;
        if (!any)
            fputs("\n### Universal Scalability Law Fit\n\nX(N) = \xCE\xBB" "N / (1 + "
                  "\xCF\x83(N\xE2\x88\x92" "1) + \xCE\xBAN(N\xE2\x88\x92" "1)), fitted by least "
                  "squares with \xCF\x83, \xCE\xBA \xE2\x89\xA5 0. \xCF\x83 is contention (a "
                  "serialized share), \xCE\xBA coherency (crosstalk that makes throughput fall "
                  "past a peak N* = \xE2\x88\x9A((1\xE2\x88\x92\xCF\x83)/\xCE\xBA)).\n\n"
                  "| N | Other axes | Points | \xCE\xBB (req/s per unit) | \xCF\x83 | \xCE\xBA | "
                  "R\xC2\xB2 | Peak N* | Peak RPS | Best whole N |\n"
                  "|---|---|---|---|---|---|---|---|---|---|\n",
                  out);
        any = true;
        fprintf(out, "| %s | ", sweep_axis_label(s->grid, sr->axis));
        fixed_text(out, s, sr);
        fprintf(out, " | %d%s | %.1f | %.4f | %.4f | ", u->points, u->exact ? " (exact fit)" : "",
                u->lambda, u->sigma, u->kappa);
        num(out, u->r2, "%.3f");
        if (u->has_peak)
            fprintf(out, " | %.2f | %.1f | %d |\n", u->peak_n, u->peak_x, u->best_n);
        else if (!isnan(u->asymptote_x))
            fprintf(out, " | none | \xE2\x86\x92 %.1f | \xE2\x80\x94 |\n", u->asymptote_x);
        else
            fputs(" | none (linear) | \xE2\x80\x94 | \xE2\x80\x94 |\n", out);
    }
}

static void slo_tables(FILE *out, const struct sweep *s, const struct sweep_analysis *a)
{
    const struct sweep_grid *g = s->grid;
    if (!s->n_slos)
        return;
    fputs("\n### SLO Knee\n\nThe highest load whose cell, and every lower load's cell, meets ",
          out);
    for (size_t i = 0; i < s->n_slos; i++) {
        fputs(i ? " and " : "", out);
        code(out, s->slos[i].text);
    }
    fprintf(out, ".\n\n| Replicas | Workers | Highest load meeting it (%s) | First load "
                 "breaking it | Why |\n|---|---|---|---|---|\n",
            g->load_is_rate ? "req/s" : "users");
    for (size_t i = 0; i < a->n_slo_knees; i++) {
        const struct sweep_slo_knee *k = &a->slo_knees[i];
        fputs("| ", out);
        count_cell(out, (int)g->replicas.values[k->ri]);
        fputs(" | ", out);
        count_cell(out, (int)g->workers.values[k->wi]);
        fputs(" | ", out);
        if (k->knee_li >= 0)
            fprintf(out, "%g", g->load.values[k->knee_li]);
        else
            fputs("none", out);
        fputs(" | ", out);
        if (k->broken_li >= 0)
            fprintf(out, "%g", g->load.values[k->broken_li]);
        fputs(" | ", out);
        escape_markdown(out, k->broken_why);
        fputs(" |\n", out);
    }
    if (!g->replicas.varied)
        return;
    fprintf(out, "\n| Workers | %s | Fewest replicas meeting it |\n|---|---|---|\n", load_title(g));
    for (size_t i = 0; i < a->n_min_replicas; i++) {
        const struct sweep_min_replicas *m = &a->min_replicas[i];
        fputs("| ", out);
        count_cell(out, (int)g->workers.values[m->wi]);
        fputs(" | ", out);
        num(out, g->load.values[m->li] > 0 ? g->load.values[m->li] : NAN, "%g");
        if (m->ri >= 0)
            fprintf(out, " | %g |\n", g->replicas.values[m->ri]);
        else
            fputs(" | none tried |\n", out);
    }
}

static void verdicts(FILE *out, const struct sweep *s)
{
    fputs("\n### Verdict per Cell\n\n| Cell | Verdict | Why | Host CPU (cores) | Report |\n"
          "|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell_result *r = sweep_done(s, i);
        const char *name = s->grid->cells[i].name;
        if (!r)
            continue;
        fprintf(out, "| %s | ", name);
        escape_markdown(out, r->report.verdict[0] ? r->report.verdict : "n/a");
        if (r->report.verdict_mixed && r->report.runner_up[0]) {
            fputs(" (mixed with ", out);
            escape_markdown(out, r->report.runner_up);
            fputc(')', out);
        }
        fputs(" | ", out);
        escape_markdown(out, r->report.verdict_summary);
        fputs(" | ", out);
        num(out, r->host_busy_cores, "%.2f");
        fprintf(out, " | [report](cells/%s/report.html) |\n", name);
    }
}

void sweep_write_markdown(FILE *out, const struct sweep_outputs *o)
{
    const struct sweep *s = o->sweep;
    header(out, s, o->analysis);
    findings(out, o->findings);
    results(out, s);
    fputs("\n## Performance Analysis\n", out);
    scaling_tables(out, s, SWEEP_AXIS_REPLICAS);
    scaling_tables(out, s, SWEEP_AXIS_WORKERS);
    latency_table(out, s);
    gain_tables(out, s, o->analysis);
    usl_table(out, s, o->analysis);
    slo_tables(out, s, o->analysis);
    verdicts(out, s);
    fputs("\nEvery cell is a complete `loadscope run`: its directory `cells/<cell>/` holds "
          "report.html, report.md, report.json and run.db (`loadscope report cells/<cell>` "
          "rewrites them). `matrix.csv` has one row per cell, `sweep.json` everything above.\n"
          "\n---\n\n*Generated by loadscope sweep*\n",
          out);
}
