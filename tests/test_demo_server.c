/* The demo server, as real processes on loopback: every serving architecture answers
 * correctly under concurrent load, throughput and CPU per request match what the flags imply,
 * malformed requests get the right 4xx/5xx while the server keeps serving, SIGTERM (and a
 * killed master) leave no process behind, bad flags exit 2 with one line.
 *
 * Timing tolerances hold on a busy 2-core VM; run them under flock /tmp/loadscope-cpu.lock. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "demo/server.h"
#include "demo/upload.h"
#include "support/demo_client.h"
#include "support/demo_fixture.h"
#include "support/demo_proc.h"
#include "support/run_cmd.h"

#define SEC NS_PER_SEC

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs the raw / multipart / health mix and checks the answers agree. expect_pids is the
 * number of API worker processes. */
static void check_architecture(const char *const *flags, unsigned threads, uint64_t requests,
                               int expect_pids, struct demo_load_result *out)
{
    struct demo_server s;
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    demo_fixture_start(&s, flags);
    struct demo_load_result r;
    demo_fixture_load(&s, f.reqs, 3, threads, 0, requests, &r);
    demo_fixture_expect_clean(&r, s.ready_line);
    cr_expect_eq(r.completed, requests);
    /* raw and multipart uploads of the same image are the same prediction */
    cr_expect_str_eq(r.first_label[0], r.first_label[1]);
    /* Answers come from worker processes, not the master; concurrent clients reach more
     * than one worker (keep-alive connections stick to the worker that accepted them, so
     * not necessarily all of them). */
    pid_t children[64];
    int n_children = demo_proc_children(s.pid, children, 64);
    for (int i = 0; i < r.n_pids; i++) {
        int found = 0;
        for (int k = 0; k < n_children; k++)
            found |= children[k] == r.pids[i];
        cr_expect(found, "answer from pid %d, not a child of the master", r.pids[i]);
    }
    cr_expect(r.n_pids <= expect_pids && r.n_pids >= (expect_pids > 1 ? 2 : 1),
              "answers came from %d processes, expected 2..%d", r.n_pids, expect_pids);
    demo_fixture_stop(&s);
    demo_fixture_reqs_free(&f);
    if (out)
        *out = r;
}

Test(demo_server, prefork_workers_answer_under_load, .timeout = 120)
{
    const char *flags[] = {"--workers", "3", "--model-cost", "3", NULL};
    check_architecture(flags, 6, 300, 3, NULL);
}

Test(demo_server, threads_in_one_process_answer_under_load, .timeout = 120)
{
    const char *flags[] = {"--threads", "4", "--model-cost", "3", NULL};
    check_architecture(flags, 6, 300, 1, NULL);
}

Test(demo_server, queue_with_model_workers_answers_under_load, .timeout = 120)
{
    const char *flags[] = {"--workers", "4", "--queue", "--model-workers", "2",
                           "--model-cost", "3", NULL};
    struct demo_load_result r;
    check_architecture(flags, 8, 300, 4, &r);
    /* 8 clients on 4 API workers feeding 2 model workers: jobs do wait in the queue */
    cr_expect_gt(r.queue_ms_sum / (double)r.predicted, 0.5, "mean queue wait %.3f ms",
                 r.queue_ms_sum / (double)r.predicted);
}

Test(demo_server, downstream_call_blocks_each_request, .timeout = 120)
{
    const char *flags[] = {"--workers", "2", "--threads", "3", "--downstream-ms", "30",
                           "--model-cost", "1", NULL};
    struct demo_load_result r;
    check_architecture(flags, 12, 240, 2, &r);
    double mean = r.downstream_ms_sum / (double)r.predicted;
    cr_expect(mean >= 30 && mean < 45, "mean downstream round trip %.2f ms for 30 ms", mean);
}

Test(demo_server, reload_model_reads_the_weight_file_per_request, .timeout = 120)
{
    /* The same fixed network with and without --reload-model: same labels, but every request
     * of the reloading server reads the whole 8 MB file. */
    const char *plain[] = {"--workers", "2", "--model-shape", "32,8,1", NULL};
    const char *reload[] = {"--workers", "2", "--model-shape", "32,8,1", "--reload-model",
                            "--model-file-mb", "8", NULL};
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    struct demo_server a, b;
    struct demo_load_result ra, rb;
    demo_fixture_start(&a, plain);
    demo_fixture_load(&a, f.reqs, 2, 2, 0, 20, &ra);
    demo_fixture_stop(&a);

    demo_fixture_start(&b, reload);
    const char *w = strstr(b.ready_line, " weights=");
    cr_assert(w, "no weights= in '%s'", b.ready_line);
    char path[256];
    snprintf(path, sizeof(path), "%s", w + 9);
    path[strcspn(path, " ")] = '\0';
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "weight file %s", path);
    cr_expect_eq(st.st_size, 8 << 20);
    pid_t pids[16];
    int n = demo_proc_children(b.pid, pids, 16);
    cr_assert_eq(n, 2);
    unsigned long long read_before = 0, read_after = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            demo_fixture_load(&b, f.reqs, 2, 2, 0, 20, &rb);
        for (int i = 0; i < n; i++) {
            char file[64], line[128];
            snprintf(file, sizeof(file), "/proc/%d/io", (int)pids[i]);
            FILE *io = fopen(file, "r");
            cr_assert(io);
            while (fgets(line, sizeof(line), io)) {
                unsigned long long v;
                if (sscanf(line, "rchar: %llu", &v) == 1)
                    *(pass ? &read_after : &read_before) += v;
            }
            fclose(io);
        }
    }
    demo_fixture_stop(&b);
    demo_fixture_expect_clean(&ra, "plain");
    demo_fixture_expect_clean(&rb, "reload");
    cr_expect_str_eq(ra.first_label[0], rb.first_label[0]);
    cr_expect_str_eq(ra.first_label[1], rb.first_label[1]);
    cr_expect_gt(rb.load_ms_sum, 0);
    cr_expect_geq(read_after - read_before, 20ULL * (8 << 20),
                  "20 requests read %llu bytes, expected >= 20 x 8 MiB",
                  read_after - read_before);
    cr_expect_neq(stat(path, &st), 0, "the weight file outlived the server");
    demo_fixture_reqs_free(&f);
}

/* A base port free for `count` consecutive ports (best effort: tests run one at a time). */
static int free_port_base(int count, int attempt)
{
    int base = 20000 + (int)((getpid() * 7919 + attempt * 104729) % 30000);
    for (int p = base; p < base + count; p++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int busy = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        close(fd);
        if (busy)
            return -1;
    }
    return base;
}

Test(demo_server, replicas_listen_on_consecutive_ports_pinned_round_robin, .timeout = 120)
{
    struct demo_server s;
    struct error err;
    int started = -1, base = -1;
    char port[16];
    for (int attempt = 0; attempt < 10 && started; attempt++) {
        if ((base = free_port_base(3, attempt)) < 0)
            continue;
        snprintf(port, sizeof(port), "%d", base);
        const char *flags[] = {"--replicas", "3", "--workers", "2", "--model-cost", "2",
                               "--cpus", "0,1", "--port", port, NULL};
        started = demo_fixture_try_start(&s, flags, &err);
    }
    cr_assert_eq(started, 0, "could not start 3 replicas: %s", err.msg);
    cr_expect_eq(s.n_ports, 3);
    for (int i = 0; i < s.n_ports; i++)
        cr_expect_eq(s.ports[i], base + i);
    /* replica i is pinned to CPU i mod 2: its supervisor and everything below it */
    pid_t sup[8];
    int n = demo_proc_children(s.pid, sup, 8);
    cr_assert_eq(n, 3, "%d replica supervisors", n);
    int pinned[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        char cpus[32];
        cr_assert_eq(demo_proc_cpus_allowed(sup[i], cpus, sizeof(cpus)), 0);
        cr_expect(!strcmp(cpus, "0") || !strcmp(cpus, "1"), "replica pinned to '%s'", cpus);
        pinned[cpus[0] - '0']++;
        pid_t workers[8];
        int w = demo_proc_children(sup[i], workers, 8);
        cr_expect_eq(w, 2);
        for (int k = 0; k < w; k++) {
            char wc[32];
            demo_proc_cpus_allowed(workers[k], wc, sizeof(wc));
            cr_expect_str_eq(wc, cpus);
        }
    }
    cr_expect(pinned[0] == 2 && pinned[1] == 1, "CPU 0 has %d replicas, CPU 1 %d", pinned[0],
              pinned[1]);
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    struct demo_load_result r;
    demo_fixture_load(&s, f.reqs, 3, 6, 0, 240, &r);
    demo_fixture_expect_clean(&r, "replicas");
    cr_expect(r.n_pids >= 3 && r.n_pids <= 6, "answers from %d worker processes, 3 x 2 exist",
              r.n_pids);
    demo_fixture_stop(&s);
    demo_fixture_reqs_free(&f);
}

/* ---- throughput and CPU: what the configuration implies ------------------------------------ */

static void expect_within(double got, double want, double tol, const char *what)
{
    cr_expect(fabs(got - want) <= tol * want, "%s: %.2f, expected %.2f +-%.0f%%", what, got,
              want, tol * 100);
}

Test(demo_server, too_few_workers_with_downstream_give_20_rps, .timeout = 120)
{
    /* 2 workers each blocked 100 ms per request, negligible CPU: 2 / 0.1 s = 20 req/s */
    const char *flags[] = {"--workers", "2", "--downstream-ms", "100", "--model-cost", "0",
                           NULL};
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    struct demo_measure m;
    demo_fixture_measure(flags, &f.reqs[1], 1, 8, 6 * SEC, false, &m); /* waiting, not CPU */
    expect_within(m.rps, 20, 0.15, "req/s");
    cr_expect_lt(m.cores, 0.2, "the server used %.2f cores while waiting", m.cores);
    demo_fixture_reqs_free(&f);
}

/* How many quiet, steady runs a CPU cost is the median of. On this VM a fixed workload's CPU
 * time swings by -40%..+60% between seconds and per CPU, and a probe on another thread does not
 * follow the swings the model sees (measured: a run the probe found 48% slow cost 21 ms per
 * 20 ms job, one it found 6% fast cost 29.6 ms). What the server controls is its calibration:
 * the CPU per /predict it measured when it calibrated must be --model-cost (+-25%, median).
 * What a run measures afterwards also carries the VM's drift since then: the median of 5 runs
 * was seen 28% off (6.42 ms for 5), so it is held to +-50%. */
#define COST_RUNS 5
#define CALIBRATION_TOLERANCE 0.25
#define DRIFT_TOLERANCE 0.50

/* Median of the runs' calibrated and measured costs against the --model-cost asked for. */
static void expect_model_cost(const struct demo_measure *runs, const double *measured, int n,
                              double cost, const char *what)
{
    if (n < 3) /* a median of one run is one coin toss on this VM */
        return;
    double calibrated[COST_RUNS], seen[COST_RUNS];
    for (int i = 0; i < n; i++) {
        calibrated[i] = runs[i].calibrated_ms;
        seen[i] = measured[i];
    }
    expect_within(demo_median(calibrated, n), cost, CALIBRATION_TOLERANCE,
                  "median calibrated model ms vs --model-cost");
    expect_within(demo_median(seen, n), cost, DRIFT_TOLERANCE, what);
}

/* One worker pinned to CPU 0 with a model costing C ms serves 1000 / C req/s (+-20%, against
 * the CPU per request it measured), and costs the --model-cost asked for (expect_model_cost). */
static void check_cpu_bound(const char *cost, unsigned threads)
{
    const char *flags[] = {"--workers", "1", "--cpus", "0", "--model-cost", cost, NULL};
    double c = atof(cost);
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    struct demo_measure runs[COST_RUNS];
    int n = demo_fixture_measure_runs(flags, &f.reqs[1], 1, threads, 5 * SEC, COST_RUNS, runs);
    double cpu[COST_RUNS];
    for (int i = 0; i < n; i++) {
        const struct demo_measure *m = &runs[i];
        /* the worker is the bottleneck: on its CPU all the time, so 1000 / C req/s */
        expect_within(m->rps, 1000 / m->cpu_ms_per_req, 0.20, "req/s vs 1000 / CPU ms per req");
        /* nearly all of its CPU is the model */
        double model_ms = m->r.model_ms_sum / (double)m->r.predicted;
        cr_expect(model_ms <= m->cpu_ms_per_req * 1.05 && model_ms >= m->cpu_ms_per_req * 0.8,
                  "model_ms %.2f vs %.2f ms CPU per request", model_ms, m->cpu_ms_per_req);
        cpu[i] = m->cpu_ms_per_req;
    }
    expect_model_cost(runs, cpu, n, c, "median CPU ms per request vs --model-cost");
    demo_fixture_reqs_free(&f);
}

Test(demo_server, cpu_bound_20ms_on_one_core_gives_50_rps, .timeout = 300)
{
    check_cpu_bound("20", 4);
}

Test(demo_server, cpu_bound_5ms_on_one_core_gives_200_rps, .timeout = 300)
{
    check_cpu_bound("5", 4);
}

Test(demo_server, cpu_bound_100ms_on_one_core_gives_10_rps, .timeout = 300)
{
    check_cpu_bound("100", 3);
}

Test(demo_server, queue_caps_throughput_at_the_model_workers, .timeout = 600)
{
    /* 1 model worker at C ms per job caps throughput at 1000 / C (+-20%) whether 2 or 8 API
     * workers feed it, and C is the --model-cost asked for (expect_model_cost): ~50 req/s */
    const char *few[] = {"--workers", "2", "--queue", "--model-workers", "1", "--model-cost",
                         "20", NULL};
    const char *many[] = {"--workers", "8", "--queue", "--model-workers", "1", "--model-cost",
                          "20", NULL};
    const char *const *configs[] = {few, many};
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    for (int k = 0; k < 2; k++) {
        struct demo_measure runs[COST_RUNS];
        double model[COST_RUNS];
        int n = demo_fixture_measure_runs(configs[k], &f.reqs[1], 1, 8, 5 * SEC, COST_RUNS, runs);
        for (int i = 0; i < n; i++) {
            const struct demo_measure *m = &runs[i];
            /* the cap is the model worker, computing all the time */
            model[i] = m->r.model_ms_sum / (double)m->r.predicted;
            expect_within(m->rps, 1000 / model[i], 0.20, "req/s vs 1000 / model ms per job");
            /* one process computing: about one core in all */
            cr_expect_lt(m->cores, 1.3, "%.2f cores", m->cores);
            if (k == 1) {
                /* 8 API workers and 8 clients: a job waits for ~7 others, most latency is
                 * queue */
                double queue = m->r.queue_ms_sum / (double)m->r.predicted;
                double latency = hist_mean(&m->r.latency) / 1e6;
                cr_expect_gt(queue, 0.6 * latency, "queue wait %.1f ms of %.1f ms latency",
                             queue, latency);
            }
        }
        expect_model_cost(runs, model, n, 20, "median model ms per job vs --model-cost");
    }
    demo_fixture_reqs_free(&f);
}

/* ---- bad requests --------------------------------------------------------------------------- */

static int raw(int port, const char *req, size_t len, char *resp, size_t cap)
{
    return demo_raw_exchange(port, req, len ? len : strlen(req), resp, cap);
}

Test(demo_server, bad_requests_get_the_right_status_and_the_server_keeps_serving,
     .timeout = 120)
{
    const char *flags[] = {"--workers", "1", "--model-cost", "1", "--io-timeout", "1", NULL};
    struct demo_server s;
    demo_fixture_start(&s, flags);
    int port = s.ports[0];
    char resp[4096];
    struct {
        const char *req;
        int status;
    } cases[] = {
        {"HELLO\r\n\r\n", 400},
        {"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET /health HTTP/1.1\r\n Host: folded\r\n\r\n", 400},
        {"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404},
        {"DELETE /predict HTTP/1.1\r\nHost: x\r\n\r\n", 405},
        {"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
        {"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n", 411},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
         "0\r\n\r\n", 501},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000\r\n\r\n", 413},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
         "hello", 400},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
         "Content-Length: 5\r\n\r\nhello", 415},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 5\r\n\r\n"
         "hello", 417},
        {"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
         "Content-Length: 52\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
         "1\r\n--b--\r\n", 400},
        {"GET /health HTTP/1.1\r\nHost: x\r\n", 408}, /* never finished: --io-timeout 1 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int status = raw(port, cases[i].req, 0, resp, sizeof(resp));
        cr_expect_eq(status, cases[i].status, "'%.40s...' got %d, expected %d", cases[i].req,
                     status, cases[i].status);
        if (status == 405)
            cr_expect(strstr(resp, "\r\nAllow: "), "405 without Allow: %s", resp);
    }

    /* head above 16 KB */
    size_t big = 20000;
    char *huge = malloc(big + 64);
    int n = snprintf(huge, 64, "GET /health HTTP/1.1\r\nX-Big: ");
    memset(huge + n, 'a', big);
    memcpy(huge + n + big, "\r\n\r\n", 5);
    cr_expect_eq(raw(port, huge, 0, resp, sizeof(resp)), 431);
    free(huge);

    /* an image above 1 MB in a body under --max-body (2 MB) */
    size_t img = 1536 * 1024;
    char *body = calloc(1, img + 256);
    n = snprintf(body, 256, "POST /predict HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                 img);
    cr_expect_eq(raw(port, body, (size_t)n + img, resp, sizeof(resp)), 413);
    free(body);

    /* a client that connects, sends half a head and vanishes */
    int fd = demo_connect(port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(send(fd, "GET /hea", 8, MSG_NOSIGNAL), 8);
    close(fd);

    /* keep-alive survives a 404 and a 405: the next request on the same connection works */
    fd = demo_connect(port);
    cr_assert_geq(fd, 0);
    const char *seq = "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                      "PUT /health HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(send(fd, seq, strlen(seq), MSG_NOSIGNAL), (ssize_t)strlen(seq));
    bool closing;
    cr_expect_eq(demo_read_response(fd, resp, sizeof(resp), &closing), 404);
    cr_expect_not(closing);
    cr_expect_eq(demo_read_response(fd, resp, sizeof(resp), &closing), 405);
    cr_expect_eq(demo_read_response(fd, resp, sizeof(resp), &closing), 200);
    cr_expect_str_eq(resp, "{\"status\":\"ok\"}");
    close(fd);

    /* Expect: 100-continue: the server says 100 before the body is sent */
    struct demo_upload up;
    struct error err;
    cr_assert_eq(demo_upload_sample(&up, DEMO_BODY_RAW, &err), 0);
    fd = demo_connect(port);
    char head[256];
    n = snprintf(head, sizeof(head), "POST /predict HTTP/1.1\r\nHost: x\r\nExpect: "
                                     "100-continue\r\nContent-Length: %zu\r\n\r\n", up.len);
    cr_assert_eq(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
    char cont[64] = {0};
    cr_assert_gt(recv(fd, cont, sizeof(cont) - 1, 0), 0);
    cr_expect(!strncmp(cont, "HTTP/1.1 100 Continue\r\n\r\n", 25), "got '%s'", cont);
    size_t off = 0;
    while (off < up.len) {
        ssize_t w = send(fd, up.body + off, up.len - off, MSG_NOSIGNAL);
        cr_assert_gt(w, 0);
        off += (size_t)w;
    }
    cr_expect_eq(demo_read_response(fd, resp, sizeof(resp), &closing), 200);
    cr_expect(strstr(resp, "\"label\":"), "%s", resp);
    close(fd);
    demo_upload_free(&up);

    /* HEAD /health: the head of the GET answer, no body (read until the server closes) */
    fd = demo_connect(port);
    const char *head_req = "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cr_assert_eq(send(fd, head_req, strlen(head_req), MSG_NOSIGNAL), (ssize_t)strlen(head_req));
    size_t got = 0;
    ssize_t k;
    while ((k = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
        got += (size_t)k;
    resp[got] = '\0';
    close(fd);
    cr_expect(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), "%s", resp);
    cr_expect(strstr(resp, "Content-Length: 15\r\n"), "%s", resp);
    cr_expect(got >= 4 && !strcmp(resp + got - 4, "\r\n\r\n"), "HEAD answer with a body: %s",
              resp);

    /* after all of it the same worker still serves, and the server is healthy */
    pid_t worker[4];
    cr_expect_eq(demo_proc_children(s.pid, worker, 4), 1);
    cr_expect_eq(demo_http_get_status(port, "/health", 2 * SEC), 200);
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    struct demo_load_result r;
    demo_fixture_load(&s, f.reqs, 3, 2, 0, 30, &r);
    demo_fixture_expect_clean(&r, "after bad requests");
    cr_expect_eq(r.n_pids, 1);
    cr_expect_eq(r.pids[0], worker[0], "the worker was replaced");
    demo_fixture_reqs_free(&f);
    demo_fixture_stop(&s);
}

/* ---- stopping ------------------------------------------------------------------------------- */

static void expect_all_gone(const pid_t *pids, int n, int within_ms)
{
    for (int waited = 0;; waited += 20) {
        int left = 0;
        for (int i = 0; i < n; i++) {
            char st = demo_proc_state(pids[i]);
            left += st && st != 'Z';
        }
        if (!left)
            return;
        if (waited >= within_ms) {
            cr_expect_eq(left, 0, "%d of %d processes still alive", left, n);
            return;
        }
        sleep_ms(20);
    }
}

Test(demo_server, sigterm_stops_every_process_of_every_architecture, .timeout = 180)
{
    const char *a[] = {"--workers", "2", "--threads", "2", "--queue", "--model-workers", "2",
                       "--downstream-ms", "5", "--model-cost", "1", NULL};
    const char *b[] = {"--replicas", "2", "--workers", "2", "--queue", "--downstream-ms", "5",
                       "--model-cost", "1", NULL};
    const char *c[] = {"--workers", "2", "--reload-model", "--model-file-mb", "2",
                       "--model-cost", "1", NULL};
    const char *const *configs[] = {a, b, c};
    /* processes each config must have: master + everything it starts */
    int expected[] = {1 + 2 + 1 + 2 + 1, 1 + 2 * (1 + 2 + 1 + 1 + 1), 1 + 2};
    struct demo_fixture_reqs f;
    demo_fixture_reqs_init(&f);
    for (int i = 0; i < 3; i++) {
        struct demo_server s;
        demo_fixture_start(&s, configs[i]);
        struct demo_load_result r;
        demo_fixture_load(&s, f.reqs, 3, 4, 0, 40, &r);
        demo_fixture_expect_clean(&r, s.ready_line);
        pid_t pids[64];
        int n = demo_proc_group(s.pid, pids, 64);
        cr_expect_eq(n, expected[i], "%s: %d processes, expected %d", s.ready_line, n,
                     expected[i]);
        if (i == 0) {
            /* every process says what it is, as gunicorn titles its workers */
            int roles[4] = {0, 0, 0, 0};
            const char *names[4] = {"demo-worker", "demo-model", "demo-broker",
                                    "demo-downstream"};
            for (int k = 0; k < n; k++) {
                char file[64];
                snprintf(file, sizeof(file), "/proc/%d/comm", (int)pids[k]);
                char *comm = file_read_all(file, NULL);
                if (!comm)
                    continue;
                comm[strcspn(comm, "\n")] = '\0';
                for (int role = 0; role < 4; role++)
                    roles[role] += !strcmp(comm, names[role]);
                free(comm);
            }
            cr_expect(roles[0] == 2 && roles[1] == 2 && roles[2] == 1 && roles[3] == 1,
                      "workers %d, model workers %d, brokers %d, helpers %d", roles[0],
                      roles[1], roles[2], roles[3]);
        }
        demo_fixture_stop(&s); /* asserts exit 0 and an empty group */
        expect_all_gone(pids, n, 0);
    }
    demo_fixture_reqs_free(&f);
}

Test(demo_server, sigint_also_stops_cleanly, .timeout = 60)
{
    const char *flags[] = {"--workers", "2", "--downstream-ms", "5", "--model-cost", "1", NULL};
    struct demo_server s;
    demo_fixture_start(&s, flags);
    pid_t pids[16];
    int n = demo_proc_group(s.pid, pids, 16);
    cr_expect_eq(n, 4);
    kill(s.pid, SIGINT);
    int status;
    cr_assert_eq(waitpid(s.pid, &status, 0), s.pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
    expect_all_gone(pids, n, 2000);
}

Test(demo_server, killed_master_takes_its_children_along, .timeout = 60)
{
    const char *flags[] = {"--replicas", "2", "--workers", "2", "--queue", "--downstream-ms",
                           "5", "--model-cost", "1", "--reload-model", "--model-file-mb", "1",
                           NULL};
    struct demo_server s;
    demo_fixture_start(&s, flags);
    pid_t pids[64];
    int n = demo_proc_group(s.pid, pids, 64);
    cr_expect_eq(n, 1 + 2 * 6);
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    expect_all_gone(pids, n, 3000);
    /* nobody was left to remove the weight file: this test does */
    const char *w = strstr(s.ready_line, " weights=");
    cr_assert(w, "no weights= in '%s'", s.ready_line);
    char path[256];
    snprintf(path, sizeof(path), "%s", w + 9);
    path[strcspn(path, " ")] = '\0';
    cr_expect_eq(unlink(path), 0, "%s", path);
    char *slash = strrchr(path, '/');
    cr_assert(slash);
    *slash = '\0';
    cr_expect_eq(rmdir(path), 0, "%s", path);
}

/* ---- flags ---------------------------------------------------------------------------------- */

/* Runs the server binary with args; returns its exit status, stdout and stderr. */
static int run_binary(const char *const *args, char *out, size_t out_cap, char *errbuf,
                      size_t err_cap)
{
    char bin[4096];
    struct error err;
    cr_assert(demo_server_binary(bin, sizeof(bin), &err), "%s", err.msg);
    int o[2], e[2];
    cr_assert_eq(pipe(o), 0);
    cr_assert_eq(pipe(e), 0);
    pid_t pid = fork();
    if (pid == 0) {
        const char *argv[32] = {bin};
        for (int i = 0; args[i] && i < 30; i++)
            argv[i + 1] = args[i];
        dup2(o[1], 1);
        dup2(e[1], 2);
        execv(bin, (char **)argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    size_t no = 0, ne = 0;
    ssize_t k;
    while ((k = read(o[0], out + no, out_cap - 1 - no)) > 0)
        no += (size_t)k;
    while ((k = read(e[0], errbuf + ne, err_cap - 1 - ne)) > 0)
        ne += (size_t)k;
    out[no] = errbuf[ne] = '\0';
    close(o[0]);
    close(e[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(demo_server, bad_flags_exit_2_with_one_line, .timeout = 60)
{
    const char *const bad[][5] = {
        {"--workers", "0"},
        {"--model-cost", "abc"},
        {"--bogus"},
        {"--model-workers", "2"},
        {"--cpus", "63"},
        {"--port", "70000"},
        {"--workers"},
        {"extra"},
        {"--queue=1"},
        {"--model-shape", "30,8,1"},
        {"--bind", "localhost"},
        {"--replicas", "3", "--port", "65534"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[256], err[1024];
        int code = run_binary(bad[i], out, sizeof(out), err, sizeof(err));
        cr_expect_eq(code, 2, "'%s %s': exit %d", bad[i][0], bad[i][1] ? bad[i][1] : "", code);
        cr_expect_str_empty(out);
        cr_expect(!strncmp(err, "loadscope-demo-server: ", 23), "stderr: '%s'", err);
        char *nl = strchr(err, '\n');
        cr_expect(nl && nl[1] == '\0', "not exactly one line: '%s'", err);
    }
    char out[8192], err[256];
    const char *help[] = {"--help", NULL};
    cr_expect_eq(run_binary(help, out, sizeof(out), err, sizeof(err)), 0);
    const char *documented[] = {"--workers", "--threads", "--model-cost", "--model-shape",
                                "--seed", "--queue", "--model-workers", "--downstream-ms",
                                "--reload-model", "--model-file-mb", "--replicas", "--cpus",
                                "--bind", "--port", "--backlog", "--max-body", "--keepalive",
                                "--io-timeout", "--access-log", "--quiet"};
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
        cr_expect(strstr(out, documented[i]), "--help does not document %s", documented[i]);
}

/* ---- the library ---------------------------------------------------------------------------- */

Test(demo_server, start_reports_a_server_that_cannot_start, .timeout = 60)
{
    struct demo_server s;
    struct error err = {{0}};
    const char *flags[] = {"--workers", "0", NULL};
    char bin[4096];
    cr_assert(demo_server_binary(bin, sizeof(bin), &err));
    cr_expect_eq(demo_server_start(&s, bin, flags, 10 * SEC, &err), -1);
    cr_expect(strstr(err.msg, "status 2"), "%s", err.msg);
    cr_expect_eq(demo_server_start(&s, "/nonexistent/demo-server", flags, 10 * SEC, &err), -1);
    cr_expect(strstr(err.msg, "No such file"), "%s", err.msg);
    /* a port already taken: exit 1 with the reason on stderr */
    struct demo_server a;
    const char *one[] = {"--model-cost", "1", NULL};
    demo_fixture_start(&a, one);
    char port[16];
    snprintf(port, sizeof(port), "%d", a.ports[0]);
    const char *clash[] = {"--model-cost", "1", "--quiet", "--port", port, NULL};
    cr_expect_eq(demo_server_start(&s, bin, clash, 30 * SEC, &err), -1);
    cr_expect(strstr(err.msg, "status 1"), "%s", err.msg);
    demo_fixture_stop(&a);
}

Test(demo_upload, sample_image_is_deterministic_ppm)
{
    uint8_t *a, *b, *c;
    size_t la, lb, lc;
    struct error err;
    cr_assert_eq(demo_image_ppm(224, 224, 1, &a, &la, &err), 0);
    cr_assert_eq(demo_image_ppm(224, 224, 1, &b, &lb, &err), 0);
    cr_assert_eq(demo_image_ppm(224, 224, 2, &c, &lc, &err), 0);
    cr_expect_eq(la, 15 + 224 * 224 * 3);
    cr_expect(!memcmp(a, "P6\n224 224\n255\n", 15));
    cr_expect(la == lb && !memcmp(a, b, la), "same seed, different bytes");
    cr_expect(memcmp(a, c, la), "different seeds, same bytes");
    /* not a flat image */
    unsigned hist[256] = {0}, used = 0;
    for (size_t i = 15; i < la; i++)
        hist[a[i]]++;
    for (int v = 0; v < 256; v++)
        used += hist[v] > 0;
    cr_expect_gt(used, 200);
    free(a);
    free(b);
    free(c);
    cr_expect_eq(demo_image_ppm(0, 10, 1, &a, &la, &err), -1);
}

Test(demo_upload, multipart_body_wraps_the_image)
{
    struct demo_upload up;
    struct error err;
    const uint8_t img[] = "0123456789";
    cr_assert_eq(demo_upload_build(&up, DEMO_BODY_MULTIPART, img, 10, &err), 0);
    cr_expect_str_eq(up.content_type, "multipart/form-data; boundary=" DEMO_MULTIPART_BOUNDARY);
    const char *expect = "--" DEMO_MULTIPART_BOUNDARY "\r\nContent-Disposition: form-data; "
                         "name=\"file\"; filename=\"sample.ppm\"\r\nContent-Type: "
                         "image/x-portable-pixmap\r\n\r\n0123456789\r\n--"
                         DEMO_MULTIPART_BOUNDARY "--\r\n";
    cr_expect_eq(up.len, strlen(expect));
    cr_expect(!memcmp(up.body, expect, up.len));
    demo_upload_free(&up);
    cr_assert_eq(demo_upload_build(&up, DEMO_BODY_NONE, NULL, 0, &err), 0);
    cr_expect_eq(up.len, 0);
    cr_expect_str_empty(up.content_type);
}
