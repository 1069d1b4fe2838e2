#include "report/locust_csv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

const char locust_csv_stats_header[] =
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";
const char locust_csv_history_header[] =
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size";
const char locust_csv_failures_header[] = "Method,Name,Error,Occurrences,First Seen,Last Seen";

/* A CSV field, quoted only when it must be (Python's csv.QUOTE_MINIMAL, as Locust writes). */
static void field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* A number without rounding noise: up to 6 decimals (ns resolution for ms), trailing zeros
 * dropped. */
static void number(FILE *out, double v)
{
    if (!isfinite(v)) {
        fputs("0", out);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%.6f", v);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = 0;
        if (end == dot)
            *end = 0;
    }
    fputs(buf, out);
}

static void ms(FILE *out, uint64_t ns)
{
    number(out, stats_ms(ns));
}

static void percentiles(FILE *out, const struct histogram *h, uint64_t count)
{
    for (int p = 0; p < STATS_PERCENTILE_COUNT; p++) {
        fputc(',', out);
        if (count)
            ms(out, hist_percentile(h, stats_percentiles[p]));
        else
            fputs("N/A", out);
    }
}

void locust_csv_write_stats(FILE *out, const struct run_result *r)
{
    const struct stats *s = r->stats;
    fprintf(out, "%s\n", locust_csv_stats_header);
    for (size_t i = 0; i < s->entry_count; i++) {
        const struct stats_entry *e = &s->entries[i];
        field(out, e->method);
        fputc(',', out);
        field(out, e->name);
        fprintf(out, ",%" PRIu64 ",%" PRIu64 ",", e->requests, e->failures);
        ms(out, e->requests ? hist_percentile(&e->latency, 50) : 0);
        fputc(',', out);
        number(out, hist_mean(&e->latency) / 1e6);
        fputc(',', out);
        ms(out, e->requests ? e->latency.min_ns : 0);
        fputc(',', out);
        ms(out, e->latency.max_ns);
        fputc(',', out);
        number(out, e->requests ? (double)e->bytes_in / (double)e->requests : 0);
        fputc(',', out);
        number(out, stats_rate(e->requests, r->duration_ns));
        fputc(',', out);
        number(out, stats_rate(e->failures, r->duration_ns));
        percentiles(out, &e->latency, e->requests);
        fputc('\n', out);
    }
}

void locust_csv_write_history(FILE *out, const struct run_result *r)
{
    const struct stats *s = r->stats;
    fprintf(out, "%s\n", locust_csv_history_header);
    for (size_t i = 0; i < s->history_count; i++) {
        const struct stats_history_row *row = &s->history[i];
        const struct stats_entry *e = &s->entries[row->entry];
        fprintf(out, "%lld,%u,", (long long)floor(s->start_wall + (double)row->second + 1),
                row->users);
        field(out, e->method);
        fputc(',', out);
        field(out, e->name);
        fprintf(out, ",%" PRIu64 ",%" PRIu64, row->requests, row->failures);
        for (int p = 0; p < STATS_PERCENTILE_COUNT; p++) {
            fputc(',', out);
            if (row->requests)
                ms(out, row->pct_ns[p]);
            else
                fputs("N/A", out);
        }
        fprintf(out, ",%" PRIu64 ",%" PRIu64 ",", row->total_requests, row->total_failures);
        ms(out, row->total_median_ns);
        fputc(',', out);
        number(out, row->total_avg_ns / 1e6);
        fputc(',', out);
        ms(out, row->total_min_ns);
        fputc(',', out);
        ms(out, row->total_max_ns);
        fputc(',', out);
        number(out, row->total_requests ? (double)row->total_bytes / (double)row->total_requests : 0);
        fputc('\n', out);
    }
}

void locust_csv_write_failures(FILE *out, const struct run_result *r)
{
    const struct stats *s = r->stats;
    fprintf(out, "%s\n", locust_csv_failures_header);
    for (size_t i = 0; i < s->failure_count; i++) {
        const struct stats_failure *f = &s->failures[i];
        const struct stats_entry *e = &s->entries[f->entry];
        char msg[256];
        field(out, e->method);
        fputc(',', out);
        field(out, e->name);
        fputc(',', out);
        field(out, stats_failure_message(f, msg, sizeof(msg)));
        fprintf(out, ",%" PRIu64 ",", f->occurrences);
        double first = s->start_wall + ((double)f->first_ns - (double)s->start_ns) / 1e9;
        double last = s->start_wall + ((double)f->last_ns - (double)s->start_ns) / 1e9;
        fprintf(out, "%.3f,%.3f\n", first, last);
    }
}

static int write_one(const char *prefix, const char *suffix,
                     void (*fn)(FILE *, const struct run_result *), const struct run_result *r,
                     struct error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s", prefix, suffix);
    FILE *f = fopen(path, "w");
    if (!f)
        return error_set(err, "cannot write '%s': %s", path, strerror(errno));
    fn(f, r);
    if (fclose(f) != 0)
        return error_set(err, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}

int locust_csv_write(const char *prefix, const struct run_result *r, struct error *err)
{
    if (write_one(prefix, "_stats.csv", locust_csv_write_stats, r, err) < 0 ||
        write_one(prefix, "_stats_history.csv", locust_csv_write_history, r, err) < 0 ||
        write_one(prefix, "_failures.csv", locust_csv_write_failures, r, err) < 0)
        return -1;
    return 0;
}
