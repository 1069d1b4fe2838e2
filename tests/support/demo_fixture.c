#include "support/demo_fixture.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "support/demo_proc.h"

int demo_fixture_try_start(struct demo_server *s, const char *const *flags, struct error *err)
{
    char bin[4096];
    if (!demo_server_binary(bin, sizeof(bin), err))
        return -1;
    const char *argv[128];
    size_t n = 0;
    bool has_port = false;
    for (size_t i = 0; flags[i] && n < 120; i++) {
        has_port |= !strcmp(flags[i], "--port");
        argv[n++] = flags[i];
    }
    argv[n++] = "--quiet";
    if (!has_port) {
        argv[n++] = "--port";
        argv[n++] = "0";
    }
    argv[n] = NULL;
    return demo_server_start(s, bin, argv, 90 * NS_PER_SEC, err);
}

void demo_fixture_start(struct demo_server *s, const char *const *flags)
{
    struct error err = {{0}};
    cr_assert_eq(demo_fixture_try_start(s, flags, &err), 0, "demo server: %s", err.msg);
}

void demo_fixture_stop(struct demo_server *s)
{
    struct error err = {{0}};
    pid_t pgid = s->pid;
    int code = -1;
    cr_assert_eq(demo_server_stop(s, 10 * NS_PER_SEC, &code, &err), 0, "stop: %s", err.msg);
    cr_assert_eq(code, 0, "the demo server exited with %d after SIGTERM", code);
    pid_t left[16];
    cr_assert_eq(demo_proc_group(pgid, left, 16), 0, "processes left in group %d", (int)pgid);
}

void demo_fixture_reqs_init(struct demo_fixture_reqs *f)
{
    struct error err;
    memset(f, 0, sizeof(*f));
    cr_assert_eq(demo_upload_sample(&f->raw, DEMO_BODY_RAW, &err), 0, "%s", err.msg);
    cr_assert_eq(demo_upload_sample(&f->multipart, DEMO_BODY_MULTIPART, &err), 0, "%s",
                 err.msg);
    f->reqs[0] = (struct demo_req){"POST", "/predict", f->raw.content_type, f->raw.body,
                                   f->raw.len};
    f->reqs[1] = (struct demo_req){"POST", "/predict", f->multipart.content_type,
                                   f->multipart.body, f->multipart.len};
    f->reqs[2] = (struct demo_req){"GET", "/health", NULL, NULL, 0};
}

void demo_fixture_reqs_free(struct demo_fixture_reqs *f)
{
    demo_upload_free(&f->raw);
    demo_upload_free(&f->multipart);
}

void demo_fixture_load(const struct demo_server *s, const struct demo_req *reqs, size_t n_reqs,
                       unsigned threads, uint64_t duration_ns, uint64_t max_requests,
                       struct demo_load_result *r)
{
    struct demo_load_opts o = {.ports = s->ports, .n_ports = s->n_ports, .threads = threads,
                               .duration_ns = duration_ns, .max_requests = max_requests,
                               .reqs = reqs, .n_reqs = n_reqs};
    cr_assert_eq(demo_load_run(&o, r), 0, "the test client could not start");
}

void demo_fixture_expect_clean(const struct demo_load_result *r, const char *what)
{
    cr_expect_gt(r->completed, 0, "%s: nothing completed", what);
    cr_expect_eq(r->by_class[2], r->completed, "%s: %llu of %llu responses not 2xx", what,
                 (unsigned long long)(r->completed - r->by_class[2]),
                 (unsigned long long)r->completed);
    cr_expect_eq(r->transport_errors, 0, "%s: %llu transport errors", what,
                 (unsigned long long)r->transport_errors);
    cr_expect_eq(r->bad_json, 0, "%s: %llu bad /predict answers", what,
                 (unsigned long long)r->bad_json);
    cr_expect_eq(r->label_mismatch, 0, "%s: the same image got different labels", what);
    cr_expect_gt(r->predicted, 0, "%s: no /predict answer", what);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double demo_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A fixed CPU-bound workload shaped like the demo network's hot loop (a 3x3 convolution,
 * 24 -> 24 channels on 32x32 planes, rows of multiply-adds): its thread CPU time in ms, the
 * median of 5 runs. Its ratio between two moments is how much the VM's CPU speed changed in
 * between, for the kind of work --model-cost calibrates. */
static double canary_ms(void)
{
    enum { C = 24, N = 32, P = N + 2 };
    static float in[C][P][P], out[C][P][P], w[C][C][9];
    for (int c = 0; c < C; c++)
        for (int k = 0; k < C * 9; k++)
            w[c][k / 9][k % 9] = (float)((c * 7 + k) % 13) * 0.01f - 0.06f;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < P; y++)
            for (int x = 0; x < P; x++)
                in[c][y][x] = (y && x && y < P - 1 && x < P - 1) ? (float)((x + y + c) % 5) : 0;
    double t[5];
    for (int k = 0; k < 5; k++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (int rep = 0; rep < 6; rep++)
            for (int co = 0; co < C; co++)
                for (int ci = 0; ci < C; ci++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const float kv = w[co][ci][ky * 3 + kx];
                            for (int y = 0; y < N; y++)
                                for (int x = 0; x < N; x++)
                                    out[co][y + 1][x + 1] += kv * in[ci][y + ky][x + kx];
                        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        t[k] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    }
    volatile float sink = out[C / 2][N / 2][N / 2];
    (void)sink;
    return demo_median(t, 5);
}

static void measure_once(const char *const *flags, const struct demo_req *reqs, size_t n_reqs,
                         unsigned threads, uint64_t duration_ns, struct demo_measure *m)
{
    struct demo_server s;
    double canary0 = canary_ms(); /* the VM's speed around the server's calibration */
    demo_fixture_start(&s, flags);
    /* warm up: connections, page faults, first passes */
    struct demo_load_result warm;
    demo_fixture_load(&s, reqs, n_reqs, threads, 0, threads * 2, &warm);
    struct demo_sched a = demo_proc_group_sched(s.pid);
    uint64_t busy0 = demo_proc_system_busy_ns(), self0 = demo_proc_self_cpu_ns();
    demo_fixture_load(&s, reqs, n_reqs, threads, duration_ns, 0, &m->r);
    struct demo_sched b = demo_proc_group_sched(s.pid);
    uint64_t busy1 = demo_proc_system_busy_ns(), self1 = demo_proc_self_cpu_ns();
    double run = (double)(b.run_ns - a.run_ns), wall = (double)m->r.elapsed_ns;
    m->rps = demo_load_rps(&m->r);
    m->cpu_ms_per_req = run / 1e6 / (double)m->r.completed;
    m->cores = run / wall;
    m->wait_cores = (double)(b.wait_ns - a.wait_ns) / wall;
    m->foreign_cores = ((double)(busy1 - busy0) - run - (double)(self1 - self0)) / wall;
    m->speed_change = canary_ms() / canary0 - 1;
    m->quiet = m->foreign_cores < DEMO_QUIET_CORES;
    m->steady = fabs(m->speed_change) < DEMO_STABLE_SPEED;
    const char *model = strstr(s.ready_line, " model=");
    const char *calibrated = strstr(s.ready_line, " model_ms=");
    m->calibrated_ms = calibrated ? atof(calibrated + strlen(" model_ms=")) : NAN;
    cr_log_info("%.40s: %.1f req/s, %.2f ms CPU/req, %.2f+%.2f cores, others %.2f, "
                "speed %+.0f%%", model ? model : "?", m->rps, m->cpu_ms_per_req, m->cores,
                m->wait_cores, m->foreign_cores, m->speed_change * 100);
    demo_fixture_expect_clean(&m->r, s.ready_line);
    demo_fixture_stop(&s);
}

void demo_fixture_measure(const char *const *flags, const struct demo_req *reqs, size_t n_reqs,
                          unsigned threads, uint64_t duration_ns, bool need_quiet,
                          struct demo_measure *m)
{
    struct demo_measure attempt;
    for (int i = 0; i < (need_quiet ? 4 : 1); i++) {
        measure_once(flags, reqs, n_reqs, threads, duration_ns, &attempt);
        if (i == 0 || attempt.quiet || attempt.foreign_cores < m->foreign_cores)
            *m = attempt;
        if (m->quiet)
            return;
    }
    if (need_quiet)
        cr_log_info("not checked: the machine stayed busy (other processes used %.2f "
                    "cores): CPU occupancy figures", m->foreign_cores);
}

int demo_fixture_measure_runs(const char *const *flags, const struct demo_req *reqs,
                              size_t n_reqs, unsigned threads, uint64_t duration_ns, int runs,
                              struct demo_measure *each)
{
    int quiet = 0;
    for (int attempt = 0; attempt < 2 * runs && quiet < runs; attempt++) {
        measure_once(flags, reqs, n_reqs, threads, duration_ns, &each[quiet]);
        if (each[quiet].quiet && each[quiet].steady)
            quiet++;
    }
    /* (cr_log_warn would make Criterion exit 1: a busy machine is not a failure) */
    if (quiet < runs)
        cr_log_info("only %d of %d measurements on a quiet, steady machine%s", quiet, runs,
                    quiet >= 3 ? "" : ": CPU-bound absolute figures not checked");
    return quiet;
}

