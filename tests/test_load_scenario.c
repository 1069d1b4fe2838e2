/* Unit tests for load/scenario (flags, endpoint specs, YAML/JSON files with line numbers,
 * bodies and multipart) and load/schedule (ramps, arrival times, picks). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "load/scenario.h"
#include "load/schedule.h"
#include "support/tmpdir.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

Test(scenario, endpoint_spec_with_every_option)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_assert_eq(scenario_add_endpoint(&sc, "post /predict name=predict weight=3 "
                                            "header=Authorization:Bearer-x header='X-A: b c' "
                                            "body='{\"a\": 1}' timeout=5s", &err), 0, "%s", err.msg);
    const struct scenario_endpoint *e = &sc.endpoints[0];
    cr_expect_str_eq(e->method, "POST");
    cr_expect_str_eq(e->path, "/predict");
    cr_expect_str_eq(e->name, "predict");
    cr_expect_eq(e->weight, 3);
    cr_expect_eq(e->header_count, 2);
    cr_expect_str_eq(e->headers[1], "X-A: b c");
    cr_expect_str_eq(e->body_text, "{\"a\": 1}");
    cr_expect_eq(e->timeout_ns, 5 * NS_PER_SEC);
    cr_assert_eq(scenario_add_host(&sc, "http://127.0.0.1:8000", &err), 0);
    cr_assert_eq(scenario_finish(&sc, &err), 0, "%s", err.msg);
    cr_expect_str_eq(sc.endpoints[0].content_type, "application/json");
    cr_expect_eq(sc.endpoints[0].body_len, strlen("{\"a\": 1}"));
    scenario_free(&sc);
}

Test(scenario, bad_endpoints_and_hosts_are_rejected_with_a_reason)
{
    const char *bad_endpoints[] = {"/health", "GET", "GET health", "GET / wieght=2",
                                   "GET / weight=x", "GET / upload=img", "GET / timeout=fast",
                                   "GET / body='open"};
    for (size_t i = 0; i < sizeof(bad_endpoints) / sizeof(bad_endpoints[0]); i++) {
        struct scenario sc;
        struct error err = {{0}};
        scenario_init(&sc);
        cr_expect_eq(scenario_add_endpoint(&sc, bad_endpoints[i], &err), -1, "'%s' accepted",
                     bad_endpoints[i]);
        cr_expect(strlen(err.msg) > 5 && !strchr(err.msg, '\n'), "message for '%s': %s",
                  bad_endpoints[i], err.msg);
        scenario_free(&sc);
    }
    const char *bad_hosts[] = {"127.0.0.1:8000", "ftp://x", "http://", "http://a:99999",
                               "http://a:80x", "http://a b", "http://h=0"};
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        struct scenario sc;
        struct error err = {{0}};
        scenario_init(&sc);
        cr_expect_eq(scenario_add_host(&sc, bad_hosts[i], &err), -1, "'%s' accepted", bad_hosts[i]);
        scenario_free(&sc);
    }
}

Test(scenario, host_parsing_and_weights)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_assert_eq(scenario_add_host(&sc, "https://Example.org/api/=3", &err), 0, "%s", err.msg);
    cr_assert_eq(scenario_add_host(&sc, "http://[::1]:9000", &err), 0, "%s", err.msg);
    cr_expect_str_eq(sc.hosts[0].scheme, "https");
    cr_expect_eq(sc.hosts[0].port, 443);
    cr_expect_str_eq(sc.hosts[0].base_path, "/api");
    cr_expect_str_eq(sc.hosts[0].url, "https://Example.org/api");
    cr_expect_eq(sc.hosts[0].weight, 3);
    cr_expect_str_eq(sc.hosts[1].hostname, "::1");
    cr_expect_eq(sc.hosts[1].port, 9000);
    scenario_free(&sc);
}

Test(scenario, options_and_model_consistency)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_expect_eq(scenario_set(&sc, "users", "0", &err), -1);
    cr_expect(strstr(err.msg, "zero users"));
    cr_expect_eq(scenario_set(&sc, "wait", "between:2s,1s", &err), -1);
    cr_expect_eq(scenario_set(&sc, "wait", "between:0.5s,2s", &err), 0);
    cr_expect_eq(sc.wait.kind, WAIT_BETWEEN);
    cr_expect_eq(sc.wait.min_ns, 500 * NS_PER_MS);
    cr_expect_eq(scenario_set(&sc, "spawn_rate", "2.5", &err), 0);
    cr_expect(fabs(sc.spawn_rate - 2.5) < 1e-9);
    cr_expect_eq(scenario_set(&sc, "run-time", "1h30m", &err), 0);
    cr_expect_eq(sc.run_time_ns, 5400 * NS_PER_SEC);
    cr_expect_eq(scenario_set(&sc, "bogus", "1", &err), -1);
    cr_expect(strstr(err.msg, "unknown option"));
    cr_assert_eq(scenario_set(&sc, "users", "5", &err), 0);
    cr_assert_eq(scenario_set(&sc, "rate", "100", &err), 0);
    cr_assert_eq(scenario_set(&sc, "host", "http://127.0.0.1:1", &err), 0);
    cr_expect_eq(scenario_finish(&sc, &err), -1, "users and rate together must be refused");
    scenario_free(&sc);

    scenario_init(&sc);
    scenario_set(&sc, "host", "http://127.0.0.1:1", &err);
    scenario_set(&sc, "stage", "10s:0", &err);
    cr_expect_eq(scenario_finish(&sc, &err), -1, "stages that never exceed 0 users");
    scenario_free(&sc);
}

Test(scenario, yaml_file_with_every_section)
{
    char dir[256], path[512], body[512];
    tmpdir_make("scenario", dir, sizeof(dir));
    snprintf(body, sizeof(body), "%s/img.bin", dir);
    write_text(body, "IMAGEBYTES");
    snprintf(path, sizeof(path), "%s/s.yaml", dir);
    write_text(path, "hosts:\n"
                     "  - http://127.0.0.1:8001\n"
                     "  - {url: 'http://127.0.0.1:8002', weight: 3}\n"
                     "users: 20\n"
                     "spawn-rate: 5\n"
                     "wait: constant:1s\n"
                     "run_time: 2m\n"
                     "stages: [30s:10, {duration: 1m, target: 20}]\n"
                     "thresholds: ['p95<200ms', 'fail<1%']\n"
                     "endpoints:\n"
                     "  - GET /health weight=1\n"
                     "  - method: POST\n"
                     "    path: /predict\n"
                     "    name: predict\n"
                     "    weight: 4\n"
                     "    headers: {Authorization: Bearer t}\n"
                     "    upload: {field: image, file: img.bin, type: image/jpeg}\n"
                     "    timeout: 3s\n");
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_assert_eq(scenario_load_file(&sc, path, &err), 0, "%s", err.msg);
    cr_assert_eq(scenario_finish(&sc, &err), 0, "%s", err.msg);
    cr_expect_eq(sc.host_count, 2);
    cr_expect_eq(sc.hosts[1].weight, 3);
    cr_expect_eq(sc.users, 20);
    cr_expect_eq(sc.stage_count, 2);
    cr_expect_eq(sc.stages[1].duration_ns, 60 * NS_PER_SEC);
    cr_expect_eq(sc.threshold_count, 2);
    cr_assert_eq(sc.endpoint_count, 2);
    const struct scenario_endpoint *e = &sc.endpoints[1];
    cr_expect_str_eq(e->name, "predict");
    cr_expect_eq(e->weight, 4);
    cr_expect_str_eq(e->headers[0], "Authorization: Bearer t");
    cr_expect(strstr(e->content_type, "multipart/form-data; boundary="));
    cr_expect(memmem(e->body, e->body_len, "\r\n\r\nIMAGEBYTES\r\n--", 18), "multipart body");
    cr_expect(memmem(e->body, e->body_len, "filename=\"img.bin\"", 18));
    cr_expect(memmem(e->body, e->body_len, "Content-Type: image/jpeg", 24));
    scenario_free(&sc);
    tmpdir_remove(dir);
}

static void expect_file_error(const char *text, const char *want)
{
    char dir[256], path[512];
    tmpdir_make("scenario-bad", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/s.yaml", dir);
    write_text(path, text);
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_expect_eq(scenario_load_file(&sc, path, &err), -1, "accepted: %s", text);
    cr_expect(strstr(err.msg, want), "got '%s', want '%s'", err.msg, want);
    cr_expect(strstr(err.msg, path) == err.msg, "message starts with the file: %s", err.msg);
    scenario_free(&sc);
    tmpdir_remove(dir);
}

Test(scenario, file_errors_carry_line_numbers)
{
    expect_file_error("host: http://127.0.0.1:1\nusers: 3\nendpoints:\n  - method: GET\n"
                      "    path: /\n    wieght: 2\n",
                      ":6: unknown key 'wieght' (did you mean 'weight'?)");
    expect_file_error("host: http://127.0.0.1:1\nuserz: 3\n", ":2: unknown key 'userz'");
    expect_file_error("host: http://127.0.0.1:1\nusers: [1, 2\n", ":3:");
    expect_file_error("host: http://127.0.0.1:1\n\nusers: 0\n", ":3: users: zero users");
    expect_file_error("{\"host\": \"http://127.0.0.1:1\",\n \"run_time\": \"soon\"}\n",
                      ":2: run time: bad duration");
    expect_file_error("- just\n- a list\n", ":1: expected a mapping");
}

Test(scenario, json_file_is_read_too)
{
    char dir[256], path[512];
    tmpdir_make("scenario-json", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/s.json", dir);
    write_text(path, "{\"host\": \"http://127.0.0.1:9\", \"rate\": 250, \"connections\": 8,\n"
                     " \"endpoints\": [{\"method\": \"PUT\", \"path\": \"/x\", \"body\": \"abc\"}]}\n");
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    cr_assert_eq(scenario_load_file(&sc, path, &err), 0, "%s", err.msg);
    cr_assert_eq(scenario_finish(&sc, &err), 0, "%s", err.msg);
    cr_expect(sc.open_loop);
    cr_expect_eq(sc.connections, 8);
    cr_expect_str_eq(sc.endpoints[0].method, "PUT");
    cr_expect_eq(sc.endpoints[0].body_len, 3);
    cr_expect_null(sc.endpoints[0].content_type);
    scenario_free(&sc);
    tmpdir_remove(dir);
}

Test(schedule, closed_ramp_and_stages)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    scenario_set(&sc, "host", "http://127.0.0.1:1", &err);
    scenario_set(&sc, "users", "10", &err);
    scenario_set(&sc, "spawn-rate", "5", &err);
    cr_assert_eq(scenario_finish(&sc, &err), 0);
    struct schedule s;
    schedule_init(&s, &sc);
    cr_expect_eq(schedule_users_at(&s, 0), 0);
    cr_expect_eq(schedule_users_at(&s, 1 * NS_PER_SEC), 5);
    cr_expect_eq(schedule_users_at(&s, 2 * NS_PER_SEC), 10);
    cr_expect_eq(schedule_users_at(&s, 100 * NS_PER_SEC), 10);
    cr_expect_eq(s.end_ns, UINT64_MAX);
    scenario_free(&sc);

    scenario_init(&sc);
    scenario_set(&sc, "host", "http://127.0.0.1:1", &err);
    scenario_set(&sc, "stage", "10s:100", &err);
    scenario_set(&sc, "stage", "20s:100", &err);
    scenario_set(&sc, "stage", "10s:0", &err);
    cr_assert_eq(scenario_finish(&sc, &err), 0);
    schedule_init(&s, &sc);
    cr_expect_eq(schedule_users_at(&s, 5 * NS_PER_SEC), 50);
    cr_expect_eq(schedule_users_at(&s, 20 * NS_PER_SEC), 100);
    cr_expect_eq(schedule_users_at(&s, 35 * NS_PER_SEC), 50);
    cr_expect_eq(schedule_users_at(&s, 41 * NS_PER_SEC), 0);
    cr_expect_eq(s.end_ns, 40 * NS_PER_SEC);
    scenario_free(&sc);
}

Test(schedule, open_arrival_times_follow_the_rate)
{
    struct scenario sc;
    struct error err = {{0}};
    scenario_init(&sc);
    scenario_set(&sc, "host", "http://127.0.0.1:1", &err);
    scenario_set(&sc, "rate", "200", &err);
    cr_assert_eq(scenario_finish(&sc, &err), 0);
    struct schedule s;
    schedule_init(&s, &sc);
    uint64_t t;
    cr_assert(schedule_send_time(&s, 0, &t));
    cr_expect_eq(t, 0);
    cr_assert(schedule_send_time(&s, 1000, &t));
    cr_expect(llabs((long long)t - 5000000000LL) < 1000, "request 1000 at 5 s, got %llu",
              (unsigned long long)t);
    scenario_free(&sc);

    /* a ramp 0 -> 100/s over 10 s then 100/s for 10 s: 500 + 1000 requests in all */
    scenario_init(&sc);
    scenario_set(&sc, "host", "http://127.0.0.1:1", &err);
    scenario_set(&sc, "rate", "0", &err);
    scenario_set(&sc, "stage", "10s:100", &err);
    scenario_set(&sc, "stage", "10s:100", &err);
    cr_assert_eq(scenario_finish(&sc, &err), 0, "%s", err.msg);
    schedule_init(&s, &sc);
    cr_assert(schedule_send_time(&s, 125, &t)); /* N(t) = 5 t^2 -> t = 5 s */
    cr_expect(llabs((long long)t - 5000000000LL) < 1000000, "got %llu", (unsigned long long)t);
    cr_assert(schedule_send_time(&s, 1000, &t)); /* 500 in the ramp, then 500 at 100/s */
    cr_expect(llabs((long long)t - 15000000000LL) < 1000000, "got %llu", (unsigned long long)t);
    cr_expect(!schedule_send_time(&s, 1500, &t), "beyond the last stage");
    uint64_t prev = 0;
    for (uint64_t k = 1; k < 1500; k++) {
        cr_assert(schedule_send_time(&s, k, &t));
        cr_assert(t > prev, "times increase at %llu", (unsigned long long)k);
        prev = t;
    }
    scenario_free(&sc);
}

Test(schedule, weighted_round_robin_follows_weights)
{
    unsigned w[] = {1, 3, 6};
    struct wrr r;
    wrr_init(&r, w, 3);
    int count[3] = {0};
    for (int i = 0; i < 1000; i++)
        count[wrr_next(&r)]++;
    cr_expect_eq(count[0], 100);
    cr_expect_eq(count[1], 300);
    cr_expect_eq(count[2], 600);
}

Test(schedule, think_times)
{
    struct rng rng;
    rng_seed(&rng, 42);
    struct scenario_wait w = {WAIT_BETWEEN, 500 * NS_PER_MS, 2 * NS_PER_SEC};
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t t = schedule_wait_ns(&w, &rng);
        cr_assert(t >= w.min_ns && t <= w.max_ns);
        sum += (double)t;
    }
    cr_expect(fabs(sum / 10000 - 1.25e9) < 0.03e9, "mean %g", sum / 10000);
    struct scenario_wait c = {WAIT_CONSTANT, NS_PER_SEC, NS_PER_SEC};
    cr_expect_eq(schedule_wait_ns(&c, &rng), NS_PER_SEC);
}
