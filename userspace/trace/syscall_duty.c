#include "trace/syscall_duty.h"

#include <string.h>

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

int syscall_budget_parse(const char *text, double *out, struct error *err)
{
    return duty_budget_parse("syscall-budget", text, out, err);
}

void syscall_duty_init(struct syscall_duty *d, double budget, uint64_t now_ns)
{
    memset(d, 0, sizeof(*d));
    d->budget = budget;
    d->period = 1;
    d->on = true;
    d->on_since_ns = now_ns;
    d->window_end_ns = now_ns;
}

uint64_t syscall_duty_window(struct syscall_duty *d, uint64_t start_ns, uint64_t end_ns)
{
    uint64_t ns = d->carried_ns;
    uint64_t from = max_u64(start_ns, d->on_since_ns);
    if (d->on && end_ns > from)
        ns += end_ns - from;
    d->carried_ns = 0;
    d->window_end_ns = end_ns;
    return ns;
}

/* The hooks' cost: the host's syscalls, as a share of the replicas' CPU (at least a tenth
 * of a core). */
static double cost_share(uint64_t syscalls, uint64_t oncpu_ns, uint64_t span_ns)
{
    return duty_cost_share(syscalls, SYSCALL_HOOK_COST_NS, oncpu_ns, span_ns, 10);
}

static unsigned period_for(const struct syscall_duty *d, double share)
{
    return duty_period(share, d->budget);
}

static void set_period(struct syscall_duty *d, unsigned period)
{
    d->period = period;
    d->countdown = period - 1;
}

bool syscall_duty_next(struct syscall_duty *d, uint64_t hooks_ns, uint64_t window_ns,
                       uint64_t syscalls, uint64_t oncpu_ns)
{
    bool sampled = window_ns && hooks_ns * 10 >= window_ns * 9;
    if (sampled)
        d->share = cost_share(syscalls, oncpu_ns, window_ns);
    if (d->budget <= 0) /* always on; the estimate is still reported */
        return true;
    if (sampled)
        set_period(d, period_for(d, d->share));
    else if (d->countdown)
        d->countdown--;
    return d->countdown == 0;
}

bool syscall_duty_early_due(const struct syscall_duty *d, uint64_t now_ns)
{
    uint64_t from = max_u64(d->window_end_ns, d->on_since_ns);
    return d->budget > 0 && d->on && d->period < SYSCALL_DUTY_MAX_PERIOD &&
           now_ns >= from + SYSCALL_DUTY_EARLY_NS;
}

bool syscall_duty_early(struct syscall_duty *d, uint64_t syscalls, uint64_t oncpu_ns,
                        uint64_t now_ns)
{
    if (!syscall_duty_early_due(d, now_ns))
        return false;
    uint64_t from = max_u64(d->window_end_ns, d->on_since_ns);
    double share = cost_share(syscalls, oncpu_ns, now_ns - from);
    unsigned period = period_for(d, share);
    if (period <= d->period)
        return false;
    d->share = share;
    set_period(d, period);
    return true;
}

void syscall_duty_switched(struct syscall_duty *d, bool on, uint64_t now_ns)
{
    if (on == d->on)
        return;
    if (on)
        d->on_since_ns = now_ns;
    else if (now_ns > d->window_end_ns)
        d->carried_ns += now_ns - max_u64(d->window_end_ns, d->on_since_ns);
    d->on = on;
}
