/* Ground truth on a real Python stack built from Debian's packages (tools/pystack): gunicorn +
 * Flask + a numpy model (CPU-bound: inference), the same API handing jobs to Redis and one
 * separate model worker (queue), and nginx in front of two gunicorn replicas (the join goes
 * through the proxy by X-Request-Id). Each verdict must hold in >= 90% of
 * LOADSCOPE_VERDICT_RUNS runs (default 10). Root only (BPF). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "demo/server.h"
#include "support/run_cmd.h"
#include "support/tmpdir.h"

#define MAX_PROCS 8

struct stack {
    pid_t procs[MAX_PROCS];
    int n;
    char dir[256];
};

static void need_tools(void)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (BPF tracing)");
    if (access("/usr/bin/gunicorn", X_OK) != 0 || access("/usr/bin/redis-server", X_OK) != 0 ||
        access("/usr/sbin/nginx", X_OK) != 0)
        cr_skip_test("needs gunicorn, redis-server and nginx (tools/install-deps.sh)");
}

static int runs_wanted(void)
{
    const char *v = getenv("LOADSCOPE_VERDICT_RUNS");
    int n = v ? atoi(v) : 10;
    return n > 0 ? n : 10;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static char *pystack_dir(void)
{
    static char path[4096];
    cr_assert_not_null(realpath("tools/pystack", path), "run the tests from the project root");
    return path;
}

/* Starts argv in its own process group with extra environment (NULL-terminated pairs "K=V"),
 * output into the stack's directory. */
static pid_t spawn(struct stack *s, const char *const *argv, const char *const *env,
                   const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        char path[400];
        snprintf(path, sizeof(path), "%s/%s.log", s->dir, log);
        FILE *f = freopen(path, "w", stdout);
        (void)f;
        dup2(1, 2);
        for (const char *const *e = env; e && *e; e++)
            putenv((char *)*e);
        setenv("PYTHONPATH", pystack_dir(), 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    cr_assert_lt(s->n, MAX_PROCS);
    s->procs[s->n++] = pid;
    return pid;
}

static void stack_stop(struct stack *s)
{
    for (int i = s->n - 1; i >= 0; i--)
        kill(-s->procs[i], SIGTERM);
    for (int i = s->n - 1; i >= 0; i--) {
        for (int t = 0; t < 100 && waitpid(s->procs[i], NULL, WNOHANG) == 0; t++)
            usleep(50000);
        kill(-s->procs[i], SIGKILL);
        waitpid(s->procs[i], NULL, WNOHANG);
    }
    s->n = 0;
}

static void wait_health(int port, const char *what)
{
    for (int i = 0; i < 300; i++) {
        if (demo_http_get_status(port, "/health", NS_PER_SEC) == 200)
            return;
        usleep(100000);
    }
    cr_assert_fail("%s on port %d never answered /health", what, port);
}

static pid_t gunicorn(struct stack *s, int port, const char *workers, const char *const *env,
                      const char *log)
{
    char bind[64];
    snprintf(bind, sizeof(bind), "127.0.0.1:%d", port);
    const char *argv[] = {"/usr/bin/gunicorn", "--workers",      workers, "--bind", bind,
                          "--chdir",           pystack_dir(),    "--timeout", "120",
                          "--backlog",         "512",            "app:app", NULL};
    pid_t pid = spawn(s, argv, env, log);
    wait_health(port, "gunicorn");
    return pid;
}

static void sample_image(const char *dir, char *path, size_t len)
{
    snprintf(path, len, "%s/sample.bin", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 150 * 1024; i++)
        fputc((i * 7 + i / 224) & 0xff, f);
    fclose(f);
}

static cJSON *run_and_read(const char *const *args, const char *out)
{
    struct cmd_result r;
    cr_assert_eq(run_loadscope(&r, args, 0, 180), 0);
    cr_assert_eq(r.exit_code, 0, "run exited %d: %s", r.exit_code, r.err);
    cmd_result_free(&r);
    char path[400];
    snprintf(path, sizeof(path), "%s/report.json", out);
    char *text = file_read_all(path, NULL);
    cr_assert_not_null(text);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(doc);
    return doc;
}

static const char *verdict_of(const cJSON *doc, const char *field)
{
    const cJSON *v = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "verdict"), "run"), field);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double number(const cJSON *doc, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, a), b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

typedef void (*stack_fn)(struct stack *s, const char *image, const char *out, char *log,
                         size_t len, int *hit);

static void repeat(const char *name, stack_fn fn)
{
    need_tools();
    int runs = runs_wanted(), hits = 0;
    char log[8192] = "";
    for (int i = 0; i < runs; i++) {
        struct stack s = {0};
        tmpdir_make(name, s.dir, sizeof(s.dir));
        char image[400], out[400];
        sample_image(s.dir, image, sizeof(image));
        snprintf(out, sizeof(out), "%s/run", s.dir);
        int hit = 0;
        size_t used = strlen(log);
        fn(&s, image, out, log + used, sizeof(log) - used, &hit);
        stack_stop(&s);
        hits += hit;
        tmpdir_remove(s.dir);
    }
    int needed = (int)ceil(0.9 * runs);
    cr_assert_geq(hits, needed, "%s: %d of %d runs right (need %d):%s", name, hits, runs, needed,
                  log);
}

/* ---- gunicorn + Flask + numpy, CPU-bound -------------------------------------------------- */

static void inference_once(struct stack *s, const char *image, const char *out, char *log,
                           size_t len, int *hit)
{
    int port = free_port();
    const char *env[] = {"MODEL_COST_MS=20", NULL};
    gunicorn(s, port, "2", env, "gunicorn");
    char host[64], endpoint[512];
    snprintf(host, sizeof(host), "http://127.0.0.1:%d", port);
    snprintf(endpoint, sizeof(endpoint), "POST /predict upload=file=@%s;type=image/png", image);
    const char *args[] = {"-H", host, "-e", endpoint, "-e", "GET /health weight=1",
                          "-u", "6", "-t", "8s", "--out", out, "--only-summary", NULL};
    cJSON *doc = run_and_read(args, out);
    *hit = !strcmp(verdict_of(doc, "primary"), "inference");
    snprintf(log, len, "\n  %s: %.300s", verdict_of(doc, "primary"), verdict_of(doc, "summary"));
    cJSON_Delete(doc);
}

Test(verdict_python, gunicorn_flask_numpy_cpu_bound_is_inference, .timeout = 1800)
{
    repeat("py-inference", inference_once);
}

/* ---- Flask API -> Redis -> one model worker ------------------------------------------------ */

static void queue_once(struct stack *s, const char *image, const char *out, char *log,
                       size_t len, int *hit)
{
    int redis_port = free_port(), port = free_port();
    char rport[16], queue[64];
    snprintf(rport, sizeof(rport), "%d", redis_port);
    snprintf(queue, sizeof(queue), "QUEUE_REDIS=127.0.0.1:%d", redis_port);
    const char *redis[] = {"/usr/bin/redis-server", "--port", rport, "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", NULL};
    spawn(s, redis, NULL, "redis");
    const char *worker_env[] = {queue, "MODEL_COST_MS=20", NULL};
    const char *worker_argv[] = {"/usr/bin/python3", "-u", "-m", "model_worker", NULL};
    pid_t worker = spawn(s, worker_argv, worker_env, "model-worker");
    const char *api_env[] = {queue, NULL};
    gunicorn(s, port, "8", api_env, "gunicorn");
    char host[64], endpoint[512], api[64], model[64];
    snprintf(host, sizeof(host), "http://127.0.0.1:%d", port);
    snprintf(endpoint, sizeof(endpoint), "POST /predict upload=file=@%s;type=image/png", image);
    snprintf(api, sizeof(api), "api=port:%d", port);
    snprintf(model, sizeof(model), "model=pid:%d", (int)worker);
    const char *args[] = {"-H", host, "-e", endpoint, "-u", "8", "-t", "8s",
                          "--replica", api, "--replica", model,
                          "--out", out, "--only-summary", NULL};
    cJSON *doc = run_and_read(args, out);
    *hit = !strcmp(verdict_of(doc, "primary"), "queue");
    snprintf(log, len, "\n  %s: %.300s", verdict_of(doc, "primary"), verdict_of(doc, "summary"));
    cJSON_Delete(doc);
}

Test(verdict_python, redis_job_queue_with_one_model_worker_is_queue, .timeout = 1800)
{
    repeat("py-queue", queue_once);
}

/* ---- nginx in front of two gunicorn replicas --------------------------------------------- */

static void nginx_once(struct stack *s, const char *image, const char *out, char *log, size_t len,
                       int *hit)
{
    int a = free_port(), b = free_port(), front = free_port();
    const char *env[] = {"MODEL_COST_MS=20", NULL};
    gunicorn(s, a, "1", env, "gunicorn-a");
    gunicorn(s, b, "1", env, "gunicorn-b");
    char conf[400];
    snprintf(conf, sizeof(conf), "%s/nginx.conf", s->dir);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/nginx-error.log;\n"
            "events { worker_connections 1024; }\n"
            "http { access_log off; client_body_temp_path %s;\n"
            "  upstream api { server 127.0.0.1:%d; server 127.0.0.1:%d; keepalive 16; }\n"
            "  server { listen 127.0.0.1:%d; client_max_body_size 2m;\n"
            "    location / { proxy_pass http://api; proxy_http_version 1.1;\n"
            "      proxy_set_header Connection \"\"; } } }\n",
            s->dir, s->dir, s->dir, a, b, front);
    fclose(f);
    const char *nginx[] = {"/usr/sbin/nginx", "-c", conf, "-p", s->dir, NULL};
    spawn(s, nginx, NULL, "nginx");
    wait_health(front, "nginx");
    char host[64], endpoint[512], r_front[64], r_a[64], r_b[64];
    snprintf(host, sizeof(host), "http://127.0.0.1:%d", front);
    snprintf(endpoint, sizeof(endpoint), "POST /predict upload=file=@%s;type=image/png", image);
    snprintf(r_front, sizeof(r_front), "nginx=port:%d", front);
    snprintf(r_a, sizeof(r_a), "api1=port:%d", a);
    snprintf(r_b, sizeof(r_b), "api2=port:%d", b);
    const char *args[] = {"-H", host, "-e", endpoint, "-u", "6", "-t", "8s",
                          "--replica", r_front, "--replica", r_a, "--replica", r_b,
                          "--out", out, "--only-summary", NULL};
    cJSON *doc = run_and_read(args, out);
    double matched = number(doc, "breakdown", "matched_fraction");
    const cJSON *by = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "breakdown"), "by_method");
    double by_id = cJSON_GetObjectItem(by, "request_id")
                       ? cJSON_GetObjectItem(by, "request_id")->valuedouble
                       : 0;
    double answered = number(doc, "breakdown", "answered");
    /* through the proxy the join can only be by request id, to the backend's span */
    *hit = !strcmp(verdict_of(doc, "primary"), "inference") && matched >= 0.99 &&
           by_id >= 0.99 * answered;
    snprintf(log, len, "\n  %s, matched %.3f (%.0f by id of %.0f): %.250s",
             verdict_of(doc, "primary"), matched, by_id, answered, verdict_of(doc, "summary"));
    cJSON_Delete(doc);
}

Test(verdict_python, nginx_in_front_of_two_replicas_joins_by_request_id, .timeout = 1800)
{
    repeat("py-nginx", nginx_once);
}
