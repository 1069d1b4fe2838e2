/* Constants and small helpers shared by every BPF object and by userspace (the libbpf-tools
 * pattern: one header per concern, included on both sides).
 *
 * Time accounting model (sched.h, sockets.h): every traced thread is always in exactly one
 * accounting state — on CPU, waiting in the run queue, or blocked for one reason. Per replica
 * the kernel keeps, for each state s, n[s] (threads now in s) and d[s] (minus the sum of the
 * entry times of open intervals plus the sum of closed intervals). The thread-time spent in s
 * from the start up to any instant T is then d[s] + n[s] * T, so userspace gets exact
 * per-window integrals (a thread blocked for 10 s shows 1 s per 1 s window, not 10 s at the
 * end) from add-only per-CPU counters, without any lock. */
#ifndef LOADSCOPE_BPF_COMMON_H
#define LOADSCOPE_BPF_COMMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MAX_REPLICAS 16
#define REPLICA_NONE 0xffffffffu

/* Accounting states of a thread. The first two are running and runnable; the rest are the
 * off-CPU reasons (see sched.bpf.c: off_reason() for how a reason is chosen). */
enum acc_state {
    ACC_ONCPU = 0,
    ACC_RUNQ,
    ACC_OFF_LOCK,       /* futex: a lock, condition variable, queue.get(), join */
    ACC_OFF_DOWNSTREAM, /* read/recv/connect on a non-client socket or pipe: DB, queue, API */
    ACC_OFF_DISK,       /* uninterruptible sleep (block I/O, page faults), fsync, file reads */
    ACC_OFF_SLEEP,      /* nanosleep, clock_nanosleep */
    ACC_OFF_IDLE,       /* waiting for work: epoll/poll/select/accept, read on a client socket */
    ACC_OFF_OTHER,      /* anything else (wait4, pause, blocked send, signals, ...) */
    ACC_COUNT,
    ACC_NONE = 0xff /* not accounted yet (just created) or exited */
};

#define ACC_OFF_FIRST ACC_OFF_LOCK
#define OFF_REASON_COUNT (ACC_COUNT - ACC_OFF_FIRST)

/* log2 histograms: slot i counts values v with 2^(i-1) <= v < 2^i ns (slot 0: v == 0), the
 * last slot everything above. 40 slots reach 2^39 ns ~ 9 minutes. */
#define LOG2_SLOTS 40

/* Window slots: per-window maxima and distinct-thread marks live in a ring of WINDOW_SLOTS
 * slots per replica indexed by window number; userspace reads and clears a slot once its
 * window is over (the ring is long enough that the kernel never writes it meanwhile). */
#define WINDOW_SLOTS 4

/* Counters of things the kernel side could not record (never silent: reported as losses). */
enum trace_counter {
    CNT_RB_LOST_SPAN = 0, /* ring buffer full: a span record was dropped */
    CNT_RB_LOST_HEAD,     /* ring buffer full: a request head record was dropped */
    CNT_CONN_MAP_FULL,    /* a connection could not be tracked (conns map full) */
    CNT_SYSCALL_MAP_FULL, /* a (replica, syscall) pair could not get stats (map full) */
    CNT_STACK_LOST,       /* a profile sample lost its stack (stack map full or collision) */
    CNT_PROFILE_MAP_FULL, /* a profile sample could not be counted (counts map full) */
    CNT_THREAD_STORAGE,   /* a new thread could not get per-thread storage */
    CNT_SAMPLES,          /* profile samples taken in traced threads (not a loss) */
    CNT_HOST_SYSCALLS,    /* syscalls on the whole host while the per-syscall hooks ran */
    CNT_COUNT
};

#endif
