/* An incremental HTTP/1.x response parser for the raw transport (load/transport_raw.c): fed the
 * bytes of one response as they arrive, in pieces of any size, it finds the status, whether the
 * connection stays open, and where the response ends (Content-Length, chunked
 * Transfer-Encoding, or the server closing), counting body bytes without copying them.
 *
 * Line-based: status line, header lines, chunk-size lines and trailers are parsed when whole.
 * A call consumes every complete line and all body bytes it is given and reports how many bytes
 * it used; an incomplete last line is left unused, and the caller presents it again followed
 * by the next bytes read. Body bytes never need to be kept.
 *
 * Handled: HTTP/1.0 and 1.1 status lines, 1xx interim responses (skipped), Content-Length,
 * chunked bodies (extensions and trailers ignored), bodies delimited by the close, Connection:
 * close / keep-alive (HTTP/1.0 closes unless keep-alive), responses without a body (HEAD,
 * 204, 304). Anything else that does not parse is an error: the response is garbage. */
#ifndef LOADSCOPE_LOAD_HTTP_PARSE_H
#define LOADSCOPE_LOAD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest line (status, header, chunk size) accepted: longer is an error. */
#define HTTP_PARSE_MAX_LINE 8192

enum http_parse_result {
    HTTP_PARSE_ERROR = -1,
    HTTP_PARSE_MORE = 0, /* the response is not complete: feed more bytes */
    HTTP_PARSE_DONE = 1, /* the response is complete */
};

struct http_response {
    uint16_t status;     /* 0 until the final status line is parsed */
    bool keep_alive;     /* false: the connection cannot carry another request */
    bool head_done;      /* the final response's header block is complete */
    uint64_t body_bytes; /* body bytes so far (decoded: chunk framing not counted) */
    /* parser state */
    uint8_t state;
    uint8_t minor;     /* HTTP/1.<minor> */
    bool no_body;      /* a HEAD request: no body whatever the headers say */
    bool chunked;      /* Transfer-Encoding ends with chunked */
    bool until_close;  /* another transfer coding: the body runs to the close */
    bool conn_close;   /* Connection: close */
    bool conn_keep;    /* Connection: keep-alive */
    int64_t content_length; /* -1: none given */
    uint64_t remaining;     /* bytes left in the body or the current chunk */
};

/* Starts a response; head_request: the request was HEAD (no body follows). */
void http_parse_begin(struct http_response *r, bool head_request);

/* Parses data[0..len). *used: bytes consumed (all of them except an incomplete last line, or
 * except bytes after the end of the response when DONE). */
enum http_parse_result http_parse_feed(struct http_response *r, const char *data, size_t len,
                                       size_t *used);

/* The server closed the connection: DONE when the close ends the body, ERROR otherwise (the
 * response was cut short). */
enum http_parse_result http_parse_eof(struct http_response *r);

#endif
