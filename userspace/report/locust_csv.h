/* Locust's three CSV files, with exactly Locust's header lines (locust/stats.py) so existing
 * scripts and spreadsheets read them, but unrounded values (Locust rounds percentiles to ~2
 * significant digits): times in ms with ns resolution, rates as measured.
 *   PREFIX_stats.csv          one row per endpoint (Type = method) + "Aggregated"
 *   PREFIX_stats_history.csv  one row per second per endpoint seen so far + "Aggregated": that
 *                             second's completions (see load/stats.h), totals through it;
 *                             "N/A" percentiles for a second without completions
 *   PREFIX_failures.csv       Method,Name,Error,Occurrences,First Seen,Last Seen (Unix seconds)
 */
#ifndef LOADSCOPE_REPORT_LOCUST_CSV_H
#define LOADSCOPE_REPORT_LOCUST_CSV_H

#include <stdio.h>

#include "common/error.h"
#include "load/run_result.h"

extern const char locust_csv_stats_header[];
extern const char locust_csv_history_header[];
extern const char locust_csv_failures_header[];

void locust_csv_write_stats(FILE *out, const struct run_result *r);
void locust_csv_write_history(FILE *out, const struct run_result *r);
void locust_csv_write_failures(FILE *out, const struct run_result *r);
/* Writes the three files next to PREFIX. */
int locust_csv_write(const char *prefix, const struct run_result *r, struct error *err);

#endif
