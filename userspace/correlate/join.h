/* The per-request join: every client request is matched to the server span that served it,
 * first by the X-Request-Id the generator sends (works through proxies: the deepest span, the
 * backend's, is kept), then by 4-tuple (the client's local port, a span that arrived on one of
 * the targets' ports while the request was in flight). The result is the request_matches
 * table of the run store; the counts say how much matched. */
#ifndef LOADSCOPE_CORRELATE_JOIN_H
#define LOADSCOPE_CORRELATE_JOIN_H

#include <stdint.h>

#include "store/store.h"

struct join_result {
    uint64_t requests;       /* client requests in the run */
    uint64_t answered;       /* of which got an HTTP answer (the ones a span can exist for) */
    uint64_t by_request_id;  /* matched by X-Request-Id */
    uint64_t by_four_tuple;  /* matched by client port + time */
    uint64_t spans;          /* server spans recorded */
    uint64_t spans_skipped;  /* requests the tracer's sampler did not record (--span-rate) */
    uint64_t server_requests;/* requests the replicas started, per window (under the socket
                              * hooks' duty cycle, scaled from the stretches they ran) */
    uint64_t spans_unmatched;/* spans no client request claimed (other clients, health checks) */
};

static inline uint64_t join_matched(const struct join_result *j)
{
    return j->by_request_id + j->by_four_tuple;
}

/* Share of the server's requests that got a span: 1, or the samplers' share (above
 * --span-rate, and the socket hooks' duty cycle above --socket-budget). */
double join_recorded_fraction(const struct join_result *j);
/* Fraction of the answered requests that could match (all, or the recorded share of them)
 * that matched a span (1 when nothing was answered). */
double join_matched_fraction(const struct join_result *j);

/* (Re)builds request_matches. target_ports: the TCP ports of the hosts the generator
 * targeted (a 4-tuple match must be on one of them). */
int join_requests(struct store *s, const uint16_t *target_ports, unsigned port_count,
                  struct join_result *out, struct error *err);

#endif
