/* Service-level objectives of a sweep (--slo 'p95<500ms', 'p99<1s', 'fail<1%'; several
 * allowed): the threshold syntax of `loadscope run --threshold` (load/threshold.h), evaluated
 * on a finished cell's report document instead of live statistics. The knee of a load axis is
 * the highest load whose cell meets every SLO. */
#ifndef LOADSCOPE_SWEEP_SLO_H
#define LOADSCOPE_SWEEP_SLO_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "load/threshold.h"

#define SWEEP_MAX_SLOS 8

struct cJSON;

struct slo_result {
    double value; /* the threshold's unit: ns for latency, a ratio for fail, req/s for rps */
    bool ok;
    bool no_data; /* no request (or no such endpoint) in the cell: counted as broken */
};

/* Parses one SLO. Percentiles must be ones the report document carries (p50, p66, p75, p80,
 * p90, p95, p98, p99, p99.9, p99.99, p100). Returns 0, or -1 with err set. */
int slo_parse(const char *text, struct threshold *slo, struct error *err);

/* Evaluates slo on a report document (cJSON of report.json). */
void slo_eval(const struct threshold *slo, const struct cJSON *doc, struct slo_result *r);

/* "812.3 ms", "0.52%", "95.0 req/s" for a result's value. */
void slo_format_value(const struct threshold *slo, double value, char *buf, size_t len);

#endif
