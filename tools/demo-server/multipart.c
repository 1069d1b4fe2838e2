#include "multipart.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Finds parameter `name` in "type; a=b; name=value" and copies its (unquoted) value. */
static int find_param(const char *p, const char *end, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            return -1;
        p = skip_ws(semi + 1, end);
        if ((size_t)(end - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == '=') {
            const char *v = p + nlen + 1, *vend;
            if (v < end && *v == '"') {
                v++;
                vend = memchr(v, '"', (size_t)(end - v));
                if (!vend)
                    return -1;
            } else {
                vend = v;
                while (vend < end && *vend != ';' && *vend != ' ' && *vend != '\t')
                    vend++;
            }
            if (vend == v || (size_t)(vend - v) >= cap)
                return -1;
            memcpy(out, v, (size_t)(vend - v));
            out[vend - v] = '\0';
            return 0;
        }
    }
    return -1;
}

enum body_kind multipart_classify(const char *ctype, size_t len, char *boundary, size_t cap)
{
    if (!ctype || !len)
        return BODY_RAW;
    const char *end = ctype + len;
    const char *semi = memchr(ctype, ';', len);
    const char *tend = semi ? semi : end;
    while (tend > ctype && (tend[-1] == ' ' || tend[-1] == '\t'))
        tend--;
    size_t tlen = (size_t)(tend - ctype);
    if (http_token_eq(ctype, tlen, "application/octet-stream") ||
        (tlen > 6 && !strncasecmp(ctype, "image/", 6)))
        return BODY_RAW;
    if (http_token_eq(ctype, tlen, "multipart/form-data"))
        return find_param(ctype, end, "boundary", boundary, cap) ? BODY_UNSUPPORTED
                                                                  : BODY_MULTIPART;
    return BODY_UNSUPPORTED;
}

/* In the part headers [p, end): is this the "file" field, and does it carry a filename? */
static void part_disposition(const char *p, const char *end, bool *is_file, bool *has_filename)
{
    *is_file = *has_filename = false;
    while (p < end) {
        const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!e)
            e = end;
        static const char cd[] = "content-disposition:";
        if ((size_t)(e - p) > sizeof(cd) - 1 && !strncasecmp(p, cd, sizeof(cd) - 1)) {
            char value[256];
            const char *v = p + sizeof(cd) - 1;
            if (!find_param(v, e, "name", value, sizeof(value)) && !strcmp(value, "file"))
                *is_file = true;
            if (!find_param(v, e, "filename", value, sizeof(value)))
                *has_filename = true;
        }
        if (e == end)
            break;
        p = e + 2;
    }
}

int multipart_find_file(const uint8_t *body, size_t len, const char *boundary,
                        const uint8_t **data, size_t *data_len, const char **why)
{
    char delim[256];
    size_t blen = strlen(boundary);
    if (blen + 4 > sizeof(delim)) {
        *why = "multipart boundary too long";
        return -1;
    }
    /* Every delimiter but the first is preceded by CRLF; the first may follow a preamble. */
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;
    const char *b = (const char *)body, *end = b + len;
    const char *p;
    if (len >= dlen - 2 && !memcmp(b, delim + 2, dlen - 2))
        p = b + dlen - 2;
    else if ((p = memmem(b, len, delim, dlen)))
        p += dlen;
    else {
        *why = "multipart body without its boundary";
        return -1;
    }
    const uint8_t *first = NULL;
    size_t first_len = 0;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *why = "malformed multipart delimiter";
            return -1;
        }
        const char *hdrs = p + 2;
        const char *hend;
        if (end - hdrs >= 2 && hdrs[0] == '\r' && hdrs[1] == '\n')
            hend = hdrs - 2; /* a part without headers */
        else
            hend = memmem(hdrs, (size_t)(end - hdrs), "\r\n\r\n", 4);
        if (!hend) {
            *why = "multipart part without a header end";
            return -1;
        }
        const char *content = hend + 4;
        const char *next = memmem(content, (size_t)(end - content), delim, dlen);
        if (!next) {
            *why = "multipart body not terminated by its boundary";
            return -1;
        }
        bool is_file, has_filename;
        part_disposition(hdrs, hend, &is_file, &has_filename);
        if (is_file) {
            *data = (const uint8_t *)content;
            *data_len = (size_t)(next - content);
            return 0;
        }
        if (has_filename && !first) {
            first = (const uint8_t *)content;
            first_len = (size_t)(next - content);
        }
        p = next + dlen;
    }
    if (!first) {
        *why = "multipart body without a file part";
        return -1;
    }
    *data = first;
    *data_len = first_len;
    return 0;
}
