/* Scheduler accounting shared by sched.bpf.c (which writes it), the other BPF objects (which
 * read the per-thread state) and userspace (which seeds threads that exist before tracing and
 * reads the per-replica accumulators). */
#ifndef LOADSCOPE_BPF_SCHED_H
#define LOADSCOPE_BPF_SCHED_H

#include "common.h"

/* Per-thread state, in task-local storage (BPF_MAP_TYPE_TASK_STORAGE): a thread is traced iff
 * it has an entry, so the hot programs' first step, the membership test, is a pointer check
 * on the task instead of a hash lookup; the entry dies with the thread. */
struct thread_state {
    __u32 replica;
    __u32 tgid;
    __u8 state;  /* enum acc_state, ACC_NONE until the first scheduler event */
    __u8 pad[3];
    __s32 sc_nr; /* syscall in flight (syscalls.bpf.c, while its hooks run), -1 when none */
    __u32 sc_epoch; /* syscall_epoch at its entry: hooks detached since then = unknown latency */
    __u32 pad2;
    __u64 sc_enter_ns; /* its entry time, 0 when unknown */
    __u64 since_ns;            /* when `state` began */
    __u64 cum_ns[ACC_COUNT];   /* closed time per state, for per-request snapshots */
    __u64 busy_until_ns;       /* end of the last window this thread was marked busy in */
    __u64 exec_ns;  /* the task's CPU clock (se.sum_exec_runtime) at its last switch */
    __u64 woken_ns; /* a wake-up seen while it was accounted on a CPU (sched.bpf.c), else 0 */
};

/* Per replica, per CPU. The integral counters n/d are updated only by sched_switch and
 * sched_wakeup(_new), which run with interrupts off, so a CPU's copy is never written by two
 * programs at once; seq_begin/seq_end let userspace detect (and retry) a copy taken while the
 * CPU was half-way through an update: the writer bumps seq_begin, updates, then sets seq_end,
 * and the reader copies seq_end first and seq_begin last. */
struct replica_acc {
    __u64 seq_end;
    __s64 n[ACC_COUNT];
    __s64 d[ACC_COUNT];
    __u64 switches;      /* context switches out of a traced thread */
    __u64 involuntary;   /* of which preemptions (still runnable) */
    __u64 runq_count;    /* run-queue waits completed */
    __u64 runq_hist[LOG2_SLOTS];
    __u64 seq_begin;
};

/* Per replica, per CPU, updated with atomic adds from process context. */
struct replica_procs {
    __s64 threads;   /* threads created minus exited (userspace adds the initial count) */
    __s64 forks;     /* new processes */
    __s64 exits;     /* processes gone */
};

/* Per (replica, window slot), per CPU. */
struct window_slot {
    __u64 busy_threads;   /* distinct threads that ran or served a request in the window */
    __u64 backlog_max;    /* deepest accept queue seen on the replica's listeners */
};

#endif
