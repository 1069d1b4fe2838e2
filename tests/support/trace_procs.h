/* Real processes with known behaviour for the tracer's ground-truth tests: a CPU spinner, a
 * futex sleeper, threads pinned to one core, a pre-fork HTTP server whose workers sleep, burn
 * CPU or fork late, and a plain HTTP client that reports its local port. Every child dies with
 * the test process (PR_SET_PDEATHSIG) and is reaped by trace_proc_stop. */
#ifndef LOADSCOPE_TESTS_TRACE_PROCS_H
#define LOADSCOPE_TESTS_TRACE_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A child that waits for trace_proc_go() before running its job, then writes its result
 * (job-specific) and its run-queue wait to the result pipe and exits. */
struct trace_proc {
    pid_t pid;
    int go_fd;
    int result_fd;
    /* the kernel's own count (/proc/self/schedstat) of the time the child waited to run, from
     * just before it blocked for trace_proc_go() to its result; set by trace_proc_result */
    uint64_t run_delay_ns;
};

enum trace_job {
    JOB_SPIN,       /* burn `arg` ms of its own CPU time; result: CPU ns used in total */
    JOB_FUTEX,      /* its only thread blocks `arg` ms in FUTEX_WAIT; result: wait ns */
    JOB_PINNED3,    /* 3 threads on CPU `cpu` spin for `arg` ms wall; result: CPU ns used */
    JOB_BURN_FUNC,  /* spin `arg` ms inside trace_support_burn_cpu(); result: 0 */
    JOB_SYSCALLS,   /* for `arg` ms wall, one thread calls getppid() in a loop while another
                       sleeps in poll(NULL, 0, 300) over and over; result: getppid calls */
};

int trace_proc_start(struct trace_proc *p, enum trace_job job, long arg, int cpu);
void trace_proc_go(struct trace_proc *p);
/* Waits for the result (up to timeout_ms); returns 0 or -1. */
int trace_proc_result(struct trace_proc *p, uint64_t *out, int timeout_ms);
void trace_proc_stop(struct trace_proc *p);

/* A busy function with a known name for the profile test (never inlined). */
void trace_support_burn_cpu(long ms);

/* Pre-fork HTTP/1.1 server on 127.0.0.1: a master that listens, and `workers` processes that
 * each accept and serve one connection at a time (keep-alive), sleeping sleep_ms and burning
 * spin_ms of CPU per request. With fork_late the master forks the workers only when
 * trace_server_fork_workers() is called (pre-fork after tracing started). */
struct trace_server_opts {
    int workers;
    int sleep_ms;
    int spin_ms;
    bool fork_late;
};

struct trace_server {
    pid_t master;
    int port;
    int ctl_fd; /* write a byte: the master forks its workers (fork_late) */
};

int trace_server_start(struct trace_server *s, const struct trace_server_opts *o);
void trace_server_fork_workers(struct trace_server *s);
void trace_server_stop(struct trace_server *s);

/* One HTTP request on a new connection (or `fd` if >= 0, kept alive): sends X-Request-Id
 * as 16 hex digits; fills the local port; returns the connection fd (caller closes) or -1. */
int trace_client_get(int port, int fd, const char *path, uint64_t request_id,
                     uint16_t *local_port);

#endif
