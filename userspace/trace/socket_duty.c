#include "trace/socket_duty.h"

#include <math.h>
#include <string.h>

int socket_budget_parse(const char *text, double *out, struct error *err)
{
    return duty_budget_parse("socket-budget", text, out, err);
}

void socket_duty_init(struct socket_duty *d, double budget, uint64_t now_ns)
{
    memset(d, 0, sizeof(*d));
    d->budget = budget;
    d->period = 1;
    d->max_period = 1;
    d->on = true;
    d->on_since_ns = now_ns;
    d->on_at_ns = now_ns;
}

uint64_t socket_duty_window(struct socket_duty *d, uint64_t end_ns)
{
    uint64_t ns = d->window_on_ns;
    if (d->on && end_ns > d->on_since_ns) {
        ns += end_ns - d->on_since_ns;
        d->on_since_ns = end_ns;
    }
    d->window_on_ns = 0;
    return ns;
}

static uint64_t scaled(uint64_t v, double f) { return (uint64_t)llround((double)v * f); }

void socket_duty_scale(struct replica_window *w, uint64_t on_ns)
{
    uint64_t len = w->end_ns - w->start_ns;
    if (!on_ns || on_ns >= len)
        return;
    double f = (double)len / (double)on_ns;
    w->requests = scaled(w->requests, f);
    w->recvq_wait_ns = scaled(w->recvq_wait_ns, f);
    for (int i = 0; i < WINDOW_HIST_SLOTS; i++)
        w->recvq_hist[i] = (uint32_t)scaled(w->recvq_hist[i], f);
    w->spans_skipped = scaled(w->spans_skipped, f);
    w->bytes_in = scaled(w->bytes_in, f);
    w->bytes_out = scaled(w->bytes_out, f);
    w->downstream_bytes_in = scaled(w->downstream_bytes_in, f);
    w->downstream_bytes_out = scaled(w->downstream_bytes_out, f);
}

void socket_duty_next(struct socket_duty *d, uint64_t requests, uint64_t oncpu_ns,
                      uint64_t window_ns, uint64_t now_ns)
{
    /* against at least half a core: a replica using less is not short of CPU, and its
     * requests keep a span each (the per-request join) up to thousands per second */
    d->share = duty_cost_share(requests, SOCKET_HOOK_COST_NS, oncpu_ns, window_ns, 2);
    d->period = d->budget > 0 ? duty_period(d->share, d->budget) : 1;
    if (d->period > d->max_period)
        d->max_period = d->period;
    if (d->share > d->max_share)
        d->max_share = d->share;
    if (d->period == 1) {
        d->on_at_ns = now_ns;
        d->off_at_ns = 0;
        return;
    }
    uint64_t on_ns = window_ns / d->period;
    d->on_at_ns = now_ns + (window_ns - on_ns) / 2;
    d->off_at_ns = d->on_at_ns + on_ns;
}

bool socket_duty_wanted(const struct socket_duty *d, uint64_t now_ns)
{
    return now_ns >= d->on_at_ns && (!d->off_at_ns || now_ns < d->off_at_ns);
}

void socket_duty_switched(struct socket_duty *d, bool on, uint64_t now_ns)
{
    if (on == d->on)
        return;
    if (on)
        d->on_since_ns = now_ns;
    else if (now_ns > d->on_since_ns)
        d->window_on_ns += now_ns - d->on_since_ns;
    d->on = on;
}

uint64_t socket_duty_next_switch(const struct socket_duty *d, uint64_t now_ns, uint64_t limit)
{
    uint64_t at = d->on ? d->off_at_ns : d->on_at_ns;
    return at > now_ns && at < limit ? at : limit;
}
