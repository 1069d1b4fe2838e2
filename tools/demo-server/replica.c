#include "replica.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "downstream.h"
#include "net.h"
#include "queue.h"

int replica_ready_count(const struct config *cfg)
{
    int n = cfg->workers * cfg->threads;
    if (cfg->queue)
        n += cfg->model_workers + 1;
    if (cfg->downstream_ms)
        n += 1;
    return n;
}

void replica_cpuset(const struct config *cfg, int index, cpu_set_t *set)
{
    CPU_ZERO(set);
    int k = cfg->replicas, n = cfg->n_cpus;
    if (k >= n) {
        CPU_SET(cfg->cpus[index % n], set);
        return;
    }
    for (int j = 0; j < n; j++)
        if (j % k == index)
            CPU_SET(cfg->cpus[j], set);
}

/* Helpers stand for other services (a database, Redis): they do not hold the API's port. */
static int downstream_main(void *arg)
{
    struct replica *r = arg;
    close(r->listen_fd);
    return downstream_serve(r->helper_fd, r->cfg->downstream_ms, r->ready_fd);
}

static int broker_main(void *arg)
{
    struct replica *r = arg;
    close(r->listen_fd);
    return broker_serve(r->helper_fd, r->ready_fd);
}

static int model_worker_main(void *arg)
{
    struct replica *r = arg;
    close(r->listen_fd); /* model workers take jobs from the broker only */
    return model_worker_run(r->env.broker_port, r->model, r->weights_path, r->ready_fd);
}

static int api_worker_main(void *arg)
{
    struct replica *r = arg;
    return worker_process_run(&r->env);
}

/* Opens a loopback listener for a helper, spawns it, and returns its port (or -1). */
static int spawn_helper(struct replica *r, struct children *c, const char *role,
                        const char *comm, int (*fn)(void *), char *err, size_t errlen)
{
    r->helper_fd = net_listen("127.0.0.1", 0, 4096, err, errlen);
    if (r->helper_fd < 0)
        return -1;
    int port = net_local_port(r->helper_fd);
    pid_t pid = proc_spawn(c, role, comm, fn, r, false);
    close(r->helper_fd);
    r->helper_fd = -1;
    if (pid < 0) {
        snprintf(err, errlen, "cannot start the %s: %s", role, strerror(errno));
        return -1;
    }
    return port;
}

int replica_start(struct replica *r, struct children *c, char *err, size_t errlen)
{
    const struct config *cfg = r->cfg;
    if (cfg->n_cpus) {
        cpu_set_t set;
        replica_cpuset(cfg, r->index, &set);
        if (sched_setaffinity(0, sizeof(set), &set)) {
            snprintf(err, errlen, "cannot pin replica %d: %s", r->index, strerror(errno));
            return -1;
        }
    }
    r->env = (struct worker_env){.cfg = cfg, .model = r->model, .weights_path = r->weights_path,
                                 .listen_fd = r->listen_fd, .ready_fd = r->ready_fd};
    if (cfg->downstream_ms) {
        r->env.downstream_port = spawn_helper(r, c, "downstream helper", "demo-downstream",
                                              downstream_main, err, errlen);
        if (r->env.downstream_port < 0)
            return -1;
    }
    if (cfg->queue) {
        r->env.broker_port = spawn_helper(r, c, "broker", "demo-broker", broker_main, err,
                                          errlen);
        if (r->env.broker_port < 0)
            return -1;
        for (int i = 0; i < cfg->model_workers; i++)
            if (proc_spawn(c, "model worker", "demo-model", model_worker_main, r, false) < 0) {
                snprintf(err, errlen, "cannot start a model worker: %s", strerror(errno));
                return -1;
            }
    }
    for (int i = 0; i < cfg->workers; i++)
        if (proc_spawn(c, "worker", "demo-worker", api_worker_main, r, false) < 0) {
            snprintf(err, errlen, "cannot start a worker: %s", strerror(errno));
            return -1;
        }
    return 0;
}
