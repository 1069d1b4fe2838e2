/* Maps fixed-size C records to table rows and back, from one list of fields per table, so the
 * INSERT, the SELECT, the binding and the reading can never disagree. */
#ifndef LOADSCOPE_STORE_ROW_CODEC_H
#define LOADSCOPE_STORE_ROW_CODEC_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

enum field_type {
    FIELD_U8,
    FIELD_U16,
    FIELD_U32,
    FIELD_U64, /* stored as a signed 64-bit integer (values used here stay below 2^63) */
    FIELD_I64,
    FIELD_U64_IF,  /* a U64, NULL unless the uint8_t at offset `aux` is non-zero */
    FIELD_HIST,    /* uint32_t[aux] as a little-endian BLOB */
    FIELD_CHARS,   /* char[aux], NUL-terminated text */
    FIELD_ADDR,    /* uint8_t[16] address as text; family (4 or 6) in the uint8_t at `aux` */
};

struct field {
    const char *column;
    size_t offset;
    enum field_type type;
    size_t aux;
};

#define FIELD(type_, rec, member, column) {column, offsetof(rec, member), type_, 0}

/* "INSERT INTO table(c1, c2, ...) VALUES (?, ?, ...)" / "SELECT c1, c2, ... FROM table"
 * into buf; returns buf. */
char *codec_insert_sql(char *buf, size_t len, const char *table, const struct field *f, size_t n);
char *codec_select_sql(char *buf, size_t len, const char *table, const struct field *f, size_t n);

/* "p.c1, p.c2, ..." (prefix may be "") into buf; returns buf. For joins. */
char *codec_columns(char *buf, size_t len, const char *prefix, const struct field *f, size_t n);

/* Binds parameters 1..n from rec / reads columns first..first+n-1 into rec (zeroed first).
 * Text and blob fields are bound without a copy: rec must stay unchanged until the statement
 * has been stepped. */
void codec_bind(sqlite3_stmt *st, const struct field *f, size_t n, const void *rec);
void codec_read_at(sqlite3_stmt *st, int first, const struct field *f, size_t n, void *rec,
                   size_t rec_size);
static inline void codec_read(sqlite3_stmt *st, const struct field *f, size_t n, void *rec,
                              size_t rec_size)
{
    codec_read_at(st, 0, f, n, rec, rec_size);
}

#endif
