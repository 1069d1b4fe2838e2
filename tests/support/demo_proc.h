/* Facts about a process group from /proc, for the demo-server tests: which processes are in
 * it, how much CPU they used and how long their threads waited to run. */
#ifndef LOADSCOPE_TESTS_DEMO_PROC_H
#define LOADSCOPE_TESTS_DEMO_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Processes whose process group is pgid (zombies included). Returns how many (up to cap
 * pids are stored). */
int demo_proc_group(pid_t pgid, pid_t *pids, int cap);

/* Processes whose parent is ppid. */
int demo_proc_children(pid_t ppid, pid_t *pids, int cap);

/* Sums over every thread of every process in the group, from /proc/PID/task/TID/schedstat:
 * time on a CPU and time runnable but waiting on a run queue, in ns. */
struct demo_sched {
    uint64_t run_ns;
    uint64_t wait_ns;
};
struct demo_sched demo_proc_group_sched(pid_t pgid);

/* CPU time the whole machine spent busy (all CPUs, from /proc/stat: everything but idle and
 * iowait), in ns. */
uint64_t demo_proc_system_busy_ns(void);

/* CPU time of this process, threads that already exited included (getrusage), in ns. */
uint64_t demo_proc_self_cpu_ns(void);

/* The Cpus_allowed_list of pid ("0", "0-1"...) into buf. Returns 0 or -1. */
int demo_proc_cpus_allowed(pid_t pid, char *buf, size_t len);

/* The single-character state of pid (R, S, Z...), or 0 if it does not exist. */
char demo_proc_state(pid_t pid);

#endif
