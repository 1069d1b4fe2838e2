/* The run summary as JSON (--json FILE), for scripts and CI. Times are in ms (unrounded).
 *
 *   { "tool", "version", "start_unix", "duration_s", "stop_reason", "model" ("closed"|"open"),
 *     "latency_basis" ("start" | "intended": open model, coordinated-omission corrected),
 *     "settings": {users, spawn_rate, wait, rate, connections, threads, run_time_s,
 *                  max_requests, hosts[{url, weight}], endpoints[{method, path, name, weight}]},
 *     "endpoints": [ENTRY...], "aggregated": ENTRY,
 *       ENTRY = {method, name, requests, failures, failure_ratio, rps, failures_per_s,
 *                avg_content_size, latency_ms {avg, min, max, median, p50..p100},
 *                uncorrected_latency_ms {...} (open model), late_sends, send_lag_ms {...},
 *                phases_ms {connect, tls (new connections only), ttfb, total: {avg, p50, p95,
 *                p99, max, count}}, new_connections}
 *     "hosts": [{url, requests, failures, share, latency_ms {avg, p50, p95, p99}}],
 *     "failures": [{method, name, kind, error, status, occurrences, first_seen_s, last_seen_s,
 *                   first_seen_unix, last_seen_unix}],
 *     "aborted_requests", "history_late_records",
 *     "thresholds": [{expr, endpoint, value, limit, passed, no_data}], "thresholds_passed",
 *     "self_check": {max_thread_cpu, process_cores, cpu_saturated, sends, late_sends,
 *                    max_behind_ms, fell_behind, warnings[]} } */
#ifndef LOADSCOPE_REPORT_SUMMARY_JSON_H
#define LOADSCOPE_REPORT_SUMMARY_JSON_H

#include <stdio.h>

#include "common/error.h"
#include "load/run_result.h"

void summary_json_write(FILE *out, const struct run_result *r);
int summary_json_write_file(const char *path, const struct run_result *r, struct error *err);

#endif
