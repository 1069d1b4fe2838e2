/* Opens, loads and attaches the BPF objects (one per concern in bpf/) with the best attach mode each one
 * accepts (tp_btf, then raw_tp, then classic tracepoints), sharing maps between objects, and
 * opens the per-CPU sampling events of the profile. */
#ifndef LOADSCOPE_TRACE_LOADER_H
#define LOADSCOPE_TRACE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum attach_mode { MODE_TP_BTF = 0, MODE_RAW_TP, MODE_TRACEPOINT, MODE_COUNT };

enum bpf_part { PART_SCHED = 0, PART_SYSCALLS, PART_SOCKETS, PART_PROFILE, PART_COUNT };

struct load_config {
    uint64_t start_ns;
    uint64_t window_ns;
    uint32_t max_conns;
    uint32_t ring_bytes;
    uint32_t ring_wakeup_bytes; /* 0: ring_bytes / 4 */
    unsigned profile_hz; /* 0: no profile object */
    unsigned replicas;   /* sizes the per-replica syscall array */
    bool syscalls;       /* the hooks on every syscall (else only the accept/listen exits) */
    bool syscall_duty;   /* ... under a duty cycle: they handle accept and listen too */
    uint32_t learn_ports; /* bit r: replica r learns client ports from its accepts (pid and
                             cgroup replicas; a port replica knows its port) */
    uint32_t span_rate;   /* spans per second before sampling (0: every request) */
};

struct loader;

/* Loads and attaches sched first (it creates the shared maps), then the others; a part that
 * fails in every mode fails the whole load with a one-line reason. */
int loader_open(const struct load_config *c, struct loader **out, struct error *err);

/* Attaches the profile's perf events (one per CPU). Called after the threads are seeded. */
int loader_start_profile(struct loader *l, struct error *err);

/* The sys_enter/sys_exit hooks (per-syscall counts and latency, the largest share of the
 * overhead) can be detached and reattached during the session, unless accept and listen depend
 * on them (their own exit tracepoints could not attach) or they were not loaded. */
bool loader_syscall_hooks_detachable(const struct loader *l);
/* Attaches (on) or detaches them; a reattachment starts a new epoch (bpf/syscalls.bpf.c). */
int loader_set_syscall_hooks(struct loader *l, bool on, struct error *err);

/* Turns the per-request socket hooks (read, send, data ready) on or off (their duty cycle,
 * trace/socket_duty.h): attached and flagged on, or flagged off at once and detached (which
 * blocks for an RCU grace period per program). Turning them on starts a new on-stretch in
 * which each recorded request stands for `weight`; on while on only sets the weight. No-op
 * without the sockets object. */
int loader_set_socket_hooks(struct loader *l, bool on, unsigned weight, struct error *err);

/* Detaches every program (maps stay readable until loader_close). */
void loader_detach(struct loader *l);
void loader_close(struct loader *l);

/* Map fds by name ("threads", "conns", "events", "stack_counts", ...), -1 when absent. */
int loader_map_fd(const struct loader *l, const char *name);

/* "sched=tp_btf syscalls=tp_btf sockets=tp_btf profile=perf_event" */
void loader_modes(const struct loader *l, char *buf, size_t len);
bool loader_lazy_threads(const struct loader *l);

/* Kernel memory charged for all maps (memlock in /proc/self/fdinfo). */
uint64_t loader_map_bytes(const struct loader *l);

#endif
