// SPDX-License-Identifier: GPL-2.0
/* Not part of the tracer: a yardstick for tools/bench/bench_trace.sh. Empty programs on the
 * tracepoints that every request of a traced server and every context switch of the host go
 * through (the socket hooks of sockets.bpf.c, the scheduler hooks of sched.bpf.c), attached
 * the same way (tp_btf). What they cost a server is the floor of loadscope's design on the
 * machine: the price of running a program at all on those events, whatever it does. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_recv, struct sock *sk, int ret, int flags) { return 0; }

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_send, struct sock *sk, int ret, int flags) { return 0; }

SEC("tp_btf/sk_data_ready")
int BPF_PROG(floor_data_ready, const struct sock *sk) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(floor_wakeup, struct task_struct *p) { return 0; }
