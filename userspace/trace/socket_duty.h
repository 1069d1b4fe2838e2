/* How much of each window the socket hooks (a worker's read and send, data arriving: the
 * request spans, receive-queue waits, request and byte counts) run.
 *
 * They run twice per request each, on the server's and on the client's side of every
 * connection of the host: ~1-1.5 us per request here (nginx on these VMs with
 * return-stack mitigations on), 6-8% of a small static answer's CPU, nothing next to an
 * inference request's milliseconds. So after each window the tracer estimates their cost, the
 * window's requests at SOCKET_HOOK_COST_NS each as a share of the CPU the traced replicas used
 * (at least half a core: below that the server is not short of CPU, and the per-request join
 * keeps every span up to ~1700 requests per second at the default budget);
 * above the budget they run only 1/period of each window, in its middle (off, a flag stops
 * their work at once, bpf/sockets.bpf.c sock_hooks_on, and they are detached). The middle, because
 * scaled from there a window whose load rises or falls steadily is still estimated right. The window's socket
 * counters are then scaled to the whole window (socket_duty_scale), each span recorded stands
 * for `period` requests (its sample_weight), and each window says how long the hooks ran in it
 * (replica_window.socket_hooks_ns). A connection seen again after a pause resyncs: the request
 * under way then is neither recorded nor counted. */
#ifndef LOADSCOPE_TRACE_SOCKET_DUTY_H
#define LOADSCOPE_TRACE_SOCKET_DUTY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "trace/duty.h"
#include "trace/window.h"

/* Per request: six program runs, both sides, and their calls in and out of the programs
 * (which bpf_stats leaves out): the traced nginx's CPU per request with the hooks all along
 * minus without, +0.7 us on one of these VMs, +1.4-1.75 us on a slower one (bench_trace). */
#define SOCKET_HOOK_COST_NS 1500

struct socket_duty {
    double budget;          /* share of the replicas' CPU the hooks may cost; <= 0: always on */
    double share;           /* estimated cost share in the last window */
    double max_share;       /* ... the highest of the session */
    unsigned period;        /* hooks on 1/period of the open window */
    unsigned max_period;    /* the longest period of the session */
    bool on;                /* hooks running now */
    uint64_t on_since_ns;   /* when they were last turned on */
    uint64_t on_at_ns;      /* when to turn them on (0: no stretch due) */
    uint64_t off_at_ns;     /* when to turn them off (0: they stay on) */
    uint64_t window_on_ns;  /* time on in the open window before the current stretch */
};

/* --socket-budget PCT: as --syscall-budget. */
int socket_budget_parse(const char *text, double *out, struct error *err);

void socket_duty_init(struct socket_duty *d, double budget, uint64_t now_ns);

/* Closes the open window at end_ns: how long the hooks ran in it. */
uint64_t socket_duty_window(struct socket_duty *d, uint64_t end_ns);

/* Scales a window's socket counters, seen for on_ns of it, to the whole window. */
void socket_duty_scale(struct replica_window *w, uint64_t on_ns);

/* Given the last window's requests (scaled) and the replicas' CPU in it, plans the window
 * starting at now_ns: on all along (period 1), or from on_at_ns to off_at_ns. */
void socket_duty_next(struct socket_duty *d, uint64_t requests, uint64_t oncpu_ns,
                      uint64_t window_ns, uint64_t now_ns);

/* Whether the hooks should run at now_ns; socket_duty_switched when that changes them. */
bool socket_duty_wanted(const struct socket_duty *d, uint64_t now_ns);
void socket_duty_switched(struct socket_duty *d, bool on, uint64_t now_ns);

/* The next moment after now_ns the plan turns the hooks on or off, if before `limit` (else
 * limit): when the reader should wake. */
uint64_t socket_duty_next_switch(const struct socket_duty *d, uint64_t now_ns, uint64_t limit);

#endif
