#include "load/threshold.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

static bool all_numeric(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && *s != '.')
            return false;
    return true;
}

static int parse_metric(const char *m, struct threshold *t, struct error *err)
{
    if (m[0] == 'p' && isdigit((unsigned char)m[1])) {
        char *end;
        t->percentile = strtod(m + 1, &end);
        if (*end || t->percentile <= 0 || t->percentile > 100)
            return error_set(err, "bad percentile '%s' (e.g. p95, p99.9)", m);
        t->metric = TH_PERCENTILE;
    } else if (!strcmp(m, "avg") || !strcmp(m, "mean")) {
        t->metric = TH_AVG;
    } else if (!strcmp(m, "med") || !strcmp(m, "median")) {
        t->metric = TH_MEDIAN;
    } else if (!strcmp(m, "min")) {
        t->metric = TH_MIN;
    } else if (!strcmp(m, "max")) {
        t->metric = TH_MAX;
    } else if (!strcmp(m, "fail") || !strcmp(m, "fails") || !strcmp(m, "failures") ||
               !strcmp(m, "errors")) {
        t->metric = TH_FAIL;
    } else if (!strcmp(m, "rps")) {
        t->metric = TH_RPS;
    } else {
        return error_set(err, "unknown metric '%s' (p95, avg, med, min, max, fail, rps)", m);
    }
    return 0;
}

static int parse_limit(const char *v, struct threshold *t, struct error *err)
{
    char *end;
    if (t->metric == TH_FAIL) {
        t->limit = strtod(v, &end);
        if (end == v || (*end && strcmp(end, "%")) || t->limit < 0)
            return error_set(err, "bad failure limit '%s' (e.g. 1%% or 0.01)", v);
        if (*end == '%')
            t->limit /= 100;
        return 0;
    }
    if (t->metric == TH_RPS) {
        t->limit = strtod(v, &end);
        if (end == v || (*end && strcmp(end, "/s")) || t->limit < 0)
            return error_set(err, "bad rate '%s' (requests/s, e.g. 100)", v);
        return 0;
    }
    uint64_t ns;
    if (all_numeric(v)) { /* k6: latency limits without a unit are milliseconds */
        t->limit = strtod(v, NULL) * 1e6;
        return 0;
    }
    if (duration_parse(v, &ns, err) < 0)
        return error_prefix(err, "bad latency limit");
    t->limit = (double)ns;
    return 0;
}

int threshold_parse(const char *text, struct threshold *t, struct error *err)
{
    memset(t, 0, sizeof(*t));
    if (strlen(text) >= sizeof(t->text))
        return error_set(err, "threshold too long");
    strcpy(t->text, text);
    const char *op = strpbrk(text, "<>");
    if (!op)
        return error_set(err, "threshold '%s': expected METRIC<LIMIT or METRIC>LIMIT (e.g. p95<200ms)", text);
    const char *val = op + 1;
    if (*val == '=') {
        t->op = *op == '<' ? TH_LE : TH_GE;
        val++;
    } else {
        t->op = *op == '<' ? TH_LT : TH_GT;
    }
    while (isspace((unsigned char)*val))
        val++;
    char left[256];
    size_t n = (size_t)(op - text);
    memcpy(left, text, n);
    left[n] = 0;
    while (n > 0 && isspace((unsigned char)left[n - 1]))
        left[--n] = 0;
    char *metric = left;
    char *colon = strrchr(left, ':');
    if (colon) {
        *colon = 0;
        metric = colon + 1;
        snprintf(t->endpoint, sizeof(t->endpoint), "%s", left);
        if (!t->endpoint[0])
            return error_set(err, "threshold '%s': empty endpoint before ':'", text);
    }
    while (isspace((unsigned char)*metric))
        metric++;
    if (parse_metric(metric, t, err) < 0 || parse_limit(val, t, err) < 0)
        return error_prefix(err, "threshold '%s'", text);
    return 0;
}

int threshold_bind(struct threshold *t, const struct stats *s, struct error *err)
{
    t->entry = s->entry_count - 1;
    if (!t->endpoint[0])
        return 0;
    for (size_t i = 0; i + 1 < s->entry_count; i++) {
        char full[512];
        snprintf(full, sizeof(full), "%s %s", s->entries[i].method, s->entries[i].name);
        if (!strcmp(t->endpoint, full) || !strcmp(t->endpoint, s->entries[i].name)) {
            t->entry = i;
            return 0;
        }
    }
    return error_set(err, "threshold '%s': no endpoint '%s' (endpoints are named 'METHOD NAME' or NAME)",
                     t->text, t->endpoint);
}

void threshold_eval(const struct threshold *t, const struct stats *s, uint64_t duration_ns,
                    struct threshold_result *r)
{
    const struct stats_entry *e = &s->entries[t->entry];
    memset(r, 0, sizeof(*r));
    if (e->requests == 0 && t->metric != TH_RPS) {
        r->no_data = true;
        r->value = NAN;
        return;
    }
    switch (t->metric) {
    case TH_PERCENTILE: r->value = (double)hist_percentile(&e->latency, t->percentile); break;
    case TH_AVG: r->value = hist_mean(&e->latency); break;
    case TH_MEDIAN: r->value = (double)hist_percentile(&e->latency, 50); break;
    case TH_MIN: r->value = (double)e->latency.min_ns; break;
    case TH_MAX: r->value = (double)e->latency.max_ns; break;
    case TH_FAIL: r->value = (double)e->failures / (double)e->requests; break;
    case TH_RPS: r->value = stats_rate(e->requests, duration_ns); break;
    }
    switch (t->op) {
    case TH_LT: r->passed = r->value < t->limit; break;
    case TH_LE: r->passed = r->value <= t->limit; break;
    case TH_GT: r->passed = r->value > t->limit; break;
    case TH_GE: r->passed = r->value >= t->limit; break;
    }
}

void threshold_format_value(const struct threshold *t, double value, char *buf, size_t len)
{
    if (isnan(value))
        snprintf(buf, len, "no requests");
    else if (t->metric == TH_FAIL)
        snprintf(buf, len, "%.3g%%", value * 100);
    else if (t->metric == TH_RPS)
        snprintf(buf, len, "%.1f/s", value);
    else
        snprintf(buf, len, "%.3fms", value / 1e6);
}
