/* One record per client request: what the load engine measured, handed to whoever consumes
 * records (the run store, the correlator). Fixed size, no pointers, so it can be copied through
 * lock-free queues and stored as is. All times are CLOCK_MONOTONIC ns (common/clock.h). */
#ifndef LOADSCOPE_LOAD_RECORD_H
#define LOADSCOPE_LOAD_RECORD_H

#include <stdint.h>

enum failure_kind {
    FAILURE_NONE = 0,
    FAILURE_CONNECT_REFUSED, /* nobody listening (ECONNREFUSED) */
    FAILURE_CONNECT,         /* other connect failure: unreachable, DNS */
    FAILURE_TIMEOUT,         /* the endpoint's timeout elapsed */
    FAILURE_RESET,           /* connection reset / closed mid-response */
    FAILURE_HTTP_STATUS,     /* an answer with status >= 400 */
    FAILURE_OTHER,           /* any other transfer error (libcurl's message is kept in stats) */
    FAILURE_KIND_COUNT
};

struct client_record {
    uint64_t request_id;  /* unique in the run; sent as the X-Request-Id header */
    uint64_t intended_ns; /* when it was due: the open-loop schedule, or the start when closed */
    uint64_t start_ns;    /* when it was handed to libcurl */
    uint64_t end_ns;      /* when the transfer completed or failed */
    uint32_t connect_us;  /* libcurl phase ends, from start (CURLINFO_*_TIME_T): TCP connect */
    uint32_t tls_us;      /* TLS handshake done */
    uint32_t ttfb_us;     /* first response byte */
    uint32_t total_us;    /* transfer done */
    uint32_t bytes_in;    /* response body size */
    uint32_t bytes_out;   /* request body size */
    uint32_t users;       /* active users when it started (closed loop), 0 in open loop */
    uint16_t status;      /* HTTP status, 0 when no answer */
    uint16_t local_port;  /* the client's TCP port (CURLINFO_LOCAL_PORT): joins server spans */
    uint16_t endpoint;    /* index into the scenario's endpoints */
    uint16_t host;        /* index into the scenario's hosts */
    uint8_t failure;      /* enum failure_kind */
    uint8_t thread;       /* engine thread that ran it */
    uint8_t reused;       /* 1 when the request went on an existing keep-alive connection */
    uint8_t error_code; /* libcurl's CURLcode when the transfer failed, 0 otherwise: names
                           FAILURE_OTHER (curl_easy_strerror) when stats are rebuilt */
};

#endif
