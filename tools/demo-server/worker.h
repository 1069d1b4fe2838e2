/* An API worker: the gunicorn-sync-like serving loop.
 *
 * Each serving thread polls the shared listen socket and its own idle keep-alive
 * connections, then serves ONE request at a time with blocking I/O: read the head and body,
 * compute (or call the broker / downstream helper, blocking), write the answer. While it
 * computes, new connections wait in the kernel's accept queue and requests on its other
 * connections wait in their socket receive queues, exactly where a real sync worker makes
 * them wait. */
#ifndef DEMO_WORKER_H
#define DEMO_WORKER_H

#include "config.h"
#include "model.h"

struct worker_env {
    const struct config *cfg;
    const struct model *model;
    const char *weights_path; /* --reload-model file, or NULL */
    int listen_fd;
    int broker_port;     /* 0: compute locally */
    int downstream_port; /* 0: no downstream call */
    int ready_fd;        /* one byte per serving thread once it is wired */
};

/* Runs cfg->threads serving threads in this process. Returns only on a fatal error. */
int worker_process_run(const struct worker_env *env);

#endif
