/* One replica: its pinning, its helper processes (downstream helper, broker), its model
 * workers and its API workers, all children of the process that starts it. Replicas share
 * nothing but the weights they inherited, as separate containers of one image would. */
#ifndef DEMO_REPLICA_H
#define DEMO_REPLICA_H

#include <sched.h>
#include <stddef.h>

#include "config.h"
#include "model.h"
#include "proc.h"
#include "worker.h"

struct replica {
    const struct config *cfg;
    const struct model *model;
    const char *weights_path;
    int index;
    int listen_fd;
    int ready_fd;
    struct worker_env env; /* filled by replica_start */
    int helper_fd;         /* the listen socket handed to the helper being spawned */
    const int *sibling_fds; /* every replica's listen socket (closed in this replica's tree) */
    int n_siblings;
};

/* Readiness bytes one replica writes: serving threads + model workers + helpers. */
int replica_ready_count(const struct config *cfg);

/* The CPUs replica `index` is pinned to (see --cpus in --help). */
void replica_cpuset(const struct config *cfg, int index, cpu_set_t *set);

/* Pins the calling process, then spawns the replica's processes into c. Returns 0, or -1
 * with err set (children spawned so far stay in c for the caller to stop). */
int replica_start(struct replica *r, struct children *c, char *err, size_t errlen);

#endif
