/* One cell's `loadscope run`, as a child process of the sweep: this same executable with
 * "run ..." (so each cell is exactly what a user's `loadscope run` is: stored, traced, with
 * its verdict), its output in the cell's run.log.
 *
 * A child rather than cmd_run() in-process: a run's Ctrl-C state is process-wide and never
 * reset, a cell that crashes must not take the sweep down, and the sweep keeps handling
 * signals itself. The child runs in its own process group (a terminal's Ctrl-C reaches only
 * the sweep, which forwards it once per press: the first stops the cell cleanly, the second
 * aborts its requests in flight) and gets SIGTERM if the sweep dies (PR_SET_PDEATHSIG).
 *
 * While it runs, the host's CPU use is sampled once a second from /proc/stat. */
#ifndef LOADSCOPE_SWEEP_CELL_RUN_H
#define LOADSCOPE_SWEEP_CELL_RUN_H

#include <signal.h>
#include <stdbool.h>

#include "common/error.h"

struct cell_run_result {
    int exit_code;          /* the run's exit code; 128 + signal when it was killed */
    bool interrupted;       /* a stop request was forwarded to it */
    double host_busy_cores; /* median of the per-second host CPU use (cores); NAN if none */
    double seconds;         /* wall time of the child */
};

/* Runs `SELF run argv[0..]` (argv NULL-terminated, without "run"), output appended to
 * log_path. *stop_requests is the sweep's signal counter: each increment while the child runs
 * is forwarded as one SIGINT. Returns 0 when the child ran (whatever its exit code), -1 with
 * err set when it could not be started. */
int cell_run(const char *const *argv, const char *log_path,
             volatile sig_atomic_t *stop_requests, struct cell_run_result *res,
             struct error *err);

/* Busy and total CPU time of the whole host so far, in clock ticks (/proc/stat). Returns 0 or
 * -1. */
int host_cpu_ticks(unsigned long long *busy, unsigned long long *total);

/* Online CPUs. */
int host_cpu_count(void);

#endif
