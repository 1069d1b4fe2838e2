#include "report/summary_json.h"

#include <errno.h>
#include <string.h>

#include "common/clock.h"
#include "common/json_writer.h"

static const char *kind_names[FAILURE_KIND_COUNT] = {
    "none", "connection_refused", "connect", "timeout", "reset", "http_status", "other",
};

static void latency_object(struct json_writer *w, const char *key, const struct histogram *h)
{
    json_key(w, key);
    json_object_begin(w);
    json_kv_uint(w, "count", h->count);
    json_kv_double(w, "avg", hist_mean(h) / 1e6);
    json_kv_double(w, "min", h->count ? stats_ms(h->min_ns) : 0);
    json_kv_double(w, "max", stats_ms(h->max_ns));
    json_kv_double(w, "median", stats_ms(hist_percentile(h, 50)));
    for (int p = 0; p < STATS_PERCENTILE_COUNT; p++) {
        char name[16];
        snprintf(name, sizeof(name), "p%g", stats_percentiles[p]);
        json_kv_double(w, name, stats_ms(hist_percentile(h, stats_percentiles[p])));
    }
    json_object_end(w);
}

static void phase_object(struct json_writer *w, const char *key, const struct histogram *h)
{
    json_key(w, key);
    json_object_begin(w);
    json_kv_uint(w, "count", h->count);
    json_kv_double(w, "avg", hist_mean(h) / 1e6);
    json_kv_double(w, "p50", stats_ms(hist_percentile(h, 50)));
    json_kv_double(w, "p95", stats_ms(hist_percentile(h, 95)));
    json_kv_double(w, "p99", stats_ms(hist_percentile(h, 99)));
    json_kv_double(w, "max", stats_ms(h->max_ns));
    json_object_end(w);
}

static void entry_object(struct json_writer *w, const struct run_result *r,
                         const struct stats_entry *e)
{
    json_object_begin(w);
    json_kv_string(w, "method", e->method);
    json_kv_string(w, "name", e->name);
    json_kv_uint(w, "requests", e->requests);
    json_kv_uint(w, "failures", e->failures);
    json_kv_double(w, "failure_ratio", e->requests ? (double)e->failures / (double)e->requests : 0);
    json_kv_double(w, "rps", stats_rate(e->requests, r->duration_ns));
    json_kv_double(w, "failures_per_s", stats_rate(e->failures, r->duration_ns));
    json_kv_double(w, "avg_content_size", e->requests ? (double)e->bytes_in / (double)e->requests : 0);
    latency_object(w, "latency_ms", &e->latency);
    if (r->stats->open_loop) {
        latency_object(w, "uncorrected_latency_ms", &e->uncorrected);
        json_kv_uint(w, "late_sends", e->late);
        latency_object(w, "send_lag_ms", &e->send_lag);
    }
    json_kv_uint(w, "new_connections", e->new_connections);
    json_key(w, "phases_ms");
    json_object_begin(w);
    phase_object(w, "connect", &e->connect);
    phase_object(w, "tls", &e->tls);
    phase_object(w, "ttfb", &e->ttfb);
    phase_object(w, "total", &e->total);
    json_object_end(w);
    json_object_end(w);
}

static void settings_object(struct json_writer *w, const struct scenario *sc)
{
    json_key(w, "settings");
    json_object_begin(w);
    if (sc->open_loop) {
        json_kv_double(w, "rate", sc->rate);
        json_kv_uint(w, "connections", sc->connections);
    } else {
        json_kv_uint(w, "users", sc->users);
        json_kv_double(w, "spawn_rate", sc->spawn_rate);
        const char *kinds[] = {"none", "constant", "between"};
        json_key(w, "wait");
        json_object_begin(w);
        json_kv_string(w, "kind", kinds[sc->wait.kind]);
        json_kv_double(w, "min_s", (double)sc->wait.min_ns / 1e9);
        json_kv_double(w, "max_s", (double)sc->wait.max_ns / 1e9);
        json_object_end(w);
    }
    json_key(w, "stages");
    json_array_begin(w);
    for (size_t i = 0; i < sc->stage_count; i++) {
        json_object_begin(w);
        json_kv_double(w, "duration_s", (double)sc->stages[i].duration_ns / 1e9);
        json_kv_double(w, "target", sc->stages[i].target);
        json_object_end(w);
    }
    json_array_end(w);
    json_kv_uint(w, "threads", sc->threads);
    json_kv_double(w, "run_time_s", (double)sc->run_time_ns / 1e9);
    json_kv_uint(w, "max_requests", sc->max_requests);
    json_kv_double(w, "timeout_s", (double)sc->timeout_ns / 1e9);
    json_key(w, "hosts");
    json_array_begin(w);
    for (size_t i = 0; i < sc->host_count; i++) {
        json_object_begin(w);
        json_kv_string(w, "url", sc->hosts[i].url);
        json_kv_uint(w, "weight", sc->hosts[i].weight);
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "endpoints");
    json_array_begin(w);
    for (size_t i = 0; i < sc->endpoint_count; i++) {
        const struct scenario_endpoint *e = &sc->endpoints[i];
        json_object_begin(w);
        json_kv_string(w, "method", e->method);
        json_kv_string(w, "path", e->path);
        json_kv_string(w, "name", e->name);
        json_kv_uint(w, "weight", e->weight);
        json_kv_uint(w, "body_bytes", e->body_len);
        json_object_end(w);
    }
    json_array_end(w);
    json_object_end(w);
}

static void failures_array(struct json_writer *w, const struct stats *s)
{
    json_key(w, "failures");
    json_array_begin(w);
    for (size_t i = 0; i < s->failure_count; i++) {
        const struct stats_failure *f = &s->failures[i];
        char msg[256];
        json_object_begin(w);
        json_kv_string(w, "method", s->entries[f->entry].method);
        json_kv_string(w, "name", s->entries[f->entry].name);
        json_kv_string(w, "kind", f->kind < FAILURE_KIND_COUNT ? kind_names[f->kind] : "other");
        json_kv_string(w, "error", stats_failure_message(f, msg, sizeof(msg)));
        json_kv_uint(w, "status", f->status);
        json_kv_uint(w, "occurrences", f->occurrences);
        double first = ((double)f->first_ns - (double)s->start_ns) / 1e9;
        double last = ((double)f->last_ns - (double)s->start_ns) / 1e9;
        json_kv_double(w, "first_seen_s", first);
        json_kv_double(w, "last_seen_s", last);
        json_kv_double(w, "first_seen_unix", s->start_wall + first);
        json_kv_double(w, "last_seen_unix", s->start_wall + last);
        json_object_end(w);
    }
    json_array_end(w);
}

static void hosts_array(struct json_writer *w, const struct stats *s)
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
        phase_object(w, "latency_ms", &h->latency);
        json_object_end(w);
    }
    json_array_end(w);
}

static void thresholds_array(struct json_writer *w, const struct run_result *r)
{
    bool all = true;
    json_key(w, "thresholds");
    json_array_begin(w);
    for (size_t i = 0; i < r->threshold_count; i++) {
        const struct threshold *t = &r->thresholds[i];
        const struct threshold_result *res = &r->threshold_results[i];
        bool latency = t->metric != TH_FAIL && t->metric != TH_RPS;
        json_object_begin(w);
        json_kv_string(w, "expr", t->text);
        json_kv_string(w, "endpoint", t->endpoint[0] ? t->endpoint : "Aggregated");
        json_kv_string(w, "unit", latency ? "ms" : t->metric == TH_FAIL ? "ratio" : "requests/s");
        json_kv_double(w, "value", latency ? res->value / 1e6 : res->value);
        json_kv_double(w, "limit", latency ? t->limit / 1e6 : t->limit);
        json_kv_bool(w, "passed", res->passed);
        json_kv_bool(w, "no_data", res->no_data);
        json_object_end(w);
        all = all && res->passed;
    }
    json_array_end(w);
    json_kv_bool(w, "thresholds_passed", all);
}

static void selfcheck_object(struct json_writer *w, const struct selfcheck *c)
{
    json_key(w, "self_check");
    if (!c) {
        json_null(w);
        return;
    }
    json_object_begin(w);
    json_kv_double(w, "max_thread_cpu", c->max_thread_busy);
    json_kv_double(w, "process_cores", c->process_cores);
    json_kv_bool(w, "cpu_saturated", c->cpu_saturated);
    json_kv_uint(w, "sends", c->sends);
    json_kv_uint(w, "late_sends", c->late_sends);
    json_kv_double(w, "max_behind_ms", (double)c->max_behind_ns / 1e6);
    json_kv_bool(w, "fell_behind", c->fell_behind);
    char lines[2][256];
    int n = selfcheck_warnings(c, lines);
    json_key(w, "warnings");
    json_array_begin(w);
    for (int i = 0; i < n; i++)
        json_string(w, lines[i]);
    json_array_end(w);
    json_object_end(w);
}

void summary_json_write(FILE *out, const struct run_result *r)
{
    const struct stats *s = r->stats;
    struct json_writer w;
    json_init(&w, out, true);
    json_object_begin(&w);
    json_kv_string(&w, "tool", "loadscope");
    json_kv_double(&w, "start_unix", s->start_wall);
    json_kv_double(&w, "duration_s", (double)r->duration_ns / 1e9);
    json_kv_string(&w, "stop_reason", r->stop_reason ? r->stop_reason : "");
    json_kv_string(&w, "model", s->open_loop ? "open" : "closed");
    json_kv_string(&w, "latency_basis", s->open_loop ? "intended" : "start");
    if (r->scenario)
        settings_object(&w, r->scenario);
    json_key(&w, "endpoints");
    json_array_begin(&w);
    for (size_t i = 0; i + 1 < s->entry_count; i++)
        entry_object(&w, r, &s->entries[i]);
    json_array_end(&w);
    json_key(&w, "aggregated");
    entry_object(&w, r, stats_aggregated(s));
    hosts_array(&w, s);
    failures_array(&w, s);
    json_kv_uint(&w, "aborted_requests", r->aborted);
    json_kv_uint(&w, "history_late_records", s->history_late);
    json_kv_uint(&w, "history_seconds", (uint64_t)(s->closed_through > 0 ? s->closed_through : 0));
    thresholds_array(&w, r);
    selfcheck_object(&w, r->selfcheck);
    json_object_end(&w);
}

int summary_json_write_file(const char *path, const struct run_result *r, struct error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return error_set(err, "cannot write '%s': %s", path, strerror(errno));
    summary_json_write(f, r);
    if (fclose(f) != 0)
        return error_set(err, "cannot write '%s': %s", path, strerror(errno));
    return 0;
}
