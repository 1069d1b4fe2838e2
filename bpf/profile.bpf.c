// SPDX-License-Identifier: GPL-2.0
/* CPU stack sampling: a perf_event program on a software cpu-clock event per CPU (opened by
 * userspace at --profile-hz). A sample in a traced thread counts its (replica, process, user
 * stack, kernel stack, thread name); other threads return after one pointer check. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "profile.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, 8192);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, PROFILE_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, struct stack_key);
    __type(value, __u64);
} stack_counts SEC(".maps");

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
    struct thread_state *t = thread_of(bpf_get_current_task_btf());
    if (!t)
        return 0;
    struct stack_key key = {};
    key.replica = t->replica;
    key.tgid = t->tgid;
    key.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
    key.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
    if ((key.user_stack < 0 && key.user_stack != -14 /* -EFAULT: kernel thread */) ||
        key.kernel_stack < 0)
        count_event(CNT_STACK_LOST);
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    count_event(CNT_SAMPLES);
    __u64 *n = bpf_map_lookup_elem(&stack_counts, &key);
    if (n) {
        __sync_fetch_and_add(n, 1);
        return 0;
    }
    __u64 one = 1;
    if (bpf_map_update_elem(&stack_counts, &key, &one, BPF_NOEXIST)) {
        n = bpf_map_lookup_elem(&stack_counts, &key);
        if (n)
            __sync_fetch_and_add(n, 1);
        else
            count_event(CNT_PROFILE_MAP_FULL);
    }
    return 0;
}
