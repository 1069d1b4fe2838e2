#include "load/schedule.h"

#include <math.h>
#include <string.h>

#include "common/clock.h"

static void add_segment(struct schedule *s, uint64_t duration, double from, double to)
{
    struct schedule_segment *seg = &s->segments[s->segment_count++];
    uint64_t start = 0;
    double before = 0;
    if (s->segment_count > 1) {
        const struct schedule_segment *prev = seg - 1;
        start = prev->start_ns + prev->duration_ns;
        before = prev->count_before + (prev->from + prev->to) / 2 * ((double)prev->duration_ns / 1e9);
    }
    seg->start_ns = start;
    seg->duration_ns = duration;
    seg->from = from;
    seg->to = to;
    seg->count_before = before;
}

void schedule_init(struct schedule *s, const struct scenario *sc)
{
    memset(s, 0, sizeof(*s));
    s->open_loop = sc->open_loop;
    if (sc->stage_count > 0) {
        double level = 0;
        for (size_t i = 0; i < sc->stage_count; i++) {
            add_segment(s, sc->stages[i].duration_ns, level, sc->stages[i].target);
            level = sc->stages[i].target;
        }
        const struct schedule_segment *last = &s->segments[s->segment_count - 1];
        s->end_ns = last->start_ns + last->duration_ns;
        return;
    }
    double level = sc->open_loop ? sc->rate : (double)sc->users;
    if (!sc->open_loop && sc->spawn_rate > 0 && sc->users > 0) {
        uint64_t ramp = (uint64_t)((double)sc->users / sc->spawn_rate * 1e9);
        add_segment(s, ramp, 0, level);
    }
    add_segment(s, UINT64_MAX, level, level);
    s->end_ns = UINT64_MAX;
}

static const struct schedule_segment *segment_at(const struct schedule *s, uint64_t t)
{
    for (size_t i = 0; i < s->segment_count; i++) {
        const struct schedule_segment *seg = &s->segments[i];
        if (seg->duration_ns == UINT64_MAX || t < seg->start_ns + seg->duration_ns)
            return seg;
    }
    return NULL;
}

double schedule_level_at(const struct schedule *s, uint64_t t)
{
    const struct schedule_segment *seg = segment_at(s, t);
    if (!seg)
        return 0;
    if (seg->duration_ns == UINT64_MAX || seg->duration_ns == 0 || seg->from == seg->to)
        return seg->to;
    double frac = (double)(t - seg->start_ns) / (double)seg->duration_ns;
    return seg->from + (seg->to - seg->from) * frac;
}

unsigned schedule_users_at(const struct schedule *s, uint64_t t)
{
    double level = schedule_level_at(s, t);
    return level <= 0 ? 0 : (unsigned)floor(level + 1e-9);
}

/* Time into a segment at which `need` more requests are due: solves
 * from*tau + (to-from)*tau^2/(2*D) = need for tau (seconds). Negative: never within it. */
static double solve_in_segment(const struct schedule_segment *seg, double need)
{
    double d = (double)seg->duration_ns / 1e9;
    double a = seg->duration_ns == UINT64_MAX ? 0 : (seg->to - seg->from) / (2 * d);
    double b = seg->from;
    if (fabs(a) < 1e-12)
        return b > 0 ? need / b : -1;
    double disc = b * b + 4 * a * need;
    if (disc < 0)
        return -1;
    return (-b + sqrt(disc)) / (2 * a);
}

bool schedule_send_time(const struct schedule *s, uint64_t k, uint64_t *t_ns)
{
    double want = (double)k;
    for (size_t i = 0; i < s->segment_count; i++) {
        const struct schedule_segment *seg = &s->segments[i];
        double in_seg = (seg->from + seg->to) / 2 * ((double)seg->duration_ns / 1e9);
        bool last = seg->duration_ns == UINT64_MAX;
        if (!last && (seg->duration_ns == 0 || want >= seg->count_before + in_seg))
            continue;
        double tau = solve_in_segment(seg, want - seg->count_before);
        if (tau < 0)
            return false;
        double t = (double)seg->start_ns + tau * 1e9;
        if (!last && t >= (double)(seg->start_ns + seg->duration_ns))
            continue; /* rounding at the segment's end: belongs to the next one */
        if (t > 1.8e19)
            return false;
        *t_ns = (uint64_t)t;
        return true;
    }
    return false;
}

void rng_seed(struct rng *r, uint64_t seed)
{
    r->state = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

uint64_t rng_next(struct rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

uint64_t schedule_wait_ns(const struct scenario_wait *w, struct rng *r)
{
    switch (w->kind) {
    case WAIT_CONSTANT:
        return w->min_ns;
    case WAIT_BETWEEN:
        return w->min_ns + (uint64_t)(rng_unit(r) * (double)(w->max_ns - w->min_ns));
    default:
        return 0;
    }
}

void wrr_init(struct wrr *w, const unsigned *weights, size_t count)
{
    memset(w, 0, sizeof(*w));
    w->count = count;
    for (size_t i = 0; i < count; i++) {
        w->weight[i] = weights[i];
        w->total += weights[i];
    }
}

size_t wrr_next(struct wrr *w)
{
    if (w->count <= 1)
        return 0;
    size_t best = 0;
    for (size_t i = 0; i < w->count; i++) {
        w->current[i] += w->weight[i];
        if (w->current[i] > w->current[best])
            best = i;
    }
    w->current[best] -= w->total;
    return best;
}
