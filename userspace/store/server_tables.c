#include "store/server_tables.h"

#include <stdio.h>
#include <string.h>

#include "store/row_codec.h"

#define SPAN_QUEUE_RECORDS (1u << 16)
#define WINDOW_QUEUE_RECORDS 256

#define SPAN_FIELD(type, member, column) FIELD(type, struct server_span, member, column)
#define WIN_FIELD(type, member, column) FIELD(type, struct replica_window, member, column)
#define WIN_HIST(member, column)                                                             \
    {column, offsetof(struct replica_window, member), FIELD_HIST, WINDOW_HIST_SLOTS}

static const struct field span_fields[] = {
    SPAN_FIELD(FIELD_U64, span_id, "span_id"),
    SPAN_FIELD(FIELD_U64, conn_id, "conn_id"),
    SPAN_FIELD(FIELD_U32, seq, "seq"),
    SPAN_FIELD(FIELD_U32, replica, "replica"),
    SPAN_FIELD(FIELD_U32, tgid, "tgid"),
    SPAN_FIELD(FIELD_U32, tid, "tid"),
    SPAN_FIELD(FIELD_U8, end_reason, "end_reason"),
    SPAN_FIELD(FIELD_U16, flags, "flags"),
    SPAN_FIELD(FIELD_U8, family, "family"),
    {"server_addr", offsetof(struct server_span, server_addr), FIELD_ADDR,
     offsetof(struct server_span, family)},
    SPAN_FIELD(FIELD_U16, server_port, "server_port"),
    {"client_addr", offsetof(struct server_span, client_addr), FIELD_ADDR,
     offsetof(struct server_span, family)},
    SPAN_FIELD(FIELD_U16, client_port, "client_port"),
    SPAN_FIELD(FIELD_U64, established_ns, "established_ns"),
    SPAN_FIELD(FIELD_U64, accept_ns, "accept_ns"),
    SPAN_FIELD(FIELD_U64, arrival_ns, "arrival_ns"),
    SPAN_FIELD(FIELD_U64, first_read_ns, "first_read_ns"),
    SPAN_FIELD(FIELD_U64, response_start_ns, "response_start_ns"),
    SPAN_FIELD(FIELD_U64, response_end_ns, "response_end_ns"),
    SPAN_FIELD(FIELD_U64, oncpu_ns, "oncpu_ns"),
    SPAN_FIELD(FIELD_U64, runq_ns, "runq_ns"),
    SPAN_FIELD(FIELD_U64, offcpu_ns[OFF_LOCK], "off_lock_ns"),
    SPAN_FIELD(FIELD_U64, offcpu_ns[OFF_DOWNSTREAM], "off_downstream_ns"),
    SPAN_FIELD(FIELD_U64, offcpu_ns[OFF_DISK], "off_disk_ns"),
    SPAN_FIELD(FIELD_U64, offcpu_ns[OFF_SLEEP], "off_sleep_ns"),
    SPAN_FIELD(FIELD_U64, offcpu_ns[OFF_IDLE], "off_idle_ns"),
    SPAN_FIELD(FIELD_U64, offcpu_ns[OFF_OTHER], "off_other_ns"),
    SPAN_FIELD(FIELD_U64, bytes_in, "bytes_in"),
    SPAN_FIELD(FIELD_U64, bytes_out, "bytes_out"),
    {"request_id", offsetof(struct server_span, request_id), FIELD_U64_IF,
     offsetof(struct server_span, has_request_id)},
    {"request_id_text", offsetof(struct server_span, request_id_text), FIELD_CHARS,
     SPAN_REQUEST_ID_LEN},
    {"method", offsetof(struct server_span, method), FIELD_CHARS, SPAN_METHOD_LEN},
    {"path", offsetof(struct server_span, path), FIELD_CHARS, SPAN_PATH_LEN},
    SPAN_FIELD(FIELD_U32, sample_weight, "sample_weight"),
};

static const struct field window_fields[] = {
    WIN_FIELD(FIELD_U32, replica, "replica"),
    WIN_FIELD(FIELD_U64, start_ns, "start_ns"),
    WIN_FIELD(FIELD_U64, end_ns, "end_ns"),
    WIN_FIELD(FIELD_U32, processes, "processes"),
    WIN_FIELD(FIELD_U32, threads, "threads"),
    WIN_FIELD(FIELD_U32, busy_threads, "busy_threads"),
    WIN_FIELD(FIELD_U64, oncpu_ns, "oncpu_ns"),
    WIN_FIELD(FIELD_U64, runq_ns, "runq_ns"),
    WIN_FIELD(FIELD_U64, offcpu_ns[OFF_LOCK], "off_lock_ns"),
    WIN_FIELD(FIELD_U64, offcpu_ns[OFF_DOWNSTREAM], "off_downstream_ns"),
    WIN_FIELD(FIELD_U64, offcpu_ns[OFF_DISK], "off_disk_ns"),
    WIN_FIELD(FIELD_U64, offcpu_ns[OFF_SLEEP], "off_sleep_ns"),
    WIN_FIELD(FIELD_U64, offcpu_ns[OFF_IDLE], "off_idle_ns"),
    WIN_FIELD(FIELD_U64, offcpu_ns[OFF_OTHER], "off_other_ns"),
    WIN_FIELD(FIELD_U64, switches, "switches"),
    WIN_FIELD(FIELD_U64, involuntary_switches, "involuntary_switches"),
    WIN_FIELD(FIELD_U64, runq_waits, "runq_waits"),
    WIN_HIST(runq_hist, "runq_hist"),
    WIN_FIELD(FIELD_U64, forks, "forks"),
    WIN_FIELD(FIELD_U64, exits, "exits"),
    WIN_FIELD(FIELD_U64, accepts, "accepts"),
    WIN_FIELD(FIELD_U64, accept_wait_ns, "accept_wait_ns"),
    WIN_HIST(accept_wait_hist, "accept_wait_hist"),
    WIN_FIELD(FIELD_U64, accept_queue_samples, "accept_queue_samples"),
    WIN_FIELD(FIELD_U64, accept_queue_sum, "accept_queue_sum"),
    WIN_FIELD(FIELD_U64, accept_queue_max, "accept_queue_max"),
    WIN_FIELD(FIELD_U64, requests, "requests"),
    WIN_FIELD(FIELD_U64, recvq_wait_ns, "recvq_wait_ns"),
    WIN_HIST(recvq_hist, "recvq_hist"),
    WIN_FIELD(FIELD_I64, open_spans, "open_spans"),
    WIN_FIELD(FIELD_U64, spans_skipped, "spans_skipped"),
    WIN_FIELD(FIELD_U64, socket_hooks_ns, "socket_hooks_ns"),
    WIN_FIELD(FIELD_U64, bytes_in, "bytes_in"),
    WIN_FIELD(FIELD_U64, bytes_out, "bytes_out"),
    WIN_FIELD(FIELD_U64, downstream_bytes_in, "downstream_bytes_in"),
    WIN_FIELD(FIELD_U64, downstream_bytes_out, "downstream_bytes_out"),
    WIN_FIELD(FIELD_U64, retransmits, "retransmits"),
    WIN_FIELD(FIELD_U64, resets_sent, "resets_sent"),
    WIN_FIELD(FIELD_U64, resets_received, "resets_received"),
    WIN_FIELD(FIELD_U64, host_listen_overflows, "host_listen_overflows"),
    WIN_FIELD(FIELD_U64, host_listen_drops, "host_listen_drops"),
    WIN_FIELD(FIELD_U64, lost_spans, "lost_spans"),
    WIN_FIELD(FIELD_U64, lost_heads, "lost_heads"),
    WIN_FIELD(FIELD_U64, lost_other, "lost_other"),
    WIN_FIELD(FIELD_U64, syscall_hooks_ns, "syscall_hooks_ns"),
    WIN_FIELD(FIELD_U64, syscalls, "syscalls"),
    WIN_FIELD(FIELD_U32, syscall_kinds, "syscall_kinds"),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct field *server_tables_span_fields(size_t *count)
{
    *count = COUNT(span_fields);
    return span_fields;
}

static int bind_span(sqlite3_stmt *st, const void *rec)
{
    codec_bind(st, span_fields, COUNT(span_fields), rec);
    return 0;
}

/* A window is one replica_windows row plus one syscall_windows row per kept syscall: the
 * stream's statement inserts the first, the rest go through a second statement prepared on
 * the same connection (the writer thread is the only user of both). */
static int bind_window(sqlite3_stmt *st, const void *rec)
{
    const struct replica_window *w = rec;
    codec_bind(st, window_fields, COUNT(window_fields), rec);
    sqlite3 *db = sqlite3_db_handle(st);
    sqlite3_stmt *sys;
    if (w->syscall_count_kept == 0 ||
        sqlite3_prepare_v3(db,
                           "INSERT INTO syscall_windows(replica, start_ns, nr, count, total_ns,"
                           " hist) VALUES (?,?,?,?,?,?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &sys, NULL) != SQLITE_OK)
        return 0;
    for (uint32_t i = 0; i < w->syscall_count_kept && i < WINDOW_SYSCALLS; i++) {
        const struct syscall_window *sw = &w->syscalls_top[i];
        sqlite3_bind_int(sys, 1, (int)w->replica);
        sqlite3_bind_int64(sys, 2, (sqlite3_int64)w->start_ns);
        sqlite3_bind_int(sys, 3, (int)sw->nr);
        sqlite3_bind_int64(sys, 4, (sqlite3_int64)sw->count);
        sqlite3_bind_int64(sys, 5, (sqlite3_int64)sw->total_ns);
        sqlite3_bind_blob(sys, 6, sw->hist, sizeof(sw->hist), SQLITE_STATIC);
        sqlite3_step(sys);
        sqlite3_reset(sys);
    }
    sqlite3_finalize(sys);
    return 0;
}

int server_tables_add_streams(struct store *s, struct server_streams *out, struct error *err)
{
    char span_sql[2048], window_sql[4096];
    struct store_stream_def spans = {
        .name = "server_spans",
        .sql = codec_insert_sql(span_sql, sizeof(span_sql), "server_spans", span_fields,
                                COUNT(span_fields)),
        .record_size = sizeof(struct server_span),
        .producers = 1,
        .queue_capacity = SPAN_QUEUE_RECORDS,
        .bind = bind_span,
    };
    struct store_stream_def windows = {
        .name = "replica_windows",
        .sql = codec_insert_sql(window_sql, sizeof(window_sql), "replica_windows", window_fields,
                                COUNT(window_fields)),
        .record_size = sizeof(struct replica_window),
        .producers = 1,
        .queue_capacity = WINDOW_QUEUE_RECORDS,
        .bind = bind_window,
    };
    out->spans = store_add_stream(s, &spans, err);
    if (out->spans < 0)
        return -1;
    out->windows = store_add_stream(s, &windows, err);
    return out->windows < 0 ? -1 : 0;
}

static int exec_bound(struct store *s, const char *sql, struct error *err,
                      void (*bind)(sqlite3_stmt *, const void *), const void *arg)
{
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    bind(st, arg);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    return 0;
}

struct replica_row {
    unsigned index;
    const char *name, *spec, *pids;
    double cores;
};

static void bind_replica(sqlite3_stmt *st, const void *arg)
{
    const struct replica_row *r = arg;
    sqlite3_bind_int(st, 1, (int)r->index);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->spec, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, r->pids, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 5, r->cores);
}

int server_tables_add_replica(struct store *s, unsigned index, const char *name,
                              const char *spec, const char *pids, double cores,
                              struct error *err)
{
    struct replica_row r = {index, name, spec, pids, cores};
    return exec_bound(s, "INSERT INTO replicas(replica, name, spec, pids, cores) VALUES (?,?,?,?,?)",
                      err, bind_replica, &r);
}

struct stack_row {
    unsigned replica;
    const char *stack;
    uint64_t count;
};

static void bind_stack(sqlite3_stmt *st, const void *arg)
{
    const struct stack_row *r = arg;
    sqlite3_bind_int(st, 1, (int)r->replica);
    sqlite3_bind_text(st, 2, r->stack, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)r->count);
}

int server_tables_add_stack(struct store *s, unsigned replica, const char *stack,
                            uint64_t count, struct error *err)
{
    struct stack_row r = {replica, stack, count};
    return exec_bound(s, "INSERT INTO stacks(replica, stack, count) VALUES (?,?,?)", err,
                      bind_stack, &r);
}

struct generator_row {
    int64_t second;
    double busy;
    uint64_t sends, late;
    double host_cpu, self_cpu;
};

static void bind_generator(sqlite3_stmt *st, const void *arg)
{
    const struct generator_row *r = arg;
    sqlite3_bind_int64(st, 1, r->second);
    sqlite3_bind_double(st, 2, r->busy);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)r->sends);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->late);
    sqlite3_bind_double(st, 5, r->host_cpu);
    sqlite3_bind_double(st, 6, r->self_cpu);
}

int server_tables_add_generator_second(struct store *s, int64_t second, double busy,
                                       uint64_t sends, uint64_t late_sends,
                                       double host_cpu_cores, double self_cpu_cores,
                                       struct error *err)
{
    struct generator_row r = {second, busy, sends, late_sends, host_cpu_cores, self_cpu_cores};
    return exec_bound(s,
                      "INSERT OR REPLACE INTO generator_seconds(second, busy, sends, late_sends,"
                      " host_cpu_cores, self_cpu_cores) VALUES (?,?,?,?,?,?)",
                      err, bind_generator, &r);
}

/* Runs `SELECT <fields> FROM table <order>` and hands each decoded row to fn. */
static int each_row(struct store *s, const char *table, const char *order,
                    const struct field *f, size_t n, size_t rec_size,
                    int (*fn)(void *, const void *), void *ctx, struct error *err)
{
    char sql[4096];
    codec_select_sql(sql, sizeof(sql), table, f, n);
    strncat(sql, order, sizeof(sql) - strlen(sql) - 1);
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    unsigned char rec[sizeof(struct replica_window) > sizeof(struct server_span)
                          ? sizeof(struct replica_window)
                          : sizeof(struct server_span)];
    int rc, result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        codec_read(st, f, n, rec, rec_size);
        result = fn(ctx, rec);
        if (result)
            break;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = error_set(err, "sqlite: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return result;
}

struct window_reader {
    struct store *store;
    int (*fn)(void *, const struct replica_window *);
    void *ctx;
};

/* Fills a window's syscalls_top back from syscall_windows. */
static int attach_syscalls(void *arg, const void *rec)
{
    struct window_reader *r = arg;
    struct replica_window w = *(const struct replica_window *)rec;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(r->store),
                           "SELECT nr, count, total_ns, hist FROM syscall_windows"
                           " WHERE replica = ? AND start_ns = ? ORDER BY total_ns DESC",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 1, (int)w.replica);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)w.start_ns);
        while (w.syscall_count_kept < WINDOW_SYSCALLS && sqlite3_step(st) == SQLITE_ROW) {
            struct syscall_window *sw = &w.syscalls_top[w.syscall_count_kept++];
            sw->nr = (uint32_t)sqlite3_column_int(st, 0);
            sw->count = (uint64_t)sqlite3_column_int64(st, 1);
            sw->total_ns = (uint64_t)sqlite3_column_int64(st, 2);
            const void *blob = sqlite3_column_blob(st, 3);
            size_t bytes = (size_t)sqlite3_column_bytes(st, 3);
            if (blob)
                memcpy(sw->hist, blob, bytes < sizeof(sw->hist) ? bytes : sizeof(sw->hist));
        }
        sqlite3_finalize(st);
    }
    return r->fn(r->ctx, &w);
}

int server_tables_each_window(struct store *s,
                              int (*fn)(void *ctx, const struct replica_window *w), void *ctx,
                              struct error *err)
{
    struct window_reader r = {s, fn, ctx};
    return each_row(s, "replica_windows", " ORDER BY start_ns, replica", window_fields,
                    COUNT(window_fields), sizeof(struct replica_window), attach_syscalls, &r,
                    err);
}

struct span_reader {
    int (*fn)(void *, const struct server_span *);
    void *ctx;
};

static int pass_span(void *arg, const void *rec)
{
    struct span_reader *r = arg;
    return r->fn(r->ctx, rec);
}

int server_tables_each_span_where(struct store *s, const char *where,
                                  int (*fn)(void *ctx, const struct server_span *sp), void *ctx,
                                  struct error *err)
{
    struct span_reader r = {fn, ctx};
    char order[1024];
    snprintf(order, sizeof(order), " %s%s ORDER BY first_read_ns, span_id",
             where ? "WHERE " : "", where ? where : "");
    return each_row(s, "server_spans", order, span_fields, COUNT(span_fields),
                    sizeof(struct server_span), pass_span, &r, err);
}

int server_tables_each_span(struct store *s, int (*fn)(void *ctx, const struct server_span *sp),
                            void *ctx, struct error *err)
{
    return server_tables_each_span_where(s, NULL, fn, ctx, err);
}
