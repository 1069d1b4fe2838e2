#include "sweep/slo.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* The percentiles report.json's "percentiles_ms" holds (Locust's columns). */
static const char *const document_percentiles[] = {"50",   "66", "75", "80",   "90",    "95",
                                                   "98",   "99", "99.9", "99.99", "100"};

static const char *percentile_key(double p, char *buf, size_t len)
{
    snprintf(buf, len, "%g", p);
    for (size_t i = 0; i < sizeof(document_percentiles) / sizeof(document_percentiles[0]); i++)
        if (!strcmp(buf, document_percentiles[i]))
            return buf;
    return NULL;
}

int slo_parse(const char *text, struct threshold *slo, struct error *err)
{
    if (threshold_parse(text, slo, err) < 0)
        return error_prefix(err, "--slo");
    char key[32];
    if (slo->metric == TH_PERCENTILE && !percentile_key(slo->percentile, key, sizeof(key)))
        return error_set(err, "--slo '%s': p%g is not kept per cell (use p50, p66, p75, p80, "
                              "p90, p95, p98, p99, p99.9, p99.99 or p100)",
                         text, slo->percentile);
    return 0;
}

static const cJSON *stats_entry(const struct threshold *slo, const cJSON *doc)
{
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(doc, "stats");
    if (!slo->endpoint[0])
        return cJSON_GetObjectItemCaseSensitive(stats, "aggregated");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(stats, "endpoints")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "method");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (!cJSON_IsString(m) || !cJSON_IsString(n))
            continue;
        char full[600];
        snprintf(full, sizeof(full), "%s %s", m->valuestring, n->valuestring);
        if (!strcmp(slo->endpoint, full) || !strcmp(slo->endpoint, n->valuestring))
            return e;
    }
    return NULL;
}

static double number(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double metric_value(const struct threshold *slo, const cJSON *e)
{
    char key[32];
    switch (slo->metric) {
    case TH_PERCENTILE:
        if (!percentile_key(slo->percentile, key, sizeof(key)))
            return NAN;
        return number(cJSON_GetObjectItemCaseSensitive(e, "percentiles_ms"), key) * 1e6;
    case TH_AVG: return number(e, "avg_ms") * 1e6;
    case TH_MEDIAN: return number(e, "median_ms") * 1e6;
    case TH_MIN: return number(e, "min_ms") * 1e6;
    case TH_MAX: return number(e, "max_ms") * 1e6;
    case TH_FAIL: return number(e, "failures") / number(e, "requests");
    case TH_RPS: return number(e, "rps");
    }
    return NAN;
}

void slo_eval(const struct threshold *slo, const cJSON *doc, struct slo_result *r)
{
    memset(r, 0, sizeof(*r));
    const cJSON *e = stats_entry(slo, doc);
    double requests = number(e, "requests");
    r->value = e ? metric_value(slo, e) : NAN;
    if (!e || (!(requests > 0) && slo->metric != TH_RPS) || isnan(r->value)) {
        r->no_data = true;
        r->value = NAN;
        return;
    }
    switch (slo->op) {
    case TH_LT: r->ok = r->value < slo->limit; break;
    case TH_LE: r->ok = r->value <= slo->limit; break;
    case TH_GT: r->ok = r->value > slo->limit; break;
    case TH_GE: r->ok = r->value >= slo->limit; break;
    }
}

void slo_format_value(const struct threshold *slo, double value, char *buf, size_t len)
{
    if (isnan(value))
        snprintf(buf, len, "no data");
    else if (slo->metric == TH_FAIL)
        snprintf(buf, len, "%.3g%%", value * 100);
    else if (slo->metric == TH_RPS)
        snprintf(buf, len, "%.1f req/s", value);
    else
        snprintf(buf, len, "%.1f ms", value / 1e6);
}
