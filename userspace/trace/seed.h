/* Seeding: threads that exist when tracing starts get their per-thread state from userspace
 * (task storage written through a thread pidfd), with the state they are in right now read
 * from /proc (running, runnable, or blocked and why), so that time before their first
 * scheduler event is not lost. Threads born later get theirs in the kernel at fork. */
#ifndef LOADSCOPE_TRACE_SEED_H
#define LOADSCOPE_TRACE_SEED_H

#include <stdint.h>
#include <sys/types.h>

#include "trace/replica.h"

/* What the seeded threads add to the kernel's per-replica integrals (bpf/common.h): the
 * reader adds it to the per-CPU sums. */
struct seed_base {
    int64_t n[8];
    int64_t d[8];
    int64_t threads;
};

struct seed_maps {
    int threads_fd;   /* task storage */
    int tgids_fd;     /* tgid -> replica */
    int ports_fd;     /* listening port -> replica */
};

/* Registers a replica's processes and ports and seeds their threads at time now (relative to
 * start_ns). Returns the number of threads seeded. */
unsigned seed_replica(const struct seed_maps *maps, uint32_t replica,
                      const struct replica_members *m, uint64_t start_ns, struct seed_base *base);

#endif
