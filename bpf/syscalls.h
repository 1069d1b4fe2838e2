/* Per-replica syscall counts and latency histograms (syscalls.bpf.c writes, userspace reads
 * and takes differences per window). */
#ifndef LOADSCOPE_BPF_SYSCALLS_H
#define LOADSCOPE_BPF_SYSCALLS_H

#include "common.h"

#define SYSCALL_NR_MAX 512 /* x86-64 numbers are < 500 */

struct syscall_key {
    __u32 replica;
    __u32 nr;
};

/* Per CPU (BPF_MAP_TYPE_PERCPU_HASH), cumulative. */
struct syscall_stat {
    __u64 count;
    __u64 total_ns;
    __u64 hist[LOG2_SLOTS];
};

#endif
