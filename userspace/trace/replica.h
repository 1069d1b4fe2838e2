/* Replicas: the sets of processes that serve one endpoint, named by a listening port, a pid
 * (and its descendants) or a cgroup, resolved to processes from /proc when tracing starts.
 * Processes forked later are followed in the kernel (bpf/sched.bpf.c). */
#ifndef LOADSCOPE_TRACE_REPLICA_H
#define LOADSCOPE_TRACE_REPLICA_H

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "trace/window.h"

enum replica_kind { REPLICA_PORT = 1, REPLICA_PID, REPLICA_CGROUP };

struct replica_spec {
    char name[REPLICA_NAME_LEN];
    enum replica_kind kind;
    uint16_t port;
    pid_t pid;
    char cgroup[256];
};

/* Parses "NAME=port:8001", "NAME=pid:1234" or "NAME=cgroup:/sys/fs/cgroup/...". A bare
 * "port:8001" (no NAME=) is named after it ("port8001"). */
int replica_spec_parse(const char *text, struct replica_spec *out, struct error *err);

/* The spec as text ("port:8001"). */
void replica_spec_format(const struct replica_spec *s, char *buf, size_t len);

/* A replica for a target's port, named "NAME" (the default replicas of `loadscope run`). */
void replica_spec_for_port(struct replica_spec *out, const char *name, uint16_t port);

#define REPLICA_MAX_PIDS 4096
#define REPLICA_MAX_PORTS 32

/* What a spec resolved to when tracing started. */
struct replica_members {
    pid_t pids[REPLICA_MAX_PIDS]; /* processes (tgids) */
    unsigned pid_count;
    uint16_t ports[REPLICA_MAX_PORTS]; /* TCP ports its processes listen on */
    unsigned port_count;
};

/* Finds the processes and listening ports of a replica. Fails with a one-line reason when
 * nothing matches ("no process listens on TCP port 8001"). */
int replica_resolve(const struct replica_spec *s, struct replica_members *out, struct error *err);

#endif
