/* Child processes: spawning them so they never outlive their parent, supervising them, and
 * stopping them. A supervisor blocks SIGTERM/SIGINT/SIGCHLD and reads them from a signalfd,
 * so the only signal state is the kernel's (no handlers, no global flags). */
#ifndef DEMO_PROC_H
#define DEMO_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROC_MAX_CHILDREN 512

struct child {
    pid_t pid; /* 0 once reaped */
    char role[24];
};

struct children {
    struct child list[PROC_MAX_CHILDREN];
    int n;
};

/* Writes one readiness byte to ready_fd (ignored when ready_fd < 0). */
void proc_ready(int ready_fd);

/* Blocks SIGTERM, SIGINT and SIGCHLD in this process and returns a signalfd for them. */
int proc_signals_open(void);

/* Forks a child named comm (its /proc/PID/comm, at most 15 characters, as gunicorn titles
 * its workers) that runs fn(arg) and _exits with 0 if it returns 0, else 1. The child gets
 * PR_SET_PDEATHSIG(SIGTERM) (it dies when this process does, even by SIGKILL), ignores SIGINT
 * (the terminal's Ctrl-C goes to the whole group; only supervisors act on it) and, unless
 * supervisor is set, takes SIGTERM with the default action (immediate exit). A supervisor
 * child keeps the signals blocked and opens its own signalfd. Returns the pid or -1. */
pid_t proc_spawn(struct children *c, const char *role, const char *comm, int (*fn)(void *),
                 void *arg, bool supervisor);

/* Waits for SIGTERM/SIGINT (returns 0) or for a child to exit (logs it, returns 1). While
 * fewer than `expected` bytes were read from ready_rfd (when >= 0), calls on_ready once they
 * all arrived, or gives up after ready_timeout_ms (logs, returns 1). */
int proc_supervise(struct children *c, int sigfd, int ready_rfd, int expected,
                   int ready_timeout_ms, void (*on_ready)(void *), void *arg);

/* SIGTERM to every live child, reaps them for up to grace_ms, then SIGKILLs the rest. */
void proc_stop(struct children *c, int sigfd, int grace_ms);

#endif
