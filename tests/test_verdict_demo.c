/* Ground truth for the verdict: loadscope names each bottleneck the demo server is configured
 * with, in at least 9 of 10 runs (LOADSCOPE_VERDICT_RUNS changes the count; the sanitized pass
 * uses fewer), and joins >= 99% of requests to their server spans at 1000 req/s. Real demo
 * server, real load, real BPF: root only. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/run_cmd.h"
#include "support/tmpdir.h"

static void need_root(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (BPF tracing)");
}

static int runs_wanted(void)
{
    const char *v = getenv("LOADSCOPE_VERDICT_RUNS");
    int n = v ? atoi(v) : 10;
    return n > 0 ? n : 10;
}

static cJSON *read_document(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/report.json", dir);
    char *text = file_read_all(path, NULL);
    if (!text)
        return NULL;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    return doc;
}

static const char *primary_of(const cJSON *doc)
{
    const cJSON *p = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "verdict"), "run"), "primary");
    return cJSON_IsString(p) ? p->valuestring : "(none)";
}

static const char *summary_of(const cJSON *doc)
{
    const cJSON *p = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "verdict"), "run"), "summary");
    return cJSON_IsString(p) ? p->valuestring : "";
}

/* Runs `loadscope demo --scenario NAME` runs_wanted() times; asserts >= 90% name `want`. */
static void demo_names(const char *scenario, const char *want)
{
    need_root();
    int runs = runs_wanted(), hits = 0;
    char log[8192] = "";
    for (int i = 0; i < runs; i++) {
        char dir[256];
        tmpdir_make("verdict", dir, sizeof(dir));
        char out[300];
        snprintf(out, sizeof(out), "%s/run", dir);
        const char *argv[] = {loadscope_bin(), "demo", "--scenario", scenario, "-t", "6s",
                              "--out", out, "--only-summary", NULL};
        struct cmd_result r;
        cr_assert_eq(run_program(&r, argv, 0, 180), 0);
        cr_assert_eq(r.exit_code, 0, "demo %s exited %d: %s", scenario, r.exit_code, r.err);
        cJSON *doc = read_document(out);
        cr_assert_not_null(doc, "no report.json after demo %s: %s", scenario, r.err);
        const char *got = primary_of(doc);
        hits += !strcmp(got, want);
        size_t len = strlen(log);
        snprintf(log + len, sizeof(log) - len, "\n  run %d: %s: %.300s", i + 1, got,
                 summary_of(doc));
        cJSON_Delete(doc);
        cmd_result_free(&r);
        tmpdir_remove(dir);
    }
    int needed = (int)ceil(0.9 * runs);
    cr_assert_geq(hits, needed, "scenario %s: %d of %d runs named %s (need %d):%s", scenario,
                  hits, runs, want, needed, log);
}

Test(verdict_demo, cpu_bound_model_is_inference, .timeout = 1800)
{
    demo_names("inference", "inference");
}

Test(verdict_demo, job_queue_behind_one_model_worker_is_queue, .timeout = 1800)
{
    demo_names("queue", "queue");
}

Test(verdict_demo, few_workers_blocked_downstream_is_workers, .timeout = 1800)
{
    demo_names("workers", "workers");
}

Test(verdict_demo, replicas_and_threads_beyond_cores_is_cpu_contention, .timeout = 1800)
{
    demo_names("contention", "cpu-contention");
}

/* ---- the generator as the bottleneck ----------------------------------------------------- */

/* A process spinning on one CPU, to starve a low-priority generator pinned there. */
static pid_t start_hog(int cpu)
{
    pid_t pid = fork();
    if (pid == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
        alarm(300); /* never outlive the test */
        for (volatile unsigned long x = 0;; x++)
            ;
    }
    return pid;
}

static pid_t start_demo_server(int cpu, int *port)
{
    char cpus[8];
    snprintf(cpus, sizeof(cpus), "%d", cpu);
    char ready[] = "/tmp/loadscope-test-readyXXXXXX";
    int fd = mkstemp(ready);
    cr_assert_geq(fd, 0);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *out = freopen(ready, "w", stdout);
        (void)out;
        const char *bin = getenv("DEMO_SERVER_BIN");
        execl(bin ? bin : "build/loadscope-demo-server", "loadscope-demo-server", "--workers",
              "4", "--model-cost", "0", "--port", "0", "--cpus", cpus, "--quiet", NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        char *text = file_read_all(ready, NULL);
        char *p = text ? strstr(text, "ports=") : NULL;
        if (p) {
            *port = atoi(p + 6);
            free(text);
            unlink(ready);
            return pid;
        }
        free(text);
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(ready);
    cr_assert_fail("the demo server did not start");
    return -1;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

Test(verdict_demo, generator_starved_of_cpu_is_load_generator, .timeout = 1800)
{
    need_root();
    int runs = runs_wanted(), hits = 0;
    char log[8192] = "";
    for (int i = 0; i < runs; i++) {
        int port = 0;
        pid_t server = start_demo_server(1, &port);
        pid_t hog = start_hog(0);
        char dir[256], host[64], out[300];
        tmpdir_make("verdict-gen", dir, sizeof(dir));
        snprintf(out, sizeof(out), "%s/run", dir);
        snprintf(host, sizeof(host), "http://127.0.0.1:%d", port);
        /* one engine thread, pinned with the hog at a lower priority: starved of CPU */
        const char *argv[] = {"taskset", "-c", "0", "nice", "-n", "5", loadscope_bin(), "run",
                              "-H", host, "-e", "GET /health", "-u", "8", "-t", "6s",
                              "--threads", "1", "--out", out, "--only-summary", NULL};
        struct cmd_result r;
        cr_assert_eq(run_program(&r, argv, 0, 120), 0);
        stop(hog);
        stop(server);
        cr_assert_eq(r.exit_code, 0, "run exited %d: %s", r.exit_code, r.err);
        cJSON *doc = read_document(out);
        cr_assert_not_null(doc);
        const char *got = primary_of(doc);
        hits += !strcmp(got, "load-generator");
        size_t len = strlen(log);
        snprintf(log + len, sizeof(log) - len, "\n  run %d: %s: %.300s", i + 1, got,
                 summary_of(doc));
        cJSON_Delete(doc);
        cmd_result_free(&r);
        tmpdir_remove(dir);
    }
    int needed = (int)ceil(0.9 * runs);
    cr_assert_geq(hits, needed, "%d of %d runs named load-generator (need %d):%s", hits, runs,
                  needed, log);
}

/* ---- the join at 1000 req/s --------------------------------------------------------------- */

static double number_at(const cJSON *doc, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, a), b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* GET /health at a constant rate against a one-worker demo server, traced; returns the
 * report document (the caller deletes it). span_rate: --span-rate's value, NULL for the
 * default. */
static cJSON *health_run(const char *rate, const char *seconds, const char *span_rate)
{
    int port = 0;
    pid_t server = start_demo_server(1, &port);
    char dir[256], host[64], out[300];
    tmpdir_make("join-rate", dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/run", dir);
    snprintf(host, sizeof(host), "http://127.0.0.1:%d", port);
    const char *argv[] = {loadscope_bin(), "run", "-H", host, "-e", "GET /health",
                          "--rate", rate, "-c", "64", "-t", seconds, "--out", out,
                          "--only-summary", span_rate ? "--span-rate" : NULL, span_rate, NULL};
    struct cmd_result r;
    cr_assert_eq(run_program(&r, argv, 0, 120), 0);
    stop(server);
    cr_assert_eq(r.exit_code, 0, "run exited %d: %s", r.exit_code, r.err);
    cJSON *doc = read_document(out);
    cr_assert_not_null(doc);
    cmd_result_free(&r);
    tmpdir_remove(dir);
    return doc;
}

Test(verdict_demo, join_matches_99_percent_at_1000_rps, .timeout = 600)
{
    need_root();
    cJSON *doc = health_run("1000", "8s", NULL);
    double requests = number_at(doc, "breakdown", "answered");
    double fraction = number_at(doc, "breakdown", "matched_fraction");
    double lost = number_at(doc, "tracing", "lost_spans") + number_at(doc, "tracing", "lost_heads");
    cr_log_info("1000 req/s: %.0f answered requests, %.2f%% matched, %.0f spans/heads lost",
                requests, 100 * fraction, lost);
    cr_expect_geq(requests, 7000, "the generator should have sent ~8000 requests");
    cr_expect_geq(fraction, 0.99, "only %.2f%% of requests matched a server span",
                  100 * fraction);
    cr_expect_eq(lost, 0, "%.0f spans or request heads lost at 1000 req/s", lost);
    cr_expect_eq(number_at(doc, "tracing", "spans_skipped"), 0, "below --span-rate: every span");
    cJSON_Delete(doc);
}

/* Above --span-rate the tracer records a random sample: the join matches what was recorded,
 * and the report says how much that is. */
Test(verdict_demo, above_the_span_rate_the_recorded_sample_matches, .timeout = 600)
{
    need_root();
    cJSON *doc = health_run("1000", "5s", "100");
    double answered = number_at(doc, "breakdown", "answered");
    double spans = number_at(doc, "breakdown", "spans");
    double skipped = number_at(doc, "breakdown", "spans_skipped");
    double recorded = number_at(doc, "breakdown", "recorded_fraction");
    double matched = number_at(doc, "breakdown", "matched");
    double fraction = number_at(doc, "breakdown", "matched_fraction");
    cr_log_info("1000 req/s, --span-rate 100: %.0f answered, %.0f spans, %.0f skipped, %.0f "
                "matched (%.1f%% of the recorded)", answered, spans, skipped, matched,
                100 * fraction);
    cr_expect_geq(answered, 4500, "the generator should have sent ~5000 requests");
    cr_expect(skipped > 0 && recorded > 0 && recorded < 0.5, "recorded %.3f", recorded);
    cr_expect(spans + skipped >= answered && spans + skipped <= answered + 10,
              "every request the server saw was recorded or skipped: %.0f + %.0f vs %.0f",
              spans, skipped, answered);
    cr_expect_eq(number_at(doc, "tracing", "spans_skipped"), skipped);
    cr_expect_geq(fraction, 0.97, "%.0f matched of %.0f recorded spans", matched, spans);
    cJSON_Delete(doc);
}
