/* Client statistics, computed purely from a stream of client_records plus the names of the
 * scenario's endpoints and hosts — so a stored run rebuilds exactly the same numbers, tables,
 * CSVs and JSON (`loadscope report DIR` feeds the stored records to stats_add).
 *
 * Entries are keyed like Locust's: one per distinct (method, name), plus "Aggregated" (last).
 * Each keeps HDR histograms (common/histogram.h, <=0.4% error, fixed memory):
 *   latency      the primary latency: end - intended. In the closed model intended == start;
 *                in the open model it is the scheduled send time, i.e. coordinated-omission
 *                corrected (wrk2), and
 *   uncorrected  end - start, the time the request itself took;
 *   send_lag     start - intended (open model: how late sends went out);
 *   connect/tls  libcurl's phase ends, for requests that opened a new connection;
 *   ttfb/total   libcurl's time to first byte and total, for requests that got an answer.
 *
 * Per-second history (Locust's _stats_history.csv): second k of the run is [start + k s,
 * start + (k+1) s); a row describes the requests that COMPLETED in that second: their count,
 * failures, and percentiles of their latencies (unrounded, not a moving window), plus the
 * cumulative totals through the end of that second. A second is closed (its rows emitted) once
 * STATS_SETTLE_NS have passed after its end, so records still being handed over are in it;
 * a record arriving after its second closed still counts everywhere else and is counted in
 * history_late.
 *
 * Not thread-safe. Engine threads each add to their own stats_shard (a lock that only the
 * periodic drain contends), drained into one stats by the reporting thread. */
#ifndef LOADSCOPE_LOAD_STATS_H
#define LOADSCOPE_LOAD_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"
#include "load/record.h"

#define STATS_PERCENTILE_COUNT 11
extern const double stats_percentiles[STATS_PERCENTILE_COUNT]; /* 50 66 75 80 90 95 98 99 99.9 99.99 100 */
#define STATS_OPEN_SECONDS 8
#define STATS_SETTLE_NS 1500000000ULL
#define STATS_LATE_NS 1000000ULL /* a send > 1 ms after its intended time is late */

/* What the records' indexes mean. Strings are copied. */
struct stats_labels {
    size_t endpoint_count;
    const char *const *methods; /* [endpoint_count] */
    const char *const *names;   /* [endpoint_count] */
    size_t host_count;
    const char *const *hosts; /* [host_count] URLs */
    bool open_loop;
};

struct stats_entry {
    char *method; /* "" for Aggregated */
    char *name;
    uint64_t requests, failures, late;
    uint64_t bytes_in;
    uint64_t new_connections;
    uint64_t first_start_ns, last_end_ns;
    struct histogram latency, uncorrected, send_lag;
    struct histogram connect, tls, ttfb, total;
};

struct stats_host {
    char *url;
    uint64_t requests, failures;
    struct histogram latency;
};

struct stats_failure {
    uint16_t entry;
    uint8_t kind;       /* enum failure_kind */
    uint8_t error_code; /* CURLcode */
    uint16_t status;    /* HTTP status (FAILURE_HTTP_STATUS) */
    uint64_t occurrences;
    uint64_t first_ns, last_ns; /* end_ns of the first and last occurrence */
};

struct stats_history_row {
    int64_t second; /* since the start */
    uint32_t users;
    uint16_t entry;
    uint64_t requests, failures; /* completed in that second */
    uint64_t pct_ns[STATS_PERCENTILE_COUNT]; /* of that second's latencies; valid if requests */
    uint64_t total_requests, total_failures, total_bytes;
    uint64_t total_median_ns, total_min_ns, total_max_ns;
    double total_avg_ns;
};

struct stats_second_entry {
    uint64_t requests, failures, bytes;
    struct histogram latency;
};

struct stats_second {
    int64_t second; /* -1: empty */
    uint64_t last_end_ns;
    uint32_t users;
    struct stats_second_entry *entries;
};

struct stats_cumulative {
    uint64_t requests, failures, bytes;
    struct histogram latency;
};

struct stats {
    uint64_t start_ns;
    double start_wall; /* wall-clock seconds at start_ns, for history timestamps */
    bool open_loop;
    bool is_shard;     /* partial: never closes seconds itself */
    size_t endpoint_count;
    uint16_t *entry_of_endpoint;
    size_t entry_count; /* distinct (method, name) + Aggregated */
    struct stats_entry *entries;
    size_t host_count;
    struct stats_host *hosts;
    struct stats_failure *failures;
    size_t failure_count, failure_cap;
    struct stats_second seconds[STATS_OPEN_SECONDS];
    struct stats_cumulative *closed; /* per entry: totals of the closed seconds */
    struct stats_history_row *history;
    size_t history_count, history_cap;
    int64_t closed_through; /* seconds below this are closed */
    int64_t max_second;     /* latest second holding a record, -1 */
    uint32_t last_users;
    uint64_t records;
    uint64_t history_late;
};

struct stats *stats_create(const struct stats_labels *labels, uint64_t start_ns, double start_wall);
void stats_destroy(struct stats *s);
void stats_add(struct stats *s, const struct client_record *r);
/* Adds everything src holds into dst (same labels). */
void stats_merge(struct stats *dst, const struct stats *src);
/* Forgets every record (keeps labels and start). */
void stats_clear(struct stats *s);
/* Emits the history rows of every second that ended STATS_SETTLE_NS before now_ns;
 * UINT64_MAX closes every second that holds a record (end of run). */
void stats_close_seconds(struct stats *s, uint64_t now_ns);

const struct stats_entry *stats_aggregated(const struct stats *s);
/* "HTTP 500", "connection refused", "timeout", "connection reset", or libcurl's message. */
const char *stats_failure_message(const struct stats_failure *f, char *buf, size_t len);
/* Requests per second over duration_ns. */
double stats_rate(uint64_t count, uint64_t duration_ns);
static inline double stats_ms(uint64_t ns) { return (double)ns / 1e6; }

/* A thread's partial stats behind a mutex: the engine thread adds, the reporter drains. */
struct stats_shard {
    pthread_mutex_t lock;
    struct stats *stats;
};
struct stats_shard *stats_shard_create(const struct stats_labels *labels, uint64_t start_ns,
                                       double start_wall);
void stats_shard_add(struct stats_shard *sh, const struct client_record *r);
/* Moves the shard's records into dst. */
void stats_shard_drain(struct stats_shard *sh, struct stats *dst);
void stats_shard_destroy(struct stats_shard *sh);

#endif
