/* HTTP/1.1 request heads and responses.
 *
 * The parser works on the bytes received so far and either finds a complete head, asks for
 * more, or names the 4xx/5xx status a malformed head deserves. It is strict where framing is
 * at stake (Content-Length must be digits and agree with itself, no obs-fold, no
 * Transfer-Encoding) because a misread boundary would corrupt the next keep-alive request. */
#ifndef DEMO_HTTP_H
#define DEMO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 16384
#define HTTP_MAX_HEADERS 100

struct http_request {
    char method[16];
    const char *path; /* points into the receive buffer; without the query string */
    size_t path_len;
    int minor; /* HTTP/1.<minor> */
    bool has_length;
    uint64_t content_length;
    bool has_transfer_encoding;
    bool keep_alive;
    bool expect_continue;
    bool expect_unknown;
    const char *content_type; /* NULL when absent */
    size_t content_type_len;
    const char *request_id; /* X-Request-Id, echoed back */
    size_t request_id_len;
    size_t head_len; /* bytes of the head, blank line included */
};

/* Parses buf[0..len). Returns 1 with req filled when a complete head is there, 0 when more
 * bytes are needed, or -status (-400, -431, -505) when the head is malformed. */
int http_parse_head(const char *buf, size_t len, struct http_request *req);

/* The reason phrase of a status code. */
const char *http_reason(int status);

/* Sends a complete response (head + body in one sendmsg). extra is a block of additional
 * "Name: value\r\n" lines, or NULL. Returns 0 or -1. */
int http_send(int fd, int status, const char *content_type, const void *body, size_t len,
              bool keep_alive, const char *extra);

/* The same; head_only sends the head of that response without its body (HEAD). */
int http_send_ex(int fd, int status, const char *content_type, const void *body, size_t len,
                 bool keep_alive, const char *extra, bool head_only);

/* Sends {"error":"<message>"} with status; message must need no JSON escaping. */
int http_send_error(int fd, int status, const char *message, bool keep_alive,
                    const char *extra);

/* Case-insensitive compare of a counted string with a C string. */
bool http_token_eq(const char *s, size_t len, const char *lit);

#endif
