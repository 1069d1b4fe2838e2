/* The run store: records streamed from several threads arrive intact and in full, losses are
 * counted, and a stored run reopens. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

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

Test(store, streams_records_from_threads_and_reads_them_back)
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
    cr_assert_eq(store_writer_start(s, &err), 0, "%s", err.msg);

    struct producer p[2] = {{s, stream, 0, 0}, {s, stream, 1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, produce, &p[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);
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
