/* What one replica did during one window (1 s by default): the tracer's per-window record.
 * Fixed size, no pointers (stored as is). Times are CLOCK_MONOTONIC ns; durations are
 * thread-time inside the window (a thread blocked across three windows contributes to each),
 * so oncpu_ns / (end_ns - start_ns) is the number of cores the replica used.
 * Histograms are log2: slot i counts values in [2^(i-1), 2^i) ns (slot 0: 0 ns), the last
 * slot everything above. */
#ifndef LOADSCOPE_TRACE_WINDOW_H
#define LOADSCOPE_TRACE_WINDOW_H

#include <stdint.h>

#include "trace/span.h"

#define WINDOW_HIST_SLOTS 40
#define WINDOW_SYSCALLS 24
#define REPLICA_NAME_LEN 32

struct syscall_window {
    uint32_t nr; /* x86-64 syscall number */
    uint32_t pad;
    uint64_t count;
    uint64_t total_ns; /* sum of latencies (entry to exit, blocking included) */
    uint32_t hist[WINDOW_HIST_SLOTS];
};

struct replica_window {
    uint64_t start_ns;
    uint64_t end_ns;
    uint32_t replica;  /* index into trace_config.replicas */
    uint32_t processes; /* member processes at the end */
    uint32_t threads;  /* threads alive at the end (the workers available) */
    uint32_t busy_threads; /* threads that ran or were inside a request during the window */
    char name[REPLICA_NAME_LEN];
    /* CPU */
    uint64_t oncpu_ns;
    uint64_t runq_ns;
    uint64_t offcpu_ns[OFF_REASONS];
    uint64_t switches;             /* context switches out of the replica's threads */
    uint64_t involuntary_switches; /* of which preemptions */
    uint64_t runq_waits;           /* completed run-queue waits (histogram count) */
    uint32_t runq_hist[WINDOW_HIST_SLOTS];
    uint64_t forks;                /* processes created */
    uint64_t exits;                /* processes gone */
    /* sockets */
    uint64_t accepts;
    uint64_t accept_wait_ns;       /* sum of accept-queue waits */
    uint32_t accept_wait_hist[WINDOW_HIST_SLOTS];
    uint64_t accept_queue_samples; /* accept-queue depth sampled at each queued connection */
    uint64_t accept_queue_sum;
    uint64_t accept_queue_max;
    uint64_t requests;             /* spans started */
    /* receive-queue waits (arrival -> first read): their sum and histogram; above the span
     * rate, the recorded requests' waits, each counted sample_weight times */
    uint64_t recvq_wait_ns;
    uint32_t recvq_hist[WINDOW_HIST_SLOTS];
    int64_t open_spans;            /* requests in progress at the end */
    /* requests the span sampler did not record (above trace_config.span_rate); the recorded
     * ones carry their weight (server_span.sample_weight) */
    uint64_t spans_skipped;
    /* how long the socket hooks ran in the window: requests, receive-queue waits and bytes
     * above are scaled from that stretch to the whole window (trace/socket_duty.h) */
    uint64_t socket_hooks_ns;
    uint64_t bytes_in;             /* client connections */
    uint64_t bytes_out;
    uint64_t downstream_bytes_in;  /* the replica's other sockets */
    uint64_t downstream_bytes_out;
    uint64_t retransmits;
    uint64_t resets_sent;
    uint64_t resets_received;
    uint64_t host_listen_overflows; /* HOST-WIDE (/proc/net/netstat TcpExt), not per replica */
    uint64_t host_listen_drops;
    /* losses in this window, all replicas together (ring buffer full, maps full) */
    uint64_t lost_spans;
    uint64_t lost_heads;
    uint64_t lost_other;
    /* syscalls: the WINDOW_SYSCALLS with the largest total time, counted while the hooks ran
     * (syscall_hooks_ns of the window: their duty cycle, trace/syscall_duty.h) */
    uint64_t syscall_hooks_ns;
    uint64_t syscalls;             /* all syscalls, all numbers */
    uint32_t syscall_kinds;        /* distinct numbers seen (may exceed WINDOW_SYSCALLS) */
    uint32_t syscall_count_kept;   /* entries used in syscalls_top */
    struct syscall_window syscalls_top[WINDOW_SYSCALLS];
};

#endif
