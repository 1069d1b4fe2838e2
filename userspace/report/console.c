#include "report/console.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

int console_progress_init(struct console_progress *p, const struct stats *s, uint64_t now_ns)
{
    p->entry_count = s->entry_count;
    p->prev_requests = calloc(s->entry_count, sizeof(uint64_t));
    p->prev_failures = calloc(s->entry_count, sizeof(uint64_t));
    p->prev_ns = now_ns;
    return p->prev_requests && p->prev_failures ? 0 : -1;
}

void console_progress_free(struct console_progress *p)
{
    free(p->prev_requests);
    free(p->prev_failures);
    memset(p, 0, sizeof(*p));
}

static int name_width(const struct stats *s)
{
    int w = 24;
    for (size_t i = 0; i < s->entry_count; i++) {
        int n = (int)strlen(s->entries[i].name);
        if (n > w)
            w = n;
    }
    return w > 60 ? 60 : w;
}

static void rule(FILE *out, int width, const char *pattern)
{
    fprintf(out, "--------|");
    for (int i = 0; i < width; i++)
        fputc('-', out);
    fprintf(out, "%s\n", pattern);
}

static void main_header(FILE *out, int nw)
{
    fprintf(out, "%-8s %-*s %9s %14s | %8s %8s %8s %8s | %9s %11s\n", "Type", nw, "Name", "# reqs",
            "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s");
    rule(out, nw, "|----------|---------------|---------|---------|---------|---------|----------|-----------");
}

static void main_row(FILE *out, int nw, const struct stats_entry *e, double rps, double fps)
{
    char fails[32];
    snprintf(fails, sizeof(fails), "%" PRIu64 "(%.2f%%)", e->failures,
             e->requests ? 100.0 * (double)e->failures / (double)e->requests : 0.0);
    fprintf(out, "%-8s %-*.*s %9" PRIu64 " %14s | %8.2f %8.2f %8.2f %8.2f | %9.2f %11.2f\n",
            e->method, nw, nw, e->name, e->requests, fails, hist_mean(&e->latency) / 1e6,
            e->requests ? stats_ms(e->latency.min_ns) : 0.0, stats_ms(e->latency.max_ns),
            stats_ms(hist_percentile(&e->latency, 50)), rps, fps);
}

void console_print_progress(FILE *out, struct console_progress *p, const struct stats *s,
                            uint64_t now_ns, const char *status_line)
{
    int nw = name_width(s);
    uint64_t dt = now_ns > p->prev_ns ? now_ns - p->prev_ns : 1;
    fprintf(out, "\n%s\n", status_line);
    main_header(out, nw);
    for (size_t i = 0; i < s->entry_count; i++) {
        const struct stats_entry *e = &s->entries[i];
        double rps = stats_rate(e->requests - p->prev_requests[i], dt);
        double fps = stats_rate(e->failures - p->prev_failures[i], dt);
        if (i + 1 == s->entry_count)
            rule(out, nw, "|----------|---------------|---------|---------|---------|---------|----------|-----------");
        if (e->requests || i + 1 == s->entry_count)
            main_row(out, nw, e, rps, fps);
        p->prev_requests[i] = e->requests;
        p->prev_failures[i] = e->failures;
    }
    p->prev_ns = now_ns;
    fflush(out);
}

static void percentile_table(FILE *out, int nw, const struct stats *s, int which,
                             const char *title)
{
    fprintf(out, "\n%s\n%-8s %-*s", title, "Type", nw, "Name");
    for (int k = 0; k < STATS_PERCENTILE_COUNT; k++) {
        char h[16];
        snprintf(h, sizeof(h), "%g%%", stats_percentiles[k]);
        fprintf(out, " %8s", h);
    }
    fprintf(out, " %9s\n", "# reqs");
    rule(out, nw, "|--------------------------------------------------------------------------------------------------");
    for (size_t i = 0; i < s->entry_count; i++) {
        const struct stats_entry *e = &s->entries[i];
        const struct histogram *h = which == 0 ? &e->latency : &e->uncorrected;
        if (i + 1 == s->entry_count)
            rule(out, nw, "|--------------------------------------------------------------------------------------------------");
        fprintf(out, "%-8s %-*.*s", e->method, nw, nw, e->name);
        for (int k = 0; k < STATS_PERCENTILE_COUNT; k++)
            fprintf(out, " %8.2f", stats_ms(hist_percentile(h, stats_percentiles[k])));
        fprintf(out, " %9" PRIu64 "\n", e->requests);
    }
}

static void phases(FILE *out, const struct stats_entry *agg)
{
    const struct {
        const char *name;
        const struct histogram *h;
    } rows[] = {{"connect (new connections)", &agg->connect},
                {"TLS handshake done", &agg->tls},
                {"time to first byte", &agg->ttfb},
                {"total (libcurl)", &agg->total}};
    fprintf(out, "\nPhases, all endpoints (ms, from the request start)\n%-28s %9s %9s %9s %9s %9s %9s\n",
            "phase", "count", "avg", "p50", "p95", "p99", "max");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct histogram *h = rows[i].h;
        if (!h->count)
            continue;
        fprintf(out, "%-28s %9" PRIu64 " %9.3f %9.3f %9.3f %9.3f %9.3f\n", rows[i].name, h->count,
                hist_mean(h) / 1e6, stats_ms(hist_percentile(h, 50)),
                stats_ms(hist_percentile(h, 95)), stats_ms(hist_percentile(h, 99)),
                stats_ms(h->max_ns));
    }
}

static void failures(FILE *out, const struct stats *s)
{
    if (!s->failure_count)
        return;
    fprintf(out, "\nError report\n%-18s %s\n", "# occurrences", "Error");
    fprintf(out, "------------------|----------------------------------------------------------------\n");
    for (size_t i = 0; i < s->failure_count; i++) {
        const struct stats_failure *f = &s->failures[i];
        char msg[256];
        fprintf(out, "%18" PRIu64 " %s %s: %s (first %.1fs, last %.1fs)\n", f->occurrences,
                s->entries[f->entry].method, s->entries[f->entry].name,
                stats_failure_message(f, msg, sizeof(msg)),
                ((double)f->first_ns - (double)s->start_ns) / 1e9,
                ((double)f->last_ns - (double)s->start_ns) / 1e9);
    }
}

static void thresholds(FILE *out, const struct run_result *r)
{
    if (!r->threshold_count)
        return;
    fprintf(out, "\nThresholds\n");
    for (size_t i = 0; i < r->threshold_count; i++) {
        const struct threshold *t = &r->thresholds[i];
        char value[64];
        threshold_format_value(t, r->threshold_results[i].value, value, sizeof(value));
        fprintf(out, "  %-6s %-40s (measured %s)\n", r->threshold_results[i].passed ? "ok" : "BROKEN",
                t->text, value);
    }
}

void console_print_summary(FILE *out, const struct run_result *r)
{
    const struct stats *s = r->stats;
    int nw = name_width(s);
    fprintf(out, "\nloadscope: %s model, %.1f s, stopped by %s%s\n",
            s->open_loop ? "open" : "closed", (double)r->duration_ns / 1e9,
            r->stop_reason ? r->stop_reason : "?",
            s->open_loop ? "; latency measured from the intended send time "
                           "(coordinated-omission corrected)" : "");
    main_header(out, nw);
    for (size_t i = 0; i < s->entry_count; i++) {
        const struct stats_entry *e = &s->entries[i];
        if (i + 1 == s->entry_count)
            rule(out, nw, "|----------|---------------|---------|---------|---------|---------|----------|-----------");
        main_row(out, nw, e, stats_rate(e->requests, r->duration_ns),
                 stats_rate(e->failures, r->duration_ns));
    }
    percentile_table(out, nw, s, 0,
                     s->open_loop ? "Response time percentiles (ms, corrected: from the intended send time)"
                                  : "Response time percentiles (ms)");
    if (s->open_loop)
        percentile_table(out, nw, s, 1, "Uncorrected percentiles (ms, from the actual send)");
    phases(out, stats_aggregated(s));
    failures(out, s);
    if (s->host_count > 1) {
        fprintf(out, "\nHosts\n");
        for (size_t i = 0; i < s->host_count; i++)
            fprintf(out, "  %-40s %9" PRIu64 " requests %9" PRIu64 " failures  p50 %.2f ms\n",
                    s->hosts[i].url, s->hosts[i].requests, s->hosts[i].failures,
                    stats_ms(hist_percentile(&s->hosts[i].latency, 50)));
    }
    if (s->open_loop)
        fprintf(out, "\nlate sends (> 1 ms after their intended time): %" PRIu64 " of %" PRIu64 "\n",
                stats_aggregated(s)->late, stats_aggregated(s)->requests);
    if (r->aborted)
        fprintf(out, "\n%" PRIu64 " requests in flight at the stop were aborted (not counted as "
                     "failures)\n", r->aborted);
    if (s->history_late)
        fprintf(out, "%" PRIu64 " records arrived after their second was written to the history\n",
                s->history_late);
    thresholds(out, r);
    if (r->selfcheck) {
        char lines[2][256];
        int n = selfcheck_warnings(r->selfcheck, lines);
        fprintf(out, "\nGenerator self-check: busiest engine thread %.0f%% CPU, %.2f cores in all%s\n",
                r->selfcheck->max_thread_busy * 100, r->selfcheck->process_cores,
                n ? "" : ": ok");
        for (int i = 0; i < n; i++)
            fprintf(out, "  WARNING: %s\n", lines[i]);
    }
    fflush(out);
}
