/* The engine against real servers on loopback, through its API: every request carries its
 * record's id as X-Request-Id, the record's local_port is the port the server saw (also on
 * reused keep-alive connections), ids are unique across threads, and failures are classified
 * from what really happened on the wire. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "load/engine.h"
#include "load/target.h"
#include "support/http_server.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

#define MAX_RECORDS 4096

struct sink {
    pthread_mutex_t lock;
    struct client_record records[MAX_RECORDS];
    size_t count;
};

static void collect(void *ctx, const struct client_record *r)
{
    struct sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    if (s->count < MAX_RECORDS)
        s->records[s->count++] = *r;
    pthread_mutex_unlock(&s->lock);
}

/* Runs the scenario (already holding hosts/endpoints) to completion into sink. */
static void run_engines(struct scenario *sc, struct sink *sink, struct engine_counters *ctr)
{
    struct error err = {{0}};
    cr_assert_eq(scenario_finish(sc, &err), 0, "%s", err.msg);
    cr_assert_eq(target_resolve(sc, &err), 0, "%s", err.msg);
    struct schedule sched;
    schedule_init(&sched, sc);
    void *ctxs[SCENARIO_MAX_THREADS];
    for (unsigned i = 0; i < sc->threads; i++)
        ctxs[i] = sink;
    pthread_mutex_init(&sink->lock, NULL);
    struct engine_pool *p = engine_pool_start(sc, &sched, clock_now_ns(), collect, ctxs, &err);
    cr_assert_not_null(p, "%s", err.msg);
    uint64_t deadline = clock_now_ns() + 60 * NS_PER_SEC;
    while (!engine_pool_done(p) && clock_now_ns() < deadline) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    cr_assert(engine_pool_done(p), "engines did not finish");
    cr_assert_eq(engine_pool_join(p, &err), 0, "%s", err.msg);
    if (ctr)
        engine_pool_counters(p, ctr);
    engine_pool_destroy(p);
}

Test(engine, request_ids_and_local_ports_match_what_the_server_saw)
{
    char dir[256], log[512];
    tmpdir_make("engine", dir, sizeof(dir));
    snprintf(log, sizeof(log), "%s/requests.log", dir);
    struct test_server srv;
    struct test_server_opts o = {.log_path = log, .delay_ms = 1};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    scenario_add_host(&sc, srv.url, &err);
    scenario_set(&sc, "users", "6", &err);
    scenario_set(&sc, "threads", "2", &err);
    scenario_set(&sc, "max-requests", "600", &err);
    scenario_add_endpoint(&sc, "GET /a", &err);
    scenario_add_endpoint(&sc, "POST /b body=hello", &err);
    static struct sink sink;
    struct engine_counters ctr;
    run_engines(&sc, &sink, &ctr);
    cr_assert_eq(sink.count, 600);
    cr_expect_eq(ctr.completed, 600);
    cr_expect_eq(ctr.aborted, 0);

    char *text = file_read_all(log, NULL);
    cr_assert_not_null(text);
    cr_assert_eq(text_line_count(text), 600, "the server saw every request once");
    size_t reused = 0, threads_seen[2] = {0};
    for (size_t i = 0; i < sink.count; i++) {
        const struct client_record *r = &sink.records[i];
        char id[17];
        snprintf(id, sizeof(id), "%016llx", (unsigned long long)r->request_id);
        char needle[64];
        snprintf(needle, sizeof(needle), "%u %s ", r->local_port, id);
        cr_expect(strstr(text, needle), "server log has no '%s' (record %zu)", needle, i);
        cr_expect_eq(r->request_id >> 56, r->thread, "thread in the top byte");
        cr_expect_eq(r->status, 200);
        cr_expect_eq(r->failure, FAILURE_NONE);
        cr_expect(r->end_ns > r->start_ns && r->start_ns >= r->intended_ns);
        cr_expect_eq(r->bytes_out, r->endpoint == 1 ? 5 : 0);
        reused += r->reused;
        threads_seen[r->thread & 1]++;
        for (size_t k = 0; k < i; k++)
            cr_assert_neq(sink.records[k].request_id, r->request_id, "duplicate id");
    }
    cr_expect(reused >= 590, "keep-alive: only the first request of each user connects (%zu)", reused);
    cr_expect_eq(threads_seen[0], 300);
    cr_expect_eq(threads_seen[1], 300);
    /* the request lines carry the ids in lowercase hex, 16 digits */
    char line[256];
    cr_assert_eq(text_line(text, 0, line, sizeof(line)), 0);
    char idtext[64];
    cr_assert_eq(sscanf(line, "%*u %63s", idtext), 1);
    cr_expect_eq(strlen(idtext), 16);
    cr_expect_eq(strspn(idtext, "0123456789abcdef"), 16);
    free(text);
    scenario_free(&sc);
    test_server_stop(&srv);
    tmpdir_remove(dir);
}

static uint8_t failure_of(struct test_server_opts *o, const char *timeout, bool no_server,
                          uint16_t *status)
{
    struct test_server srv = {0};
    char url[64];
    if (no_server) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", test_server_free_port());
    } else {
        cr_assert_eq(test_server_start(&srv, o), 0);
        snprintf(url, sizeof(url), "%s", srv.url);
    }
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    scenario_add_host(&sc, url, &err);
    scenario_set(&sc, "max-requests", "3", &err);
    if (timeout)
        scenario_set(&sc, "timeout", timeout, &err);
    static struct sink sink;
    memset(&sink, 0, sizeof(sink));
    run_engines(&sc, &sink, NULL);
    cr_assert_eq(sink.count, 3);
    for (size_t i = 1; i < sink.count; i++)
        cr_expect_eq(sink.records[i].failure, sink.records[0].failure);
    *status = sink.records[0].status;
    scenario_free(&sc);
    test_server_stop(&srv);
    return sink.records[0].failure;
}

Test(engine, failures_are_classified)
{
    uint16_t status;
    struct test_server_opts none = {0};
    cr_expect_eq(failure_of(&none, NULL, true, &status), FAILURE_CONNECT_REFUSED);
    cr_expect_eq(status, 0);
    struct test_server_opts e500 = {.status = 500};
    cr_expect_eq(failure_of(&e500, NULL, false, &status), FAILURE_HTTP_STATUS);
    cr_expect_eq(status, 500);
    struct test_server_opts hang = {.hang = true};
    uint64_t t0 = clock_now_ns();
    cr_expect_eq(failure_of(&hang, "300ms", false, &status), FAILURE_TIMEOUT);
    uint64_t took = clock_now_ns() - t0;
    cr_expect(took >= 900 * NS_PER_MS && took < 5 * NS_PER_SEC, "3 x 300 ms timeouts took %llu ms",
              (unsigned long long)(took / NS_PER_MS));
    struct test_server_opts reset = {.reset = true};
    cr_expect_eq(failure_of(&reset, NULL, false, &status), FAILURE_RESET);
}

Test(engine, open_model_sends_on_schedule)
{
    struct test_server srv;
    struct test_server_opts o = {0};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    scenario_add_host(&sc, srv.url, &err);
    scenario_set(&sc, "rate", "200", &err);
    scenario_set(&sc, "connections", "8", &err);
    scenario_set(&sc, "max-requests", "300", &err);
    static struct sink sink;
    uint64_t t0 = clock_now_ns();
    run_engines(&sc, &sink, NULL);
    double took = (double)(clock_now_ns() - t0) / 1e9;
    cr_assert_eq(sink.count, 300);
    cr_expect(took > 1.4 && took < 2.5, "300 requests at 200/s took %.2f s", took);
    uint64_t first = UINT64_MAX, last = 0, late = 0;
    for (size_t i = 0; i < sink.count; i++) {
        const struct client_record *r = &sink.records[i];
        first = r->intended_ns < first ? r->intended_ns : first;
        last = r->intended_ns > last ? r->intended_ns : last;
        late += r->start_ns - r->intended_ns > 5 * NS_PER_MS;
        cr_expect_eq(r->users, 0);
    }
    cr_expect(llabs((long long)(last - first) - 1495000000LL) < 1000000,
              "intended times span 299 intervals of 5 ms: %llu", (unsigned long long)(last - first));
    cr_expect(late < 15, "%llu of 300 sends more than 5 ms late", (unsigned long long)late);
    scenario_free(&sc);
    test_server_stop(&srv);
}
