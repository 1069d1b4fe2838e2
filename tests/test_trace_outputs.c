/* `loadscope trace` writes what `loadscope run` writes (run store, report document, HTML,
 * Markdown, Perfetto trace, flame graphs), from the server side alone, and sees requests on
 * keep-alive connections that were opened before it started (Locust users keep theirs). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "demo/server.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

static pid_t background(const char *const *argv)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        FILE *f = freopen("/dev/null", "w", stdout);
        f = freopen("/dev/null", "w", stderr);
        (void)f;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    kill(-pid, SIGTERM);
    for (int i = 0; i < 100 && waitpid(pid, NULL, WNOHANG) == 0; i++)
        usleep(50000);
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, WNOHANG);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

Test(trace_outputs, same_outputs_as_run_from_the_server_side_alone, .timeout = 300)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (BPF tracing)");
    char dir[256], out[300], load_out[300], host[64], replica[64];
    tmpdir_make("trace-out", dir, sizeof(dir));
    snprintf(out, sizeof(out), "%s/trace", dir);
    snprintf(load_out, sizeof(load_out), "%s/load", dir);

    char binary[4096];
    struct error err;
    cr_assert_not_null(demo_server_binary(binary, sizeof(binary), &err), "%s", err.msg);
    const char *flags[] = {"--workers", "2", "--model-cost", "2", "--port", "0", NULL};
    struct demo_server srv;
    cr_assert_eq(demo_server_start(&srv, binary, flags, 60 * NS_PER_SEC, &err), 0, "%s",
                 err.msg);
    snprintf(host, sizeof(host), "http://127.0.0.1:%d", srv.ports[0]);
    snprintf(replica, sizeof(replica), "demo=port:%d", srv.ports[0]);

    /* the load opens its keep-alive connections before the tracer starts */
    const char *load[] = {loadscope_bin(), "run", "-H", host, "-e", "GET /health",
                          "-u", "2", "--wait", "constant:5ms", "-t", "8s", "--no-trace",
                          "--out", load_out, "--only-summary", NULL};
    pid_t loader = background(load);
    sleep(2);
    const char *trace[] = {loadscope_bin(), "trace", "--replica", replica, "-t", "3s",
                           "--out", out, "-q", NULL};
    struct cmd_result r;
    cr_assert_eq(run_program(&r, trace, 0, 120), 0);
    stop(loader);
    demo_server_stop(&srv, 5 * NS_PER_SEC, NULL, NULL);
    cr_assert_eq(r.exit_code, 0, "trace exited %d: %s", r.exit_code, r.err);
    cr_expect(strstr(r.out, "Verdict:") != NULL, "no verdict printed: %s", r.out);

    const char *files[] = {"run.db", "report.json", "report.html", "report.md", "trace.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        cr_expect(exists(out, files[i]), "%s/%s missing", out, files[i]);
    char path[512];
    snprintf(path, sizeof(path), "%s/report.json", out);
    char *text = file_read_all(path, NULL);
    cr_assert_not_null(text);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(doc);
    const cJSON *bd = cJSON_GetObjectItem(doc, "breakdown");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(bd, "server_only")));
    double spans = cJSON_GetObjectItem(bd, "spans")->valuedouble;
    /* 2 users, a request every ~5 ms each, for 3 s: hundreds of requests, all on connections
     * opened before tracing */
    cr_expect_gt(spans, 300, "only %.0f spans seen", spans);
    const cJSON *rows = cJSON_GetObjectItem(bd, "rows");
    cr_expect_gt(cJSON_GetArraySize(rows), 0, "no breakdown rows");
    const cJSON *primary = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "verdict"), "run"), "primary");
    cr_expect(cJSON_IsString(primary), "no verdict in the document");
    cJSON_Delete(doc);
    cmd_result_free(&r);
    tmpdir_remove(dir);
}
