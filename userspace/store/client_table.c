#include "store/client_table.h"

#include <string.h>

#define CLIENT_QUEUE_RECORDS (1u << 17) /* per engine thread: > 1 s at 100k req/s */

static const char insert_sql[] =
    "INSERT INTO client_requests(request_id, endpoint, host, thread, intended_ns, start_ns,"
    " end_ns, connect_us, tls_us, ttfb_us, total_us, bytes_in, bytes_out, users, status,"
    " failure, local_port, reused, error_code) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static const char select_sql[] =
    "SELECT request_id, endpoint, host, thread, intended_ns, start_ns, end_ns, connect_us,"
    " tls_us, ttfb_us, total_us, bytes_in, bytes_out, users, status, failure, local_port,"
    " reused, error_code FROM client_requests ORDER BY end_ns, request_id";

static int bind_record(sqlite3_stmt *st, const void *item)
{
    const struct client_record *r = item;
    int i = 1;
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->request_id);
    sqlite3_bind_int(st, i++, r->endpoint);
    sqlite3_bind_int(st, i++, r->host);
    sqlite3_bind_int(st, i++, r->thread);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->intended_ns);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->start_ns);
    sqlite3_bind_int64(st, i++, (sqlite3_int64)r->end_ns);
    sqlite3_bind_int64(st, i++, r->connect_us);
    sqlite3_bind_int64(st, i++, r->tls_us);
    sqlite3_bind_int64(st, i++, r->ttfb_us);
    sqlite3_bind_int64(st, i++, r->total_us);
    sqlite3_bind_int64(st, i++, r->bytes_in);
    sqlite3_bind_int64(st, i++, r->bytes_out);
    sqlite3_bind_int64(st, i++, r->users);
    sqlite3_bind_int(st, i++, r->status);
    sqlite3_bind_int(st, i++, r->failure);
    sqlite3_bind_int(st, i++, r->local_port);
    sqlite3_bind_int(st, i++, r->reused);
    sqlite3_bind_int(st, i++, r->error_code);
    return 0;
}

int client_table_add_stream(struct store *s, unsigned engine_threads, struct error *err)
{
    struct store_stream_def def = {
        .name = "client_requests",
        .sql = insert_sql,
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

static void read_record(sqlite3_stmt *st, struct client_record *r)
{
    memset(r, 0, sizeof(*r));
    int i = 0;
    r->request_id = (uint64_t)sqlite3_column_int64(st, i++);
    r->endpoint = (uint16_t)sqlite3_column_int(st, i++);
    r->host = (uint16_t)sqlite3_column_int(st, i++);
    r->thread = (uint8_t)sqlite3_column_int(st, i++);
    r->intended_ns = (uint64_t)sqlite3_column_int64(st, i++);
    r->start_ns = (uint64_t)sqlite3_column_int64(st, i++);
    r->end_ns = (uint64_t)sqlite3_column_int64(st, i++);
    r->connect_us = (uint32_t)sqlite3_column_int64(st, i++);
    r->tls_us = (uint32_t)sqlite3_column_int64(st, i++);
    r->ttfb_us = (uint32_t)sqlite3_column_int64(st, i++);
    r->total_us = (uint32_t)sqlite3_column_int64(st, i++);
    r->bytes_in = (uint32_t)sqlite3_column_int64(st, i++);
    r->bytes_out = (uint32_t)sqlite3_column_int64(st, i++);
    r->users = (uint32_t)sqlite3_column_int64(st, i++);
    r->status = (uint16_t)sqlite3_column_int(st, i++);
    r->failure = (uint8_t)sqlite3_column_int(st, i++);
    r->local_port = (uint16_t)sqlite3_column_int(st, i++);
    r->reused = (uint8_t)sqlite3_column_int(st, i++);
    r->error_code = (uint8_t)sqlite3_column_int(st, i++);
}

int client_table_each(struct store *s, int (*fn)(void *ctx, const struct client_record *r),
                      void *ctx, struct error *err)
{
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, select_sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    int rc, result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct client_record r;
        read_record(st, &r);
        result = fn(ctx, &r);
        if (result)
            break;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return result;
}
