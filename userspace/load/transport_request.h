/* The bytes of one HTTP/1.1 request for the raw transport, built once per (host, endpoint) when
 * the engine starts, so sending a request formats and allocates nothing: the head up to the
 * X-Request-Id value, the 16 hex digits of the id (each slot has its own), the rest of the
 * head, then the endpoint's body (the scenario's bytes, shared, not copied).
 *
 * The head says what libcurl says for the same endpoint: request line, Host (the port only
 * when it is not the scheme's default), User-Agent: loadscope/0.1, Accept: * / *,
 * X-Request-Id early (the server-side tracer reads it from the first bytes a server reads),
 * the endpoint's headers in order, and with a body its Content-Type (the scenario's, else
 * libcurl's application/x-www-form-urlencoded) and Content-Length. An endpoint header named
 * like one of ours replaces ours; one with an empty value ("Accept:") removes it. */
#ifndef LOADSCOPE_LOAD_TRANSPORT_REQUEST_H
#define LOADSCOPE_LOAD_TRANSPORT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "load/scenario.h"

#define TRANSPORT_REQUEST_ID_LEN 16

struct transport_request {
    char *head;          /* one allocation: [before id][after id] */
    size_t before_len;   /* "GET / HTTP/1.1\r\n...X-Request-Id: " */
    const char *after;   /* "\r\n...\r\n\r\n" (points into head) */
    size_t after_len;
    const char *body;    /* the endpoint's body (owned by the scenario), or NULL */
    size_t body_len;
    bool head_method;    /* HEAD: the response has no body */
};

/* Builds the request for (host, endpoint) of a finished, resolved scenario. */
int transport_request_build(struct transport_request *rq, const struct scenario *sc, size_t host,
                            size_t endpoint, struct error *err);
void transport_request_free(struct transport_request *rq);

/* Bytes on the wire for one request. */
size_t transport_request_size(const struct transport_request *rq);

#endif
