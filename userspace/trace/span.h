/* One server-side request as the kernel saw it (the tracer's per-request record). Fixed size,
 * no pointers: stored as is and joined to client records by the correlator, by 4-tuple
 * (client_port == client_record.local_port) or by request_id (X-Request-Id).
 * All times are CLOCK_MONOTONIC ns (common/clock.h), 0 when unknown.
 *
 * Phases: established (handshake done) -> accept (a worker took the connection) -> arrival
 * (request bytes arrived) -> first_read (a worker read them) -> response_start (first send)
 * -> response_end (last send before the next request or close). accept-queue wait is
 * accept - established, receive-queue wait first_read - arrival, service response_end -
 * first_read. The CPU split is the worker thread's time between its first read and its last
 * send: on CPU, waiting in the run queue, and off CPU per reason (an event-loop worker such
 * as nginx serves other connections meanwhile: its split covers all of them). */
#ifndef LOADSCOPE_TRACE_SPAN_H
#define LOADSCOPE_TRACE_SPAN_H

#include <stdint.h>

/* Off-CPU reasons, in this order in offcpu_ns[] (bpf/syscall_nr.h says how one is chosen). */
enum off_reason {
    OFF_LOCK = 0,   /* futex: locks, condition variables, queue.get(), joins */
    OFF_DOWNSTREAM, /* blocked reading a non-client socket or pipe: DB, queue, upstream */
    OFF_DISK,       /* uninterruptible (block I/O, page-in), fsync, file reads */
    OFF_SLEEP,      /* nanosleep, clock_nanosleep */
    OFF_IDLE,       /* waiting for work: epoll/poll/select/accept, read on a client socket */
    OFF_OTHER,
    OFF_REASONS
};

const char *off_reason_name(enum off_reason r); /* "lock", "downstream", ... */

/* span flags (the first four are set by the kernel side) */
#define SPAN_ARRIVAL_UNKNOWN 0x01 /* bytes arrived unseen: arrival_ns = first_read_ns */
#define SPAN_NEW_CONN 0x02        /* first request of its connection: accept times valid */
#define SPAN_HANDOFF 0x04         /* read and response in different threads: no CPU split */
#define SPAN_NO_RESPONSE 0x08     /* ended without a response byte */
#define SPAN_HEAD_LOST 0x10       /* the request's first bytes were not captured */
#define SPAN_PATH_TRUNCATED 0x20

/* why the span ended */
enum span_end_reason {
    SPAN_END_NEXT_ARRIVAL = 1, /* the next request arrived (runs of older versions) */
    SPAN_END_NEXT_READ,        /* the worker read the next request */
    SPAN_END_CLOSE,            /* the connection closed */
    SPAN_END_EOF,              /* the worker read end-of-file */
    SPAN_END_FLUSH,            /* tracing stopped while it was open */
    SPAN_END_PAUSED            /* the socket hooks paused (duty cycle): ends at its last send */
};

#define SPAN_METHOD_LEN 16
#define SPAN_PATH_LEN 128
#define SPAN_REQUEST_ID_LEN 40

struct server_span {
    uint64_t span_id;  /* unique in the session, from 1 */
    uint64_t conn_id;  /* opaque connection id (same for every request of a connection) */
    uint32_t seq;      /* request number on its connection, from 1 */
    uint32_t replica;  /* index into trace_config.replicas */
    uint32_t tgid;     /* worker process and thread that read the request */
    uint32_t tid;
    uint8_t family;    /* 4 or 6 (IPv4-mapped IPv6 addresses are reported as 4) */
    uint8_t end_reason;/* enum span_end_reason */
    uint16_t flags;    /* SPAN_* */
    uint16_t server_port;
    uint16_t client_port; /* the client's local port: client_record.local_port */
    uint8_t server_addr[16]; /* network order; IPv4 in the first 4 bytes */
    uint8_t client_addr[16];
    uint64_t established_ns;
    uint64_t accept_ns;
    uint64_t arrival_ns;
    uint64_t first_read_ns;
    uint64_t response_start_ns;
    uint64_t response_end_ns;
    uint64_t oncpu_ns;
    uint64_t runq_ns;
    uint64_t offcpu_ns[OFF_REASONS];
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t request_id; /* X-Request-Id as 16 hex digits; valid when has_request_id */
    uint8_t has_request_id;
    uint8_t pad[3];
    /* requests this span stands for: 1, or N when the tracer recorded a random 1 in N requests
     * (above trace_config.span_rate) */
    uint32_t sample_weight;
    char method[SPAN_METHOD_LEN];          /* "" when unknown */
    char path[SPAN_PATH_LEN];              /* request target, truncated (flag) */
    char request_id_text[SPAN_REQUEST_ID_LEN]; /* X-Request-Id as sent, truncated */
};

/* The requests a span stands for (records made without the sampler say 0: one). */
static inline uint32_t span_sample_weight(const struct server_span *sp)
{
    return sp->sample_weight ? sp->sample_weight : 1;
}

#endif
