/* The sweep's analysis, findings and outputs on a grid with known numbers: the 24 cells of
 * shared/user-reports/000 (replicas 1,2,4,8 x Locust workers 4,8 x users 200,400,800, RPS
 * and medians as the user measured them, p95 set here), plus the escapers the outputs use. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/escape.h"
#include "sweep/analysis.h"
#include "sweep/cell_report.h"
#include "sweep/findings.h"
#include "sweep/outputs.h"
#include "sweep/slo.h"
#include "support/tmpdir.h"

/* user-reports/000: replicas x workers x users, in the sweep's order */
static const double report_rps[24] = {
    47.6, 39.1, 49.3, 47.2, 50.0, 40.4,  82.1,  82.2,  87.0,  75.1,  90.7,  80.2,
    104.4, 122.3, 123.0, 116.6, 113.6, 122.8, 118.6, 121.8, 120.0, 127.0, 144.7, 156.3};
static const double report_median[24] = {
    3200, 6800, 11000, 3000, 6800, 10000, 840, 3300, 7100, 950, 3300, 7600,
    220,  1400, 3400,  91,   1500, 5500,  120, 1400, 4200, 39,  670,  2700};

struct fixture {
    struct sweep_grid grid;
    struct sweep_cell_result results[24];
    struct threshold slo;
    struct sweep sweep;
    struct sweep_analysis analysis;
    struct sweep_findings findings;
};

static void build(struct fixture *fx, bool with_slo)
{
    memset(fx, 0, sizeof(*fx));
    struct error err;
    cr_assert_eq(sweep_axis_parse(&fx->grid.replicas, "replicas", "8,4,2,1", SWEEP_AXIS_INT, 64,
                                  &err), 0);
    cr_assert_eq(sweep_axis_parse(&fx->grid.workers, "workers", "4,8", SWEEP_AXIS_INT, 64, &err), 0);
    cr_assert_eq(sweep_axis_parse(&fx->grid.load, "users", "200,400,800", SWEEP_AXIS_INT, 1e6,
                                  &err), 0);
    cr_assert_eq(sweep_grid_build(&fx->grid, &err), 0);
    cr_assert_eq(slo_parse("p95<2s", &fx->slo, &err), 0, "%s", err.msg);
    for (int i = 0; i < 24; i++) {
        struct sweep_cell_result *r = &fx->results[i];
        r->status = SWEEP_CELL_DONE;
        r->exit_code = 0;
        r->host_busy_cores = 1.9;
        r->other_cores = NAN;
        r->report.rps = report_rps[i];
        r->report.median_ms = report_median[i];
        r->report.p95_ms = report_median[i] * 1.5;
        r->report.p99_ms = report_median[i] * 2;
        r->report.requests = (uint64_t)(report_rps[i] * 60);
        r->report.failures_pct = 0;
        r->report.cores = 2;
        r->report.on_cpu_ms = NAN;
        r->report.users = r->report.rate = NAN; /* what a run's document lacks */
        snprintf(r->report.verdict, sizeof(r->report.verdict), "%s",
                 fx->grid.cells[i].replicas >= 4 ? "cpu-contention" : "inference");
        snprintf(r->report.verdict_summary, sizeof(r->report.verdict_summary), "summary %d", i);
        if (with_slo) {
            r->report.n_slo = 1;
            r->report.slo[0].value = r->report.p95_ms * 1e6;
            r->report.slo[0].ok = r->report.p95_ms < 2000;
            r->report.slo_ok = r->report.slo[0].ok;
        }
    }
    fx->sweep = (struct sweep){.grid = &fx->grid, .results = fx->results,
                               .slos = with_slo ? &fx->slo : NULL, .n_slos = with_slo,
                               .dir = "/tmp/x", .id = "sweep-000", .started_at = "2025-10-29",
                               .command = "loadscope sweep ...", .target = "launched",
                               .run_options = "", .cell_s = 60};
    cr_assert_eq(sweep_analyse(&fx->sweep, &fx->analysis, &err), 0);
    cr_assert_eq(sweep_findings_build(&fx->sweep, &fx->analysis, &fx->findings, &err), 0);
}

static void release(struct fixture *fx)
{
    sweep_findings_free(&fx->findings);
    sweep_analysis_free(&fx->analysis);
    sweep_grid_free(&fx->grid);
}

static const struct sweep_series *series_of(const struct fixture *fx, enum sweep_axis_id axis,
                                            int ri, int wi, int li)
{
    for (size_t i = 0; i < fx->analysis.n_series; i++) {
        const struct sweep_series *s = &fx->analysis.series[i];
        if (s->axis == axis && s->ri == ri && s->wi == wi && s->li == li)
            return s;
    }
    cr_assert_fail("no series");
    return NULL;
}

static const char *finding(const struct fixture *fx, const char *kind, const char *needle)
{
    for (size_t i = 0; i < fx->findings.n; i++)
        if (!strcmp(fx->findings.items[i].kind, kind) && strstr(fx->findings.items[i].text, needle))
            return fx->findings.items[i].text;
    return NULL;
}

Test(sweep_analysis, grid_order_and_names)
{
    struct fixture fx;
    build(&fx, false);
    cr_expect_eq(fx.grid.n_cells, 24);
    cr_expect_str_eq(fx.grid.cells[0].name, "r1-w4-u200");
    cr_expect_str_eq(fx.grid.cells[1].name, "r1-w4-u400");
    cr_expect_str_eq(fx.grid.cells[3].name, "r1-w8-u200");
    cr_expect_str_eq(fx.grid.cells[23].name, "r8-w8-u800");
    cr_expect_eq(sweep_grid_at(&fx.grid, 2, 1, 0), &fx.grid.cells[15]);
    release(&fx);
}

Test(sweep_analysis, replica_series_steps_and_knee)
{
    struct fixture fx;
    build(&fx, false);
    cr_expect_eq(fx.analysis.n_series, 6 + 12 + 8, "replicas, workers and users series");
    /* 4 workers, 800 users: 49.3, 87.0, 123.0, 120.0 req/s at 1, 2, 4, 8 replicas */
    const struct sweep_series *s = series_of(&fx, SWEEP_AXIS_REPLICAS, -1, 0, 2);
    cr_assert_eq(s->n, 4);
    cr_expect_float_eq(s->steps[0].ratio, 87.0 / 49.3, 1e-9);
    cr_expect_float_eq(s->steps[0].marginal, (87.0 - 49.3) / 49.3, 1e-9);
    cr_expect_float_eq(s->steps[1].marginal, (123.0 - 87.0) / (87.0 / 2 * 2), 1e-9);
    cr_expect_float_eq(s->steps[2].efficiency, (120.0 / 49.3) / 8, 1e-9);
    cr_expect_eq(s->at[s->knee], 2, "2 -> 4 adds only 41%% of linear");
    cr_expect(s->knee_found);
    cr_expect(s->usl.ok && s->usl.has_peak, "a peak in the USL fit");
    cr_expect(s->usl.peak_n > 3 && s->usl.peak_n < 8, "peak at %g", s->usl.peak_n);
    /* 8 workers, 800 users: 40.4, 80.2, 122.8, 156.3: still scaling at 8 */
    s = series_of(&fx, SWEEP_AXIS_REPLICAS, -1, 1, 2);
    cr_expect_eq(s->at[s->knee], 4);
    cr_expect(s->knee_found, "4 -> 8 adds %.0f%% of linear", s->steps[2].marginal * 100);
    release(&fx);
}

Test(sweep_analysis, replicas_matter_most)
{
    struct fixture fx;
    build(&fx, false);
    cr_assert_eq(fx.analysis.n_effects, 3);
    cr_expect_eq(fx.analysis.effects[0].axis, SWEEP_AXIS_REPLICAS);
    cr_expect_gt(fx.analysis.effects[0].spread, 2);
    cr_expect_lt(fx.analysis.effects[1].spread, 1.3);
    cr_expect_not_null(finding(&fx, "axis", "Replicas matter most"));
    cr_expect_eq(fx.analysis.best_rps_cell, 23);
    cr_expect_eq(fx.analysis.best_p95_cell, 21, "39 ms median at r8-w8-u200");
    cr_expect_not_null(finding(&fx, "best", "156.3 req/s in cell r8-w8-u800"));
    cr_expect_not_null(finding(&fx, "verdict-shift", "from inference (at 2 replicas) to "
                                                     "cpu-contention (at 4 replicas)"));
    cr_expect_not_null(finding(&fx, "cause", "Beyond"), "a finding says why scaling stops");
    release(&fx);
}

Test(sweep_analysis, slo_knee_and_fewest_replicas)
{
    struct fixture fx;
    build(&fx, true);
    /* p95 = 1.5 x median < 2 s: median < 1333 ms */
    cr_assert_eq(fx.analysis.n_slo_knees, 8);
    const struct sweep_slo_knee *k = &fx.analysis.slo_knees[0]; /* 1 replica, 4 workers */
    cr_expect_eq(k->knee_li, -1, "3200 ms median at 200 users");
    cr_expect_eq(k->broken_li, 0);
    cr_expect(strstr(k->broken_why, "p95<2s: 4800.0 ms"), "%s", k->broken_why);
    k = &fx.analysis.slo_knees[4]; /* 4 replicas, 4 workers: 220, 1400, 3400 */
    cr_expect_eq(k->knee_li, 0);
    cr_expect_eq(k->broken_li, 1);
    k = &fx.analysis.slo_knees[7]; /* 8 replicas, 8 workers: 39, 670, 2700 */
    cr_expect_eq(k->knee_li, 1);
    /* 400 users with 8 workers: 4 replicas (1500) no, 8 replicas (670) yes */
    const struct sweep_min_replicas *m = &fx.analysis.min_replicas[1 * 3 + 1];
    cr_expect_eq(m->wi, 1);
    cr_expect_eq(m->li, 1);
    cr_expect_eq(fx.grid.replicas.values[m->ri], 8);
    cr_expect_not_null(finding(&fx, "slo", "The most load meeting p95<2s is 400 users with 8 "
                                           "replicas and 8 workers"));
    cr_expect_not_null(finding(&fx, "slo", "At 800 users (4 workers) no replica count tried"));
    release(&fx);
}

Test(sweep_analysis, outputs_carry_every_cell)
{
    struct fixture fx;
    build(&fx, true);
    struct sweep_outputs o = {&fx.sweep, &fx.analysis, &fx.findings};
    char *csv = NULL, *json = NULL, *md = NULL;
    size_t len;
    FILE *f = open_memstream(&csv, &len);
    sweep_write_csv(f, &o);
    fclose(f);
    cr_expect(!strncmp(csv, SWEEP_CSV_HEADER "\n", strlen(SWEEP_CSV_HEADER) + 1));
    cr_expect(strstr(csv, "\nr1-w4-u200,done,1,4,200,,47.600,3200.000,4800.000,6400.000,"
                          "0.0000,2856,0,\"inference\",false,1.900,,0,"
                          "cells/r1-w4-u200/report.json,\n"),
              "%s", csv);
    f = open_memstream(&json, &len);
    sweep_write_json(f, &o, false);
    fclose(f);
    cJSON *doc = cJSON_Parse(json);
    cr_assert_not_null(doc);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "cells")), 24);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "analysis"),
                                                        "series")), 26);
    cJSON_Delete(doc);
    f = open_memstream(&md, &len);
    sweep_write_markdown(f, &o);
    fclose(f);
    cr_expect(strstr(md, "| 8 | 8 | 800 | 156.3 | 2700.0 | 4050.0 | 5400.0 | 0.00 | 9378 | "
                         "cpu-contention | **broken** |\n"), "%s", md);
    cr_expect(strstr(md, "#### 8 Workers\n\n| Replicas | 200 Users RPS | 400 Users RPS | 800 Users "
                         "RPS |\n|---|---|---|---|\n| 1 | 47.2 | 50.0 | 40.4 |\n"), "%s", md);
    free(csv);
    free(json);
    free(md);
    release(&fx);
}

Test(sweep_analysis, open_loop_knee_is_the_last_rate_answered)
{
    struct sweep_grid g = {0};
    struct error err;
    sweep_axis_fixed(&g.replicas, "replicas", 1);
    sweep_axis_fixed(&g.workers, "workers", 2);
    cr_assert_eq(sweep_axis_parse(&g.load, "rate", "10,20,40", SWEEP_AXIS_REAL, 1e6, &err), 0);
    g.load_is_rate = true;
    cr_assert_eq(sweep_grid_build(&g, &err), 0);
    cr_expect_str_eq(g.cells[2].name, "rate40");
    struct sweep_cell_result results[3] = {0};
    const double answered[3] = {10, 19.5, 25};
    for (int i = 0; i < 3; i++) {
        results[i].status = SWEEP_CELL_DONE;
        results[i].report.rps = answered[i];
        results[i].report.median_ms = results[i].report.p95_ms = 10.0 * (i + 1);
    }
    struct sweep s = {.grid = &g, .results = results, .id = "x", .started_at = "",
                      .command = "", .target = "", .run_options = ""};
    struct sweep_analysis a;
    struct sweep_findings f;
    cr_assert_eq(sweep_analyse(&s, &a, &err), 0);
    cr_assert_eq(a.n_series, 1);
    cr_expect_eq(a.series[0].at[a.series[0].knee], 20, "19.5 of 20 answered, 25 of 40 not");
    cr_expect(a.series[0].knee_found);
    cr_assert_eq(sweep_findings_build(&s, &a, &f, &err), 0);
    cr_expect(strstr(f.items[0].text, "up to 20 req/s; at 40 req/s it answers 25.0 (62%): its "
                                      "capacity is near 25.0 req/s"), "%s", f.items[0].text);
    sweep_findings_free(&f);
    sweep_analysis_free(&a);
    sweep_grid_free(&g);
}

/* ---- one cell's report document ------------------------------------------------------------ */

/* A 5.07 s run whose one replica is busy the whole time: the timeline has 5 full seconds and a
 * last row holding 0.07 s of CPU. The cell's mean is 1 core, not the rows' mean 0.83. */
Test(sweep_cell_report, target_cores_weighs_the_last_partial_second)
{
    char dir[256], path[300];
    tmpdir_make("cell-report", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/report.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"schema\":1,\"stats\":{\"aggregated\":{\"requests\":500,\"failures\":0}},"
          "\"run\":{\"duration_s\":5.07},\"tracing\":{\"enabled\":true},\"timeline\":[",
          f);
    /* rows are rates over their length: 1 core for 5 s, then 2 cores for the last 0.07 s */
    for (int t = 0; t <= 5; t++)
        fprintf(f,
                "%s{\"t\":%d,\"seconds\":%.2f,\"rps\":100,"
                "\"replicas\":{\"a\":{\"cpu_cores\":%.2f}}}",
                t ? "," : "", t, t < 5 ? 1.0 : 0.07, t < 5 ? 1.0 : 2.0);
    fputs("]}", f);
    fclose(f);
    struct cell_report r;
    struct error err;
    cr_assert_eq(cell_report_read(path, NULL, 0, &r, &err), 0, "%s", err.msg);
    cr_expect(r.traced);
    cr_expect_float_eq(r.target_cores, (5 * 1.0 + 0.07 * 2.0) / 5.07, 1e-9, "target cores %.4f",
                       r.target_cores);
    tmpdir_remove(dir);
}

/* ---- escapers ------------------------------------------------------------------------------- */

static char *escaped(void (*fn)(FILE *, const char *), const char *s)
{
    char *out = NULL;
    size_t len;
    FILE *f = open_memstream(&out, &len);
    fn(f, s);
    fclose(f);
    return out;
}

static void expect_escape(void (*fn)(FILE *, const char *), const char *in, const char *want)
{
    char *got = escaped(fn, in);
    cr_expect_str_eq(got, want, "escaping '%s'", in);
    free(got);
}

Test(sweep_escape, csv_fields_are_quoted_and_inert)
{
    expect_escape(escape_csv, "plain", "\"plain\"");
    expect_escape(escape_csv, "a,b \"c\"", "\"a,b \"\"c\"\"\"");
    expect_escape(escape_csv, "line\nbreak\r", "\"line break \"");
    expect_escape(escape_csv, "=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"");
    expect_escape(escape_csv, "-1+2", "\"'-1+2\"");
    expect_escape(escape_csv, "@cmd", "\"'@cmd\"");
    expect_escape(escape_csv, "bad \xff byte", "\"bad \xEF\xBF\xBD byte\"");
}

Test(sweep_escape, markdown_text_and_code)
{
    expect_escape(escape_markdown, "a|b <img> *x* [l](u) `c` &", "a\\|b &lt;img&gt; \\*x\\* "
                                                                  "\\[l\\](u) \\`c\\` &amp;");
    expect_escape(escape_markdown, "two\nlines", "two lines");
    expect_escape(escape_markdown_code, "run -H x", "`run -H x`");
    expect_escape(escape_markdown_code, "a `b` c", "``a `b` c``");
    expect_escape(escape_markdown_code, "`edge", "`` `edge ``");
    expect_escape(escape_markdown_code, "<b>\n", "`<b> `");
}

Test(sweep_escape, html_text)
{
    expect_escape(escape_html, "<a href=\"x\">'&'</a>",
                  "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect_escape(escape_html, "bell\a", "bell\xEF\xBF\xBD");
}
