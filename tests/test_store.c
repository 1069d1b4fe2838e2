/* The run store: records streamed from several threads arrive intact and in full, losses are
 * counted, and a stored run reopens. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/client_table.h"
#include "store/store.h"
#include "support/tmpdir.h"

#define PER_THREAD 100000

struct producer {
    struct store *store;
    int stream;
    unsigned thread;
    unsigned pushed;
};

static struct client_record make_record(unsigned thread, unsigned i)
{
    struct client_record r = {0};
    r.request_id = ((uint64_t)thread << 56) | i;
    r.thread = (uint8_t)thread;
    r.endpoint = (uint16_t)(i % 3);
    r.start_ns = 1000000ULL * i + thread;
    r.intended_ns = r.start_ns;
    r.end_ns = r.start_ns + 5000 + i % 77;
    r.total_us = 5 + i % 77;
    r.status = (i % 10) ? 200 : 500;
    r.failure = (i % 10) ? FAILURE_NONE : FAILURE_HTTP_STATUS;
    r.local_port = (uint16_t)(30000 + i % 1000);
    r.bytes_in = i;
    r.error_code = (uint8_t)(i % 7);
    return r;
}

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        struct client_record r = make_record(p->thread, i);
        /* a real engine counts the loss and moves on; here we wait to check that everything
         * pushed arrives */
        while (!store_push(p->store, p->stream, p->thread, &r))
            sched_yield();
        p->pushed++;
    }
    return NULL;
}

struct check {
    uint64_t count, last_end, bad;
};

static int check_record(void *ctx, const struct client_record *r)
{
    struct check *c = ctx;
    unsigned thread = (unsigned)(r->request_id >> 56);
    unsigned i = (unsigned)(r->request_id & 0xffffffffu);
    struct client_record want = make_record(thread, i);
    if (memcmp(&want, r, sizeof(want)) != 0)
        c->bad++;
    if (r->end_ns < c->last_end)
        c->bad++;
    c->last_end = r->end_ns;
    c->count++;
    return 0;
}

/* The first column of the first row sql returns. */
static int64_t query_int(struct store *s, const char *sql)
{
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK, "%s", sql);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int64_t rows_in(struct store *s, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    return query_int(s, sql);
}

/* Files in dir other than the database and its WAL / shared-memory companions. */
static int stray_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strncmp(e->d_name, "run.db", 6) != 0)
            n++;
    closedir(d);
    return n;
}

static void streams_and_reads_back(bool spool)
{
    char dir[256];
    tmpdir_make("store", dir, sizeof(dir));
    struct store *s;
    struct error err;
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    int stream = client_table_add_stream(s, 2, &err);
    cr_assert_geq(stream, 0, "%s", err.msg);
    cr_assert_eq(client_table_add_endpoint(s, 0, "GET", "/health", "/health", 1, &err), 0);
    cr_assert_eq(store_set_info(s, "command", "loadscope run -u 10", &err), 0);
    store_spool_during_run(s, spool);
    cr_assert_eq(store_writer_start(s, &err), 0, "%s", err.msg);

    struct producer p[2] = {{s, stream, 0, 0}, {s, stream, 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, produce, &p[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* inserted as they come: visible within seconds (the first transaction holds everything
     * queued by then); spooled: none before the writer stops, given the same time */
    int64_t seen = 0;
    for (int i = 0; i < 100 && seen == 0; i++) {
        struct timespec pause = {0, STORE_FLUSH_MS * 1000000L};
        nanosleep(&pause, NULL);
        seen = rows_in(s, "client_requests");
    }
    if (spool)
        cr_expect_eq(seen, 0, "spooled rows are inserted when the writer stops");
    else
        cr_expect_gt(seen, 0, "rows are inserted as they come");
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);
    cr_expect_eq(rows_in(s, "client_requests"), 2 * PER_THREAD);
    cr_expect_eq(stray_files(dir), 0, "the spool leaves no file behind");
    cr_expect_eq(store_stream_written(s, stream), 2 * PER_THREAD);
    store_close(s);

    cr_assert_eq(store_open(dir, true, &s, &err), 0, "%s", err.msg);
    struct check c = {0};
    cr_assert_eq(client_table_each(s, check_record, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.count, 2 * PER_THREAD);
    cr_expect_eq(c.bad, 0, "%llu records differ or are out of order", (unsigned long long)c.bad);
    char value[64];
    cr_expect_eq(store_get_info(s, "command", value, sizeof(value)), 0);
    cr_expect_str_eq(value, "loadscope run -u 10");
    store_close(s);
    tmpdir_remove(dir);
}

Test(store, streams_records_from_threads_and_reads_them_back)
{
    streams_and_reads_back(false);
}

Test(store, spools_records_during_the_run_and_inserts_them_all_when_it_stops)
{
    streams_and_reads_back(true);
}

static int bind_nothing(sqlite3_stmt *st, const void *rec)
{
    sqlite3_bind_int64(st, 1, *(const int64_t *)rec);
    return 0;
}

Test(store, full_queue_counts_losses_in_the_database)
{
    char dir[256];
    tmpdir_make("store-loss", dir, sizeof(dir));
    struct store *s;
    struct error err;
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(store_exec(s, "CREATE TABLE t(v INTEGER)", &err), 0);
    struct store_stream_def def = {"tiny", "INSERT INTO t(v) VALUES (?)", sizeof(int64_t), 1, 8,
                                   bind_nothing};
    int stream = store_add_stream(s, &def, &err);
    cr_assert_geq(stream, 0, "%s", err.msg);
    /* writer not started: the 8-slot queue fills and the rest is counted as lost */
    unsigned ok = 0;
    for (int64_t v = 0; v < 100; v++)
        ok += store_push(s, stream, 0, &v);
    cr_expect_eq(ok, 8);
    cr_expect_eq(store_stream_lost(s, stream), 92);
    cr_assert_eq(store_writer_start(s, &err), 0);
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);
    store_close(s);

    cr_assert_eq(store_open(dir, true, &s, &err), 0, "%s", err.msg);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(store_db(s), "SELECT (SELECT count(*) FROM t), count FROM losses"
                       " WHERE stream='tiny'", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_eq(sqlite3_column_int(st, 0), 8);
    cr_expect_eq(sqlite3_column_int(st, 1), 92);
    sqlite3_finalize(st);
    struct store_loss losses[4];
    cr_assert_eq(store_recorded_losses(s, losses, 4), 1, "what the reports read back");
    cr_expect_str_eq(losses[0].stream, "tiny");
    cr_expect_eq(losses[0].count, 92);
    store_close(s);
    tmpdir_remove(dir);
}

Test(store, refuses_what_is_not_a_run)
{
    struct store *s;
    struct error err = {{0}};
    cr_expect_eq(store_open("/nonexistent/run", true, &s, &err), -1);
    cr_expect(strstr(err.msg, "not a loadscope run") != NULL, "%s", err.msg);
    char dir[256];
    tmpdir_make("store-twice", dir, sizeof(dir));
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    store_close(s);
    cr_expect_eq(store_create(dir, &s, &err), -1);
    cr_expect(strstr(err.msg, "already exists") != NULL, "%s", err.msg);
    tmpdir_remove(dir);
}

static int column_count(struct store *s, const char *table, const char *column)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'",
             table, column);
    return (int)query_int(s, sql);
}

/* A run stored before span sampling and the syscall duty cycle (store version 1, without
 * their columns) opens for `loadscope report`: the columns come back with their old meaning. */
Test(store, older_run_stores_are_upgraded_when_opened)
{
    char dir[256];
    tmpdir_make("store-old", dir, sizeof(dir));
    struct store *s;
    struct error err = {{0}};
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(store_exec(s,
                            "INSERT INTO replicas(replica, name, spec, pids, cores)"
                            " VALUES (0, 'r', 'port:1', '', 1);"
                            "ALTER TABLE server_spans DROP COLUMN sample_weight;"
                            "ALTER TABLE replica_windows DROP COLUMN spans_skipped;"
                            "ALTER TABLE replica_windows DROP COLUMN syscall_hooks_ns;"
                            "ALTER TABLE replica_windows DROP COLUMN socket_hooks_ns;"
                            "PRAGMA user_version = 1;",
                            &err),
                 0, "%s", err.msg);
    store_close(s);
    cr_expect_eq(store_open(dir, true, &s, &err), -1, "read-only: no upgrade");
    cr_expect(strstr(err.msg, "store version 1 needs an upgrade") != NULL, "%s", err.msg);
    cr_assert_eq(store_open(dir, false, &s, &err), 0, "%s", err.msg);
    cr_expect_eq(column_count(s, "server_spans", "sample_weight"), 1);
    cr_expect_eq(column_count(s, "replica_windows", "spans_skipped"), 1);
    cr_expect_eq(column_count(s, "replica_windows", "syscall_hooks_ns"), 1);
    cr_expect_eq(column_count(s, "replica_windows", "socket_hooks_ns"), 1);
    cr_expect_eq(query_int(s, "PRAGMA user_version"), 3);
    cr_expect_eq(store_exec(s, "PRAGMA user_version = 99", &err), 0);
    store_close(s);
    cr_expect_eq(store_open(dir, false, &s, &err), -1);
    cr_expect(strstr(err.msg, "written by a newer loadscope (store version 99") != NULL, "%s",
              err.msg);
    tmpdir_remove(dir);
}

/* ---- server tables: spans and windows round-trip through SQL, every field ---- */

#include "store/server_tables.h"

static struct server_span sample_span(uint64_t i)
{
    struct server_span sp;
    memset(&sp, 0, sizeof(sp));
    sp.span_id = i + 1;
    sp.conn_id = 77 + i / 3;
    sp.seq = (uint32_t)(i % 3 + 1);
    sp.replica = (uint32_t)(i % 2);
    sp.tgid = 4000;
    sp.tid = 4001 + (uint32_t)(i % 4);
    sp.family = 4;
    sp.end_reason = SPAN_END_NEXT_READ;
    sp.flags = SPAN_NEW_CONN;
    sp.server_port = 8000;
    sp.client_port = (uint16_t)(40000 + i);
    const uint8_t lo[4] = {127, 0, 0, 1};
    memcpy(sp.server_addr, lo, 4);
    memcpy(sp.client_addr, lo, 4);
    sp.established_ns = 1000 + i;
    sp.accept_ns = 2000 + i;
    sp.arrival_ns = 3000 + i;
    sp.first_read_ns = 4000 + i * 10;
    sp.response_start_ns = 5000 + i;
    sp.response_end_ns = 6000 + i;
    sp.oncpu_ns = 700 + i;
    sp.runq_ns = 80 + i;
    for (int r = 0; r < OFF_REASONS; r++)
        sp.offcpu_ns[r] = (uint64_t)r * 11 + i;
    sp.bytes_in = 300;
    sp.bytes_out = 61;
    sp.has_request_id = (uint8_t)(i % 2);
    sp.request_id = sp.has_request_id ? 0x0100000000000000ULL + i : 0;
    snprintf(sp.request_id_text, sizeof(sp.request_id_text), "%016llx",
             (unsigned long long)sp.request_id);
    snprintf(sp.method, sizeof(sp.method), "POST");
    snprintf(sp.path, sizeof(sp.path), "/predict?x='%llu'", (unsigned long long)i);
    return sp;
}

static struct replica_window sample_window(uint32_t replica, uint64_t start)
{
    struct replica_window w;
    memset(&w, 0, sizeof(w));
    w.start_ns = start;
    w.end_ns = start + 1000000000ULL;
    w.replica = replica;
    w.processes = 3;
    w.threads = 5;
    w.busy_threads = 2;
    w.oncpu_ns = 900000000;
    w.runq_ns = 1234;
    for (int r = 0; r < OFF_REASONS; r++)
        w.offcpu_ns[r] = 100u * (unsigned)r + 1;
    w.switches = 10;
    w.runq_hist[3] = 7;
    w.accept_wait_hist[39] = 1;
    w.recvq_hist[0] = 2;
    w.open_spans = -1;
    w.accept_queue_max = 12;
    w.host_listen_overflows = 4;
    w.syscalls = 99;
    w.syscall_kinds = 2;
    w.syscall_count_kept = 2;
    w.syscalls_top[0] = (struct syscall_window){.nr = 0, .count = 50, .total_ns = 900};
    w.syscalls_top[0].hist[5] = 50;
    w.syscalls_top[1] = (struct syscall_window){.nr = 232, .count = 49, .total_ns = 800};
    return w;
}

struct span_check {
    uint64_t n, bad;
};

static int check_span(void *ctx, const struct server_span *sp)
{
    struct span_check *c = ctx;
    struct server_span want = sample_span(sp->span_id - 1);
    if (memcmp(&want, sp, sizeof(want)) != 0)
        c->bad++;
    c->n++;
    return 0;
}

static int check_window(void *ctx, const struct replica_window *w)
{
    struct span_check *c = ctx;
    struct replica_window want = sample_window(w->replica, w->start_ns);
    if (memcmp(&want, w, sizeof(want)) != 0)
        c->bad++;
    c->n++;
    return 0;
}

Test(store, server_spans_and_windows_round_trip)
{
    char dir[256];
    tmpdir_make("store-server", dir, sizeof(dir));
    struct store *s;
    struct error err;
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    struct server_streams ss;
    cr_assert_eq(server_tables_add_streams(s, &ss, &err), 0, "%s", err.msg);
    cr_assert_eq(server_tables_add_replica(s, 0, "api", "port:8000", "10 11", 2, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(store_writer_start(s, &err), 0);
    for (uint64_t i = 0; i < 1000; i++) {
        struct server_span sp = sample_span(i);
        cr_assert(store_push(s, ss.spans, 0, &sp));
    }
    for (uint32_t r = 0; r < 2; r++)
        for (uint64_t t = 1; t <= 5; t++) {
            struct replica_window w = sample_window(r, t * 1000000000ULL);
            cr_assert(store_push(s, ss.windows, 0, &w));
        }
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);

    struct span_check c = {0};
    cr_assert_eq(server_tables_each_span(s, check_span, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.n, 1000);
    cr_expect_eq(c.bad, 0, "%llu spans differ", (unsigned long long)c.bad);
    struct span_check cw = {0};
    cr_assert_eq(server_tables_each_window(s, check_window, &cw, &err), 0, "%s", err.msg);
    cr_expect_eq(cw.n, 10);
    cr_expect_eq(cw.bad, 0, "%llu windows differ", (unsigned long long)cw.bad);

    /* what a user's SQL sees */
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(store_db(s),
                                    "SELECT client_addr, count(request_id), count(*) FROM"
                                    " server_spans GROUP BY client_addr",
                                    -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_expect_str_eq((const char *)sqlite3_column_text(st, 0), "127.0.0.1");
    cr_expect_eq(sqlite3_column_int(st, 1), 500);
    cr_expect_eq(sqlite3_column_int(st, 2), 1000);
    sqlite3_finalize(st);
    store_close(s);
    tmpdir_remove(dir);
}

/* A run whose process dies (SIGKILL, a crash) while spooling leaves its spool beside run.db;
 * recovery inserts every record, removes the spool and builds the indexes the run had
 * dropped. */
Test(store, recovers_the_spool_of_a_run_that_died)
{
    char dir[256];
    tmpdir_make("store-crash", dir, sizeof(dir));
    enum { N = 50000 };
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct store *s;
        struct error err;
        if (store_create(dir, &s, &err) != 0 || client_table_add_stream(s, 1, &err) < 0)
            _exit(2);
        store_spool_during_run(s, true);
        if (store_writer_start(s, &err) != 0)
            _exit(3);
        for (unsigned i = 0; i < N; i++) {
            struct client_record r = make_record(0, i);
            while (!store_push(s, 0, 0, &r))
                sched_yield();
        }
        struct timespec pause = {0, 5 * STORE_FLUSH_MS * 1000000L};
        nanosleep(&pause, NULL); /* the writer spools what was pushed */
        kill(getpid(), SIGKILL);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    cr_expect_eq(stray_files(dir), 1, "the spool is left behind");

    struct store *s;
    struct error err;
    cr_assert_eq(store_open(dir, false, &s, &err), 0, "%s", err.msg);
    cr_expect_eq(rows_in(s, "client_requests"), 0);
    cr_assert_geq(client_table_add_stream(s, 1, &err), 0, "%s", err.msg);
    uint64_t recovered = 0;
    cr_assert_eq(store_recover_spools(s, &recovered, &err), 0, "%s", err.msg);
    cr_expect_eq(recovered, N);
    cr_expect_eq(rows_in(s, "client_requests"), N);
    cr_expect_eq(rows_in(s, "sqlite_master WHERE type = 'index' AND name = "
                            "'client_requests_by_end'"),
                 1, "the index is built again");
    struct check c = {0};
    cr_assert_eq(client_table_each(s, check_record, &c, &err), 0, "%s", err.msg);
    cr_expect_eq(c.count, N);
    cr_expect_eq(c.bad, 0, "%llu records differ or are out of order", (unsigned long long)c.bad);
    store_close(s);
    cr_expect_eq(stray_files(dir), 0, "the spool is gone");
    tmpdir_remove(dir);
}

/* `loadscope report` on the directory of a run still going must not take its spool: the run
 * inserts it when it stops, and would otherwise insert those rows twice. */
Test(store, leaves_the_spool_of_a_live_run_alone)
{
    char dir[256];
    tmpdir_make("store-live", dir, sizeof(dir));
    enum { N = 20000 };
    struct store *run;
    struct error err;
    cr_assert_eq(store_create(dir, &run, &err), 0, "%s", err.msg);
    cr_assert_geq(client_table_add_stream(run, 1, &err), 0, "%s", err.msg);
    store_spool_during_run(run, true);
    cr_assert_eq(store_writer_start(run, &err), 0, "%s", err.msg);
    for (unsigned i = 0; i < N; i++) {
        struct client_record r = make_record(0, i);
        while (!store_push(run, 0, 0, &r))
            sched_yield();
    }
    struct timespec pause = {0, 3 * STORE_FLUSH_MS * 1000000L};
    nanosleep(&pause, NULL);

    struct store *reader;
    cr_assert_eq(store_open(dir, false, &reader, &err), 0, "%s", err.msg);
    cr_assert_geq(client_table_add_stream(reader, 1, &err), 0, "%s", err.msg);
    uint64_t recovered = 99;
    cr_assert_eq(store_recover_spools(reader, &recovered, &err), 0, "%s", err.msg);
    cr_expect_eq(recovered, 0, "a live run's spool was taken");
    store_close(reader);

    cr_assert_eq(store_writer_stop(run, &err), 0, "%s", err.msg);
    cr_expect_eq(rows_in(run, "client_requests"), N, "every row once");
    store_close(run);
    cr_expect_eq(stray_files(dir), 0);
    tmpdir_remove(dir);
}
