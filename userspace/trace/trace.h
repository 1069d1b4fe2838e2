/* Server-side tracing with libbpf: per replica, per window aggregates (window.h) and one
 * record per request (span.h), plus CPU stack samples as folded stacks.
 *
 *   struct trace_caps caps;
 *   if (trace_probe(&caps, &err) < 0) -> client-only, print err.msg (one line: why)
 *   trace_start(&config, &sinks, &session, &err);   // sinks called from the reader thread
 *   ... load runs ...
 *   trace_stop(session, &totals);                    // last window flushed, losses counted
 *   trace_profile_write_folded(session, replica, file, &err);
 *   trace_destroy(session);
 *
 * Memory is bounded (trace_config limits; see TRACE_MEMORY_TEXT) whatever the run length. */
#ifndef LOADSCOPE_TRACE_TRACE_H
#define LOADSCOPE_TRACE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "trace/replica.h"
#include "trace/span.h"
#include "trace/window.h"

#define TRACE_MAX_REPLICAS 16

/* What this host allows. trace_probe() fills every field it can and returns -1 with a
 * one-line reason in err when tracing cannot run. */
struct trace_caps {
    bool privileged;      /* root, or CAP_BPF + CAP_PERFMON */
    bool btf;             /* /sys/kernel/btf/vmlinux */
    bool tracefs;         /* tracefs mounted (trace_probe mounts it when missing) */
    bool tracefs_mounted_now;
    bool tp_btf;          /* attach types that loaded and attached a trivial program */
    bool raw_tp;
    bool tracepoint;
    bool fentry;          /* informative: not used */
    bool perf_event;
    bool ringbuf;
    bool task_storage;
};

int trace_probe(struct trace_caps *caps, struct error *err);

/* Bounded sizes (defaults in trace_config_defaults). */
struct trace_config {
    struct replica_spec replicas[TRACE_MAX_REPLICAS];
    unsigned replica_count;
    uint64_t window_ns;   /* default 1 s */
    unsigned profile_hz;  /* stack samples per second per CPU; 0 = no profile (default 49) */
    /* Per-syscall counts and latency need sys_enter/sys_exit hooks on every syscall of the
     * host (the largest share of the overhead). Off: no syscall table (off-CPU reasons,
     * request bytes, accept-queue wait do not need them). Default on. */
    bool syscalls;
    /* Share of the traced replicas' CPU the per-syscall hooks may cost before they run on a
     * duty cycle (trace/syscall_duty.h); <= 0: always on. Default 0.01. */
    double syscall_budget;
    /* Share of the traced replicas' CPU the socket hooks (spans, receive-queue waits, request
     * and byte counts) may cost before they run only part of each window
     * (trace/socket_duty.h); <= 0: always on. Default 0.005. */
    double socket_budget;
    /* Request spans recorded per second before the tracer records only a random 1 in N
     * requests (per 100 ms, from the rate of the 100 ms before): a record per request is the
     * costly part of tracing a fast server. Counters and histograms still see every request.
     * 0: every request. Default 10000. */
    uint32_t span_rate;
#define SPAN_RATE_MAX 10000000u
    uint32_t max_conns;   /* tracked server connections (default 8192, ~400 B each) */
    uint32_t ring_bytes;  /* ring buffer for request records (default 4 MiB, power of 2) */
    /* The reader drains the ring every 10 ms, and is woken early only when this many bytes
     * wait (0: a quarter of the ring; UINT32_MAX: never, which tests use to force losses). */
    uint32_t ring_wakeup_bytes;
};

void trace_config_defaults(struct trace_config *c);

/* Called from the tracer's reader thread, in time order per replica. Must not block long. */
struct trace_sinks {
    void *ctx;
    void (*on_span)(void *ctx, const struct server_span *span);
    void (*on_window)(void *ctx, const struct replica_window *window);
};

/* Totals for the whole session. */
struct trace_totals {
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t spans;               /* delivered to on_span */
    uint64_t spans_skipped;       /* requests the sampler did not record (above span_rate) */
    uint32_t span_rate;           /* trace_config.span_rate */
    uint64_t windows;             /* delivered to on_window (all replicas) */
    uint64_t lost_spans;          /* ring buffer full */
    uint64_t lost_heads;          /* always 0: request bytes travel in their span record */
    uint64_t spans_without_head;  /* spans whose request bytes were not captured or not HTTP */
    uint64_t conn_map_full;       /* connections not tracked (max_conns reached) */
    uint64_t syscall_map_full;
    uint64_t thread_storage_failed;
    uint64_t profile_samples;
    uint64_t profile_stacks_lost; /* samples whose stack could not be stored */
    uint64_t profile_map_full;
    uint64_t map_bytes;           /* kernel memory of the BPF maps (memlock accounting) */
    char modes[160];              /* attach modes used, e.g. "sched=tp_btf syscalls=tp_btf" */
    /* per-syscall hooks: how long they ran (all replicas see the same hooks), their estimated
     * cost in the last window they covered (share of the replicas' CPU) and the duty cycle
     * it led to (on one window out of syscall_period); syscall_hooks_ns 0: never loaded */
    uint64_t syscall_hooks_ns;
    double syscall_cost_share;
    double syscall_budget;
    unsigned syscall_period;
    /* socket hooks: how long they ran, their highest estimated cost in a window and the
     * longest period it led to (on 1/socket_period of a window) */
    uint64_t socket_hooks_ns;
    double socket_cost_share;
    double socket_budget;
    unsigned socket_period;
    /* the whole session per replica, as one window (syscalls: top by total time) */
    struct replica_window replica[TRACE_MAX_REPLICAS];
    unsigned replica_count;
};

/* One line on the per-syscall hooks: off, on all along, or their duty cycle and why. */
void trace_syscall_note(const struct trace_totals *t, char *buf, size_t len);
/* One line on the request spans: one per request, or the share the sampler kept. */
void trace_span_note(const struct trace_totals *t, char *buf, size_t len);
/* One line on the socket hooks: on all along, or the share of each window they ran. */
void trace_socket_note(const struct trace_totals *t, char *buf, size_t len);

struct trace_session;

int trace_start(const struct trace_config *config, const struct trace_sinks *sinks,
                struct trace_session **out, struct error *err);

/* Detaches, flushes the last (partial) window and the requests still open, joins the reader
 * thread. The session stays readable (profile) until trace_destroy. */
int trace_stop(struct trace_session *s, struct trace_totals *totals);

/* Folded stacks of one replica ("comm;frame;...;frame count" lines, root first, kernel
 * frames suffixed "_[k]"), for flame graphs. Only after trace_stop. */
int trace_profile_write_folded(struct trace_session *s, unsigned replica, FILE *out,
                               struct error *err);

/* Processes of a replica at the start (for reports). */
const struct replica_members *trace_replica_members(const struct trace_session *s,
                                                    unsigned replica);

void trace_destroy(struct trace_session *s);

/* The bounded memory, for --help texts (measured with the defaults and one replica on a
 * 2-CPU host: ~17.5 MiB of BPF maps, /proc/self/fdinfo memlock). */
#define TRACE_MEMORY_TEXT                                                                    \
    "Memory is bounded whatever the duration: BPF maps take ~17.5 MiB with the defaults\n"   \
    "(request ring 4 MiB (--ring-kb), 8192 connections x ~0.8 KiB (--max-conns), profile\n"  \
    "8192 stacks x 0.5 KiB + 16384 counters, listening-port table 256 KiB, syscall stats\n"  \
    "72 KiB per replica per CPU, ~0.2 KiB per traced thread); userspace keeps per-window\n"  \
    "state and the symbol tables of traced processes.\n"

#endif
