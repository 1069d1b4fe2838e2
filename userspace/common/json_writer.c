#include "common/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void json_init(struct json_writer *w, FILE *out, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->pretty = pretty;
}

static void indent(struct json_writer *w)
{
    if (!w->pretty)
        return;
    fputc('\n', w->out);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->out);
}

/* Called before every value or key: writes the separator the position needs. */
static void before_item(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->need_comma[w->depth])
            fputc(',', w->out);
        w->need_comma[w->depth] = true;
        indent(w);
    }
}

static void open_scope(struct json_writer *w, char c)
{
    before_item(w);
    fputc(c, w->out);
    if (w->depth < JSON_MAX_DEPTH - 1)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void close_scope(struct json_writer *w, char c)
{
    bool had_items = w->need_comma[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (had_items)
        indent(w);
    fputc(c, w->out);
    if (w->depth == 0 && w->pretty)
        fputc('\n', w->out);
}

void json_object_begin(struct json_writer *w) { open_scope(w, '{'); }
void json_object_end(struct json_writer *w) { close_scope(w, '}'); }
void json_array_begin(struct json_writer *w) { open_scope(w, '['); }
void json_array_end(struct json_writer *w) { close_scope(w, ']'); }

size_t json_utf8_sequence(const unsigned char *s, size_t len)
{
    size_t n;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void json_escape(FILE *out, const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        switch (c) {
        case '"': fputs("\\\"", out); i++; continue;
        case '\\': fputs("\\\\", out); i++; continue;
        case '\n': fputs("\\n", out); i++; continue;
        case '\r': fputs("\\r", out); i++; continue;
        case '\t': fputs("\\t", out); i++; continue;
        case '<': case '>': case '&': case '\'':
            fprintf(out, "\\u%04x", c); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7F) {
            fprintf(out, "\\u%04x", c);
            i++;
            continue;
        }
        size_t n = json_utf8_sequence(s + i, len - i);
        if (n == 0) {
            fputs("\\ufffd", out);
            i++;
            continue;
        }
        /* U+2028/U+2029 end a line in JavaScript source. */
        if (n == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            fprintf(out, "\\u%04x", s[i + 2] == 0xA8 ? 0x2028 : 0x2029);
        } else {
            fwrite(s + i, 1, n, out);
        }
        i += n;
    }
}

void json_key(struct json_writer *w, const char *key)
{
    before_item(w);
    fputc('"', w->out);
    json_escape(w->out, key, strlen(key));
    fputs(w->pretty ? "\": " : "\":", w->out);
    w->after_key = true;
}

void json_string_n(struct json_writer *w, const char *s, size_t len)
{
    before_item(w);
    fputc('"', w->out);
    json_escape(w->out, s, len);
    fputc('"', w->out);
}

void json_string(struct json_writer *w, const char *s)
{
    if (!s) {
        json_null(w);
        return;
    }
    json_string_n(w, s, strlen(s));
}

void json_int(struct json_writer *w, int64_t v)
{
    before_item(w);
    fprintf(w->out, "%" PRId64, v);
}

void json_uint(struct json_writer *w, uint64_t v)
{
    before_item(w);
    fprintf(w->out, "%" PRIu64, v);
}

void json_double(struct json_writer *w, double v)
{
    if (!isfinite(v)) {
        json_null(w);
        return;
    }
    before_item(w);
    if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
        fprintf(w->out, "%" PRId64, (int64_t)v);
        return;
    }
    /* The shortest of %.15g/%.17g that reads back as the same double: exact, yet readable. */
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, w->out);
}

void json_bool(struct json_writer *w, bool v)
{
    before_item(w);
    fputs(v ? "true" : "false", w->out);
}

void json_null(struct json_writer *w)
{
    before_item(w);
    fputs("null", w->out);
}

void json_raw(struct json_writer *w, const char *text)
{
    before_item(w);
    fputs(text, w->out);
}

void json_kv_string(struct json_writer *w, const char *key, const char *s) { json_key(w, key); json_string(w, s); }
void json_kv_int(struct json_writer *w, const char *key, int64_t v) { json_key(w, key); json_int(w, v); }
void json_kv_uint(struct json_writer *w, const char *key, uint64_t v) { json_key(w, key); json_uint(w, v); }
void json_kv_double(struct json_writer *w, const char *key, double v) { json_key(w, key); json_double(w, v); }
void json_kv_bool(struct json_writer *w, const char *key, bool v) { json_key(w, key); json_bool(w, v); }
