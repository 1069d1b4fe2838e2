/* Where a request's time went, from its client record and its server span:
 *
 *   latency (end - intended) = send_lag + connect + network_client
 *                            + accept_queue + receive_queue
 *                            + on_cpu + run_queue + lock + downstream + disk + sleep
 *                            + event_wait + other_offcpu + send
 *
 * send_lag: the generator sent late (open loop); connect: TCP connect of a new connection;
 * accept_queue: handshake done -> a worker accepted; receive_queue: request bytes arrived -> a
 * worker read them; then the worker's thread time from its first read to its first response
 * byte, split by the span's CPU accounting (scaled to that interval); send: first to last
 * response byte; network_client: the rest (wire, client parsing, the generator's own delays).
 *
 * Requests are summarised in latency bands (fastest half, 50-90%, 90-99%, slowest 1%, all),
 * so the report shows what slow requests did differently. Two streaming passes over the
 * stored join: memory does not grow with the run. */
#ifndef LOADSCOPE_CORRELATE_BREAKDOWN_H
#define LOADSCOPE_CORRELATE_BREAKDOWN_H

#include <stdbool.h>
#include <stdint.h>

#include "load/record.h"
#include "store/store.h"
#include "trace/span.h"

enum component {
    COMP_SEND_LAG,
    COMP_CONNECT,
    COMP_NETWORK_CLIENT,
    COMP_ACCEPT_QUEUE,
    COMP_RECEIVE_QUEUE,
    COMP_ON_CPU,
    COMP_RUN_QUEUE,
    COMP_LOCK,
    COMP_DOWNSTREAM,
    COMP_DISK,
    COMP_SLEEP,
    COMP_EVENT_WAIT,
    COMP_OTHER_OFFCPU,
    COMP_SEND,
    COMP_COUNT
};

/* JSON key of a component ("on_cpu", "accept_queue", ...) and a label for people. */
const char *component_key(enum component c);
const char *component_label(enum component c);

struct request_breakdown {
    uint64_t latency_ns;
    uint64_t part_ns[COMP_COUNT]; /* sums to latency_ns */
};

void breakdown_of(const struct client_record *c, const struct server_span *sp,
                  struct request_breakdown *out);

enum band { BAND_ALL, BAND_P0_50, BAND_P50_90, BAND_P90_99, BAND_P99_100, BAND_COUNT };

struct breakdown_band {
    const char *label; /* "all", "p0-50", "p50-90", "p90-99", "p99-100" */
    uint64_t requests;
    double latency_ns; /* average */
    double part_ns[COMP_COUNT]; /* averages */
    /* requests that waited downstream: how that wait varies (queueing makes p50 >> p10) */
    uint64_t downstream_requests;
    uint64_t downstream_p10_ns, downstream_p50_ns;
};

struct breakdown {
    bool server_only; /* no client request joined: spans alone, latency = server time */
    uint64_t matched;
    uint64_t cut_ns[3]; /* latency at p50, p90, p99 of matched requests */
    struct breakdown_band bands[BAND_COUNT];
    /* per replica (span.replica), all matched requests */
    unsigned replica_count;
    struct breakdown_band replicas[16];
};

/* Over the matched requests that completed in [from_ns, to_ns) (0, UINT64_MAX: all). */
int breakdown_compute(struct store *s, uint64_t from_ns, uint64_t to_ns, struct breakdown *out,
                      struct error *err);

#endif
