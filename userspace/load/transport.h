/* How the load engine (load/engine.c) puts requests on the wire. The engine owns the schedule
 * (users, think time, stages, the open-loop arrival times, quotas, stop/abort), the epoll
 * instance and one record per slot; a transport owns the connections and moves the bytes of the
 * request a slot was given, then reports the finished record back. Two transports:
 *
 *   curl  libcurl's multi interface driven by the engine's epoll (curl_multi_socket_action):
 *         http and https, everything libcurl supports. load/transport_curl.c
 *   raw   a hand-written HTTP/1.1 client for http:// hosts: non-blocking sockets, one
 *         keep-alive connection per slot and host, request bytes built once per (host,
 *         endpoint) with only the X-Request-Id value patched in per request, responses parsed
 *         without copying the body (load/http_parse.h). load/transport_raw.c
 *
 * Both classify failures with transport_classify() and name them with CURLcode values in
 * client_record.error_code (enum transport_code), so stats, the store and every report read a
 * record the same way whichever transport produced it.
 *
 * Everything runs on the engine's thread. A transport registers its sockets in the engine's
 * epoll set with a tag (epoll_event.data.u64) of its choosing, never TRANSPORT_TAG_ENGINE, and
 * gets them back through ops->event. */
#ifndef LOADSCOPE_LOAD_TRANSPORT_H
#define LOADSCOPE_LOAD_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "load/record.h"
#include "load/scenario.h"

/* epoll tag the engine keeps for itself (its wake-up eventfd). */
#define TRANSPORT_TAG_ENGINE UINT64_MAX

/* client_record.error_code values: the CURLcode a transfer ended with (transport_curl.c checks
 * they are libcurl's numbers), so stats_failure_message names a raw failure exactly as it
 * names the same failure seen through libcurl. */
enum transport_code {
    TCODE_OK = 0,
    TCODE_COULDNT_RESOLVE_PROXY = 5,
    TCODE_COULDNT_RESOLVE_HOST = 6,
    TCODE_COULDNT_CONNECT = 7,     /* connect failed (refused: os errno ECONNREFUSED) */
    TCODE_WEIRD_SERVER_REPLY = 8,  /* the response does not parse */
    TCODE_PARTIAL_FILE = 18,       /* closed mid-response */
    TCODE_OPERATION_TIMEDOUT = 28, /* the request's timeout (or the connect timeout) elapsed */
    TCODE_GOT_NOTHING = 52,        /* closed before any response byte */
    TCODE_SEND_ERROR = 55,         /* sending failed (reset, broken pipe) */
    TCODE_RECV_ERROR = 56,         /* receiving failed (reset) */
};

/* Failure kind (enum failure_kind) of a transfer that ended with code (a CURLcode), the OS
 * errno of a failed connect, and the HTTP status (0: none). */
uint8_t transport_classify(int code, int os_errno, unsigned status);

/* The longest connect phase: libcurl's CURLOPT_CONNECTTIMEOUT as the engine sets it. */
uint64_t transport_connect_timeout(const struct scenario *sc);

/* A finished request: the transport filled slot's record (end_ns, status, timings, port,
 * failure, ...) and hands the slot back. now: the time the transport read for the end. */
typedef void (*transport_done_fn)(void *engine, uint32_t slot, uint64_t now);

struct transport_config {
    const struct scenario *sc;
    unsigned thread_index;
    uint32_t slot_count; /* slots 0..slot_count-1: at most one request in flight each */
    int epfd;            /* the engine's epoll instance */
    transport_done_fn on_done;
    void *engine;
};

struct transport;

struct transport_ops {
    const char *name; /* "curl", "raw" */
    struct transport *(*create)(const struct transport_config *cfg, struct error *err);
    void (*destroy)(struct transport *t);
    /* Starts the request described by rec (request_id, host, endpoint, start_ns, bytes_out set)
     * on a free slot; the transport fills the rest of rec and calls on_done, never from inside
     * start itself. -1 with err only when the engine cannot go on. */
    int (*start)(struct transport *t, uint32_t slot, struct client_record *rec, uint64_t now,
                 struct error *err);
    /* Drops slot's request in flight (the run was aborted): no record, no on_done. */
    void (*abort)(struct transport *t, uint32_t slot);
    /* An epoll event for one of the transport's tags. */
    void (*event)(struct transport *t, uint64_t tag, uint32_t events);
    /* After each epoll batch: timeouts, deferred completions. now: just read. */
    void (*timers)(struct transport *t, uint64_t now);
    /* When timers() next has work (CLOCK_MONOTONIC ns); UINT64_MAX: none. */
    uint64_t (*deadline)(const struct transport *t);
};

extern const struct transport_ops transport_curl_ops;
extern const struct transport_ops transport_raw_ops;

/* The transport a finished scenario runs with: its `engine` choice, where auto means raw when
 * every host is plain http://, curl otherwise. */
const struct transport_ops *transport_for(const struct scenario *sc);

#endif
