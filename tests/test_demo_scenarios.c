/* The named demo scenarios are what they claim: each configuration, under its suggested load,
 * shows the saturation signals of its verdict (measured from the server's processes, without
 * the tracer): CPU-bound with both CPUs busy, capped by one model worker, idle CPU with
 * workers blocked downstream, or threads waiting on the run queue. These are the facts the
 * tracing and verdict tests build on. Run under flock /tmp/loadscope-cpu.lock. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/clock.h"
#include "demo/scenarios.h"
#include "demo/server.h"
#include "demo/upload.h"
#include "support/demo_fixture.h"

#define RUN_NS (6 * NS_PER_SEC) /* shorter than the suggested 20 s: enough for averages */

struct scenario_load {
    struct demo_upload uploads[3]; /* indexed by enum demo_body */
    struct demo_req reqs[DEMO_CLIENT_MAX_REQS];
    size_t n_reqs;
};

/* The scenario's endpoint mix as the request cycle of the test client (weights expanded). */
static void load_init(struct scenario_load *l, const struct demo_scenario *sc)
{
    struct error err;
    memset(l, 0, sizeof(*l));
    cr_assert_eq(demo_upload_sample(&l->uploads[DEMO_BODY_RAW], DEMO_BODY_RAW, &err), 0);
    cr_assert_eq(demo_upload_sample(&l->uploads[DEMO_BODY_MULTIPART], DEMO_BODY_MULTIPART, &err),
                 0);
    for (size_t e = 0; e < sc->n_endpoints; e++) {
        const struct demo_endpoint *ep = &sc->endpoints[e];
        const struct demo_upload *up = &l->uploads[ep->body];
        for (unsigned w = 0; w < ep->weight; w++) {
            cr_assert_lt(l->n_reqs, DEMO_CLIENT_MAX_REQS, "endpoint weights too large");
            l->reqs[l->n_reqs++] = (struct demo_req){
                ep->method, ep->path, up->content_type[0] ? up->content_type : NULL,
                up->body, up->len};
        }
    }
}

static void load_free(struct scenario_load *l)
{
    for (int i = 0; i < 3; i++)
        demo_upload_free(&l->uploads[i]);
}

/* need_quiet: the scenario's checks are about CPU occupancy (see demo_fixture_measure). */
static void run_scenario(const char *name, bool need_quiet, struct demo_measure *m)
{
    const struct demo_scenario *sc = demo_scenario_find(name);
    cr_assert(sc, "no scenario '%s'", name);
    struct scenario_load l;
    load_init(&l, sc);
    demo_fixture_measure(sc->server_flags, l.reqs, l.n_reqs, sc->users, RUN_NS, need_quiet, m);
    load_free(&l);
}

static double predict_rps(const struct demo_measure *m)
{
    return (double)m->r.predicted * 1e9 / (double)m->r.elapsed_ns;
}

Test(demo_scenarios, table_is_complete_and_consistent)
{
    size_t n;
    const struct demo_scenario *all = demo_scenarios(&n);
    const char *names[] = {"inference", "queue", "workers", "contention"};
    const char *verdicts[] = {"inference", "queue", "workers", "cpu-contention"};
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < 4; i++) {
        const struct demo_scenario *sc = demo_scenario_find(names[i]);
        cr_assert(sc, "missing scenario %s", names[i]);
        cr_expect_str_eq(sc->verdict, verdicts[i]);
        cr_expect(sc->duration_ns > 0 && sc->duration_ns <= 30 * NS_PER_SEC);
        cr_expect_gt(sc->users, 0);
        cr_expect_gt(sc->replicas, 0);
        cr_expect_gt(sc->capacity_rps, 0);
        cr_expect(sc->summary && *sc->summary && sc->ground_truth && *sc->ground_truth);
        unsigned predict = 0, total = 0;
        for (size_t e = 0; e < sc->n_endpoints; e++) {
            total += sc->endpoints[e].weight;
            if (!strcmp(sc->endpoints[e].path, "/predict"))
                predict += sc->endpoints[e].weight;
        }
        cr_expect(predict * 2 > total, "%s: mostly POST /predict", names[i]);
        for (size_t f = 0; sc->server_flags[f]; f++) {
            cr_expect_str_neq(sc->server_flags[f], "--port");
            cr_expect_str_neq(sc->server_flags[f], "--bind");
        }
    }
    cr_expect_null(demo_scenario_find("nope"));
    cr_expect_str_eq(demo_scenario_default()->name, "inference");
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(demo_scenario_find(all[i].name), &all[i]);
}

Test(demo_scenarios, inference_keeps_both_cpus_busy_computing, .timeout = 180)
{
    struct demo_measure m;
    run_scenario("inference", true, &m);
    /* 2 CPU-bound workers on 2 CPUs: the server is on-CPU ~2 cores, and its threads barely
     * wait to run (the test client's threads take a little) */
    if (m.quiet) {
        cr_expect_gt(m.cores, 1.6, "server on CPU %.2f cores", m.cores);
        cr_expect_lt(m.wait_cores, 0.5 * m.cores, "run-queue wait %.2f cores vs %.2f on CPU",
                     m.wait_cores, m.cores);
    }
    /* its 2 workers are never idle: on a CPU or waiting for one */
    cr_expect_gt(m.cores + m.wait_cores, 1.8, "busy %.2f of 2 workers",
                 m.cores + m.wait_cores);
    /* nearly all of that CPU is the model: model_ms per prediction vs CPU per request */
    double model = m.r.model_ms_sum / (double)m.r.predicted;
    double per_predict = m.cpu_ms_per_req * (double)m.r.completed / (double)m.r.predicted;
    cr_expect_gt(model, 0.9 * per_predict, "model %.2f ms of %.2f ms CPU per prediction", model,
                 per_predict);
}

Test(demo_scenarios, queue_is_capped_by_one_model_worker, .timeout = 180)
{
    struct demo_measure m;
    run_scenario("queue", true, &m);
    double rps = predict_rps(&m);
    double queue = m.r.queue_ms_sum / (double)m.r.predicted;
    double model = m.r.model_ms_sum / (double)m.r.predicted;
    /* the cap is the model worker, busy all the time: predictions/s = 1000 / its CPU per
     * job (whatever speed the VM's CPU has right now), when nothing else takes its CPU */
    if (m.quiet)
        cr_expect(fabs(rps - 1000 / model) <= 0.2 * 1000 / model,
                  "%.1f predictions/s, one model worker at %.2f ms/job makes %.1f", rps, model,
                  1000 / model);
    /* (that the cap is ~50/s for --model-cost 20 is test_demo_server's queue test) */
    /* one busy model worker: about one core, not two */
    cr_expect_lt(m.cores, 1.4, "server on CPU %.2f cores", m.cores);
    /* jobs wait for the model worker several times longer than it computes them */
    cr_expect_gt(queue, 3 * model, "queue wait %.1f ms vs model %.1f ms", queue, model);
}

Test(demo_scenarios, workers_wait_downstream_with_idle_cpu, .timeout = 180)
{
    struct demo_measure m;
    run_scenario("workers", false, &m);
    double rps = predict_rps(&m);
    cr_expect(fabs(rps - 20) <= 0.15 * 20, "%.1f predictions/s, expected ~20", rps);
    cr_expect_lt(m.cores, 0.3, "server on CPU %.2f cores: should be nearly idle", m.cores);
    double down = m.r.downstream_ms_sum / (double)m.r.predicted;
    cr_expect(down >= 100 && down < 115, "downstream %.1f ms", down);
    /* 10 users on 2 workers: requests wait for a free worker well beyond the 100 ms call */
    double p50 = (double)hist_percentile(&m.r.latency, 50) / 1e6;
    cr_expect_gt(p50, 250, "median latency %.0f ms", p50);
}

Test(demo_scenarios, contention_makes_threads_wait_to_run, .timeout = 180)
{
    struct demo_measure m;
    run_scenario("contention", true, &m);
    /* 8 CPU-bound workers on 2 CPUs: both CPUs busy and, per unit of CPU, ~3 units of
     * run-queue wait */
    if (m.quiet)
        cr_expect_gt(m.cores, 1.6, "server on CPU %.2f cores", m.cores);
    cr_expect_gt(m.wait_cores, 1.5 * m.cores, "run-queue wait %.2f cores vs %.2f on CPU",
                 m.wait_cores, m.cores);
    /* keep-alive connections stick to the worker that accepted them: most workers serve */
    cr_expect_geq(m.r.n_pids, 6, "answers from %d of the 8 workers", m.r.n_pids);
}

Test(demo_scenarios, flags_start_every_scenario_server, .timeout = 120)
{
    size_t n;
    const struct demo_scenario *all = demo_scenarios(&n);
    char bin[4096];
    struct error err = {{0}};
    cr_assert(demo_server_binary(bin, sizeof(bin), &err), "%s", err.msg);
    const char *small[4];
    cr_expect_eq(demo_scenario_flags(&all[0], NULL, small, 4), -1, "cap too small accepted");
    for (size_t i = 0; i < n; i++) {
        const char *extra[] = {"--seed", "7", NULL};
        const char *flags[64];
        int k = demo_scenario_flags(&all[i], extra, flags, 64);
        cr_assert_gt(k, 0);
        cr_expect_str_eq(flags[k - 2], "--seed");
        cr_expect_null(flags[k]);
        struct demo_server s;
        cr_assert_eq(demo_server_start(&s, bin, flags, 60 * NS_PER_SEC, &err), 0, "%s: %s",
                     all[i].name, err.msg);
        cr_expect_eq(s.n_ports, all[i].replicas, "%s: %d ports", all[i].name, s.n_ports);
        cr_expect_gt(s.model_ms, 0);
        for (int p = 0; p < s.n_ports; p++)
            cr_expect_eq(demo_http_get_status(s.ports[p], "/health", NS_PER_SEC), 200);
        int code = -1;
        cr_expect_eq(demo_server_stop(&s, 10 * NS_PER_SEC, &code, &err), 0, "%s", err.msg);
        cr_expect_eq(code, 0);
    }
}
