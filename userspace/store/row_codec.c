#include "store/row_codec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static size_t column_list(char *buf, size_t len, const char *prefix, const struct field *f,
                          size_t n)
{
    size_t off = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s%s", i ? ", " : "", prefix,
                                f[i].column);
    return off < len ? off : len;
}

char *codec_columns(char *buf, size_t len, const char *prefix, const struct field *f, size_t n)
{
    column_list(buf, len, prefix, f, n);
    return buf;
}

char *codec_insert_sql(char *buf, size_t len, const char *table, const struct field *f, size_t n)
{
    size_t off = (size_t)snprintf(buf, len, "INSERT INTO %s(", table);
    if (off < len)
        off += column_list(buf + off, len - off, "", f, n);
    if (off < len)
        off += (size_t)snprintf(buf + off, len - off, ") VALUES (");
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s?", i ? "," : "");
    if (off < len)
        snprintf(buf + off, len - off, ")");
    return buf;
}

char *codec_select_sql(char *buf, size_t len, const char *table, const struct field *f, size_t n)
{
    size_t off = (size_t)snprintf(buf, len, "SELECT ");
    if (off < len)
        off += column_list(buf + off, len - off, "", f, n);
    if (off < len)
        snprintf(buf + off, len - off, " FROM %s", table);
    return buf;
}

static uint64_t load_uint(const unsigned char *p, enum field_type t)
{
    switch (t) {
    case FIELD_U8: return *p;
    case FIELD_U16: { uint16_t v; memcpy(&v, p, sizeof(v)); return v; }
    case FIELD_U32: { uint32_t v; memcpy(&v, p, sizeof(v)); return v; }
    default: { uint64_t v; memcpy(&v, p, sizeof(v)); return v; }
    }
}

static void store_uint(unsigned char *p, enum field_type t, uint64_t v)
{
    switch (t) {
    case FIELD_U8: *p = (uint8_t)v; break;
    case FIELD_U16: { uint16_t x = (uint16_t)v; memcpy(p, &x, sizeof(x)); break; }
    case FIELD_U32: { uint32_t x = (uint32_t)v; memcpy(p, &x, sizeof(x)); break; }
    default: memcpy(p, &v, sizeof(v)); break;
    }
}

/* Dotted quad without printf: the writer formats two addresses per stored row, and
 * inet_ntop's sprintf was a tenth of the writer thread's time at 50k rows/s. */
static void format_ipv4(const unsigned char *a, char *out)
{
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *out++ = (char)('0' + v / 100);
        if (v >= 10)
            *out++ = (char)('0' + v / 10 % 10);
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
}

static void bind_addr(sqlite3_stmt *st, int col, const unsigned char *addr, uint8_t family)
{
    char text[INET6_ADDRSTRLEN] = "";
    if (family == 4)
        format_ipv4(addr, text);
    else if (family == 6)
        inet_ntop(AF_INET6, addr, text, sizeof(text));
    sqlite3_bind_text(st, col, text, -1, SQLITE_TRANSIENT);
}

static void read_addr(sqlite3_stmt *st, int col, unsigned char *addr)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    if (!text || !*text)
        return;
    if (inet_pton(AF_INET, text, addr) != 1)
        inet_pton(AF_INET6, text, addr);
}

void codec_bind(sqlite3_stmt *st, const struct field *f, size_t n, const void *rec)
{
    const unsigned char *base = rec;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = base + f[i].offset;
        int col = (int)i + 1;
        switch (f[i].type) {
        case FIELD_U8: case FIELD_U16: case FIELD_U32: case FIELD_U64:
            sqlite3_bind_int64(st, col, (sqlite3_int64)load_uint(p, f[i].type));
            break;
        case FIELD_I64: {
            int64_t v;
            memcpy(&v, p, sizeof(v));
            sqlite3_bind_int64(st, col, v);
            break;
        }
        case FIELD_U64_IF:
            if (base[f[i].aux])
                sqlite3_bind_int64(st, col, (sqlite3_int64)load_uint(p, FIELD_U64));
            else
                sqlite3_bind_null(st, col);
            break;
        case FIELD_HIST: {
            /* x86-64 is little-endian: the array's bytes are the stored form */
            sqlite3_bind_blob(st, col, p, (int)(f[i].aux * sizeof(uint32_t)), SQLITE_STATIC);
            break;
        }
        case FIELD_CHARS:
            sqlite3_bind_text(st, col, (const char *)p, (int)strnlen((const char *)p, f[i].aux),
                              SQLITE_STATIC);
            break;
        case FIELD_ADDR:
            bind_addr(st, col, p, base[f[i].aux]);
            break;
        }
    }
}

void codec_read_at(sqlite3_stmt *st, int first, const struct field *f, size_t n, void *rec,
                   size_t rec_size)
{
    unsigned char *base = rec;
    memset(rec, 0, rec_size);
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = base + f[i].offset;
        int col = first + (int)i;
        switch (f[i].type) {
        case FIELD_U8: case FIELD_U16: case FIELD_U32: case FIELD_U64: case FIELD_I64:
            store_uint(p, f[i].type == FIELD_I64 ? FIELD_U64 : f[i].type,
                       (uint64_t)sqlite3_column_int64(st, col));
            break;
        case FIELD_U64_IF:
            if (sqlite3_column_type(st, col) != SQLITE_NULL) {
                store_uint(p, FIELD_U64, (uint64_t)sqlite3_column_int64(st, col));
                base[f[i].aux] = 1;
            }
            break;
        case FIELD_HIST: {
            const void *blob = sqlite3_column_blob(st, col);
            size_t bytes = (size_t)sqlite3_column_bytes(st, col);
            size_t want = f[i].aux * sizeof(uint32_t);
            if (blob)
                memcpy(p, blob, bytes < want ? bytes : want);
            break;
        }
        case FIELD_CHARS: {
            const char *text = (const char *)sqlite3_column_text(st, col);
            if (text && f[i].aux)
                snprintf((char *)p, f[i].aux, "%s", text);
            break;
        }
        case FIELD_ADDR:
            read_addr(st, col, p);
            break;
        }
    }
}
