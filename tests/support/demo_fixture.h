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

#endif
