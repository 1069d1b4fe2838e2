/* The correlator's pieces on synthetic data: the join (request id, 4-tuple, proxies), the
 * per-request breakdown and the verdict rules. The ground-truth tests on real servers are in
 * test_correlate_e2e.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "correlate/analysis.h"
#include "correlate/breakdown.h"
#include "correlate/join.h"
#include "correlate/verdict.h"
#include "store/client_table.h"
#include "store/server_tables.h"
#include "support/tmpdir.h"

#define MS 1000000ULL

static struct client_record client(uint64_t id, uint16_t port, uint64_t start, uint64_t end)
{
    struct client_record c = {0};
    c.request_id = id;
    c.intended_ns = start;
    c.start_ns = start;
    c.end_ns = end;
    c.local_port = port;
    c.status = 200;
    c.reused = 1;
    c.total_us = (uint32_t)((end - start) / 1000);
    return c;
}

static struct server_span span(uint64_t span_id, uint16_t server_port, uint16_t client_port,
                               uint64_t arrival, uint64_t end)
{
    struct server_span sp;
    memset(&sp, 0, sizeof(sp));
    sp.span_id = span_id;
    sp.family = 4;
    sp.server_port = server_port;
    sp.client_port = client_port;
    sp.arrival_ns = arrival;
    sp.first_read_ns = arrival + 1 * MS;
    sp.response_start_ns = end - 1 * MS;
    sp.response_end_ns = end;
    sp.oncpu_ns = end - arrival - 3 * MS;
    return sp;
}

static void with_id(struct server_span *sp, uint64_t id)
{
    sp->has_request_id = 1;
    sp->request_id = id;
}

Test(join, matches_by_request_id_then_four_tuple_and_keeps_the_backend_span)
{
    char dir[256];
    tmpdir_make("join", dir, sizeof(dir));
    struct store *s;
    struct error err;
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    int cs = client_table_add_stream(s, 1, &err);
    struct server_streams ss;
    cr_assert_eq(server_tables_add_streams(s, &ss, &err), 0, "%s", err.msg);
    cr_assert_eq(store_writer_start(s, &err), 0);

    struct client_record c[5] = {
        client(1, 40001, 100 * MS, 200 * MS), /* direct, id seen by the server */
        client(2, 40002, 100 * MS, 200 * MS), /* through a proxy: proxy + backend spans */
        client(3, 40003, 300 * MS, 400 * MS), /* no id captured: 4-tuple */
        client(4, 40004, 500 * MS, 600 * MS), /* a span on its port, but another server port */
        client(5, 40003, 450 * MS, 480 * MS), /* same port, later: keep-alive */
    };
    for (int i = 0; i < 5; i++)
        cr_assert(store_push(s, cs, 0, &c[i]));
    struct server_span sp[6] = {
        span(10, 8000, 40001, 101 * MS, 199 * MS),
        span(11, 8080, 40002, 101 * MS, 199 * MS), /* the proxy */
        span(12, 8000, 51000, 110 * MS, 190 * MS), /* the backend, proxy's own port */
        span(13, 8000, 40003, 301 * MS, 399 * MS),
        span(14, 9999, 40004, 501 * MS, 599 * MS),
        span(15, 8000, 40003, 451 * MS, 479 * MS),
    };
    with_id(&sp[0], 1);
    with_id(&sp[1], 2);
    with_id(&sp[2], 2);
    for (int i = 0; i < 6; i++)
        cr_assert(store_push(s, ss.spans, 0, &sp[i]));
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);

    uint16_t ports[] = {8000, 8080};
    struct join_result j;
    cr_assert_eq(join_requests(s, ports, 2, &j, &err), 0, "%s", err.msg);
    cr_expect_eq(j.requests, 5);
    cr_expect_eq(j.by_request_id, 2);
    cr_expect_eq(j.by_four_tuple, 2);
    cr_expect_eq(j.spans_unmatched, 1, "the span on port 9999 is nobody's");
    cr_expect_float_eq(join_matched_fraction(&j), 0.8, 1e-9);

    sqlite3_stmt *st;
    sqlite3_prepare_v2(store_db(s), "SELECT request_id, span_id, method FROM request_matches"
                       " ORDER BY request_id", -1, &st, NULL);
    const int want[4][3] = {{1, 10, 1}, {2, 12, 1}, {3, 13, 2}, {5, 15, 2}};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        for (int k = 0; k < 3; k++)
            cr_expect_eq(sqlite3_column_int(st, k), want[i][k], "row %d col %d", i, k);
    }
    cr_expect_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    store_close(s);
    tmpdir_remove(dir);
}

static uint64_t sum_parts(const struct request_breakdown *b)
{
    uint64_t t = 0;
    for (int k = 0; k < COMP_COUNT; k++)
        t += b->part_ns[k];
    return t;
}

Test(breakdown, splits_a_new_connection_request)
{
    /* client: due at 0, sent at 2 ms (late), connect 1 ms, done at 100 ms */
    struct client_record c = client(1, 40000, 2 * MS, 100 * MS);
    c.intended_ns = 0;
    c.reused = 0;
    c.connect_us = 1000;
    struct server_span sp;
    memset(&sp, 0, sizeof(sp));
    sp.flags = SPAN_NEW_CONN;
    sp.established_ns = 3 * MS;
    sp.accept_ns = 13 * MS;      /* 10 ms in the accept queue */
    sp.arrival_ns = 4 * MS;      /* bytes came before the accept */
    sp.first_read_ns = 18 * MS;  /* 5 ms for a reader after the accept */
    sp.response_start_ns = 88 * MS;
    sp.response_end_ns = 98 * MS; /* 10 ms sending */
    sp.oncpu_ns = 40 * MS;        /* 80 ms of thread time split 40/20/20 */
    sp.runq_ns = 20 * MS;
    sp.offcpu_ns[OFF_DOWNSTREAM] = 20 * MS;
    struct request_breakdown b;
    breakdown_of(&c, &sp, &b);
    cr_expect_eq(b.latency_ns, 100 * MS);
    cr_expect_eq(sum_parts(&b), 100 * MS);
    cr_expect_eq(b.part_ns[COMP_SEND_LAG], 2 * MS);
    cr_expect_eq(b.part_ns[COMP_CONNECT], 1 * MS);
    cr_expect_eq(b.part_ns[COMP_ACCEPT_QUEUE], 10 * MS);
    cr_expect_eq(b.part_ns[COMP_RECEIVE_QUEUE], 5 * MS);
    cr_expect_eq(b.part_ns[COMP_SEND], 10 * MS);
    /* processing = 70 ms of the 80 ms covered by the split */
    cr_expect_eq(b.part_ns[COMP_ON_CPU], 35 * MS);
    cr_expect_eq(b.part_ns[COMP_RUN_QUEUE], 17500000);
    cr_expect_eq(b.part_ns[COMP_DOWNSTREAM], 17500000);
    cr_expect_eq(b.part_ns[COMP_NETWORK_CLIENT], 100 * MS - 2 * MS - 1 * MS - 10 * MS - 5 * MS - 80 * MS);
}

static struct verdict_input base_input(void)
{
    struct verdict_input in;
    memset(&in, 0, sizeof(in));
    in.scope = "the run";
    in.requests = 1000;
    in.duration_s = 20;
    in.traced = true;
    in.matched_fraction = 1;
    in.host_cores = 2;
    in.cores_available = 2;
    in.generator_busy_max = 0.1;
    in.generator_threads = 1;
    in.all.requests = 1000;
    return in;
}

static void set_parts(struct verdict_input *in, double accept, double oncpu, double runq,
                      double downstream)
{
    double *p = in->all.part_ns;
    p[COMP_ACCEPT_QUEUE] = accept * MS;
    p[COMP_ON_CPU] = oncpu * MS;
    p[COMP_RUN_QUEUE] = runq * MS;
    p[COMP_DOWNSTREAM] = downstream * MS;
    p[COMP_NETWORK_CLIENT] = 0.2 * MS;
    in->all.latency_ns = (accept + oncpu + runq + downstream + 0.2) * MS;
}

static const char *decide(const struct verdict_input *in)
{
    static struct verdict v;
    verdict_decide(in, &v);
    return verdict_primary(&v);
}

Test(verdict, names_each_cause_from_its_signals)
{
    struct verdict_input in = base_input();
    /* CPU-bound model on 2 workers, 2 cores */
    set_parts(&in, 30, 20, 1, 0);
    in.cpu_cores = 1.95, in.span_cpu_cores = 1.9, in.host_cpu_cores = 1.97;
    in.workers = 2, in.busy_workers = 1.98;
    cr_expect_str_eq(decide(&in), "inference");

    /* 2 workers blocked 100 ms downstream, CPU idle */
    in = base_input();
    set_parts(&in, 900, 0.5, 0.05, 100);
    in.cpu_cores = 0.05, in.span_cpu_cores = 0.04, in.host_cpu_cores = 0.1;
    in.workers = 2, in.busy_workers = 1.99;
    cr_expect_str_eq(decide(&in), "workers");

    /* API workers wait on a job queue; one consumer burns a core outside requests */
    in = base_input();
    set_parts(&in, 0, 0.3, 0.05, 150);
    in.cpu_cores = 1.05, in.span_cpu_cores = 0.02, in.host_cpu_cores = 1.1;
    in.traced_cpu_cores = 1.05, in.outside_cpu_cores = 1.03;
    in.workers = 8, in.busy_workers = 7.9;
    cr_expect_str_eq(decide(&in), "queue");

    /* 8 CPU-bound workers on 2 cores */
    in = base_input();
    set_parts(&in, 50, 20, 60, 0);
    in.cores_available = 2;
    in.cpu_cores = 0.49, in.span_cpu_cores = 0.48, in.host_cpu_cores = 1.98;
    in.workers = 8, in.busy_workers = 7.8;
    cr_expect_str_eq(decide(&in), "cpu-contention");

    /* an idle server and a saturated generator */
    in = base_input();
    set_parts(&in, 0, 0.1, 0.01, 0);
    in.cpu_cores = 0.3, in.span_cpu_cores = 0.2, in.host_cpu_cores = 0.3;
    in.workers = 4, in.busy_workers = 0.3;
    in.generator_busy_max = 0.99;
    cr_expect_str_eq(decide(&in), "load-generator");

    /* half the requests refused */
    in = base_input();
    in.traced = false;
    in.failures = 500;
    in.failures_by_kind[FAILURE_CONNECT_REFUSED] = 500;
    cr_expect_str_eq(decide(&in), "network-errors");

    /* nothing wrong */
    in = base_input();
    set_parts(&in, 0, 1, 0.01, 0);
    in.cpu_cores = 0.2, in.span_cpu_cores = 0.2, in.host_cpu_cores = 0.25;
    in.workers = 4, in.busy_workers = 0.2;
    cr_expect_str_eq(decide(&in), "none");
}

Test(verdict, single_cpu_bound_worker_on_two_cores_is_a_workers_problem)
{
    struct verdict_input in = base_input();
    set_parts(&in, 200, 20, 0.5, 0);
    in.cpu_cores = 0.99, in.span_cpu_cores = 0.98, in.host_cpu_cores = 1.0;
    in.workers = 1, in.busy_workers = 0.99;
    cr_expect_str_eq(decide(&in), "workers");
}

Test(verdict, onset_is_when_the_signal_starts_holding)
{
    struct verdict_input in = base_input();
    set_parts(&in, 30, 20, 1, 0);
    in.cpu_cores = 1.95, in.span_cpu_cores = 1.9, in.host_cpu_cores = 1.97;
    in.workers = 2, in.busy_workers = 1.98;
    enum { N = 20 };
    uint32_t users[N];
    double util[N], req[N];
    for (int t = 0; t < N; t++) {
        users[t] = (uint32_t)(10 * (t + 1));
        util[t] = t < 7 ? 0.3 : (t == 12 ? 0.5 : 0.97); /* one dip does not move the onset */
        req[t] = 40;
    }
    in.series = (struct verdict_series){.seconds = N, .users = users, .requests = req,
                                        .cpu_util = util};
    struct verdict v;
    verdict_decide(&in, &v);
    cr_assert_str_eq(verdict_primary(&v), "inference");
    cr_expect_eq(v.ranked[0].onset_s, 7);
    cr_expect_eq(v.ranked[0].onset_users, 80);
    cr_expect(strstr(v.summary, "from t=7 s, at 80 users") != NULL, "%s", v.summary);
    cr_expect_gt(v.recommendation_count, 0);
}

/* A run of 5.07 s in which one worker serves back-to-back 100 ms requests on one core: the
 * timeline's last second covers 0.07 s. Read as a full second it would make the worker look
 * idle for most of it; the verdict's means are per second of time covered. */
Test(analysis, means_weigh_the_last_partial_second_by_its_length)
{
    char dir[256];
    tmpdir_make("partial-second", dir, sizeof(dir));
    struct store *s;
    struct error err;
    const uint64_t start = 1000 * MS, duration = 5070 * MS;
    cr_assert_eq(store_create(dir, &s, &err), 0, "%s", err.msg);
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)start);
    store_set_info(s, "start_ns", buf, &err);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)duration);
    store_set_info(s, "duration_ns", buf, &err);
    store_set_info(s, "traced", "1", &err);
    store_set_info(s, "host_cores", "2", &err);
    store_set_info(s, "target_ports", "8000", &err);
    cr_assert_eq(server_tables_add_replica(s, 0, "demo", "port:8000", "1", 2, &err), 0, "%s",
                 err.msg);
    int cs = client_table_add_stream(s, 1, &err);
    struct server_streams ss;
    cr_assert_eq(server_tables_add_streams(s, &ss, &err), 0, "%s", err.msg);
    cr_assert_eq(store_writer_start(s, &err), 0);
    for (uint64_t i = 0; i * 100 * MS < duration; i++) {
        uint64_t from = start + i * 100 * MS;
        uint64_t to = from + 100 * MS < start + duration ? from + 100 * MS : start + duration;
        struct client_record c = client(i + 1, 40001, from, to);
        c.users = 1;
        cr_assert(store_push(s, cs, 0, &c));
        struct server_span sp = span(i + 1, 8000, 40001, from, to);
        sp.first_read_ns = from;
        sp.oncpu_ns = to - from;
        sp.tid = 7;
        with_id(&sp, i + 1);
        cr_assert(store_push(s, ss.spans, 0, &sp));
    }
    for (uint64_t t = 0; t * NS_PER_SEC < duration; t++) {
        struct replica_window w;
        memset(&w, 0, sizeof(w));
        w.start_ns = start + t * NS_PER_SEC;
        w.end_ns = w.start_ns + NS_PER_SEC < start + duration ? w.start_ns + NS_PER_SEC
                                                               : start + duration;
        w.oncpu_ns = w.end_ns - w.start_ns; /* one core, all the time */
        w.threads = 1;
        w.requests = 10;
        cr_assert(store_push(s, ss.windows, 0, &w));
    }
    cr_assert_eq(store_writer_stop(s, &err), 0, "%s", err.msg);

    struct analysis a;
    cr_assert_eq(analysis_run(s, &a, &err), 0, "%s", err.msg);
    cr_expect_eq(a.timeline.seconds, 6);
    cr_expect_float_eq(a.timeline.last_second_s, 0.07, 1e-9);
    cr_expect_float_eq(timeline_second_s(&a.timeline, 0), 1.0, 1e-12);
    cr_expect_eq(a.steady_to, 6, "the partial second is part of the steady run");
    cr_expect_float_eq(a.run_input.cpu_cores, 1.0, 0.01, "mean CPU %.3f cores",
                       a.run_input.cpu_cores);
    cr_expect_float_eq(a.run_input.busy_workers, 1.0, 0.01, "busy workers %.3f",
                       a.run_input.busy_workers);
    analysis_free(&a);
    store_close(s);
    tmpdir_remove(dir);
}
