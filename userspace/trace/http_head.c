#include "trace/http_head.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool is_token_char(uint8_t c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n, bool *truncated)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++)
        dst[i] = (src[i] >= 32 && src[i] < 127) ? (char)src[i] : '?';
    dst[k] = 0;
    if (truncated)
        *truncated = k < n;
}

static void parse_request_id(const uint8_t *v, size_t n, struct http_head *out)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    copy_text(out->request_id_text, sizeof(out->request_id_text), v, n, NULL);
    if (n == 0 || n > 16)
        return;
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit(v[i]))
            return;
        id = id << 4 | (uint64_t)(isdigit(v[i]) ? v[i] - '0' : (tolower(v[i]) - 'a' + 10));
    }
    out->request_id = id;
    out->has_request_id = true;
}

static const uint8_t *find_byte(const uint8_t *p, const uint8_t *end, uint8_t c)
{
    return memchr(p, c, (size_t)(end - p));
}

bool http_head_parse(const uint8_t *data, size_t len, struct http_head *out)
{
    memset(out, 0, sizeof(*out));
    const uint8_t *p = data, *end = data + len;
    size_t m = 0;
    while (p + m < end && m < SPAN_METHOD_LEN - 1 && is_token_char(p[m]))
        m++;
    if (m == 0 || p + m >= end || p[m] != ' ')
        return false;
    copy_text(out->method, sizeof(out->method), p, m, NULL);
    p += m + 1;
    const uint8_t *sp = p;
    while (sp < end && *sp != ' ' && *sp != '\r' && *sp != '\n')
        sp++;
    copy_text(out->path, sizeof(out->path), p, (size_t)(sp - p), &out->path_truncated);
    if (sp == end)
        out->path_truncated = true;
    /* headers: lines after the request line, until an empty line or the end */
    const uint8_t *line = find_byte(sp, end, '\n');
    while (line && ++line < end) {
        const uint8_t *eol = find_byte(line, end, '\n');
        const uint8_t *stop = eol ? eol : end;
        if (stop == line || (stop - line == 1 && *line == '\r'))
            break;
        static const char name[] = "x-request-id:";
        size_t nl = sizeof(name) - 1;
        if ((size_t)(stop - line) > nl && !strncasecmp((const char *)line, name, nl) && eol)
            parse_request_id(line + nl, (size_t)(stop - line - nl), out);
        line = eol;
    }
    return true;
}
