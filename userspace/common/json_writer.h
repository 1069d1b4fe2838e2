/* A streaming JSON writer: outputs as it goes, so a Perfetto trace of millions of events never
 * sits in memory. Strings are escaped for JSON *and* for embedding in an HTML <script> block
 * ('<', '>', '&', U+2028/U+2029 become \u escapes), and invalid UTF-8 becomes U+FFFD, because
 * they often come from the target (URLs, response bodies, error messages).
 *
 *   struct json_writer w;
 *   json_init(&w, file);
 *   json_object_begin(&w);
 *   json_key(&w, "rps"); json_double(&w, 812.5);
 *   json_object_end(&w);
 */
#ifndef LOADSCOPE_COMMON_JSON_WRITER_H
#define LOADSCOPE_COMMON_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json_writer {
    FILE *out;
    int depth;
    bool pretty;
    bool need_comma[JSON_MAX_DEPTH];
    bool after_key;
};

void json_init(struct json_writer *w, FILE *out, bool pretty);
void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_string_n(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
void json_double(struct json_writer *w, double v); /* NaN and infinities become null */
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* Writes text verbatim as one value: it must be valid JSON written by this writer (so already
 * escaped), e.g. a fragment kept in the run store. */
void json_raw(struct json_writer *w, const char *text);

/* key + value shorthands */
void json_kv_string(struct json_writer *w, const char *key, const char *s);
void json_kv_int(struct json_writer *w, const char *key, int64_t v);
void json_kv_uint(struct json_writer *w, const char *key, uint64_t v);
void json_kv_double(struct json_writer *w, const char *key, double v);
void json_kv_bool(struct json_writer *w, const char *key, bool v);

/* Writes s escaped as the inside of a JSON string (no quotes) to out. */
void json_escape(FILE *out, const char *s, size_t len);

/* Length of the valid UTF-8 sequence starting at s (at most len bytes, len > 0), or 0 if it is
 * invalid (overlong, surrogate, beyond U+10FFFF, truncated). Shared by the other escapers
 * (XML, Markdown) so that all outputs treat bad bytes alike. */
size_t json_utf8_sequence(const unsigned char *s, size_t len);

#endif
