#include "sweep/cell_report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void str(const cJSON *o, const char *key, char *buf, size_t len)
{
    const cJSON *v = get(o, key);
    snprintf(buf, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static uint64_t count(const cJSON *o, const char *key)
{
    double v = num(o, key);
    return v >= 0 && v < 1.8e19 ? (uint64_t)v : 0;
}

static char *read_text(const char *path, struct error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return error_set(err, "cannot read %s: %s", path, strerror(errno)), NULL;
    size_t cap = 65536, len = 0, n;
    char *text = malloc(cap + 1);
    while (text && (n = fread(text + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *more = realloc(text, (cap *= 2) + 1);
            if (!more)
                free(text);
            text = more;
        }
    }
    fclose(f);
    if (!text)
        return error_set(err, "out of memory reading %s", path), NULL;
    text[len] = '\0';
    return text;
}

static void read_stats(const cJSON *doc, struct cell_report *r)
{
    const cJSON *agg = get(get(doc, "stats"), "aggregated");
    r->rps = num(agg, "rps");
    r->median_ms = num(agg, "median_ms");
    r->avg_ms = num(agg, "avg_ms");
    r->max_ms = num(agg, "max_ms");
    r->p95_ms = num(get(agg, "percentiles_ms"), "95");
    r->p99_ms = num(get(agg, "percentiles_ms"), "99");
    r->requests = count(agg, "requests");
    r->failures = count(agg, "failures");
    r->failures_pct = r->requests ? 100.0 * (double)r->failures / (double)r->requests : NAN;
    if (!r->requests) /* no request answered: latency columns stay empty */
        r->median_ms = r->avg_ms = r->max_ms = r->p95_ms = r->p99_ms = NAN;
}

static void read_run(const cJSON *doc, struct cell_report *r)
{
    const cJSON *run = get(doc, "run");
    r->users = num(get(run, "load"), "users");
    r->rate = num(get(run, "load"), "rate");
    r->duration_s = num(run, "duration_s");
    r->interrupted = cJSON_IsTrue(get(run, "interrupted"));
    str(run, "stop_reason", r->stop_reason, sizeof(r->stop_reason));
}

static void read_verdict(const cJSON *doc, struct cell_report *r)
{
    const cJSON *v = get(get(doc, "verdict"), "run");
    str(v, "primary", r->verdict, sizeof(r->verdict));
    str(v, "summary", r->verdict_summary, sizeof(r->verdict_summary));
    r->verdict_mixed = cJSON_IsTrue(get(v, "mixed"));
    const cJSON *second = cJSON_GetArrayItem(get(v, "causes"), 1);
    str(second, "name", r->runner_up, sizeof(r->runner_up));
}

/* Mean CPU of all traced replicas together over the seconds that had requests. A row's
 * cpu_cores is a rate over its length ("seconds"), and the last row usually covers only the
 * run's final fraction of a second, so each row weighs its length. */
static double target_cores(const cJSON *timeline)
{
    double cpu_seconds = 0, covered = 0;
    const cJSON *row, *rows = cJSON_IsArray(timeline) ? timeline : NULL;
    cJSON_ArrayForEach(row, rows) {
        const cJSON *replicas = get(row, "replicas"), *rep;
        if (!(num(row, "rps") > 0) || !cJSON_IsObject(replicas) || !replicas->child)
            continue;
        double cores = 0;
        cJSON_ArrayForEach(rep, replicas) {
            double c = num(rep, "cpu_cores");
            cores += isnan(c) ? 0 : c;
        }
        double len = num(row, "seconds");
        if (!(len > 0 && len <= 1))
            len = 1;
        cpu_seconds += cores * len;
        covered += len;
    }
    return covered > 0 ? cpu_seconds / covered : NAN;
}

static void read_server(const cJSON *doc, struct cell_report *r)
{
    r->traced = cJSON_IsTrue(get(get(doc, "tracing"), "enabled"));
    r->target_cores = r->traced ? target_cores(get(doc, "timeline")) : NAN;
    r->on_cpu_ms = r->run_queue_ms = r->queue_ms = r->run_queue_share = NAN;
    const cJSON *row;
    cJSON_ArrayForEach(row, get(get(doc, "breakdown"), "rows")) {
        const cJSON *label = get(row, "label");
        if (!cJSON_IsString(label) || strcmp(label->valuestring, "all"))
            continue;
        const cJSON *c = get(row, "components_ms");
        r->on_cpu_ms = num(c, "on_cpu");
        r->run_queue_ms = num(c, "run_queue");
        r->queue_ms = num(c, "accept_queue") + num(c, "receive_queue");
        double cpu = r->on_cpu_ms + r->run_queue_ms;
        r->run_queue_share = cpu > 0 ? r->run_queue_ms / cpu : NAN;
    }
}

static void read_checks(const cJSON *doc, struct cell_report *r)
{
    const cJSON *env = get(doc, "environment");
    double cores = num(env, "cores");
    r->cores = cores >= 1 && cores < 1e6 ? (int)cores : 0;
    str(env, "cpu_model", r->cpu_model, sizeof(r->cpu_model));
    const cJSON *check = get(doc, "self_check");
    r->generator_cores = num(check, "process_cores");
    const cJSON *first = cJSON_GetArrayItem(get(check, "warnings"), 0);
    snprintf(r->warning, sizeof(r->warning), "%s",
             cJSON_IsString(first) ? first->valuestring : "");
    const cJSON *t;
    cJSON_ArrayForEach(t, get(doc, "thresholds"))
        r->thresholds_broken += cJSON_IsFalse(get(t, "ok"));
}

int cell_report_read(const char *path, const struct threshold *slos, size_t n_slos,
                     struct cell_report *r, struct error *err)
{
    memset(r, 0, sizeof(*r));
    char *text = read_text(path, err);
    if (!text)
        return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(doc) || !cJSON_IsNumber(get(doc, "schema")) ||
        !cJSON_IsObject(get(get(doc, "stats"), "aggregated"))) {
        cJSON_Delete(doc);
        return error_set(err, "%s is not a loadscope report document", path);
    }
    read_stats(doc, r);
    read_run(doc, r);
    read_verdict(doc, r);
    read_server(doc, r);
    read_checks(doc, r);
    r->n_slo = n_slos < SWEEP_MAX_SLOS ? n_slos : SWEEP_MAX_SLOS;
    r->slo_ok = true;
    for (size_t i = 0; i < r->n_slo; i++) {
        slo_eval(&slos[i], doc, &r->slo[i]);
        r->slo_ok = r->slo_ok && r->slo[i].ok;
    }
    cJSON_Delete(doc);
    return 0;
}
