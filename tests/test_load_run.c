/* `loadscope run` end to end, as a user runs it ($LOADSCOPE_BIN), against real servers on
 * loopback: counts, percentiles, failure classes, Locust CSVs (headers byte-exact, values
 * matching the JSON), thresholds and exit codes, Ctrl-C, open-loop correction, weights,
 * multipart upload, scenario-file and bad-input errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/http_server.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

#define LIMIT_S 120

struct run {
    char dir[256];
    char json_path[512], csv_prefix[512];
    struct cmd_result res;
    cJSON *json;
};

/* Runs loadscope with args plus --csv/--json into a fresh directory, with `engine` (curl, raw,
 * or NULL for the default) and checks the summary names the engine that ran (expect: that
 * line, or NULL for what `engine` implies). */
static void run_full(struct run *r, const char *engine, const char *expect, int sigint_ms,
                     const char *const *args)
{
    memset(r, 0, sizeof(*r));
    tmpdir_make("run", r->dir, sizeof(r->dir));
    snprintf(r->json_path, sizeof(r->json_path), "%s/summary.json", r->dir);
    snprintf(r->csv_prefix, sizeof(r->csv_prefix), "%s/out", r->dir);
    const char *all[64];
    size_t n = 0;
    for (; args[n]; n++)
        all[n] = args[n];
    all[n++] = "--json";
    all[n++] = r->json_path;
    all[n++] = "--csv";
    all[n++] = r->csv_prefix;
    all[n++] = "--only-summary";
    all[n++] = "--no-trace"; /* the load generator alone: tracing has its own tests */
    all[n++] = "--out";
    all[n++] = r->dir;
    if (engine) {
        all[n++] = "--engine";
        all[n++] = engine;
    }
    all[n] = NULL;
    cr_assert_eq(run_loadscope(&r->res, all, sigint_ms, LIMIT_S), 0);
    if (r->res.exit_code != 2) {
        char want[64];
        snprintf(want, sizeof(want), "Engine: %s (--engine %s)", engine ? engine : "raw",
                 engine ? engine : "auto");
        if (expect)
            snprintf(want, sizeof(want), "%s", expect);
        cr_expect(strstr(r->res.out, want), "the summary says '%s': %s", want, r->res.out);
    }
    char *text = file_read_all(r->json_path, NULL);
    if (text) {
        r->json = cJSON_Parse(text);
        free(text);
    }
}

static void run_with(struct run *r, const char *engine, int sigint_ms, const char *const *args)
{
    run_full(r, engine, NULL, sigint_ms, args);
}

static void run(struct run *r, int sigint_ms, const char *const *args)
{
    run_full(r, NULL, NULL, sigint_ms, args);
}

static void done(struct run *r)
{
    cJSON_Delete(r->json);
    cmd_result_free(&r->res);
    tmpdir_remove(r->dir);
}

/* The item at a '/'-separated path ("stats/aggregated/percentiles_ms/99.9"). */
static const cJSON *at(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = o;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "/", &save); tok && cur; tok = strtok_r(NULL, "/", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    cr_assert_not_null(cur, "nothing at %s", path);
    return cur;
}

static double num(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    cr_assert(cJSON_IsNumber(v), "no number at %s", path);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    cr_assert(cJSON_IsString(v), "no string at %s", path);
    return v->valuestring;
}

/* The report document's aggregated client stats (docs/report-document.md). */
static const cJSON *agg_of(const struct run *r)
{
    return at(r->json, "stats/aggregated");
}

static void expect_ok(const struct run *r)
{
    cr_assert_eq(r->res.exit_code, 0, "exit %d, stderr: %s", r->res.exit_code, r->res.err);
    cr_assert_not_null(r->json, "no JSON summary; stderr: %s", r->res.err);
}

static void max_requests_sends_exactly_that_many(const char *engine)
{
    struct test_server srv;
    struct test_server_opts o = {0};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "-u", "5", "--threads", "2", "--max-requests", "777", NULL});
    expect_ok(&r);
    const cJSON *agg = agg_of(&r);
    cr_expect_eq(num(agg, "requests"), 777);
    cr_expect_eq(num(agg, "failures"), 0);
    cr_expect_str_eq(str(r.json, "run/stop_reason"), "max requests");
    cr_expect(strstr(r.res.out, "Aggregated"), "summary table on stdout");
    done(&r);
    test_server_stop(&srv);
}

Test(run, curl_max_requests_sends_exactly_that_many)
{
    max_requests_sends_exactly_that_many("curl");
}

Test(run, raw_max_requests_sends_exactly_that_many)
{
    max_requests_sends_exactly_that_many("raw");
}

Test(run, run_time_bounds_the_run)
{
    struct test_server srv;
    struct test_server_opts o = {.delay_ms = 10};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run(&r, 0, (const char *[]){"-H", srv.url, "-u", "4", "-t", "2s", NULL});
    expect_ok(&r);
    double n = num(agg_of(&r), "requests");
    /* 4 users x 2 s / ~10.1 ms = ~790; a busy 2-core box does less, never more */
    cr_expect(n >= 350 && n <= 800, "requests %g", n);
    cr_expect(r.res.seconds < 6, "took %.1f s", r.res.seconds);
    double d = num(r.json, "run/duration_s");
    cr_expect(d >= 1.95 && d < 2.5, "duration %g", d);
    cr_expect_str_eq(str(r.json, "run/stop_reason"), "run time");
    done(&r);
    test_server_stop(&srv);
}

static void percentiles_match_a_known_server_delay(const char *engine)
{
    struct test_server srv;
    struct test_server_opts o = {.delay_ms = 20};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "-u", "8", "--max-requests", "400", NULL});
    expect_ok(&r);
    const cJSON *agg = agg_of(&r);
    double p50 = num(agg, "percentiles_ms/50"), p90 = num(agg, "percentiles_ms/90"),
           min = num(agg, "min_ms");
    cr_expect(p50 >= 20.0 && p50 <= 20.0 * 1.05, "p50 %.3f ms for a 20 ms server", p50);
    cr_expect(min >= 20.0, "min %.3f ms: nothing answers faster than the delay", min);
    cr_expect(p90 <= 23.0, "p90 %.3f ms", p90);
    done(&r);
    test_server_stop(&srv);
}

Test(run, curl_percentiles_match_a_known_server_delay)
{
    percentiles_match_a_known_server_delay("curl");
}

Test(run, raw_percentiles_match_a_known_server_delay)
{
    percentiles_match_a_known_server_delay("raw");
}

static const cJSON *only_failure(const struct run *r)
{
    const cJSON *fails = at(r->json, "stats/failures");
    cr_assert_eq(cJSON_GetArraySize(fails), 1, "one failure kind; stdout: %s", r->res.out);
    return cJSON_GetArrayItem(fails, 0);
}

static void failures_are_classified_end_to_end(const char *engine)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", test_server_free_port());
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", url, "--no-check", "--max-requests", "5", NULL});
    expect_ok(&r);
    const cJSON *f = only_failure(&r);
    cr_expect_str_eq(str(f, "kind"), "connection_refused");
    cr_expect_eq(num(f, "occurrences"), 5);
    cr_expect(num(f, "last_seen_s") >= num(f, "first_seen_s"));
    done(&r);

    struct test_server srv;
    struct test_server_opts e500 = {.status = 500};
    cr_assert_eq(test_server_start(&srv, &e500), 0);
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "--max-requests", "20", NULL});
    expect_ok(&r);
    f = only_failure(&r);
    cr_expect_str_eq(str(f, "kind"), "http_status");
    cr_expect_eq(num(f, "status"), 500);
    cr_expect_str_eq(str(f, "error"), "HTTP 500");
    cr_expect_eq(num(f, "occurrences"), 20);
    done(&r);
    test_server_stop(&srv);

    struct test_server_opts hang = {.hang = true};
    cr_assert_eq(test_server_start(&srv, &hang), 0);
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "-u", "2", "--max-requests", "2", "--timeout", "500ms", NULL});
    expect_ok(&r);
    f = only_failure(&r);
    cr_expect_str_eq(str(f, "kind"), "timeout");
    cr_expect_eq(num(f, "occurrences"), 2);
    done(&r);
    test_server_stop(&srv);

    struct test_server_opts reset = {.reset = true};
    cr_assert_eq(test_server_start(&srv, &reset), 0);
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "--max-requests", "4", NULL});
    expect_ok(&r);
    f = only_failure(&r);
    cr_expect_str_eq(str(f, "kind"), "reset");
    done(&r);
    test_server_stop(&srv);
}

Test(run, curl_failures_are_classified_end_to_end)
{
    failures_are_classified_end_to_end("curl");
}

Test(run, raw_failures_are_classified_end_to_end)
{
    failures_are_classified_end_to_end("raw");
}

/* The value of column `col` (0-based) in a CSV line without quoted fields. */
static double csv_col(const char *line, int col)
{
    const char *p = line;
    for (int i = 0; i < col; i++) {
        p = strchr(p, ',');
        cr_assert_not_null(p);
        p++;
    }
    return strtod(p, NULL);
}

static void csv_files_have_locust_headers_and_agree_with_json(const char *engine)
{
    struct test_server srv;
    struct test_server_opts o = {.delay_ms = 2, .status = 200};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "-u", "4", "-t", "2500ms", "-e", "GET /a",
                                 "-e", "GET /b name=bee weight=2", NULL});
    expect_ok(&r);
    char path[600], line[4096];
    snprintf(path, sizeof(path), "%s_stats.csv", r.csv_prefix);
    char *stats = file_read_all(path, NULL);
    snprintf(path, sizeof(path), "%s_stats_history.csv", r.csv_prefix);
    char *history = file_read_all(path, NULL);
    snprintf(path, sizeof(path), "%s_failures.csv", r.csv_prefix);
    char *failures = file_read_all(path, NULL);
    cr_assert(stats && history && failures);
    text_line(stats, 0, line, sizeof(line));
    cr_expect_str_eq(line, "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%");
    text_line(history, 0, line, sizeof(line));
    cr_expect_str_eq(line, "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size");
    text_line(failures, 0, line, sizeof(line));
    cr_expect_str_eq(line, "Method,Name,Error,Occurrences,First Seen,Last Seen");
    cr_expect_eq(text_line_count(stats), 4, "two endpoints + Aggregated");
    /* Aggregated row == JSON aggregated */
    cr_assert_eq(text_line(stats, 3, line, sizeof(line)), 0);
    cr_expect(!strncmp(line, ",Aggregated,", 12), "%s", line);
    const cJSON *agg = agg_of(&r);
    cr_expect_eq(csv_col(line, 2), num(agg, "requests"));
    cr_expect(fabs(csv_col(line, 4) - num(agg, "median_ms")) < 1e-5);
    cr_expect(fabs(csv_col(line, 16) - num(agg, "percentiles_ms/95")) < 1e-5);
    cr_expect(fabs(csv_col(line, 9) - num(agg, "rps")) < 1e-3);
    /* weights: bee gets twice /a */
    char a[4096], b[4096];
    text_line(stats, 1, a, sizeof(a));
    text_line(stats, 2, b, sizeof(b));
    cr_expect(!strncmp(b, "GET,bee,", 8), "%s", b);
    cr_expect(fabs(csv_col(b, 2) / csv_col(a, 2) - 2.0) < 0.02, "%s / %s", b, a);
    /* history: the per-second Aggregated counts add up to the total */
    double sum = 0, last_total = 0;
    for (int i = 1; text_line(history, i, line, sizeof(line)) == 0; i++)
        if (strstr(line, ",,Aggregated,")) {
            sum += csv_col(line, 4);
            last_total = csv_col(line, 17);
            cr_expect(csv_col(line, 1) == 4, "user count: %s", line);
        }
    cr_expect_eq(sum, num(agg, "requests"));
    cr_expect_eq(last_total, num(agg, "requests"));
    free(stats);
    free(history);
    free(failures);
    done(&r);
    test_server_stop(&srv);
}

Test(run, curl_csv_files_have_locust_headers_and_agree_with_json)
{
    csv_files_have_locust_headers_and_agree_with_json("curl");
}

Test(run, raw_csv_files_have_locust_headers_and_agree_with_json)
{
    csv_files_have_locust_headers_and_agree_with_json("raw");
}

Test(run, thresholds_set_the_exit_code)
{
    struct test_server srv;
    struct test_server_opts o = {.delay_ms = 20};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run(&r, 0, (const char *[]){"-H", srv.url, "--max-requests", "30", "--threshold", "p95<500ms",
                                 "--threshold", "fail<1%", "--threshold", "GET /:p50<1s", NULL});
    expect_ok(&r);
    const cJSON *ths = at(r.json, "thresholds");
    cr_assert_eq(cJSON_GetArraySize(ths), 3);
    for (int i = 0; i < 3; i++)
        cr_expect(cJSON_IsTrue(at(cJSON_GetArrayItem(ths, i), "ok")), "threshold %d", i);
    done(&r);
    run(&r, 0, (const char *[]){"-H", srv.url, "--max-requests", "30", "--threshold", "p95<5ms",
                                 "--threshold", "fail<1%", NULL});
    cr_expect_eq(r.res.exit_code, 3, "a broken threshold exits 3; stderr %s", r.res.err);
    cr_assert_not_null(r.json);
    const cJSON *t0 = cJSON_GetArrayItem(at(r.json, "thresholds"), 0);
    cr_expect(cJSON_IsFalse(at(t0, "ok")));
    cr_expect(cJSON_IsTrue(at(cJSON_GetArrayItem(at(r.json, "thresholds"), 1), "ok")));
    cr_expect(num(t0, "value") >= 20);
    cr_expect(strstr(r.res.out, "BROKEN"), "the summary names the broken threshold");
    done(&r);
    run(&r, 0, (const char *[]){"-H", srv.url, "--max-requests", "3", "--threshold", "GET /nope:p95<1s", NULL});
    cr_expect_eq(r.res.exit_code, 2, "unknown endpoint in a threshold is a usage error");
    done(&r);
    test_server_stop(&srv);
}

static void ctrl_c_still_writes_every_output(const char *engine)
{
    struct test_server srv;
    struct test_server_opts o = {.delay_ms = 5};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run_with(&r, engine, 1500, (const char *[]){"-H", srv.url, "-u", "4", "-t", "60s", NULL});
    expect_ok(&r);
    cr_expect(r.res.seconds < 10, "stopped after %.1f s", r.res.seconds);
    cr_expect_str_eq(str(r.json, "run/stop_reason"), "interrupted");
    double n = num(agg_of(&r), "requests");
    cr_expect(n > 100, "requests done before Ctrl-C: %g", n);
    cr_expect_eq(num(agg_of(&r), "failures"), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s_stats.csv", r.csv_prefix);
    char *stats = file_read_all(path, NULL);
    cr_assert_not_null(stats, "stats CSV written");
    char line[4096];
    cr_assert_eq(text_line(stats, 2, line, sizeof(line)), 0);
    cr_expect_eq(csv_col(line, 2), n);
    free(stats);
    snprintf(path, sizeof(path), "%s_stats_history.csv", r.csv_prefix);
    char *history = file_read_all(path, NULL);
    cr_expect(history && text_line_count(history) >= 2);
    free(history);
    done(&r);
    test_server_stop(&srv);
}

Test(run, curl_ctrl_c_still_writes_every_output)
{
    ctrl_c_still_writes_every_output("curl");
}

Test(run, raw_ctrl_c_still_writes_every_output)
{
    ctrl_c_still_writes_every_output("raw");
}

static void open_loop_corrects_for_a_stall(const char *engine)
{
    struct test_server srv;
    /* 400 req/s for 5 s; the 400th request (~1 s in) stalls the server for 1 s */
    struct test_server_opts o = {.stall_after = 400, .stall_ms = 1000};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "--rate", "400", "-c", "10", "-t", "5s", NULL});
    expect_ok(&r);
    cr_expect_str_eq(str(r.json, "stats/latency_basis"), "intended");
    const cJSON *agg = agg_of(&r);
    double n = num(agg, "requests");
    cr_expect(n > 1800 && n <= 2001, "requests %g", n);
    double corrected = num(agg, "percentiles_ms/99");
    double uncorrected = num(agg, "uncorrected_percentiles_ms/99");
    double stall_max = num(agg, "max_ms");
    cr_expect(corrected > 600, "corrected p99 %.1f ms shows the stall", corrected);
    cr_expect(stall_max > 900 && stall_max < 1400, "corrected max %.1f ms ~ the stall", stall_max);
    cr_expect(uncorrected < 100, "uncorrected p99 %.1f ms hides it", uncorrected);
    cr_expect(num(agg, "late_sends") > 100, "late sends counted");
    cr_expect(strstr(r.res.out, "coordinated-omission corrected"), "the summary says so");
    done(&r);
    test_server_stop(&srv);
}

Test(run, curl_open_loop_corrects_for_a_stall)
{
    open_loop_corrects_for_a_stall("curl");
}

Test(run, raw_open_loop_corrects_for_a_stall)
{
    open_loop_corrects_for_a_stall("raw");
}

static void hosts_and_endpoints_share_load_by_weight(const char *engine)
{
    struct test_server a, b;
    struct test_server_opts o = {0};
    cr_assert_eq(test_server_start(&a, &o), 0);
    cr_assert_eq(test_server_start(&b, &o), 0);
    char ha[80], hb[80];
    snprintf(ha, sizeof(ha), "%s", a.url);
    snprintf(hb, sizeof(hb), "%s=3", b.url);
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", ha, "-H", hb, "-u", "3", "--max-requests", "800",
                                 "-e", "GET /x weight=1", "-e", "GET /y weight=3", NULL});
    expect_ok(&r);
    const cJSON *hosts = at(r.json, "stats/hosts");
    cr_expect_eq(num(cJSON_GetArrayItem(hosts, 0), "requests"), 200);
    cr_expect_eq(num(cJSON_GetArrayItem(hosts, 1), "requests"), 600);
    const cJSON *eps = at(r.json, "stats/endpoints");
    cr_expect_eq(num(cJSON_GetArrayItem(eps, 0), "requests"), 200);
    cr_expect_eq(num(cJSON_GetArrayItem(eps, 1), "requests"), 600);
    done(&r);
    test_server_stop(&a);
    test_server_stop(&b);
}

Test(run, curl_hosts_and_endpoints_share_load_by_weight)
{
    hosts_and_endpoints_share_load_by_weight("curl");
}

Test(run, raw_hosts_and_endpoints_share_load_by_weight)
{
    hosts_and_endpoints_share_load_by_weight("raw");
}

static void multipart_upload_arrives_intact(const char *engine)
{
    char dir[256], img[512], other[512];
    tmpdir_make("upload", dir, sizeof(dir));
    snprintf(img, sizeof(img), "%s/cat.jpg", dir);
    snprintf(other, sizeof(other), "%s/dog.jpg", dir);
    FILE *f = fopen(img, "wb"), *g = fopen(other, "wb");
    for (unsigned i = 0; i < 300000; i++) { /* binary, with CR LF and NUL bytes */
        fputc((int)((i * 7919u) & 0xff), f);
        fputc((int)((i * 31u) & 0xff), g);
    }
    fclose(f);
    fclose(g);
    struct test_server srv;
    struct test_server_opts o = {.upload_file = img};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    char spec[1024];
    snprintf(spec, sizeof(spec), "POST /predict upload=image=@%s;type=image/jpeg", img);
    struct run r;
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "-u", "2", "--max-requests", "20", "-e", spec, NULL});
    expect_ok(&r);
    const cJSON *agg = agg_of(&r);
    cr_expect_eq(num(agg, "requests"), 20);
    cr_expect_eq(num(agg, "failures"), 0, "the server found the file intact in every request");
    done(&r);
    /* the check can fail: another file is rejected by the server */
    snprintf(spec, sizeof(spec), "POST /predict upload=image=@%s", other);
    run_with(&r, engine, 0, (const char *[]){"-H", srv.url, "--max-requests", "3", "-e", spec, NULL});
    expect_ok(&r);
    cr_expect_eq(num(agg_of(&r), "failures"), 3);
    done(&r);
    test_server_stop(&srv);
    tmpdir_remove(dir);
}

Test(run, curl_multipart_upload_arrives_intact)
{
    multipart_upload_arrives_intact("curl");
}

Test(run, raw_multipart_upload_arrives_intact)
{
    multipart_upload_arrives_intact("raw");
}

static void expect_usage_error(const char *const *args, const char *want)
{
    struct cmd_result res;
    cr_assert_eq(run_loadscope(&res, args, 0, 30), 0);
    cr_expect_eq(res.exit_code, 2, "exit %d for '%s': %s", res.exit_code, want, res.err);
    cr_expect_eq(text_line_count(res.err), 1, "one line: %s", res.err);
    cr_expect(!strncmp(res.err, "loadscope: ", 11), "%s", res.err);
    cr_expect(strstr(res.err, want), "want '%s' in: %s", want, res.err);
    cmd_result_free(&res);
}

Test(run, bad_input_gets_one_line_and_exit_2)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", test_server_free_port());
    expect_usage_error((const char *[]){"-H", "http://127.0.0.1:1", "--bogus", NULL}, "unknown option '--bogus'");
    expect_usage_error((const char *[]){"-H", "127.0.0.1:8000", NULL}, "malformed URL");
    expect_usage_error((const char *[]){"-H", "http://127.0.0.1:8000", "-u", "0", NULL}, "zero users");
    expect_usage_error((const char *[]){"-H", url, "-t", "1s", NULL}, "unreachable");
    expect_usage_error((const char *[]){"-H", "http://no-such-host.invalid", NULL}, "cannot resolve");
    expect_usage_error((const char *[]){"-u", "3", NULL}, "no target");
    expect_usage_error((const char *[]){"-H", url, "-t", "forever", NULL}, "bad duration");
    expect_usage_error((const char *[]){"-f", "/nonexistent/s.yaml", NULL}, "cannot read scenario");
    expect_usage_error((const char *[]){"-H", url, "-u", NULL}, "needs a value");
    expect_usage_error((const char *[]){"-H", url, "--threshold", "p95<<1", NULL}, "threshold");
    expect_usage_error((const char *[]){"-H", url, "--engine", "turbo", NULL},
                       "engine: expected auto, curl or raw, got 'turbo'");
    expect_usage_error((const char *[]){"-H", "https://127.0.0.1:1", "--engine", "raw", NULL},
                       "engine raw speaks plain http:// only");
}

Test(run, scenario_file_errors_name_the_line_and_flags_override_the_file)
{
    char dir[256], path[512];
    tmpdir_make("runfile", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/scenario.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("host: http://127.0.0.1:1\nusers: 2\nendpoints:\n  - method: GET\n    path: /\n"
          "    wieght: 2\n", f);
    fclose(f);
    char want[600];
    snprintf(want, sizeof(want), "%s:6: unknown key 'wieght'", path);
    expect_usage_error((const char *[]){"-f", path, NULL}, want);

    struct test_server srv;
    struct test_server_opts o = {0};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    f = fopen(path, "w");
    fprintf(f, "host: http://127.0.0.1:1\nusers: 2\nmax_requests: 1000\nendpoints: ['GET /file']\n"
               "engine: curl\n");
    fclose(f);
    struct run r;
    run_full(&r, NULL, "Engine: curl (--engine curl)", 0,
             (const char *[]){"-f", path, "-H", srv.url, "--max-requests", "12", NULL});
    expect_ok(&r);
    cr_expect_eq(num(agg_of(&r), "requests"), 12);
    const cJSON *ep = cJSON_GetArrayItem(at(r.json, "stats/endpoints"), 0);
    cr_expect_str_eq(str(ep, "name"), "/file");
    cr_expect_eq(num(r.json, "run/load/users"), 2);
    done(&r);
    test_server_stop(&srv);
    tmpdir_remove(dir);
}

Test(run, stages_ramp_users_and_end_the_run)
{
    struct test_server srv;
    struct test_server_opts o = {.delay_ms = 10};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run(&r, 0, (const char *[]){"-H", srv.url, "--stage", "1s:4", "--stage", "1500ms:4", NULL});
    expect_ok(&r);
    cr_expect_str_eq(str(r.json, "run/stop_reason"), "stages done");
    double d = num(r.json, "run/duration_s");
    cr_expect(d >= 2.4 && d < 3.5, "duration %g", d);
    char path[600], line[4096];
    snprintf(path, sizeof(path), "%s_stats_history.csv", r.csv_prefix);
    char *history = file_read_all(path, NULL);
    cr_assert_not_null(history);
    double first_users = -1, max_users = 0;
    for (int i = 1; text_line(history, i, line, sizeof(line)) == 0; i++)
        if (strstr(line, ",,Aggregated,")) {
            double u = csv_col(line, 1);
            if (first_users < 0)
                first_users = u;
            max_users = u > max_users ? u : max_users;
        }
    cr_expect_eq(max_users, 4, "users reach the stage target");
    cr_expect(first_users >= 1 && first_users <= 4);
    free(history);
    done(&r);
    test_server_stop(&srv);
}

Test(run, think_time_paces_each_user)
{
    struct test_server srv;
    struct test_server_opts o = {0};
    cr_assert_eq(test_server_start(&srv, &o), 0);
    struct run r;
    run(&r, 0, (const char *[]){"-H", srv.url, "-u", "2", "--wait", "constant:100ms", "-t", "2s", NULL});
    expect_ok(&r);
    double n = num(agg_of(&r), "requests");
    cr_expect(n >= 30 && n <= 42, "2 users x 2 s / 100 ms think time: %g requests", n);
    done(&r);
    test_server_stop(&srv);
}
