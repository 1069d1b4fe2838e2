#include "cli/outputs.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/document.h"
#include "report/flamegraph.h"
#include "report/html.h"
#include "report/locust_csv.h"
#include "report/markdown.h"
#include "report/perfetto.h"

/* Remembers the first error; later ones are dropped (each output is still attempted). */
struct outcome {
    struct error *err;
    int rc;
    FILE *log;
};

static void done(struct outcome *o, int rc, const struct error *e, const char *what)
{
    if (rc == 0) {
        if (o->log && what)
            fprintf(o->log, "  %s\n", what);
        return;
    }
    if (o->rc == 0 && o->err)
        *o->err = *e;
    o->rc = -1;
}

static void write_csv(struct outcome *o, const char *prefix, const struct run_result *res)
{
    struct error e;
    char what[PATH_MAX + 64];
    snprintf(what, sizeof(what), "%s_{stats,stats_history,failures}.csv", prefix);
    done(o, locust_csv_write(prefix, res, &e), &e, what);
}

static void write_text(struct outcome *o, const char *path, const char *text, size_t len)
{
    struct error e;
    FILE *f = fopen(path, "w");
    if (!f) {
        error_set(&e, "cannot write '%s': %s", path, strerror(errno));
        done(o, -1, &e, NULL);
        return;
    }
    fwrite(text, 1, len, f);
    if (fclose(f) != 0) {
        error_set(&e, "cannot write '%s': %s", path, strerror(errno));
        done(o, -1, &e, NULL);
        return;
    }
    done(o, 0, NULL, path);
}

static void write_html(struct outcome *o, const char *path, const char *doc, size_t len)
{
    struct error e;
    done(o, html_report_write(path, doc, len, &e), &e, path);
}

static void write_markdown(struct outcome *o, const char *path, const char *doc, size_t len)
{
    struct error e;
    done(o, markdown_report_write(path, doc, len, &e), &e, path);
}

static void write_perfetto(struct outcome *o, const char *path, const struct stored_run *run)
{
    struct error e;
    done(o, perfetto_write_file(path, run->store, run->analysed ? &run->analysis : NULL, &e), &e,
         path);
}

/* profiles/<replica>.folded and .svg for each replica that has stack samples. */
static void write_profiles(struct outcome *o, const struct stored_run *run, const char *dir)
{
    if (!run->analysed)
        return;
    const struct timeline *tl = &run->analysis.timeline;
    for (unsigned r = 0; r < tl->replica_count; r++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(store_db(run->store),
                               "SELECT stack, count FROM stacks WHERE replica = ?"
                               " ORDER BY count DESC, stack",
                               -1, &st, NULL) != SQLITE_OK)
            return;
        sqlite3_bind_int(st, 1, (int)r);
        size_t n = 0, cap = 0;
        struct folded_stack *stacks = NULL;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                struct folded_stack *more = realloc(stacks, cap * sizeof(*more));
                if (!more)
                    break;
                stacks = more;
            }
            stacks[n].stack = strdup((const char *)sqlite3_column_text(st, 0));
            stacks[n].count = (uint64_t)sqlite3_column_int64(st, 1);
            if (stacks[n].stack)
                n++;
        }
        sqlite3_finalize(st);
        if (n) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/profiles", dir);
            mkdir(path, 0755);
            struct error e;
            snprintf(path, sizeof(path), "%s/profiles/%s.folded", dir, tl->replicas[r].name);
            FILE *f = fopen(path, "w");
            int rc = f ? flamegraph_folded_write(f, stacks, n, &e)
                       : error_set(&e, "cannot write '%s': %s", path, strerror(errno));
            if (f && fclose(f) != 0 && rc == 0)
                rc = error_set(&e, "cannot write '%s': %s", path, strerror(errno));
            done(o, rc, &e, path);
            snprintf(path, sizeof(path), "%s/profiles/%s.svg", dir, tl->replicas[r].name);
            char title[160];
            snprintf(title, sizeof(title), "CPU flame graph: %s", tl->replicas[r].name);
            f = fopen(path, "w");
            rc = f ? flamegraph_svg_write(f, title, stacks, n, NULL, &e)
                   : error_set(&e, "cannot write '%s': %s", path, strerror(errno));
            if (f && fclose(f) != 0 && rc == 0)
                rc = error_set(&e, "cannot write '%s': %s", path, strerror(errno));
            done(o, rc, &e, path);
        }
        for (size_t i = 0; i < n; i++)
            free((char *)stacks[i].stack);
        free(stacks);
    }
}

int outputs_write_all(const struct stored_run *run, const struct run_result *res,
                      const struct output_paths *extra, FILE *log, struct error *err)
{
    struct outcome o = {err, 0, log};
    const char *dir = store_dir(run->store);
    struct document_inputs in = {
        .store = run->store,
        .stats = run->stats,
        .duration_ns = run->duration_ns,
        .thresholds = run->thresholds,
        .threshold_results = run->threshold_results,
        .threshold_count = run->threshold_count,
        .analysis = run->analysed ? &run->analysis : NULL,
    };
    char *doc = NULL;
    size_t len = 0;
    struct error e;
    if (document_to_string(&in, &doc, &len, &e) != 0) {
        done(&o, -1, &e, NULL);
        return -1;
    }
    char path[PATH_MAX];
    if (log)
        fprintf(log, "Outputs:\n");
#define IN_DIR(name) (snprintf(path, sizeof(path), "%s/%s", dir, name), path)
    write_text(&o, IN_DIR("report.json"), doc, len);
    write_html(&o, IN_DIR("report.html"), doc, len);
    write_markdown(&o, IN_DIR("report.md"), doc, len);
    write_csv(&o, IN_DIR("stats"), res);
    write_perfetto(&o, IN_DIR("trace.json"), run);
    write_profiles(&o, run, dir);
#undef IN_DIR
    if (extra->csv_prefix)
        write_csv(&o, extra->csv_prefix, res);
    if (extra->json)
        write_text(&o, extra->json, doc, len);
    if (extra->html)
        write_html(&o, extra->html, doc, len);
    if (extra->markdown)
        write_markdown(&o, extra->markdown, doc, len);
    if (extra->trace_out)
        write_perfetto(&o, extra->trace_out, run);
    free(doc);
    return o.rc;
}

/* Rows the store's writer could not keep up with: counted, said, never silent. */
static void print_store_losses(FILE *out, struct store *store)
{
    struct store_loss losses[8];
    size_t n = store_recorded_losses(store, losses, 8);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!losses[i].count)
            continue;
        fprintf(out, "%s%llu %s", any ? ", " : "  Not stored (the store's writer fell behind): ",
                (unsigned long long)losses[i].count, losses[i].stream);
        any = true;
    }
    if (any)
        fputs(" rows; the stored tables and these reports undercount\n", out);
}

static void print_analysis(FILE *out, const struct stored_run *run)
{
    if (!run->analysed) {
        fprintf(out, "\nVerdict: none (%s)\n", run->analysis_error);
        return;
    }
    const struct analysis *a = &run->analysis;
    const struct verdict *v = &a->run;
    fprintf(out, "\nVerdict: %s\n  %s\n", verdict_primary(v), v->summary);
    for (int c = 0; c < CAUSE_COUNT; c++) {
        const struct finding *f = &v->ranked[c];
        if (f->score < 0.25)
            break;
        fprintf(out, "  [%s %.2f]", cause_name(f->cause), f->score);
        if (f->onset_s >= 0)
            fprintf(out, " from t=%lld s (%u users)", (long long)f->onset_s, f->onset_users);
        fputc('\n', out);
        for (int e = 0; e < f->evidence_count; e++)
            fprintf(out, "    - %s\n", f->evidence[e]);
    }
    for (int r = 0; r < v->recommendation_count; r++)
        fprintf(out, "  -> %s\n", v->recommendations[r]);
    if (a->params.traced) {
        if (a->breakdown.server_only)
            fprintf(out, "  Server side: %llu spans (no client requests to join: the server's "
                         "own view)",
                    (unsigned long long)a->join.spans);
        else {
            fprintf(out, "  Server side: %llu spans, ", (unsigned long long)a->join.spans);
            if (a->join.spans_skipped)
                fprintf(out, "a random %.2g%% of the requests (above --span-rate); %.1f%% of "
                             "them matched",
                        100 * join_recorded_fraction(&a->join),
                        100 * join_matched_fraction(&a->join));
            else
                fprintf(out, "%.1f%% of answered requests matched",
                        100 * join_matched_fraction(&a->join));
            fprintf(out, " (%llu by X-Request-Id, %llu by 4-tuple)",
                    (unsigned long long)a->join.by_request_id,
                    (unsigned long long)a->join.by_four_tuple);
        }
        uint64_t lost = a->timeline.lost_spans + a->timeline.lost_heads + a->timeline.lost_other;
        if (lost)
            fprintf(out, "; %llu tracer events lost (ring buffer or maps full)",
                    (unsigned long long)lost);
        fputc('\n', out);
        for (unsigned r = 0; r < a->timeline.replica_count && a->timeline.replica_count > 1; r++)
            fprintf(out, "  %s: %s\n", a->timeline.replicas[r].name, a->replicas[r].summary);
    }
}

void outputs_print_verdict(FILE *out, const struct stored_run *run)
{
    print_analysis(out, run);
    print_store_losses(out, run->store);
}
