#include "support/demo_fixture.h"

#include <criterion/criterion.h>
#include <stdbool.h>
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
