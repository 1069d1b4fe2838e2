#include "load/http_parse.h"

#include <string.h>
#include <strings.h>

enum state {
    ST_STATUS,     /* expecting a status line */
    ST_HEADER,     /* header lines until an empty one */
    ST_BODY,       /* remaining bytes of a Content-Length body */
    ST_UNTIL_EOF,  /* the body runs to the close */
    ST_CHUNK_SIZE, /* a chunk-size line */
    ST_CHUNK_DATA, /* remaining bytes of a chunk */
    ST_CHUNK_END,  /* the CRLF after a chunk's data */
    ST_TRAILER,    /* trailer lines until an empty one */
    ST_DONE,
};

void http_parse_begin(struct http_response *r, bool head_request)
{
    memset(r, 0, sizeof(*r));
    r->state = ST_STATUS;
    r->no_body = head_request;
    r->content_length = -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* "HTTP/1.x SSS[ reason]" */
static bool parse_status(struct http_response *r, const char *p, size_t n)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
        return false;
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    if (n > 12 && p[12] != ' ')
        return false;
    r->minor = (uint8_t)(p[7] - '0');
    r->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    return r->status >= 100;
}

static bool name_is(const char *name, size_t n, const char *want, size_t want_len)
{
    return n == want_len && strncasecmp(name, want, n) == 0;
}

/* Does the comma-separated list v[0..n) hold token tok (case-insensitive)? Sets *last when it
 * is the last element. */
static bool has_token(const char *v, size_t n, const char *tok, bool *last)
{
    size_t tl = strlen(tok);
    bool found = false;
    size_t i = 0;
    while (i < n) {
        while (i < n && (is_space(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_space(v[end - 1]))
            end--;
        if (end == start)
            continue;
        bool match = end - start == tl && strncasecmp(v + start, tok, tl) == 0;
        found = found || match;
        if (last)
            *last = match;
    }
    return found;
}

static bool parse_length(const char *v, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return true;
}

static bool parse_header(struct http_response *r, const char *p, size_t n)
{
    if (is_space(p[0]))
        return true; /* obsolete line folding: continues a header we do not read */
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p)
        return false;
    size_t name_len = (size_t)(colon - p);
    if (is_space(p[name_len - 1]))
        return false; /* no space before the colon (RFC 9112 5.1) */
    const char *v = colon + 1, *end = p + n;
    while (v < end && is_space(*v))
        v++;
    while (end > v && is_space(end[-1]))
        end--;
    size_t vn = (size_t)(end - v);
    if (name_is(p, name_len, "content-length", 14)) {
        int64_t len;
        if (!parse_length(v, vn, &len) || (r->content_length >= 0 && r->content_length != len))
            return false;
        r->content_length = len;
    } else if (name_is(p, name_len, "transfer-encoding", 17)) {
        bool last = false;
        has_token(v, vn, "chunked", &last);
        r->chunked = last;
        r->until_close = !last;
    } else if (name_is(p, name_len, "connection", 10)) {
        if (has_token(v, vn, "close", NULL))
            r->conn_close = true;
        if (has_token(v, vn, "keep-alive", NULL))
            r->conn_keep = true;
    }
    return true;
}

/* The empty line after the headers: decides how the body is delimited. */
static enum http_parse_result end_of_head(struct http_response *r)
{
    if (r->status < 200) {
        if (r->status == 101)
            return HTTP_PARSE_ERROR; /* no upgrade was asked for */
        bool head = r->no_body;      /* an interim response: the real one follows */
        http_parse_begin(r, head);
        return HTTP_PARSE_MORE;
    }
    r->head_done = true;
    r->keep_alive = !r->conn_close && (r->minor >= 1 || r->conn_keep);
    if (r->no_body || r->status == 204 || r->status == 304) {
        r->state = ST_DONE;
        return HTTP_PARSE_DONE;
    }
    if (r->chunked) {
        r->state = ST_CHUNK_SIZE;
    } else if (!r->until_close && r->content_length >= 0) {
        r->remaining = (uint64_t)r->content_length;
        r->state = r->remaining ? ST_BODY : ST_DONE;
    } else {
        r->keep_alive = false; /* only the close says where the body ends */
        r->state = ST_UNTIL_EOF;
    }
    return r->state == ST_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_MORE;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "1a3[ ;ext]" */
static bool parse_chunk_size(struct http_response *r, const char *p, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n && hex_value(p[i]) >= 0; i++) {
        if (i >= 15)
            return false; /* beyond 2^60 bytes: garbage */
        size = size * 16 + (uint64_t)hex_value(p[i]);
    }
    if (i == 0)
        return false;
    while (i < n && is_space(p[i]))
        i++;
    if (i < n && p[i] != ';')
        return false;
    r->remaining = size;
    r->state = size ? ST_CHUNK_DATA : ST_TRAILER;
    return true;
}

/* One complete line (without its line end) in the current state. */
static enum http_parse_result on_line(struct http_response *r, const char *p, size_t n)
{
    switch (r->state) {
    case ST_STATUS:
        if (n == 0)
            return HTTP_PARSE_MORE; /* empty lines before a status line are ignored (RFC 9112) */
        if (!parse_status(r, p, n))
            return HTTP_PARSE_ERROR;
        r->state = ST_HEADER;
        return HTTP_PARSE_MORE;
    case ST_HEADER:
        if (n == 0)
            return end_of_head(r);
        return parse_header(r, p, n) ? HTTP_PARSE_MORE : HTTP_PARSE_ERROR;
    case ST_CHUNK_SIZE:
        return parse_chunk_size(r, p, n) ? HTTP_PARSE_MORE : HTTP_PARSE_ERROR;
    case ST_CHUNK_END:
        if (n != 0)
            return HTTP_PARSE_ERROR;
        r->state = ST_CHUNK_SIZE;
        return HTTP_PARSE_MORE;
    case ST_TRAILER:
        if (n == 0) {
            r->state = ST_DONE;
            return HTTP_PARSE_DONE;
        }
        return HTTP_PARSE_MORE;
    default:
        return HTTP_PARSE_ERROR;
    }
}

static bool in_body(uint8_t state)
{
    return state == ST_BODY || state == ST_CHUNK_DATA || state == ST_UNTIL_EOF;
}

enum http_parse_result http_parse_feed(struct http_response *r, const char *data, size_t len,
                                       size_t *used)
{
    size_t pos = 0;
    enum http_parse_result res = r->state == ST_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_MORE;
    while (res == HTTP_PARSE_MORE && pos < len) {
        size_t avail = len - pos;
        if (in_body(r->state)) {
            uint64_t take = r->state == ST_UNTIL_EOF || r->remaining > avail ? avail
                                                                               : r->remaining;
            r->body_bytes += take;
            pos += take;
            if (r->state == ST_UNTIL_EOF)
                continue;
            r->remaining -= take;
            if (r->remaining == 0) {
                r->state = r->state == ST_BODY ? ST_DONE : ST_CHUNK_END;
                if (r->state == ST_DONE)
                    res = HTTP_PARSE_DONE;
            }
            continue;
        }
        const char *nl = memchr(data + pos, '\n', avail);
        if (!nl) {
            if (avail > HTTP_PARSE_MAX_LINE)
                res = HTTP_PARSE_ERROR;
            break;
        }
        size_t n = (size_t)(nl - (data + pos));
        if (n > HTTP_PARSE_MAX_LINE) {
            res = HTTP_PARSE_ERROR;
            break;
        }
        size_t line_len = n > 0 && data[pos + n - 1] == '\r' ? n - 1 : n;
        res = on_line(r, data + pos, line_len);
        pos += n + 1;
    }
    *used = pos;
    return res;
}

enum http_parse_result http_parse_eof(struct http_response *r)
{
    if (r->state == ST_UNTIL_EOF) {
        r->state = ST_DONE;
        return HTTP_PARSE_DONE;
    }
    return r->state == ST_DONE ? HTTP_PARSE_DONE : HTTP_PARSE_ERROR;
}
