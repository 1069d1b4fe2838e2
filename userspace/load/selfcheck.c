#include "load/selfcheck.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/clock.h"

static uint64_t process_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NS_PER_SEC +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NS_PER_US;
}

void selfcheck_init(struct selfcheck *c, unsigned threads, uint64_t now_ns)
{
    memset(c, 0, sizeof(*c));
    c->threads = threads;
    c->start_ns = c->last_ns = now_ns;
    c->start_process_cpu_ns = process_cpu_ns();
}

static void sample(struct selfcheck *c, const struct engine_pool *p, bool open_loop,
                   uint64_t now_ns, double *busy, double *late_share)
{
    uint64_t wall = now_ns - c->last_ns;
    *busy = 0;
    for (unsigned i = 0; i < c->threads && i < SCENARIO_MAX_THREADS; i++) {
        uint64_t cpu = engine_pool_thread_cpu_ns(p, i);
        double share = wall ? (double)(cpu - c->last_thread_cpu[i]) / (double)wall : 0;
        if (cpu >= c->last_thread_cpu[i] && share > *busy)
            *busy = share;
        c->last_thread_cpu[i] = cpu;
    }
    struct engine_counters ctr;
    engine_pool_counters(p, &ctr);
    uint64_t sent = ctr.started - c->last_started, late = ctr.late - c->last_late;
    *late_share = open_loop && sent ? (double)late / (double)sent : 0;
    if (open_loop) {
        c->sends = ctr.started;
        c->late_sends = ctr.late;
        c->last_behind_ns = ctr.behind_ns;
        if (ctr.behind_ns > c->max_behind_ns)
            c->max_behind_ns = ctr.behind_ns;
    }
    c->last_started = ctr.started;
    c->last_late = ctr.late;
    c->last_ns = now_ns;
    c->samples++;
    if (*busy > c->max_thread_busy)
        c->max_thread_busy = *busy;
}

bool selfcheck_sample(struct selfcheck *c, const struct engine_pool *p, bool open_loop,
                      uint64_t now_ns, char *msg, size_t len)
{
    if (now_ns <= c->last_ns + 100 * NS_PER_MS)
        return false;
    double busy, late_share;
    sample(c, p, open_loop, now_ns, &busy, &late_share);
    if (busy > SELFCHECK_CPU_LIMIT) {
        c->busy_samples++;
        c->cpu_saturated = true;
        snprintf(msg, len, "warning: the load generator is saturated (an engine thread at %.0f%% "
                           "CPU): latencies include its own queueing; add --threads",
                 busy * 100);
        return true;
    }
    if (late_share > SELFCHECK_LATE_LIMIT) {
        c->fell_behind = true;
        snprintf(msg, len, "warning: %.1f%% of sends went out more than 1 ms late (now %.0f ms "
                           "behind schedule): raise -c/--connections or --threads",
                 late_share * 100, (double)c->last_behind_ns / 1e6);
        return true;
    }
    return false;
}

void selfcheck_finish(struct selfcheck *c, const struct engine_pool *p, bool open_loop,
                      uint64_t now_ns)
{
    double busy, late_share;
    if (now_ns > c->last_ns + 100 * NS_PER_MS)
        sample(c, p, open_loop, now_ns, &busy, &late_share);
    uint64_t wall = now_ns - c->start_ns;
    c->process_cores = wall ? (double)(process_cpu_ns() - c->start_process_cpu_ns) / (double)wall : 0;
    if (open_loop && c->sends && (double)c->late_sends / (double)c->sends > SELFCHECK_LATE_LIMIT)
        c->fell_behind = true;
}

int selfcheck_warnings(const struct selfcheck *c, char lines[2][256])
{
    int n = 0;
    if (c->cpu_saturated)
        snprintf(lines[n++], 256, "the load generator was CPU-saturated (busiest engine thread "
                                  "at %.0f%% of a core in %llu of %llu samples): add --threads",
                 c->max_thread_busy * 100, (unsigned long long)c->busy_samples,
                 (unsigned long long)c->samples);
    if (c->fell_behind) {
        char behind[64] = "";
        if (c->max_behind_ns >= NS_PER_MS)
            snprintf(behind, sizeof(behind), ", behind schedule by up to %.0f ms",
                     (double)c->max_behind_ns / 1e6);
        snprintf(lines[n++], 256, "%llu of %llu sends went out more than 1 ms late%s: raise "
                                  "-c/--connections or --threads",
                 (unsigned long long)c->late_sends, (unsigned long long)c->sends, behind);
    }
    return n;
}
