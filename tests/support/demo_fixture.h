/* Starting and stopping the demo server under test ($DEMO_SERVER_BIN: the plain or the
 * sanitized build) from a Criterion test, failing the test on any error. */
#ifndef LOADSCOPE_TESTS_DEMO_FIXTURE_H
#define LOADSCOPE_TESTS_DEMO_FIXTURE_H

#include "demo/server.h"
#include "demo/upload.h"
#include "support/demo_client.h"

/* Starts the server with flags (NULL-terminated) plus --quiet, plus --port 0 unless flags
 * set a port. Waits for ready and /health. */
void demo_fixture_start(struct demo_server *s, const char *const *flags);

/* Like demo_fixture_start but returns -1 instead of failing (err set). */
int demo_fixture_try_start(struct demo_server *s, const char *const *flags, struct error *err);

/* SIGTERM; asserts exit status 0 and that no process of its group remains. */
void demo_fixture_stop(struct demo_server *s);

/* The sample image as a raw and a multipart upload, and the request kinds built on them:
 * reqs[0] raw /predict, reqs[1] multipart /predict, reqs[2] GET /health. */
struct demo_fixture_reqs {
    struct demo_upload raw, multipart;
    struct demo_req reqs[3];
};
void demo_fixture_reqs_init(struct demo_fixture_reqs *f);
void demo_fixture_reqs_free(struct demo_fixture_reqs *f);

/* Runs load with `threads` threads on the server's ports for duration_ns (or max requests). */
void demo_fixture_load(const struct demo_server *s, const struct demo_req *reqs, size_t n_reqs,
                       unsigned threads, uint64_t duration_ns, uint64_t max_requests,
                       struct demo_load_result *r);

/* Every request of r got a 2xx, no transport error, every /predict answer was valid JSON with
 * 10 scores summing to 1, and the same request always got the same label. */
void demo_fixture_expect_clean(const struct demo_load_result *r, const char *what);

/* A throughput / CPU measurement of one server configuration. */
struct demo_measure {
    double rps;
    double cpu_ms_per_req; /* the server's process group, on-CPU time (schedstat) */
    double calibrated_ms;  /* CPU ms per /predict the server measured when it calibrated
                            * (its ready line's model_ms) */
    double cores;          /* the server's on-CPU time / wall time */
    double wait_cores;     /* the server's run-queue wait / wall time */
    double foreign_cores;  /* CPU used by processes other than the server and this test */
    double speed_change;   /* VM CPU speed after the run vs before the server calibrated */
    bool quiet;            /* foreign_cores < DEMO_QUIET_CORES */
    bool steady;           /* |speed_change| < DEMO_STABLE_SPEED */
    struct demo_load_result r;
};

/* How much CPU the server gets (cores busy, run-queue wait) is meaningful when other
 * processes used less than DEMO_QUIET_CORES during the run ("quiet"). How much CPU a request
 * costs compared with --model-cost also needs the VM's CPU speed to have held still between
 * the server's calibration and the end of the run ("steady": a fixed workload timed before
 * and after changed by less than DEMO_STABLE_SPEED): on this VM it wanders by +-25% within
 * seconds, which no calibration can follow. */
#define DEMO_QUIET_CORES 0.15
#define DEMO_STABLE_SPEED 0.10

/* Starts the server with flags, warms it up, runs `threads` closed-loop clients for
 * duration_ns, stops it (asserting a clean exit and clean answers). With need_quiet, a
 * measurement that was not quiet is taken again (other helpers build and test on the same 2
 * CPUs), up to 4 times, keeping the quietest; callers assert CPU occupancy only when
 * m->quiet, and structural facts always. */
void demo_fixture_measure(const char *const *flags, const struct demo_req *reqs, size_t n_reqs,
                          unsigned threads, uint64_t duration_ns, bool need_quiet,
                          struct demo_measure *m);

/* Takes `runs` quiet and steady measurements, each with a fresh server and so a fresh
 * calibration, in up to 2 x runs attempts; stores them in each[] and returns how many it got.
 * The caller compares CPU per request and throughput with --model-cost on their medians
 * when it got at least 3. */
int demo_fixture_measure_runs(const char *const *flags, const struct demo_req *reqs,
                              size_t n_reqs, unsigned threads, uint64_t duration_ns, int runs,
                              struct demo_measure *each);

/* Median of n values (n >= 1). */
double demo_median(double *v, int n);

#endif
