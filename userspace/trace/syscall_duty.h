/* How often the per-syscall hooks (sys_enter/sys_exit on every syscall of the host) run.
 *
 * Their cost follows the syscall rate, not the work, and every process of the host pays it,
 * traced or not: the kernel's syscall slow path and two program runs per syscall. Measured on
 * this VM (2 cores, return-stack mitigations on) with the hooks on all the time: an untraced
 * nginx (7 syscalls per request, ~11 us of CPU) lost ~12% of its throughput, ~0.19 us per
 * syscall; a traced thread's syscall costs ~0.06 us more. A server that spends 2 ms of CPU
 * per request does not notice. So after each window the hooks covered, the tracer estimates
 * their cost, the host's syscalls in it (all processes: the load generator's too) at
 * SYSCALL_HOOK_COST_NS each, as a share of the CPU the traced replicas used; above the budget
 * the hooks run one window out of `period` (a duty cycle), so the
 * syscall table becomes a sample of the run and each window says how long the hooks ran in it
 * (replica_window.syscall_hooks_ns). Under a duty cycle sys_exit also handles accept and
 * listen (their own exit tracepoints would keep the host's syscalls on the slow path all
 * along: trace/loader.c, attach_accept_hooks): the accept-queue waits are then a sample too. */
#ifndef LOADSCOPE_TRACE_SYSCALL_DUTY_H
#define LOADSCOPE_TRACE_SYSCALL_DUTY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "trace/duty.h"

#define SYSCALL_DUTY_MAX_PERIOD DUTY_MAX_PERIOD
#define SYSCALL_HOOK_COST_NS 200 /* per syscall on the host, both hooks and the slow path */
#define SYSCALL_DUTY_EARLY_NS 100000000ULL /* a costly start is cut after 100 ms */

struct syscall_duty {
    double budget;        /* share of the replicas' CPU the hooks may cost; <= 0: always on */
    double share;         /* estimated cost share in the last window the hooks covered */
    unsigned period;      /* hooks on one window out of `period` */
    unsigned countdown;   /* windows until the next sampled one */
    bool on;              /* hooks attached now */
    uint64_t on_since_ns; /* when they were last attached */
    uint64_t window_end_ns; /* end of the last window closed */
    uint64_t carried_ns;  /* hooks time in the open window before a detach */
};

/* --syscall-budget PCT: "1", "0.5", "2%" (0.01..100) as a share; a one-line error if not. */
int syscall_budget_parse(const char *text, double *out, struct error *err);

void syscall_duty_init(struct syscall_duty *d, double budget, uint64_t now_ns);

/* Closes the window [start_ns, end_ns): how long the hooks were attached in it. */
uint64_t syscall_duty_window(struct syscall_duty *d, uint64_t start_ns, uint64_t end_ns);

/* Given that window's hooks time, the host's syscalls counted in it and the CPU the replicas
 * used, whether the hooks should run during the next window. */
bool syscall_duty_next(struct syscall_duty *d, uint64_t hooks_ns, uint64_t window_ns,
                       uint64_t syscalls, uint64_t oncpu_ns);

/* While the hooks run, a window would cost its full price until it closes: after
 * SYSCALL_DUTY_EARLY_NS of hooks in the open window, what the host did so far (syscalls, the
 * replicas' CPU) already says. True when they cost more than the current period allows (no
 * duty cycle yet, or the load grew since the last sample: a sampled window that started as
 * the load did cost a full window of hooks, ~3% of a 6-second run of nginx): the caller
 * detaches them now, the period is set from this estimate, and the open window counts as the
 * sampled one. At the longest period a sampled window runs whole.
 * syscall_duty_early_due says whether such a look is due (the caller reads the counts only
 * then). */
bool syscall_duty_early_due(const struct syscall_duty *d, uint64_t now_ns);
bool syscall_duty_early(struct syscall_duty *d, uint64_t syscalls, uint64_t oncpu_ns,
                        uint64_t now_ns);

/* The hooks were attached (on) or detached at now_ns. */
void syscall_duty_switched(struct syscall_duty *d, bool on, uint64_t now_ns);

#endif
