/* Unit tests for load/stats (entries, failures, per-second history, shards merging to the same
 * numbers) and load/threshold (parsing, binding to endpoints, evaluation). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/clock.h"
#include "load/stats.h"
#include "load/threshold.h"

#define T0 (1000 * NS_PER_SEC)

static const char *methods[] = {"GET", "POST", "GET"};
static const char *names[] = {"/", "predict", "/"}; /* endpoints 0 and 2 share a row */
static const char *hosts[] = {"http://a", "http://b"};

static struct stats *make(bool open_loop)
{
    struct stats_labels l = {3, methods, names, 2, hosts, open_loop};
    struct stats *s = stats_create(&l, T0, 1700000000.0);
    cr_assert_not_null(s);
    return s;
}

static struct client_record rec(uint16_t endpoint, uint64_t start, uint64_t latency,
                                uint8_t failure, uint16_t status)
{
    struct client_record r;
    memset(&r, 0, sizeof(r));
    r.intended_ns = r.start_ns = T0 + start;
    r.end_ns = r.start_ns + latency;
    r.endpoint = endpoint;
    r.failure = failure;
    r.status = status;
    r.bytes_in = 100;
    r.users = 7;
    r.ttfb_us = (uint32_t)(latency / 1000);
    r.total_us = r.ttfb_us;
    return r;
}

static double rel(double a, double b)
{
    return fabs(a - b) / b;
}

Test(stats, entries_follow_locust_keys_and_percentiles)
{
    struct stats *s = make(false);
    cr_assert_eq(s->entry_count, 3, "two distinct (method, name) + Aggregated");
    for (int i = 1; i <= 1000; i++) {
        struct client_record r = rec(i % 2 ? 0 : 2, (uint64_t)i * NS_PER_MS, (uint64_t)i * NS_PER_MS, 0, 200);
        stats_add(s, &r);
    }
    struct client_record f = rec(1, 5 * NS_PER_MS, 3 * NS_PER_MS, FAILURE_HTTP_STATUS, 500);
    stats_add(s, &f);
    stats_add(s, &f);
    const struct stats_entry *get = &s->entries[0], *agg = stats_aggregated(s);
    cr_expect_eq(get->requests, 1000);
    cr_expect_eq(s->entries[1].failures, 2);
    cr_expect_eq(agg->requests, 1002);
    cr_expect(rel((double)hist_percentile(&get->latency, 50), 500e6) < 0.005);
    cr_expect(rel((double)hist_percentile(&get->latency, 99), 990e6) < 0.005);
    cr_expect_eq(get->latency.max_ns, 1000 * NS_PER_MS);
    cr_expect_eq(get->latency.min_ns, 1 * NS_PER_MS);
    cr_expect_eq(s->failure_count, 1);
    cr_expect_eq(s->failures[0].occurrences, 2);
    char msg[64];
    cr_expect_str_eq(stats_failure_message(&s->failures[0], msg, sizeof(msg)), "HTTP 500");
    stats_destroy(s);
}

Test(stats, open_loop_latency_is_from_the_intended_time)
{
    struct stats *s = make(true);
    struct client_record r = rec(0, 0, 10 * NS_PER_MS, 0, 200);
    r.start_ns += 500 * NS_PER_MS; /* sent half a second late */
    r.end_ns += 500 * NS_PER_MS;
    stats_add(s, &r);
    const struct stats_entry *e = &s->entries[0];
    cr_expect(rel((double)e->latency.max_ns, 510e6) < 1e-9);
    cr_expect(rel((double)e->uncorrected.max_ns, 10e6) < 1e-9);
    cr_expect_eq(e->late, 1);
    stats_destroy(s);
}

Test(stats, history_rows_describe_each_second)
{
    struct stats *s = make(false);
    /* second 0: 100 requests of 10 ms; second 1: none; second 2: 50 requests of 30 ms + 5 fails */
    for (int i = 0; i < 100; i++) {
        struct client_record r = rec(0, (uint64_t)i * 5 * NS_PER_MS, 10 * NS_PER_MS, 0, 200);
        stats_add(s, &r);
    }
    for (int i = 0; i < 55; i++) {
        struct client_record r = rec(0, 2 * NS_PER_SEC + (uint64_t)i * NS_PER_MS, 30 * NS_PER_MS,
                                     i < 5 ? FAILURE_TIMEOUT : 0, 0);
        stats_add(s, &r);
    }
    stats_close_seconds(s, UINT64_MAX);
    cr_assert_eq(s->history_count, 6, "3 seconds x (endpoint + Aggregated)");
    const struct stats_history_row *r0 = &s->history[0], *r1 = &s->history[2], *r2 = &s->history[4];
    cr_expect_eq(r0->requests, 100);
    cr_expect(rel((double)r0->pct_ns[0], 10e6) < 0.005);
    cr_expect_eq(r0->users, 7);
    cr_expect_eq(r1->requests, 0);
    cr_expect_eq(r1->total_requests, 100);
    cr_expect_eq(r2->requests, 55);
    cr_expect_eq(r2->failures, 5);
    cr_expect(rel((double)r2->pct_ns[0], 30e6) < 0.005, "this second's median, not the total's");
    cr_expect_eq(r2->total_requests, 155);
    cr_expect_eq(r2->total_failures, 5);
    cr_expect(rel(r2->total_avg_ns, (100 * 10e6 + 55 * 30e6) / 155) < 0.005);
    cr_expect_eq(s->history_late, 0);
    stats_destroy(s);
}

Test(stats, shards_merge_into_the_same_numbers)
{
    struct stats *whole = make(false), *merged = make(false);
    struct stats_labels l = {3, methods, names, 2, hosts, false};
    struct stats_shard *a = stats_shard_create(&l, T0, 1700000000.0);
    struct stats_shard *b = stats_shard_create(&l, T0, 1700000000.0);
    for (int i = 0; i < 3000; i++) {
        struct client_record r = rec((uint16_t)(i % 3), (uint64_t)i * NS_PER_MS,
                                     (uint64_t)(1 + i % 97) * NS_PER_MS,
                                     i % 50 == 0 ? FAILURE_CONNECT_REFUSED : 0, 0);
        r.host = (uint16_t)(i % 2);
        stats_add(whole, &r);
        stats_shard_add(i % 2 ? a : b, &r);
        if (i % 700 == 0) { /* drains during the run, like the reporter */
            stats_shard_drain(a, merged);
            stats_shard_drain(b, merged);
            stats_close_seconds(merged, T0 + (uint64_t)i * NS_PER_MS);
        }
    }
    stats_shard_drain(a, merged);
    stats_shard_drain(b, merged);
    stats_close_seconds(whole, UINT64_MAX);
    stats_close_seconds(merged, UINT64_MAX);
    for (size_t i = 0; i < whole->entry_count; i++) {
        cr_expect_eq(whole->entries[i].requests, merged->entries[i].requests);
        cr_expect_eq(whole->entries[i].failures, merged->entries[i].failures);
        cr_expect_eq(memcmp(whole->entries[i].latency.buckets, merged->entries[i].latency.buckets,
                            sizeof(whole->entries[i].latency.buckets)), 0);
    }
    cr_expect_eq(whole->hosts[1].requests, merged->hosts[1].requests);
    cr_assert_eq(whole->history_count, merged->history_count);
    for (size_t i = 0; i < whole->history_count; i++) {
        cr_expect_eq(whole->history[i].requests, merged->history[i].requests);
        cr_expect_eq(whole->history[i].pct_ns[5], merged->history[i].pct_ns[5]);
        cr_expect_eq(whole->history[i].total_requests, merged->history[i].total_requests);
    }
    cr_expect_eq(merged->failures[0].occurrences, whole->failures[0].occurrences);
    stats_shard_destroy(a);
    stats_shard_destroy(b);
    stats_destroy(whole);
    stats_destroy(merged);
}

Test(threshold, parse_bind_and_evaluate)
{
    struct stats *s = make(false);
    for (int i = 1; i <= 100; i++) {
        struct client_record r = rec(1, (uint64_t)i * 10 * NS_PER_MS, (uint64_t)i * NS_PER_MS,
                                     i <= 3 ? FAILURE_HTTP_STATUS : 0, i <= 3 ? 503 : 200);
        stats_add(s, &r);
    }
    struct {
        const char *text;
        bool pass;
    } cases[] = {
        {"p95<200ms", true},  {"p95<90", false},       {"p99<=1s", true},
        {"avg<50ms", false},  {"avg<51ms", true},      {"fail<1%", false},
        {"fail<0.05", true},  {"rps>90", true},        {"rps>200", false},
        {"POST predict:p50<60ms", true}, {"predict:max<100ms", false}, {"med<=51ms", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct threshold t;
        struct threshold_result res;
        struct error err = {{0}};
        cr_assert_eq(threshold_parse(cases[i].text, &t, &err), 0, "%s: %s", cases[i].text, err.msg);
        cr_assert_eq(threshold_bind(&t, s, &err), 0, "%s: %s", cases[i].text, err.msg);
        threshold_eval(&t, s, NS_PER_SEC, &res);
        cr_expect_eq(res.passed, cases[i].pass, "%s: value %g", cases[i].text, res.value);
    }
    const char *bad[] = {"p95", "p95<fast", "q95<1s", "fail<x%", "p101<1s", ":p95<1s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct threshold t;
        struct error err = {{0}};
        cr_expect_eq(threshold_parse(bad[i], &t, &err), -1, "'%s' accepted", bad[i]);
    }
    struct threshold t;
    struct error err = {{0}};
    cr_assert_eq(threshold_parse("GET /nope:p95<1s", &t, &err), 0);
    cr_expect_eq(threshold_bind(&t, s, &err), -1);
    cr_expect(strstr(err.msg, "no endpoint"));
    /* no data: broken */
    cr_assert_eq(threshold_parse("GET /:p95<1s", &t, &err), 0);
    cr_assert_eq(threshold_bind(&t, s, &err), 0);
    struct threshold_result res;
    threshold_eval(&t, s, NS_PER_SEC, &res);
    cr_expect(res.no_data && !res.passed);
    stats_destroy(s);
}
