#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "net.h"

bool http_token_eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && !strncasecmp(s, lit, len);
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Parses "METHOD SP target SP HTTP/1.x". */
static int parse_request_line(const char *p, const char *end, struct http_request *req)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp || sp == p || sp - p >= (long)sizeof(req->method))
        return -400;
    for (const char *c = p; c < sp; c++)
        if (!is_tchar((unsigned char)*c))
            return -400;
    memcpy(req->method, p, (size_t)(sp - p));
    req->method[sp - p] = '\0';
    const char *target = sp + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (!sp2 || sp2 == target)
        return -400;
    for (const char *c = target; c < sp2; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return -400;
    const char *q = memchr(target, '?', (size_t)(sp2 - target));
    req->path = target;
    req->path_len = (size_t)((q ? q : sp2) - target);
    const char *ver = sp2 + 1;
    size_t vlen = (size_t)(end - ver);
    if (vlen == 8 && !memcmp(ver, "HTTP/1.", 7) && (ver[7] == '0' || ver[7] == '1')) {
        req->minor = ver[7] - '0';
        return 0;
    }
    if (vlen == 8 && !memcmp(ver, "HTTP/", 5) && ver[5] >= '0' && ver[5] <= '9' &&
        ver[6] == '.' && ver[7] >= '0' && ver[7] <= '9')
        return -505;
    return -400;
}

static int parse_content_length(const char *v, size_t n, struct http_request *req)
{
    if (!n || n > 15)
        return -400;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -400;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (req->has_length && req->content_length != x)
        return -400; /* conflicting lengths: a request-smuggling shape */
    req->has_length = true;
    req->content_length = x;
    return 0;
}

/* Connection: a comma-separated token list. */
static void parse_connection(const char *v, size_t n, struct http_request *req, bool *close,
                             bool *keep)
{
    const char *end = v + n;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *tok_end = comma ? comma : end;
        const char *a = v, *b = tok_end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (http_token_eq(a, (size_t)(b - a), "close"))
            *close = true;
        else if (http_token_eq(a, (size_t)(b - a), "keep-alive"))
            *keep = true;
        v = comma ? comma + 1 : end;
    }
    (void)req;
}

static int parse_header(const char *p, const char *end, struct http_request *req, bool *close,
                        bool *keep)
{
    if (*p == ' ' || *p == '\t')
        return -400; /* obs-fold */
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || colon == p)
        return -400;
    for (const char *c = p; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return -400;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1, *vend = end;
    while (v < vend && (*v == ' ' || *v == '\t'))
        v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;
    for (const char *c = v; c < vend; c++)
        if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
            return -400;
    size_t vlen = (size_t)(vend - v);
    if (http_token_eq(p, nlen, "content-length"))
        return parse_content_length(v, vlen, req);
    if (http_token_eq(p, nlen, "transfer-encoding"))
        req->has_transfer_encoding = true;
    else if (http_token_eq(p, nlen, "connection"))
        parse_connection(v, vlen, req, close, keep);
    else if (http_token_eq(p, nlen, "expect")) {
        if (http_token_eq(v, vlen, "100-continue"))
            req->expect_continue = true;
        else
            req->expect_unknown = true;
    } else if (http_token_eq(p, nlen, "content-type")) {
        req->content_type = v;
        req->content_type_len = vlen;
    } else if (http_token_eq(p, nlen, "x-request-id") && vlen <= 128) {
        req->request_id = v;
        req->request_id_len = vlen;
    }
    return 0;
}

int http_parse_head(const char *buf, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t skip = 0;
    /* RFC 9112 2.2: ignore empty lines before the request line. */
    while (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n')
        skip += 2;
    const char *start = buf + skip;
    size_t avail = len - skip;
    const char *blank = memmem(start, avail, "\r\n\r\n", 4);
    if (!blank) {
        if (memchr(buf, '\0', len))
            return -400;
        return len >= HTTP_MAX_HEAD ? -431 : 0;
    }
    req->head_len = (size_t)(blank - buf) + 4;
    if (req->head_len > HTTP_MAX_HEAD)
        return -431;
    const char *line_end = memmem(start, (size_t)(blank + 2 - start), "\r\n", 2);
    int rc = parse_request_line(start, line_end, req);
    if (rc)
        return rc;
    bool close = false, keep = false;
    int headers = 0;
    for (const char *p = line_end + 2; p < blank + 2;) {
        const char *e = memmem(p, (size_t)(blank + 2 - p), "\r\n", 2);
        if (++headers > HTTP_MAX_HEADERS)
            return -431;
        if ((rc = parse_header(p, e, req, &close, &keep)))
            return rc;
        p = e + 2;
    }
    req->keep_alive = req->minor == 1 ? !close : keep && !close;
    return 1;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int http_send(int fd, int status, const char *content_type, const void *body, size_t len,
              bool keep_alive, const char *extra)
{
    return http_send_ex(fd, status, content_type, body, len, keep_alive, extra, false);
}

int http_send_ex(int fd, int status, const char *content_type, const void *body, size_t len,
                 bool keep_alive, const char *extra, bool head_only)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nServer: loadscope-demo-server\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n%s\r\n",
                     status, http_reason(status), content_type, len,
                     keep_alive ? "keep-alive" : "close", extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof(head))
        return -1;
    if (head_only)
        len = 0;
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t sent;
    do
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return -1;
    size_t total = (size_t)n + len;
    if ((size_t)sent == total)
        return 0;
    if ((size_t)sent < (size_t)n) {
        if (net_write_all(fd, head + sent, (size_t)n - (size_t)sent))
            return -1;
        return net_write_all(fd, body, len);
    }
    return net_write_all(fd, (const char *)body + ((size_t)sent - (size_t)n),
                         total - (size_t)sent);
}

int http_send_error(int fd, int status, const char *message, bool keep_alive,
                    const char *extra)
{
    char body[512];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", message);
    if (n < 0 || (size_t)n >= sizeof(body))
        n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", http_reason(status));
    return http_send(fd, status, "application/json", body, (size_t)n, keep_alive, extra);
}
