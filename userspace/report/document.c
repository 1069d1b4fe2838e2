#include "report/document.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/histogram.h"

#define LOADSCOPE_DOC_VERSION "0.1.0"

static double ms_of(uint64_t ns) { return (double)ns / 1e6; }

/* ---- fragments kept in run_info ------------------------------------------------------------ */

int document_store_fragment(struct store *s, const char *key,
                            void (*fill)(struct json_writer *w, const void *ctx), const void *ctx,
                            struct error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return error_set(err, "out of memory");
    struct json_writer w;
    json_init(&w, mem, false);
    fill(&w, ctx);
    fclose(mem);
    int rc = store_set_info(s, key, buf, err);
    free(buf);
    return rc;
}

/* Writes run_info[key] verbatim as the value of `name`, or null when absent. */
static void fragment(struct json_writer *w, struct store *s, const char *name, const char *key)
{
    json_key(w, name);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), "SELECT value FROM run_info WHERE key = ?", -1, &st,
                           NULL) != SQLITE_OK) {
        json_null(w);
        return;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    const char *v = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = (const char *)sqlite3_column_text(st, 0);
    if (v && *v)
        json_raw(w, v);
    else
        json_null(w);
    sqlite3_finalize(st);
}

static void info_string(struct json_writer *w, struct store *s, const char *name, const char *key)
{
    char buf[4096];
    if (store_get_info(s, key, buf, sizeof(buf)) == 0)
        json_kv_string(w, name, buf);
    else
        json_kv_string(w, name, NULL);
}

/* ---- run ------------------------------------------------------------------------------------ */

static void rows_of(struct json_writer *w, struct store *s, const char *sql,
                    void (*row)(struct json_writer *, sqlite3_stmt *))
{
    json_array_begin(w);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW)
            row(w, st);
        sqlite3_finalize(st);
    }
    json_array_end(w);
}

static void host_row(struct json_writer *w, sqlite3_stmt *st)
{
    json_object_begin(w);
    json_kv_string(w, "url", (const char *)sqlite3_column_text(st, 0));
    json_kv_double(w, "weight", sqlite3_column_double(st, 1));
    json_object_end(w);
}

static void endpoint_row(struct json_writer *w, sqlite3_stmt *st)
{
    json_object_begin(w);
    json_kv_string(w, "method", (const char *)sqlite3_column_text(st, 0));
    json_kv_string(w, "name", (const char *)sqlite3_column_text(st, 1));
    json_kv_string(w, "path", (const char *)sqlite3_column_text(st, 2));
    json_kv_double(w, "weight", sqlite3_column_double(st, 3));
    json_object_end(w);
}

static void run_section(struct json_writer *w, const struct document_inputs *in)
{
    struct store *s = in->store;
    json_key(w, "run");
    json_object_begin(w);
    info_string(w, s, "id", "run_id");
    info_string(w, s, "started_at", "started_at");
    json_kv_double(w, "duration_s", (double)in->duration_ns / 1e9);
    info_string(w, s, "command", "command");
    char buf[64];
    json_kv_bool(w, "interrupted",
                 store_get_info(s, "interrupted", buf, sizeof(buf)) == 0 && atoi(buf) != 0);
    info_string(w, s, "stop_reason", "stop_reason");
    fragment(w, s, "load", DOC_SETTINGS);
    json_key(w, "hosts");
    rows_of(w, s, "SELECT url, weight FROM hosts ORDER BY host", host_row);
    json_key(w, "endpoints");
    rows_of(w, s, "SELECT method, name, path, weight FROM endpoints ORDER BY endpoint",
            endpoint_row);
    json_object_end(w);
}

/* ---- stats ---------------------------------------------------------------------------------- */

static void percentiles(struct json_writer *w, const char *key, const struct histogram *h)
{
    json_key(w, key);
    json_object_begin(w);
    for (int p = 0; p < STATS_PERCENTILE_COUNT; p++) {
        char name[16];
        snprintf(name, sizeof(name), "%g", stats_percentiles[p]);
        json_kv_double(w, name, ms_of(hist_percentile(h, stats_percentiles[p])));
    }
    json_object_end(w);
}

static void phase(struct json_writer *w, const char *key, const struct histogram *h)
{
    json_key(w, key);
    json_object_begin(w);
    json_kv_uint(w, "count", h->count);
    json_kv_double(w, "avg", hist_mean(h) / 1e6);
    json_kv_double(w, "p50", ms_of(hist_percentile(h, 50)));
    json_kv_double(w, "p95", ms_of(hist_percentile(h, 95)));
    json_kv_double(w, "p99", ms_of(hist_percentile(h, 99)));
    json_kv_double(w, "max", ms_of(h->max_ns));
    json_object_end(w);
}

static void entry(struct json_writer *w, const struct document_inputs *in,
                  const struct stats_entry *e)
{
    const struct histogram *lat = &e->latency;
    json_object_begin(w);
    json_kv_string(w, "method", e->method);
    json_kv_string(w, "name", e->name);
    json_kv_uint(w, "requests", e->requests);
    json_kv_uint(w, "failures", e->failures);
    json_kv_double(w, "median_ms", ms_of(hist_percentile(lat, 50)));
    json_kv_double(w, "avg_ms", hist_mean(lat) / 1e6);
    json_kv_double(w, "min_ms", lat->count ? ms_of(lat->min_ns) : 0);
    json_kv_double(w, "max_ms", ms_of(lat->max_ns));
    json_kv_double(w, "avg_content_size_bytes",
                   e->requests ? (double)e->bytes_in / (double)e->requests : 0);
    json_kv_double(w, "rps", stats_rate(e->requests, in->duration_ns));
    json_kv_double(w, "failures_per_s", stats_rate(e->failures, in->duration_ns));
    percentiles(w, "percentiles_ms", lat);
    if (in->stats->open_loop) {
        percentiles(w, "uncorrected_percentiles_ms", &e->uncorrected);
        json_kv_uint(w, "late_sends", e->late);
    }
    json_kv_uint(w, "new_connections", e->new_connections);
    json_key(w, "phases_ms");
    json_object_begin(w);
    phase(w, "connect", &e->connect);
    phase(w, "tls", &e->tls);
    phase(w, "ttfb", &e->ttfb);
    phase(w, "total", &e->total);
    json_object_end(w);
    json_object_end(w);
}

static const char *const failure_kinds[FAILURE_KIND_COUNT] = {
    "none", "connection_refused", "connect", "timeout", "reset", "http_status", "other",
};

static void failures(struct json_writer *w, const struct stats *s)
{
    json_key(w, "failures");
    json_array_begin(w);
    for (size_t i = 0; i < s->failure_count; i++) {
        const struct stats_failure *f = &s->failures[i];
        char msg[256];
        json_object_begin(w);
        json_kv_string(w, "method", s->entries[f->entry].method);
        json_kv_string(w, "name", s->entries[f->entry].name);
        json_kv_string(w, "kind", f->kind < FAILURE_KIND_COUNT ? failure_kinds[f->kind] : "other");
        json_kv_string(w, "error", stats_failure_message(f, msg, sizeof(msg)));
        json_kv_uint(w, "status", f->status);
        json_kv_uint(w, "occurrences", f->occurrences);
        json_kv_double(w, "first_seen_s", ((double)f->first_ns - (double)s->start_ns) / 1e9);
        json_kv_double(w, "last_seen_s", ((double)f->last_ns - (double)s->start_ns) / 1e9);
        json_object_end(w);
    }
    json_array_end(w);
}

static void hosts(struct json_writer *w, const struct stats *s)
{
    const struct stats_entry *agg = stats_aggregated(s);
    json_key(w, "hosts");
    json_array_begin(w);
    for (size_t i = 0; i < s->host_count; i++) {
        const struct stats_host *h = &s->hosts[i];
        json_object_begin(w);
        json_kv_string(w, "url", h->url);
        json_kv_uint(w, "requests", h->requests);
        json_kv_uint(w, "failures", h->failures);
        json_kv_double(w, "share", agg->requests ? (double)h->requests / (double)agg->requests : 0);
        phase(w, "latency_ms", &h->latency);
        json_object_end(w);
    }
    json_array_end(w);
}

static void stats_section(struct json_writer *w, const struct document_inputs *in)
{
    const struct stats *s = in->stats;
    const struct stats_entry *agg = stats_aggregated(s);
    json_key(w, "stats");
    json_object_begin(w);
    json_kv_string(w, "latency_basis", s->open_loop ? "intended" : "start");
    json_key(w, "endpoints");
    json_array_begin(w);
    for (size_t i = 0; i + 1 < s->entry_count; i++)
        entry(w, in, &s->entries[i]);
    json_array_end(w);
    json_key(w, "aggregated");
    entry(w, in, agg);
    failures(w, s);
    hosts(w, s);
    json_key(w, "phases_ms");
    json_object_begin(w);
    phase(w, "connect", &agg->connect);
    phase(w, "tls", &agg->tls);
    phase(w, "ttfb", &agg->ttfb);
    phase(w, "total", &agg->total);
    json_object_end(w);
    json_key(w, "open_loop");
    if (s->open_loop) {
        json_object_begin(w);
        json_kv_uint(w, "late_sends", agg->late);
        json_key(w, "uncorrected");
        json_object_begin(w);
        json_kv_double(w, "p50_ms", ms_of(hist_percentile(&agg->uncorrected, 50)));
        json_kv_double(w, "p95_ms", ms_of(hist_percentile(&agg->uncorrected, 95)));
        json_kv_double(w, "p99_ms", ms_of(hist_percentile(&agg->uncorrected, 99)));
        json_object_end(w);
        phase(w, "send_lag_ms", &agg->send_lag);
        json_object_end(w);
    } else {
        json_null(w);
    }
    json_kv_uint(w, "history_late_records", s->history_late);
    json_object_end(w);
}

/* ---- timeline ------------------------------------------------------------------------------- */

static const struct stats_history_row *aggregated_row(const struct stats *s, int64_t second,
                                                      size_t *cursor)
{
    size_t agg = s->entry_count - 1;
    while (*cursor < s->history_count) {
        const struct stats_history_row *r = &s->history[*cursor];
        if (r->second > second)
            return NULL;
        (*cursor)++;
        if (r->second == second && r->entry == agg)
            return r;
    }
    return NULL;
}

/* len: the second's length (the last one is usually partial); rates are per second of it */
static void replica_second(struct json_writer *w, const struct replica_second *row,
                           const struct replica_info *info, double len)
{
    json_object_begin(w);
    json_kv_double(w, "cpu_cores", row->cpu_cores / len);
    json_kv_double(w, "span_cpu_cores", row->span_cpu_cores / len);
    json_kv_double(w, "runq_ms", row->runq_ms / len);
    json_kv_double(w, "runq_p99_ms", row->runq_p99_ms);
    json_kv_double(w, "accept_wait_ms", row->accept_wait_ms);
    json_kv_double(w, "recv_wait_ms", row->recv_wait_ms);
    json_kv_uint(w, "accept_queue_max", row->accept_queue_max);
    json_kv_uint(w, "requests", row->requests);
    json_kv_double(w, "busy_workers", row->busy_workers / len);
    json_kv_uint(w, "workers", info->workers);
    json_kv_uint(w, "threads", row->threads);
    json_key(w, "offcpu_ms");
    json_object_begin(w);
    for (int r = 0; r < OFF_REASONS; r++)
        json_kv_double(w, off_reason_name((enum off_reason)r), row->offcpu_ms[r]);
    json_object_end(w);
    json_kv_uint(w, "retransmits", row->retransmits);
    json_kv_uint(w, "resets", row->resets);
    json_kv_uint(w, "listen_overflows", row->listen_overflows);
    json_object_end(w);
}

static void timeline_section(struct json_writer *w, const struct document_inputs *in)
{
    const struct stats *s = in->stats;
    const struct analysis *a = in->analysis;
    size_t seconds = (size_t)((in->duration_ns + NS_PER_SEC - 1) / NS_PER_SEC);
    if (a && a->timeline.seconds > seconds)
        seconds = a->timeline.seconds;
    size_t cursor = 0;
    json_key(w, "timeline");
    json_array_begin(w);
    for (size_t t = 0; t < seconds; t++) {
        const struct stats_history_row *h = aggregated_row(s, (int64_t)t, &cursor);
        double len = run_second_length(in->duration_ns, t);
        json_object_begin(w);
        json_kv_uint(w, "t", t);
        json_kv_double(w, "seconds", len);
        json_kv_uint(w, "users", h ? h->users : (a && t < a->timeline.seconds ? a->client[t].users : 0));
        json_kv_double(w, "rps", h ? (double)h->requests / len : 0);
        json_kv_double(w, "failures_per_s", h ? (double)h->failures / len : 0);
        if (h && h->requests) {
            json_kv_double(w, "p50_ms", ms_of(h->pct_ns[0]));
            json_kv_double(w, "p95_ms", ms_of(h->pct_ns[5]));
            json_kv_double(w, "p99_ms", ms_of(h->pct_ns[7]));
        } else {
            json_kv_double(w, "p50_ms", NAN);
            json_kv_double(w, "p95_ms", NAN);
            json_kv_double(w, "p99_ms", NAN);
        }
        const struct generator_second *g =
            a && t < a->timeline.seconds ? &a->timeline.generator[t] : NULL;
        json_kv_double(w, "generator_cpu", g && g->present ? g->busy : NAN);
        json_kv_uint(w, "late_sends", g ? g->late_sends : 0);
        json_key(w, "replicas");
        json_object_begin(w);
        for (unsigned r = 0; a && t < a->timeline.seconds && r < a->timeline.replica_count; r++) {
            const struct replica_second *row = timeline_row(&a->timeline, t, r);
            if (!row->traced)
                continue;
            json_key(w, a->timeline.replicas[r].name);
            replica_second(w, row, &a->timeline.replicas[r], len);
        }
        json_object_end(w);
        json_object_end(w);
    }
    json_array_end(w);
}

/* ---- breakdown ------------------------------------------------------------------------------ */

static void band(struct json_writer *w, const struct breakdown_band *b, const char *label)
{
    json_object_begin(w);
    json_kv_string(w, "label", label);
    json_kv_uint(w, "requests", b->requests);
    json_kv_double(w, "latency_ms", b->latency_ns / 1e6);
    json_key(w, "components_ms");
    json_object_begin(w);
    for (int k = 0; k < COMP_COUNT; k++)
        json_kv_double(w, component_key((enum component)k), b->part_ns[k] / 1e6);
    json_object_end(w);
    json_object_end(w);
}

static void breakdown_section(struct json_writer *w, const struct analysis *a)
{
    json_key(w, "breakdown");
    if (!a || !a->params.traced) {
        json_null(w);
        return;
    }
    const struct join_result *j = &a->join;
    json_object_begin(w);
    json_kv_bool(w, "server_only", a->breakdown.server_only);
    json_kv_double(w, "matched_fraction", join_matched_fraction(j));
    json_kv_uint(w, "matched", join_matched(j));
    json_kv_uint(w, "requests", j->requests);
    json_kv_uint(w, "answered", j->answered);
    json_kv_uint(w, "spans", j->spans);
    json_kv_uint(w, "spans_unmatched", j->spans_unmatched);
    json_kv_uint(w, "spans_skipped", j->spans_skipped);
    json_kv_double(w, "recorded_fraction", join_recorded_fraction(j));
    json_key(w, "by_method");
    json_object_begin(w);
    json_kv_uint(w, "request_id", j->by_request_id);
    json_kv_uint(w, "four_tuple", j->by_four_tuple);
    json_object_end(w);
    json_key(w, "components");
    json_object_begin(w);
    for (int k = 0; k < COMP_COUNT; k++)
        json_kv_string(w, component_key((enum component)k), component_label((enum component)k));
    json_object_end(w);
    json_key(w, "rows");
    json_array_begin(w);
    for (int i = 0; i < BAND_COUNT; i++)
        if (a->breakdown.bands[i].requests)
            band(w, &a->breakdown.bands[i], a->breakdown.bands[i].label);
    json_array_end(w);
    json_key(w, "replicas");
    json_object_begin(w);
    for (unsigned r = 0; r < a->breakdown.replica_count && r < a->timeline.replica_count; r++) {
        if (!a->breakdown.replicas[r].requests)
            continue;
        json_key(w, a->timeline.replicas[r].name);
        band(w, &a->breakdown.replicas[r], "all");
    }
    json_object_end(w);
    json_object_end(w);
}

/* ---- verdict -------------------------------------------------------------------------------- */

static void verdict_object(struct json_writer *w, const struct verdict *v)
{
    json_object_begin(w);
    json_kv_string(w, "primary", verdict_primary(v));
    json_kv_bool(w, "mixed", v->mixed);
    json_kv_string(w, "summary", v->summary);
    json_key(w, "causes");
    json_array_begin(w);
    for (int c = 0; c < CAUSE_COUNT; c++) {
        const struct finding *f = &v->ranked[c];
        if (f->score <= 0)
            continue;
        json_object_begin(w);
        json_kv_string(w, "name", cause_name(f->cause));
        json_kv_double(w, "score", f->score);
        json_kv_string(w, "summary", f->summary);
        json_key(w, "evidence");
        json_array_begin(w);
        for (int e = 0; e < f->evidence_count; e++)
            json_string(w, f->evidence[e]);
        json_array_end(w);
        if (f->onset_s >= 0) {
            json_kv_int(w, "onset_s", f->onset_s);
            json_kv_uint(w, "onset_users", f->onset_users);
        } else {
            json_key(w, "onset_s");
            json_null(w);
            json_key(w, "onset_users");
            json_null(w);
        }
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "recommendations");
    json_array_begin(w);
    for (int r = 0; r < v->recommendation_count; r++)
        json_string(w, v->recommendations[r]);
    json_array_end(w);
    json_object_end(w);
}

static void verdict_section(struct json_writer *w, const struct analysis *a)
{
    json_key(w, "verdict");
    if (!a) {
        json_null(w);
        return;
    }
    json_object_begin(w);
    json_key(w, "run");
    verdict_object(w, &a->run);
    json_key(w, "replicas");
    json_object_begin(w);
    for (unsigned r = 0; r < a->timeline.replica_count; r++) {
        json_key(w, a->timeline.replicas[r].name);
        verdict_object(w, &a->replicas[r]);
    }
    json_object_end(w);
    json_object_end(w);
}

/* ---- replicas and profiles ------------------------------------------------------------------ */

static void replicas_section(struct json_writer *w, const struct document_inputs *in)
{
    const struct analysis *a = in->analysis;
    json_key(w, "replicas");
    json_array_begin(w);
    sqlite3_stmt *st;
    if (a && sqlite3_prepare_v2(store_db(in->store),
                                "SELECT replica, pids FROM replicas ORDER BY replica", -1, &st,
                                NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            int r = sqlite3_column_int(st, 0);
            if (r < 0 || (unsigned)r >= a->timeline.replica_count)
                continue;
            const struct replica_info *ri = &a->timeline.replicas[r];
            json_object_begin(w);
            json_kv_string(w, "name", ri->name);
            json_kv_string(w, "spec", ri->spec);
            json_key(w, "pids");
            json_array_begin(w);
            const char *pids = (const char *)sqlite3_column_text(st, 1);
            for (char *p = (char *)pids, *end; p && *p; p = end) {
                long v = strtol(p, &end, 10);
                if (end == p)
                    break;
                json_int(w, v);
            }
            json_array_end(w);
            json_kv_uint(w, "workers", ri->workers);
            json_kv_double(w, "cores", ri->cores);
            json_kv_uint(w, "spans", ri->spans);
            json_object_end(w);
        }
        sqlite3_finalize(st);
    }
    json_array_end(w);
}

static void profiles_section(struct json_writer *w, const struct document_inputs *in)
{
    const struct analysis *a = in->analysis;
    json_key(w, "profiles");
    json_array_begin(w);
    for (unsigned r = 0; a && r < a->timeline.replica_count; r++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(store_db(in->store),
                               "SELECT stack, count FROM stacks WHERE replica = ?"
                               " ORDER BY count DESC, stack",
                               -1, &st, NULL) != SQLITE_OK)
            break;
        sqlite3_bind_int(st, 1, (int)r);
        uint64_t samples = 0;
        bool any = false;
        while (sqlite3_step(st) == SQLITE_ROW) {
            if (!any) {
                json_object_begin(w);
                json_kv_string(w, "replica", a->timeline.replicas[r].name);
                json_key(w, "folded");
                json_array_begin(w);
                any = true;
            }
            json_array_begin(w);
            json_string(w, (const char *)sqlite3_column_text(st, 0));
            uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
            json_uint(w, n);
            json_array_end(w);
            samples += n;
        }
        sqlite3_finalize(st);
        if (any) {
            json_array_end(w);
            json_kv_uint(w, "samples", samples);
            json_object_end(w);
        }
    }
    json_array_end(w);
}

/* ---- thresholds ----------------------------------------------------------------------------- */

static void thresholds_section(struct json_writer *w, const struct document_inputs *in)
{
    json_key(w, "thresholds");
    json_array_begin(w);
    for (size_t i = 0; i < in->threshold_count; i++) {
        const struct threshold *t = &in->thresholds[i];
        const struct threshold_result *res = &in->threshold_results[i];
        bool latency = t->metric != TH_FAIL && t->metric != TH_RPS;
        char shown[64];
        threshold_format_value(t, res->value, shown, sizeof(shown));
        json_object_begin(w);
        json_kv_string(w, "expr", t->text);
        json_kv_string(w, "endpoint", t->endpoint[0] ? t->endpoint : "Aggregated");
        json_kv_bool(w, "ok", res->passed);
        json_kv_bool(w, "no_data", res->no_data);
        json_kv_double(w, "value", latency ? res->value / 1e6 : t->metric == TH_FAIL
                                                                     ? res->value * 100
                                                                     : res->value);
        json_kv_string(w, "unit", latency ? "ms" : t->metric == TH_FAIL ? "%" : "req/s");
        json_kv_string(w, "shown", shown);
        json_object_end(w);
    }
    json_array_end(w);
}

/* Rows the run store could not keep (its writer fell behind): the stored tables and every
 * report built from them undercount by this much. */
static void store_losses_section(struct json_writer *w, struct store *s)
{
    struct store_loss losses[8];
    size_t n = store_recorded_losses(s, losses, 8);
    json_key(w, "store_losses");
    json_object_begin(w);
    for (size_t i = 0; i < n; i++)
        json_kv_uint(w, losses[i].stream, losses[i].count);
    json_object_end(w);
}

/* ---- the document --------------------------------------------------------------------------- */

int document_write(FILE *out, const struct document_inputs *in, struct error *err)
{
    struct json_writer w;
    json_init(&w, out, true);
    json_object_begin(&w);
    json_kv_int(&w, "schema", DOCUMENT_SCHEMA);
    json_kv_string(&w, "loadscope_version", LOADSCOPE_DOC_VERSION);
    run_section(&w, in);
    fragment(&w, in->store, "environment", DOC_ENVIRONMENT);
    stats_section(&w, in);
    timeline_section(&w, in);
    breakdown_section(&w, in->analysis);
    verdict_section(&w, in->analysis);
    replicas_section(&w, in);
    profiles_section(&w, in);
    fragment(&w, in->store, "tracing", DOC_TRACING);
    store_losses_section(&w, in->store);
    thresholds_section(&w, in);
    fragment(&w, in->store, "self_check", DOC_SELF_CHECK);
    json_object_end(&w);
    if (ferror(out))
        return error_set(err, "cannot write the report document: %s", strerror(errno));
    return 0;
}

int document_to_string(const struct document_inputs *in, char **out, size_t *len,
                       struct error *err)
{
    *out = NULL;
    *len = 0;
    FILE *mem = open_memstream(out, len);
    if (!mem)
        return error_set(err, "out of memory");
    int rc = document_write(mem, in, err);
    fclose(mem);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
