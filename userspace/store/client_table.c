#include "store/client_table.h"

#include <string.h>

#include "store/row_codec.h"

#define CLIENT_QUEUE_RECORDS (1u << 17) /* per engine thread: > 1 s at 100k req/s */

#define REC_FIELD(type, member) FIELD(type, struct client_record, member, #member)

static const struct field client_fields[] = {
    REC_FIELD(FIELD_U64, request_id),  REC_FIELD(FIELD_U16, endpoint),
    REC_FIELD(FIELD_U16, host),        REC_FIELD(FIELD_U8, thread),
    REC_FIELD(FIELD_U64, intended_ns), REC_FIELD(FIELD_U64, start_ns),
    REC_FIELD(FIELD_U64, end_ns),      REC_FIELD(FIELD_U32, connect_us),
    REC_FIELD(FIELD_U32, tls_us),      REC_FIELD(FIELD_U32, ttfb_us),
    REC_FIELD(FIELD_U32, total_us),    REC_FIELD(FIELD_U32, bytes_in),
    REC_FIELD(FIELD_U32, bytes_out),   REC_FIELD(FIELD_U32, users),
    REC_FIELD(FIELD_U16, status),      REC_FIELD(FIELD_U8, failure),
    REC_FIELD(FIELD_U16, local_port),  REC_FIELD(FIELD_U8, reused),
    REC_FIELD(FIELD_U8, error_code),
};
#define CLIENT_FIELDS (sizeof(client_fields) / sizeof(client_fields[0]))

const struct field *client_table_fields(size_t *count)
{
    *count = CLIENT_FIELDS;
    return client_fields;
}

static int bind_record(sqlite3_stmt *st, const void *item)
{
    codec_bind(st, client_fields, CLIENT_FIELDS, item);
    return 0;
}

int client_table_add_stream(struct store *s, unsigned engine_threads, struct error *err)
{
    char sql[1024];
    struct store_stream_def def = {
        .name = "client_requests",
        .sql = codec_insert_sql(sql, sizeof(sql), "client_requests", client_fields, CLIENT_FIELDS),
        .record_size = sizeof(struct client_record),
        .producers = engine_threads,
        .queue_capacity = CLIENT_QUEUE_RECORDS,
        .bind = bind_record,
    };
    return store_add_stream(s, &def, err);
}

static int insert_row(struct store *s, const char *sql, unsigned index, const char *a,
                      const char *b, const char *c, double weight, struct error *err)
{
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    int i = 1;
    sqlite3_bind_int(st, i++, (int)index);
    const char *texts[] = {a, b, c};
    for (int k = 0; k < 3; k++)
        if (texts[k])
            sqlite3_bind_text(st, i++, texts[k], -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, i, weight);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    return 0;
}

int client_table_add_host(struct store *s, unsigned index, const char *url, double weight,
                          struct error *err)
{
    return insert_row(s, "INSERT INTO hosts(host, url, weight) VALUES (?,?,?)", index, url, NULL,
                      NULL, weight, err);
}

int client_table_add_endpoint(struct store *s, unsigned index, const char *method,
                              const char *name, const char *path, double weight,
                              struct error *err)
{
    return insert_row(s,
                      "INSERT INTO endpoints(endpoint, method, name, path, weight)"
                      " VALUES (?,?,?,?,?)",
                      index, method, name, path, weight, err);
}

int client_table_each(struct store *s, int (*fn)(void *ctx, const struct client_record *r),
                      void *ctx, struct error *err)
{
    sqlite3 *db = store_db(s);
    char sql[1024];
    codec_select_sql(sql, sizeof(sql), "client_requests", client_fields, CLIENT_FIELDS);
    strncat(sql, " ORDER BY end_ns, request_id", sizeof(sql) - strlen(sql) - 1);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    int rc, result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct client_record r;
        codec_read(st, client_fields, CLIENT_FIELDS, &r, sizeof(r));
        result = fn(ctx, &r);
        if (result)
            break;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return result;
}
