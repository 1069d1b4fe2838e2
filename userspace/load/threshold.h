/* Pass/fail criteria on the run's statistics, k6 style, as exit codes for CI:
 *   p95<200ms   p99<=1s   p99.9<2s   avg<150ms   med<100   (latency: ms when no unit)
 *   min<..  max<..        fail<1% (or a ratio: fail<0.01)    rps>100
 * optionally for one endpoint: 'POST /predict:p95<500ms' or '/predict:fail<1%' (its name).
 * Latency thresholds use the primary latency (open model: from the intended send time). */
#ifndef LOADSCOPE_LOAD_THRESHOLD_H
#define LOADSCOPE_LOAD_THRESHOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "load/stats.h"

enum threshold_metric { TH_PERCENTILE, TH_AVG, TH_MEDIAN, TH_MIN, TH_MAX, TH_FAIL, TH_RPS };
enum threshold_op { TH_LT, TH_LE, TH_GT, TH_GE };

struct threshold {
    char text[256];
    char endpoint[256]; /* "" for Aggregated */
    enum threshold_metric metric;
    double percentile;
    enum threshold_op op;
    double limit; /* ns for latency, a ratio for fail, requests/s for rps */
    size_t entry; /* stats entry, set by threshold_bind */
};

struct threshold_result {
    double value; /* same unit as limit */
    bool passed;
    bool no_data; /* the entry had no request: counted as broken */
};

int threshold_parse(const char *text, struct threshold *t, struct error *err);
/* Finds the endpoint in the stats ("METHOD NAME" or NAME). -1 when none matches. */
int threshold_bind(struct threshold *t, const struct stats *s, struct error *err);
void threshold_eval(const struct threshold *t, const struct stats *s, uint64_t duration_ns,
                    struct threshold_result *r);
/* "p95<200ms" -> value formatted with the metric's unit ("212.4ms", "0.5%", "812.3/s"). */
void threshold_format_value(const struct threshold *t, double value, char *buf, size_t len);

#endif
