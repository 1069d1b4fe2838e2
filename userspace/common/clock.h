/* One clock for the whole tool: CLOCK_MONOTONIC in nanoseconds, the same clock that
 * bpf_ktime_get_ns() reads in the kernel, so client and server timestamps compare directly. */
#ifndef LOADSCOPE_COMMON_CLOCK_H
#define LOADSCOPE_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_SEC 1000000000ULL

static inline uint64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Wall-clock seconds since the epoch (for CSV timestamps and report headers only). */
static inline double clock_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
