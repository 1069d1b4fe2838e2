/* A small multithreaded blocking HTTP/1.1 client for the demo-server tests (independent of
 * loadscope's load generator, which those tests must not depend on): N threads, each with
 * one keep-alive connection, send requests back to back (closed loop, no think time) for a
 * duration or a request count, and record status, latency, the worker that answered and
 * what the /predict JSON said. */
#ifndef LOADSCOPE_TESTS_DEMO_CLIENT_H
#define LOADSCOPE_TESTS_DEMO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"

#define DEMO_CLIENT_MAX_REQS 16
#define DEMO_CLIENT_MAX_PIDS 256

/* One kind of request. */
struct demo_req {
    const char *method;
    const char *path;
    const char *content_type; /* NULL: no Content-Type */
    const uint8_t *body;
    size_t body_len;
};

struct demo_load_opts {
    const int *ports; /* thread i talks to ports[i % n_ports] on 127.0.0.1 */
    int n_ports;
    unsigned threads;
    uint64_t duration_ns;  /* stop sending after this long (0: no limit) */
    uint64_t max_requests; /* stop after this many sent in all (0: no limit) */
    const struct demo_req *reqs;
    size_t n_reqs; /* thread t's k-th request is reqs[(t + k) % n_reqs] */
    uint64_t timeout_ns; /* per request; 0 = 10 s */
};

struct demo_load_result {
    uint64_t sent;
    uint64_t completed;  /* a full response was read */
    uint64_t by_class[6]; /* [2] 2xx .. [5] 5xx; [1] 1xx */
    uint64_t transport_errors; /* connect/send/receive failures, timeouts, bad responses */
    uint64_t bad_json;         /* 200 /predict bodies without a valid label/scores/model_ms */
    uint64_t label_mismatch;   /* 200 /predict labels that differ from the first for the kind */
    char first_label[DEMO_CLIENT_MAX_REQS][16];
    double model_ms_sum;       /* sums over valid /predict answers */
    double queue_ms_sum, downstream_ms_sum, load_ms_sum;
    uint64_t predicted;        /* how many valid /predict answers */
    int pids[DEMO_CLIENT_MAX_PIDS]; /* distinct X-Worker-Pid values seen */
    int n_pids;
    uint64_t elapsed_ns; /* first send to last completion */
    struct histogram latency;
};

/* Runs the load. r is fully overwritten. Returns 0, or -1 if threads could not start. */
int demo_load_run(const struct demo_load_opts *o, struct demo_load_result *r);

/* Completed requests per second over elapsed_ns. */
double demo_load_rps(const struct demo_load_result *r);

/* Sends raw bytes on a fresh connection to 127.0.0.1:port and reads one response. Returns its
 * status (or -1), copies up to cap-1 bytes of the whole response into resp. Used for
 * malformed requests the regular client cannot produce. */
int demo_raw_exchange(int port, const void *req, size_t len, char *resp, size_t cap);

/* A blocking connection to 127.0.0.1:port with 10 s timeouts, or -1. */
int demo_connect(int port);

/* Reads one response from fd, and not a byte more (pipelined responses can be read one after
 * the other): status, or -1; body copied to body (NUL-terminated, up to cap-1 bytes);
 * *closing says whether the server announced Connection: close. */
int demo_read_response(int fd, char *body, size_t cap, bool *closing);

#endif
