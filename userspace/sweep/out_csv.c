/* matrix.csv (columns documented in sweep/outputs.h) and the writing of every output. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/escape.h"
#include "sweep/outputs.h"

double sweep_cell_users(const struct sweep *s, size_t cell)
{
    const struct sweep_cell_result *r = &s->results[cell];
    if (s->grid->load.varied)
        return s->grid->load_is_rate ? NAN : s->grid->cells[cell].load;
    return r->status == SWEEP_CELL_DONE && !s->grid->load_is_rate ? r->report.users : NAN;
}

double sweep_cell_rate(const struct sweep *s, size_t cell)
{
    const struct sweep_cell_result *r = &s->results[cell];
    if (s->grid->load.varied)
        return s->grid->load_is_rate ? s->grid->cells[cell].load : NAN;
    return r->status == SWEEP_CELL_DONE ? r->report.rate : NAN;
}

static void number(FILE *out, double v, const char *fmt)
{
    fputc(',', out);
    if (!isnan(v))
        fprintf(out, fmt, v);
}

static void count(FILE *out, int v)
{
    fputc(',', out);
    if (v > 0)
        fprintf(out, "%d", v);
}

void sweep_write_csv(FILE *out, const struct sweep_outputs *o)
{
    const struct sweep *s = o->sweep;
    fputs(SWEEP_CSV_HEADER "\n", out);
    for (size_t i = 0; i < s->grid->n_cells; i++) {
        const struct sweep_cell *c = &s->grid->cells[i];
        const struct sweep_cell_result *r = &s->results[i];
        bool done = r->status == SWEEP_CELL_DONE;
        const struct cell_report *p = &r->report;
        fprintf(out, "%s,%s", c->name, sweep_cell_status_name(r->status));
        count(out, c->replicas);
        count(out, c->workers);
        number(out, sweep_cell_users(s, i), "%.17g");
        number(out, sweep_cell_rate(s, i), "%.17g");
        number(out, done ? p->rps : NAN, "%.3f");
        number(out, done ? p->median_ms : NAN, "%.3f");
        number(out, done ? p->p95_ms : NAN, "%.3f");
        number(out, done ? p->p99_ms : NAN, "%.3f");
        number(out, done ? p->failures_pct : NAN, "%.4f");
        number(out, done ? (double)p->requests : NAN, "%.0f");
        number(out, done ? (double)p->failures : NAN, "%.0f");
        fputc(',', out);
        if (done)
            escape_csv(out, p->verdict);
        fprintf(out, ",%s", done && s->n_slos ? (p->slo_ok ? "true" : "false") : "");
        number(out, r->host_busy_cores, "%.3f");
        number(out, r->other_cores, "%.3f");
        fputc(',', out);
        if (r->exit_code >= 0)
            fprintf(out, "%d", r->exit_code);
        fprintf(out, ",%s%s%s,", done ? "cells/" : "", done ? c->name : "",
                done ? "/report.json" : "");
        if (r->error[0])
            escape_csv(out, r->error);
        fputc('\n', out);
    }
}

/* Writes one output through a temporary file renamed into place: a reader (or a sweep
 * killed mid-write) never sees half a file. */
static int write_file(const char *dir, const char *name, const struct sweep_outputs *o,
                      int (*writer)(FILE *, const struct sweep_outputs *, struct error *),
                      struct error *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return error_set(err, "cannot create %s: %s", tmp, strerror(errno));
    int rc = writer(f, o, err);
    if (fflush(f) != 0 || ferror(f))
        rc = rc ? rc : error_set(err, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = error_set(err, "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = error_set(err, "cannot create %s: %s", path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static int csv_writer(FILE *f, const struct sweep_outputs *o, struct error *err)
{
    (void)err;
    sweep_write_csv(f, o);
    return 0;
}

static int json_writer(FILE *f, const struct sweep_outputs *o, struct error *err)
{
    (void)err;
    sweep_write_json(f, o, true);
    return 0;
}

static int markdown_writer(FILE *f, const struct sweep_outputs *o, struct error *err)
{
    (void)err;
    sweep_write_markdown(f, o);
    return 0;
}

int sweep_write_all(const char *dir, const struct sweep_outputs *o, struct error *err)
{
    if (write_file(dir, "matrix.csv", o, csv_writer, err) < 0 ||
        write_file(dir, "sweep.json", o, json_writer, err) < 0 ||
        write_file(dir, "sweep.md", o, markdown_writer, err) < 0 ||
        write_file(dir, "sweep.html", o, sweep_write_html, err) < 0)
        return -1;
    return 0;
}
