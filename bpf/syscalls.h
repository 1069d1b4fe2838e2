/* Per-replica syscall counts and latency histograms (syscalls.bpf.c writes, userspace reads
 * and takes differences per window). */
#ifndef LOADSCOPE_BPF_SYSCALLS_H
#define LOADSCOPE_BPF_SYSCALLS_H

#include "common.h"

#define SYSCALL_NR_MAX 512 /* x86-64 numbers are < 500 */
#define SYSCALL_HIST_SLOTS 32 /* log2 slots up to 2^31 ns (~2 s), the last one open-ended */

/* Per CPU, cumulative, in a per-CPU array indexed replica * SYSCALL_NR_MAX + nr: an array
 * lookup is inlined by the verifier (no hashing on the hottest path). The histogram counters
 * are 32-bit and wrap; userspace takes differences modulo 2^32 each window. */
struct syscall_stat {
    __u64 count;
    __u64 total_ns;
    __u32 hist[SYSCALL_HIST_SLOTS];
};

#endif
