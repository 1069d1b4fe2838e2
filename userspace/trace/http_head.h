/* The start of an HTTP/1.x request as a server read it (the first bytes of its first read):
 * method, request target and the X-Request-Id header the load generator adds. Tolerant of
 * truncation: whatever is complete is kept. */
#ifndef LOADSCOPE_TRACE_HTTP_HEAD_H
#define LOADSCOPE_TRACE_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/span.h"

struct http_head {
    char method[SPAN_METHOD_LEN];
    char path[SPAN_PATH_LEN];
    bool path_truncated;
    char request_id_text[SPAN_REQUEST_ID_LEN];
    bool has_request_id; /* request_id_text is 1..16 hex digits */
    uint64_t request_id;
};

/* Returns true when data starts with a request line (a method token, a space, a target). */
bool http_head_parse(const uint8_t *data, size_t len, struct http_head *out);

#endif
