// SPDX-License-Identifier: GPL-2.0
/* Scheduler accounting per thread and per replica: on-CPU, run-queue wait, off-CPU by reason
 * (common.h explains the integral counters, syscall_nr.h the reasons), context switches,
 * thread and process counts, and fork/exit following.
 *
 * Attach modes (chosen by the loader, userspace/trace/loader.c):
 *  - tp_btf (full): the switch, wakeup and fork hooks get the other task's pointer, so run-queue
 *    wait starts at the wakeup and a forked thread gets its state at birth;
 *  - raw_tp / classic tracepoint (fallback): only the current task's storage is reachable, so
 *    a thread's switch-in is applied when it next switches out (late switch-in), wakeups are
 *    not seen (the wait after a wakeup counts as off-CPU) and new threads are adopted on first
 *    sight by tgid (cfg_lazy_threads). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "fd.bpf.h"
#include "maps.bpf.h"
#include "syscall_nr.h"

#define LS_TASK_RUNNING 0
#define LS_TASK_UNINTERRUPTIBLE 0x2
#define LS_TASK_DEAD 0x80
#define LS_TASK_NOLOAD 0x400

/* classic tracepoint prev_state encoding (TASK_REPORT bits) */
#define LS_REPORT_D 0x2
#define LS_REPORT_DEAD 0x30 /* EXIT_DEAD | EXIT_ZOMBIE */
#define LS_REPORT_PREEMPT 0x100

char LICENSE[] SEC("license") = "GPL";

/* Last task switched in on each CPU (fallback modes: late switch-in). */
struct cpu_in {
    __u32 pid;
    __u32 pad;
    __u64 ts;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct cpu_in);
} cpu_ins SEC(".maps");

static __always_inline struct replica_acc *acc_of(const struct thread_state *t)
{
    __u32 r = t->replica;
    return bpf_map_lookup_elem(&replica_accs, &r);
}

/* Moves a thread to another accounting state at `now` (relative integrals: common.h). Runs
 * only with interrupts off (switch, wakeup), see replica_acc. */
static __always_inline void transition(struct thread_state *t, struct replica_acc *a, __u32 to,
                                       __u64 now)
{
    __u32 from = t->state;
    __s64 rel = (__s64)(now - cfg_start_ns);
    if (a) {
        a->seq_begin++;
        asm volatile("" ::: "memory");
        if (from < ACC_COUNT) {
            a->n[from] -= 1;
            a->d[from] += rel;
        }
        if (to < ACC_COUNT) {
            a->n[to] += 1;
            a->d[to] -= rel;
        }
        asm volatile("" ::: "memory");
        a->seq_end = a->seq_begin;
    }
    if (from < ACC_COUNT && now > t->since_ns)
        t->cum_ns[from] += now - t->since_ns;
    t->state = to;
    t->since_ns = now;
}

static __always_inline __u32 off_reason(struct task_struct *task, const struct thread_state *t,
                                        bool uninterruptible)
{
    if (uninterruptible)
        return ACC_OFF_DISK;
    __u64 a0, a1;
    long nr = inflight_syscall(task, &a0, &a1);
    if (nr < 0)
        return ACC_OFF_OTHER;
    __u8 c = syscall_block_class(nr);
    if (c != SC_BY_FD)
        return c;
    struct file *f = fd_file(task, (long)a0);
    __u32 type = file_type(f);
    if (type == LS_S_IFSOCK) {
        struct sock *sk = file_sock(f);
        __u16 port = sk ? sock_local_port(sk) : 0;
        if (port && port_replica(port) != REPLICA_NONE)
            return ACC_OFF_IDLE;
        return ACC_OFF_DOWNSTREAM;
    }
    if (type == LS_S_IFIFO)
        return ACC_OFF_DOWNSTREAM;
    if (type == LS_S_IFREG || type == LS_S_IFBLK)
        return ACC_OFF_DISK;
    return ACC_OFF_OTHER;
}

static __always_inline void switch_in(struct thread_state *t, struct replica_acc *a, __u64 now)
{
    if (a && t->state == ACC_RUNQ && now > t->since_ns) {
        __u32 slot = log2_slot(now - t->since_ns);
        a->runq_count++;
        if (slot < LOG2_SLOTS)
            a->runq_hist[slot]++;
    }
    transition(t, a, ACC_ONCPU, now);
    mark_busy(t, now);
}

/* kind: 0 runnable (preempted), 1 blocked interruptible, 2 blocked uninterruptible, 3 dead */
static __always_inline void switch_out(struct task_struct *task, struct thread_state *t, int kind,
                                       __u64 now)
{
    struct replica_acc *a = acc_of(t);
    __u32 to;
    if (kind == 3)
        to = ACC_NONE;
    else if (kind == 0)
        to = ACC_RUNQ;
    else
        to = off_reason(task, t, kind == 2);
    if (a) {
        a->switches++;
        if (kind == 0)
            a->involuntary++;
    }
    transition(t, a, to, now);
}

static __always_inline int raw_state_kind(bool preempt, unsigned int st)
{
    if (preempt || st == LS_TASK_RUNNING)
        return 0;
    if (st & LS_TASK_DEAD)
        return 3;
    if ((st & LS_TASK_UNINTERRUPTIBLE) && !(st & LS_TASK_NOLOAD))
        return 2;
    return 1;
}

/* ---- full mode ------------------------------------------------------------------------- */

/* Not every context switch reaches the sched_switch tracepoint: on this kernel (6.18) a task
 * is now and then switched back in after another one with no event between (ftrace shows the
 * same), so a switch-out finds it still in the run queue, or a switch-in finds it still on a
 * CPU. The task's own CPU clock, exact and kept by the scheduler, tells how long it really
 * ran in such a gap: the repair places that run at the gap's end (a missed switch-in) or its
 * start (a missed switch-out). */
static __always_inline __u64 task_exec_ns(struct task_struct *task)
{
    return task->se.sum_exec_runtime;
}

/* After each switch the tracer saw: the clock the next repair starts from. */
static __always_inline void note_switch(struct thread_state *t, __u64 exec)
{
    t->exec_ns = exec;
    t->woken_ns = 0;
}

/* At a switch-out: the thread is not accounted on the CPU it is leaving. */
static __always_inline void repair_missed_switch_in(struct thread_state *t, __u64 exec,
                                                    __u64 now)
{
    if (t->state == ACC_ONCPU || exec < t->exec_ns)
        return;
    __u64 ran = exec - t->exec_ns, in = now - ran;
    if (ran > now || in < t->since_ns)
        in = t->since_ns;
    switch_in(t, acc_of(t), in);
}

/* At a switch-in: the thread is still accounted on a CPU. It left at since + what it ran;
 * until its wake-up (if one was seen) it was blocked, for a reason no event recorded. */
static __always_inline void repair_missed_switch_out(struct thread_state *t, __u64 exec,
                                                     __u64 now)
{
    if (t->state != ACC_ONCPU || exec < t->exec_ns)
        return;
    struct replica_acc *a = acc_of(t);
    __u64 out = t->since_ns + (exec - t->exec_ns);
    if (out > now || out < t->since_ns)
        out = now;
    if (a)
        a->switches++;
    if (t->woken_ns > out && t->woken_ns <= now) {
        transition(t, a, ACC_OFF_OTHER, out);
        transition(t, a, ACC_RUNQ, t->woken_ns);
    } else {
        transition(t, a, ACC_RUNQ, out);
    }
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    __u64 now = 0;
    struct thread_state *t = thread_of(prev);
    if (t) {
        __u64 exec = task_exec_ns(prev);
        now = bpf_ktime_get_ns();
        repair_missed_switch_in(t, exec, now);
        switch_out(prev, t, raw_state_kind(preempt, prev_state), now);
        note_switch(t, exec);
    }
    t = thread_of(next);
    if (t) {
        __u64 exec = task_exec_ns(next);
        if (!now)
            now = bpf_ktime_get_ns();
        repair_missed_switch_out(t, exec, now);
        switch_in(t, acc_of(t), now);
        note_switch(t, exec);
    }
    return 0;
}

static __always_inline void on_wakeup(struct task_struct *p)
{
    struct thread_state *t = thread_of(p);
    if (!t || t->state == ACC_RUNQ)
        return;
    /* on a CPU: woken before it slept, or it left with no event (repair_missed_switch_out) */
    if (t->state == ACC_ONCPU) {
        t->woken_ns = bpf_ktime_get_ns();
        return;
    }
    transition(t, acc_of(t), ACC_RUNQ, bpf_ktime_get_ns());
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup_btf, struct task_struct *p)
{
    on_wakeup(p);
    return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new_btf, struct task_struct *p)
{
    on_wakeup(p);
    return 0;
}

static __always_inline void adopt_process(__u32 tgid, __u32 replica)
{
    bpf_map_update_elem(&tgid_replica, &tgid, &replica, BPF_ANY);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork_btf, struct task_struct *parent, struct task_struct *child)
{
    struct thread_state *pt = thread_of(parent);
    if (!pt)
        return 0;
    struct thread_state *ct =
        bpf_task_storage_get(&threads, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!ct) {
        count_event(CNT_THREAD_STORAGE);
        return 0;
    }
    __u32 pid = child->pid, tgid = child->tgid;
    ct->replica = pt->replica;
    ct->tgid = tgid;
    ct->state = ACC_NONE;
    ct->sc_nr = -1;
    procs_add(pt->replica, 1, pid == tgid, 0);
    if (pid == tgid)
        adopt_process(tgid, pt->replica);
    return 0;
}

static __always_inline void on_exit(struct task_struct *p)
{
    struct thread_state *t = thread_of(p);
    if (!t)
        return;
    bool group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
    procs_add(t->replica, -1, 0, group_dead);
    if (group_dead) {
        __u32 tgid = t->tgid;
        bpf_map_delete_elem(&tgid_replica, &tgid);
    }
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit_btf, struct task_struct *p)
{
    /* Its accounting closes here: were its last switch-out to pass with no event, it would
     * stay on a CPU until the end. That switch-out adds the few microseconds between. */
    struct thread_state *t = thread_of(p);
    if (t) {
        __u64 exec = task_exec_ns(p), now = bpf_ktime_get_ns();
        repair_missed_switch_in(t, exec, now);
        transition(t, acc_of(t), ACC_NONE, now);
        note_switch(t, exec);
    }
    on_exit(p);
    return 0;
}

/* ---- fallback modes: only the current task's storage is reachable ------------------------ */

static __always_inline void late_switch(int kind, __u32 next_pid)
{
    __u32 zero = 0;
    __u64 now = bpf_ktime_get_ns();
    struct cpu_in *in = bpf_map_lookup_elem(&cpu_ins, &zero);
    struct task_struct *cur = bpf_get_current_task_btf();
    struct thread_state *t = current_thread(cur);
    if (t) {
        __u32 pid = (__u32)bpf_get_current_pid_tgid();
        if (in && in->pid == pid && t->state != ACC_ONCPU && in->ts <= now)
            switch_in(t, acc_of(t), in->ts);
        switch_out(cur, t, kind, now);
    }
    if (in) {
        in->pid = next_pid;
        in->ts = now;
    }
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sched_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state)
{
    late_switch(raw_state_kind(preempt, prev_state), BPF_CORE_READ(next, pid));
    return 0;
}

SEC("tp/sched/sched_switch")
int sched_switch_tp(struct trace_event_raw_sched_switch *ctx)
{
    long st = ctx->prev_state;
    int kind = 1;
    if (st == 0 || (st & LS_REPORT_PREEMPT))
        kind = 0;
    else if (st & LS_REPORT_DEAD)
        kind = 3;
    else if (st & LS_REPORT_D)
        kind = 2;
    late_switch(kind, (__u32)ctx->next_pid);
    return 0;
}

/* Fallback fork: record new processes by tgid; their threads are adopted on first sight. */
static __always_inline void fork_by_tgid(__u32 child_pid, __u32 child_tgid)
{
    struct thread_state *pt = current_thread(bpf_get_current_task_btf());
    if (!pt || child_pid != child_tgid)
        return;
    procs_add(pt->replica, 0, 1, 0);
    adopt_process(child_tgid, pt->replica);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(sched_process_fork_raw, struct task_struct *parent, struct task_struct *child)
{
    fork_by_tgid(BPF_CORE_READ(child, pid), BPF_CORE_READ(child, tgid));
    return 0;
}

/* sched_process_exit runs in the exiting task: the current task in every mode. */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(sched_process_exit_raw)
{
    on_exit(bpf_get_current_task_btf());
    return 0;
}

SEC("tp/sched/sched_process_exit")
int sched_process_exit_tp(void *ctx)
{
    on_exit(bpf_get_current_task_btf());
    return 0;
}
