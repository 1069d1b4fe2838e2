#include "correlate/join.h"

#include <stdio.h>
#include <string.h>

static int count_query(struct store *s, const char *sql, uint64_t *out, struct error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(store_db(s)));
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : error_set(err, "sqlite: %s", sqlite3_errmsg(store_db(s)));
}

double join_recorded_fraction(const struct join_result *j)
{
    /* spans + skipped count the requests the socket hooks saw; while they run part of each
     * window the windows' request counts, scaled, stand for all */
    uint64_t all = j->spans + j->spans_skipped;
    if (j->server_requests > all)
        all = j->server_requests;
    return all ? (double)j->spans / (double)all : 1.0;
}

double join_matched_fraction(const struct join_result *j)
{
    /* above --span-rate the tracer records a random sample of the requests: only those can
     * match */
    double can_match = (double)j->answered * join_recorded_fraction(j);
    if (can_match < 1)
        return 1.0;
    double f = (double)join_matched(j) / can_match;
    return f < 1 ? f : 1.0;
}

/* Through a proxy one request has a span at the proxy and one at the backend: keep the
 * deepest (the last to read the request), which did the work. */
static const char match_by_id_sql[] =
    "INSERT OR IGNORE INTO request_matches(request_id, span_id, method)"
    " SELECT request_id, span_id, 1 FROM ("
    "   SELECT s.request_id, s.span_id, row_number() OVER ("
    "     PARTITION BY s.request_id ORDER BY s.first_read_ns DESC, s.span_id DESC) AS rank"
    "   FROM server_spans s JOIN client_requests c ON c.request_id = s.request_id)"
    " WHERE rank = 1";

/* A span matches a request by 4-tuple when it arrived on the request's client port, on a
 * target port, while the request was in flight, and no other request claimed it. Candidate
 * spans are taken earliest first. */
static const char match_by_tuple_sql[] =
    "INSERT OR IGNORE INTO request_matches(request_id, span_id, method)"
    " SELECT request_id, span_id, 2 FROM ("
    "   SELECT c.request_id, (SELECT s.span_id FROM server_spans s"
    "       WHERE s.client_port = c.local_port AND s.arrival_ns BETWEEN c.start_ns AND c.end_ns"
    "         AND s.server_port IN (SELECT port FROM temp.target_ports)"
    "         AND s.span_id NOT IN (SELECT span_id FROM request_matches)"
    "       ORDER BY s.arrival_ns LIMIT 1) AS span_id"
    "   FROM client_requests c"
    "   WHERE c.status != 0 AND c.local_port != 0"
    "     AND c.request_id NOT IN (SELECT request_id FROM request_matches))"
    " WHERE span_id IS NOT NULL";

int join_requests(struct store *s, const uint16_t *target_ports, unsigned port_count,
                  struct join_result *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    if (store_exec(s,
                   "CREATE INDEX IF NOT EXISTS server_spans_by_request ON server_spans(request_id);"
                   "CREATE INDEX IF NOT EXISTS server_spans_by_port"
                   "  ON server_spans(client_port, arrival_ns);"
                   "CREATE INDEX IF NOT EXISTS request_matches_by_span ON request_matches(span_id);"
                   "DROP TABLE IF EXISTS temp.target_ports;"
                   "CREATE TEMP TABLE target_ports(port INTEGER PRIMARY KEY);"
                   "DELETE FROM request_matches;",
                   err) != 0)
        return -1;
    for (unsigned i = 0; i < port_count; i++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO temp.target_ports VALUES (%u)",
                 target_ports[i]);
        if (store_exec(s, sql, err) != 0)
            return -1;
    }
    if (store_exec(s, "BEGIN", err) != 0)
        return -1;
    if (store_exec(s, match_by_id_sql, err) != 0 || store_exec(s, match_by_tuple_sql, err) != 0) {
        store_exec(s, "ROLLBACK", NULL);
        return -1;
    }
    if (store_exec(s, "COMMIT", err) != 0)
        return -1;
    if (count_query(s, "SELECT count(*) FROM client_requests", &out->requests, err) ||
        count_query(s, "SELECT count(*) FROM client_requests WHERE status != 0", &out->answered,
                    err) ||
        count_query(s, "SELECT count(*) FROM request_matches WHERE method = 1",
                    &out->by_request_id, err) ||
        count_query(s, "SELECT count(*) FROM request_matches WHERE method = 2",
                    &out->by_four_tuple, err) ||
        count_query(s, "SELECT count(*) FROM server_spans", &out->spans, err) ||
        count_query(s, "SELECT coalesce(sum(spans_skipped), 0) FROM replica_windows",
                    &out->spans_skipped, err) ||
        count_query(s, "SELECT coalesce(sum(requests), 0) FROM replica_windows",
                    &out->server_requests, err) ||
        count_query(s,
                    "SELECT count(*) FROM server_spans WHERE span_id NOT IN"
                    " (SELECT span_id FROM request_matches) AND (request_id IS NULL OR"
                    " request_id NOT IN (SELECT request_id FROM client_requests))",
                    &out->spans_unmatched, err))
        return -1;
    return 0;
}
