/* Per-window aggregates: reads the kernel's cumulative per-replica counters at each window
 * end and turns them into struct replica_window (differences, integrals, top syscalls). */
#ifndef LOADSCOPE_TRACE_WINDOWS_H
#define LOADSCOPE_TRACE_WINDOWS_H

#include <stdint.h>

#include "common/error.h"
#include "trace/seed.h"
#include "trace/trace.h"

struct window_maps {
    int accs_fd;     /* replica_accs */
    int procs_fd;    /* replica_procs */
    int slots_fd;    /* window_slots */
    int socks_fd;    /* sock_accs */
    int socks_any_fd; /* sock_accs_any */
    int syscalls_fd; /* syscall_stats (per-CPU array, replica * SYSCALL_NR_MAX + nr) */
    int counters_fd; /* counters */
    int tgids_fd;    /* tgid_replica */
};

struct window_state; /* previous cumulative values, per replica */

struct window_reader {
    struct window_maps maps;
    int ncpu;
    uint64_t start_ns;
    uint64_t window_ns;
    unsigned replicas;
    char names[TRACE_MAX_REPLICAS][REPLICA_NAME_LEN];
    struct seed_base base[TRACE_MAX_REPLICAS];
    struct window_state *state;
    void *buf;        /* one per-CPU value */
    void *sys_values; /* the whole syscall array, every CPU (one batch lookup) */
    uint32_t *sys_keys;
    uint64_t last_ns; /* end of the last window */
    uint64_t index;   /* number of the next window to close */
    uint64_t counters_prev[16];
    uint64_t listen_overflows, listen_drops;
    int netstat_ok;
};

int window_reader_init(struct window_reader *w, const struct window_maps *maps,
                       uint64_t start_ns, uint64_t window_ns, unsigned replicas,
                       struct error *err);

/* Closes the window ending now: fills out[0..replicas-1]. */
void window_reader_close(struct window_reader *w, uint64_t now_ns, struct replica_window *out);

/* The CPU the replicas used since the last window closed, without closing it (for the
 * syscall hooks' duty cycle). */
uint64_t window_reader_peek_oncpu(struct window_reader *w, uint64_t now_ns);

/* Adds window w into the running total (sums, maxima, last gauges). */
void window_accumulate(struct replica_window *total, const struct replica_window *w);

/* Fills the top syscalls of the whole session for a replica (cumulative). */
void window_reader_session_syscalls(struct window_reader *w, unsigned replica,
                                    struct replica_window *out);

/* Cumulative counters (enum trace_counter in bpf/common.h: losses, samples, host syscalls),
 * summed over CPUs. */
void window_reader_counters(struct window_reader *w, uint64_t *out, unsigned n);
/* One of them (enum trace_counter), summed over CPUs. */
uint64_t window_reader_counter(struct window_reader *w, uint32_t k);

void window_reader_free(struct window_reader *w);

#endif
