#include "demo/scenarios.h"

#include <string.h>

#include "common/clock.h"

static const struct demo_endpoint mixed[] = {
    {"POST", "/predict", 9, DEMO_BODY_MULTIPART},
    {"GET", "/health", 1, DEMO_BODY_NONE},
};
#define MIXED mixed, sizeof(mixed) / sizeof(mixed[0])

static const char *const inference_flags[] = {"--workers", "2", "--model-cost", "20", NULL};
static const char *const queue_flags[] = {"--workers", "8", "--queue", "--model-workers", "1",
                                          "--model-cost", "20", NULL};
static const char *const workers_flags[] = {"--workers", "2", "--downstream-ms", "100",
                                            "--model-cost", "1", NULL};
static const char *const contention_flags[] = {"--replicas", "4", "--workers", "2",
                                               "--model-cost", "20", "--cpus", "0,1", NULL};

static const struct demo_scenario scenarios[] = {
    {
        .name = "inference",
        .summary = "CPU-bound model: 2 workers x 20 ms of CPU per request on 2 cores",
        .server_flags = inference_flags,
        .replicas = 1,
        .users = 4,
        .duration_ns = 20 * NS_PER_SEC,
        .endpoints = MIXED,
        .verdict = "inference",
        .ground_truth =
            "each /predict is ~20 ms of on-CPU time in a worker's predict code (decode, "
            "resize, convolutions); 2 workers keep both CPUs busy, so CPU use is ~2 cores "
            "and adding workers cannot help. With 4 users, a request also waits about one "
            "service time for a busy worker: a consequence of the CPU limit, not its cause. "
            "Run-queue wait stays small (2 busy threads on 2 CPUs).",
        .model_cost_ms = 20,
        .capacity_rps = 100,
        .server_cpu_cores = 2,
    },
    {
        .name = "queue",
        .summary = "API workers >> model workers: jobs wait in a broker queue for 1 model worker",
        .server_flags = queue_flags,
        .replicas = 1,
        .users = 8,
        .duration_ns = 20 * NS_PER_SEC,
        .endpoints = MIXED,
        .verdict = "queue",
        .ground_truth =
            "8 API workers hand each /predict to a broker and block reading its socket; one "
            "model worker computes ~20 ms per job, so throughput is capped at ~50 req/s and a "
            "job waits ~7 others in the queue (~140 ms of the ~160 ms latency). The API "
            "workers are off-CPU in a socket read, the model worker is on-CPU all the time, "
            "total CPU is ~1 of 2 cores.",
        .model_cost_ms = 20,
        .capacity_rps = 50,
        .server_cpu_cores = 1,
    },
    {
        .name = "workers",
        .summary = "too few workers: 2 workers each blocked 100 ms on a downstream call",
        .server_flags = workers_flags,
        .replicas = 1,
        .users = 10,
        .duration_ns = 20 * NS_PER_SEC,
        .endpoints = MIXED,
        .verdict = "workers",
        .ground_truth =
            "each /predict blocks its worker ~100 ms in a socket read on a downstream helper "
            "that sleeps (not saturated) plus ~1 ms of CPU; 2 workers serve at most ~20 "
            "req/s, so with 10 users a request waits ~400 ms in the socket receive queue "
            "for a free worker. CPU stays nearly idle: more workers would raise throughput.",
        .model_cost_ms = 1,
        .capacity_rps = 20,
        .server_cpu_cores = 0.05,
    },
    {
        .name = "contention",
        .summary = "4 replicas x 2 CPU-bound workers pinned to 2 cores: threads wait to run",
        .server_flags = contention_flags,
        .replicas = 4,
        .users = 8,
        .duration_ns = 20 * NS_PER_SEC,
        .endpoints = MIXED,
        .verdict = "cpu-contention",
        .ground_truth =
            "8 workers (4 replicas x 2, each replica pinned to one of CPUs 0 and 1) are "
            "runnable at once on 2 CPUs: each ~20 ms /predict also waits ~3x that on the run "
            "queue, so service time is mostly run-queue wait, not on-CPU time. No request "
            "waits for a worker (8 users for 8 workers); CPU use is ~2 cores.",
        .model_cost_ms = 20,
        .capacity_rps = 100,
        .server_cpu_cores = 2,
    },
};

const struct demo_scenario *demo_scenarios(size_t *count)
{
    *count = sizeof(scenarios) / sizeof(scenarios[0]);
    return scenarios;
}

const struct demo_scenario *demo_scenario_find(const char *name)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (!strcmp(scenarios[i].name, name))
            return &scenarios[i];
    return NULL;
}

const struct demo_scenario *demo_scenario_default(void)
{
    return &scenarios[0];
}

int demo_scenario_flags(const struct demo_scenario *sc, const char *const extra[],
                        const char **out, size_t cap)
{
    static const char *const tail[] = {"--port", "0", "--quiet", NULL};
    const char *const *parts[] = {sc->server_flags, tail, extra};
    size_t n = 0;
    for (size_t p = 0; p < 3; p++)
        for (size_t i = 0; parts[p] && parts[p][i]; i++) {
            if (n + 1 >= cap)
                return -1;
            out[n++] = parts[p][i];
        }
    if (n >= cap)
        return -1;
    out[n] = NULL;
    return (int)n;
}
