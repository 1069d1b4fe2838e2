#include "store/matches.h"

#include <stdio.h>

#include "store/client_table.h"
#include "store/server_tables.h"

int matches_each(struct store *s,
                 int (*fn)(void *ctx, const struct client_record *c, const struct server_span *sp,
                           enum match_method method),
                 void *ctx, struct error *err)
{
    size_t nc, ns;
    const struct field *cf = client_table_fields(&nc);
    const struct field *sf = server_tables_span_fields(&ns);
    char ccols[2048], scols[4096], sql[8192];
    snprintf(sql, sizeof(sql),
             "SELECT m.method, %s, %s FROM request_matches m"
             " JOIN client_requests c ON c.request_id = m.request_id"
             " JOIN server_spans s ON s.span_id = m.span_id ORDER BY c.end_ns, c.request_id",
             codec_columns(ccols, sizeof(ccols), "c.", cf, nc),
             codec_columns(scols, sizeof(scols), "s.", sf, ns));
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    int rc, result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct client_record c;
        struct server_span sp;
        codec_read_at(st, 1, cf, nc, &c, sizeof(c));
        codec_read_at(st, 1 + (int)nc, sf, ns, &sp, sizeof(sp));
        result = fn(ctx, &c, &sp, (enum match_method)sqlite3_column_int(st, 0));
        if (result)
            break;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return result;
}
