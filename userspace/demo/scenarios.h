/* The named demo scenarios: a demo-server configuration whose bottleneck is known in advance,
 * the load that exposes it, and the verdict loadscope must name. They are the ground truth
 * of `loadscope demo` and of the tracing, correlation and verdict tests.
 *
 * Server flags never include --port or --bind: the caller adds them ("--port", "0" gives
 * each replica an ephemeral port; demo_server_start reports them). Users are spread evenly
 * over the replicas' ports (user i -> port i mod replicas). */
#ifndef LOADSCOPE_DEMO_SCENARIOS_H
#define LOADSCOPE_DEMO_SCENARIOS_H

#include <stddef.h>
#include <stdint.h>

#include "demo/upload.h"

struct demo_endpoint {
    const char *method;
    const char *path;
    unsigned weight;     /* relative share of requests */
    enum demo_body body; /* what is uploaded (the 224x224 sample image) */
};

struct demo_scenario {
    const char *name;                /* "inference", "queue", "workers", "contention" */
    const char *summary;             /* one line for `loadscope demo --help` */
    const char *const *server_flags; /* NULL-terminated */
    int replicas;                    /* ports the server opens (users are spread on them) */
    unsigned users;                  /* closed-loop users, no think time */
    double rate;                     /* open-loop requests/s instead of closed loop; 0 = none */
    uint64_t duration_ns;            /* suggested run length (<= 30 s) */
    const struct demo_endpoint *endpoints;
    size_t n_endpoints;
    const char *verdict;      /* "inference", "queue", "workers" or "cpu-contention" */
    const char *ground_truth; /* where the time goes and why, in numbers */
    /* What the flags imply, for tests and for the report's "expected" column. */
    double model_cost_ms;     /* --model-cost */
    double capacity_rps;      /* throughput limit implied by the flags with independent CPUs */
    double server_cpu_cores;  /* CPU the server uses at that limit (cores) */
};

/* All scenarios, in the order `loadscope demo --help` lists them. */
const struct demo_scenario *demo_scenarios(size_t *count);

/* The scenario called name, or NULL. */
const struct demo_scenario *demo_scenario_find(const char *name);

/* The scenario `loadscope demo` runs without --scenario. */
const struct demo_scenario *demo_scenario_default(void);

/* The command line to start the scenario's server with: its flags, then "--port 0" (an
 * ephemeral port per replica) and "--quiet", then extra (NULL-terminated, may be NULL), into
 * out (cap entries, NULL-terminated). Returns the number of flags, or -1 if cap is too small. */
int demo_scenario_flags(const struct demo_scenario *sc, const char *const extra[],
                        const char **out, size_t cap);

#endif
