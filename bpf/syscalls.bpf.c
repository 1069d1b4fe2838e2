// SPDX-License-Identifier: GPL-2.0
/* Syscalls of traced threads: per-replica count and latency histogram per syscall number
 * (sys_enter/sys_exit on every syscall of the host), and the two syscalls that tie sockets to
 * replicas: accept (accept-queue wait) and listen (learn a listening port).
 *
 * Cost: the sys_enter/sys_exit hooks put every syscall of the host on the kernel's slow path
 * and run two programs per syscall (an untraced thread costs one load in each: maps.bpf.h,
 * thread_of). Userspace may detach them for a while (trace/syscall_duty.h: a duty cycle that
 * keeps their cost within a budget) and reattach them later; under a duty cycle sys_exit
 * handles accept and listen too (they are a sample then). Without one (--no-syscalls,
 * --all-syscalls) accept and listen have their own tracepoints,
 * syscalls:sys_exit_accept4/accept/listen, where the kernel runs a program for those syscalls
 * only (but they keep every syscall of the host on the slow path). Nothing goes through the
 * ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "conn.bpf.h"
#include "syscall_nr.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "GPL";

/* resized by the loader to replicas * SYSCALL_NR_MAX */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, SYSCALL_NR_MAX);
    __type(key, __u32);
    __type(value, struct syscall_stat);
} syscall_stats SEC(".maps");

/* Bumped by userspace each time it reattaches the sys_enter/sys_exit hooks: a syscall that
 * entered during an earlier attachment exits with an entry time that may be long stale. */
__u32 syscall_epoch = 0;
/* Set by userspace under a duty cycle, or when the accept/listen exit tracepoints could not
 * attach (sys_exit is then never detached): sys_exit handles those two syscalls. */
__u32 exit_handles_accept = 0;

/* The tracer's own process: its syscalls (map reads, polling) are not a cost to the others. */
const volatile __u32 cfg_tracer_tgid = 0;

static __always_inline void on_enter(long nr)
{
    /* every syscall of the host pays for the hooks, not only the replicas': userspace weighs
     * this count (trace/syscall_duty.h). A plain add: sys_enter never nests on a CPU. */
    struct task_struct *cur = bpf_get_current_task_btf();
    if (cur->tgid != cfg_tracer_tgid) {
        __u32 k = CNT_HOST_SYSCALLS;
        __u64 *n = bpf_map_lookup_elem(&counters, &k);
        if (n)
            (*n)++;
    }
    struct thread_state *t = current_thread(cur);
    if (!t)
        return;
    t->sc_nr = (__s32)nr;
    t->sc_epoch = syscall_epoch;
    t->sc_enter_ns = bpf_ktime_get_ns();
}

/* sys_exit programs never nest on a CPU: plain adds on the per-CPU value. */
static __always_inline void count_syscall(__u32 replica, __u32 nr, __u64 lat)
{
    if (nr >= SYSCALL_NR_MAX || replica >= MAX_REPLICAS)
        return;
    __u32 key = replica * SYSCALL_NR_MAX + nr;
    struct syscall_stat *s = bpf_map_lookup_elem(&syscall_stats, &key);
    if (!s)
        return;
    __u32 slot = log2_slot(lat);
    if (slot >= SYSCALL_HIST_SLOTS)
        slot = SYSCALL_HIST_SLOTS - 1;
    s->count++;
    s->total_ns += lat;
    s->hist[slot]++;
}

/* Replicas (bit r) whose client ports are learnt from accept/listen: pid and cgroup
 * replicas. */
const volatile __u32 cfg_learn_ports = 0xffffffff;

static __always_inline bool learns_ports(const struct thread_state *t)
{
    return t->replica < 32 && (cfg_learn_ports & (1u << t->replica));
}

/* accept returned fd: the connection's accept-queue wait ends now. */
static __always_inline void on_accept(struct task_struct *cur, struct thread_state *t, long fd,
                                      __u64 now)
{
    struct sock *sk = fd_sock(cur, fd);
    if (!sk)
        return;
    __u64 key = (__u64)sk;
    struct conn_state *c = bpf_map_lookup_elem(&conns, &key);
    if (!c) {
        /* handshake seen before its port was known (pid/cgroup replicas): learn the port. A
         * port replica knows its port: what else its processes accept (a queue broker's
         * internal port) is not where its clients come in. */
        if (!learns_ports(t))
            return;
        __u16 port = sock_local_port(sk);
        if (!port)
            return;
        set_port_replica(port, t->replica, false);
        c = conn_create(sk, t->replica, 0);
        if (!c)
            return;
    }
    if (c->accept_ns)
        return;
    c->accept_ns = now;
    struct sock_acc *a = sock_acc_task(c->replica);
    if (!a)
        return;
    a->accepts++;
    if (c->established_ns && now > c->established_ns) {
        __u64 wait = now - c->established_ns;
        __u32 slot = log2_slot(wait);
        a->accept_wait_ns += wait;
        if (slot < LOG2_SLOTS)
            a->accept_wait_hist[slot]++;
    }
}

/* listen(fd) succeeded: its port now belongs to the replica (unless the replica is named by
 * its port). */
static __always_inline void on_listen(struct task_struct *cur, struct thread_state *t, long fd)
{
    if (!learns_ports(t))
        return;
    struct sock *sk = fd_sock(cur, fd);
    __u16 port = sk ? sock_local_port(sk) : 0;
    if (port)
        set_port_replica(port, t->replica, true);
}

static __always_inline void accept_or_listen_exit(struct task_struct *cur, struct thread_state *t,
                                                  long nr, long ret)
{
    __u64 fd, unused;
    if ((nr == NR_accept || nr == NR_accept4) && ret >= 0)
        on_accept(cur, t, ret, bpf_ktime_get_ns());
    else if (nr == NR_listen && ret == 0 && inflight_syscall(cur, &fd, &unused) == NR_listen)
        on_listen(cur, t, (long)fd);
}

static __always_inline void on_exit(long ret)
{
    struct task_struct *cur = bpf_get_current_task_btf();
    struct thread_state *t = thread_of(cur);
    if (!t || t->sc_nr < 0)
        return;
    __s32 nr = t->sc_nr;
    t->sc_nr = -1;
    /* entry time 0: in flight when tracing started (seeded), its latency is unknown */
    if (t->sc_epoch == syscall_epoch && t->sc_enter_ns) {
        __u64 now = bpf_ktime_get_ns();
        if (now > t->sc_enter_ns)
            count_syscall(t->replica, (__u32)nr, now - t->sc_enter_ns);
    }
    if (exit_handles_accept)
        accept_or_listen_exit(cur, t, nr, ret);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_btf, struct pt_regs *regs, long id)
{
    on_enter(id);
    return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
    on_exit(ret);
    return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(sys_enter_raw, struct pt_regs *regs, long id)
{
    on_enter(id);
    return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit_raw, struct pt_regs *regs, long ret)
{
    on_exit(ret);
    return 0;
}

SEC("tp/raw_syscalls/sys_enter")
int sys_enter_tp(struct trace_event_raw_sys_enter *ctx)
{
    on_enter(ctx->id);
    return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int sys_exit_tp(struct trace_event_raw_sys_exit *ctx)
{
    on_exit(ctx->ret);
    return 0;
}

/* ---- accept and listen, all session long (attached by userspace, any mode) -------------- */

static __always_inline void exit_of(long nr, long ret)
{
    struct task_struct *cur = bpf_get_current_task_btf();
    struct thread_state *t = thread_of(cur);
    if (t)
        accept_or_listen_exit(cur, t, nr, ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int accept4_exit(struct syscall_trace_exit *ctx)
{
    exit_of(NR_accept4, ctx->ret);
    return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int accept_exit(struct syscall_trace_exit *ctx)
{
    exit_of(NR_accept, ctx->ret);
    return 0;
}

SEC("tp/syscalls/sys_exit_listen")
int listen_exit(struct syscall_trace_exit *ctx)
{
    exit_of(NR_listen, ctx->ret);
    return 0;
}
