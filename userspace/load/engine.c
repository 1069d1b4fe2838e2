/* The engine's scheduling (load/engine.h): which slot starts which request when, and what
 * happens when it ends. The bytes go through a transport (load/transport.h). */
#include "load/engine.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "load/transport.h"

enum slot_state { SLOT_IDLE, SLOT_WAITING, SLOT_IN_FLIGHT };
enum command { CMD_NONE, CMD_STOP, CMD_ABORT };

/* A user (closed model) or a connection (open model): at most one request in flight. */
struct slot {
    uint32_t index;
    uint32_t user; /* closed model: global user index */
    uint8_t state;
    uint32_t heap_pos;
    uint64_t wake_ns; /* SLOT_WAITING: when the think time ends */
    struct client_record rec;
};

struct engine {
    struct engine_config cfg;
    const struct scenario *sc;
    const struct transport_ops *ops;
    struct transport *transport;
    int epfd, wakefd;
    struct slot *slots;
    uint32_t slot_count;
    uint32_t *heap; /* SLOT_WAITING slots by wake_ns */
    uint32_t heap_len;
    uint32_t *free_slots; /* open model: idle connections */
    uint32_t free_len;
    struct wrr hosts_wrr, endpoints_wrr;
    struct rng rng;
    uint64_t seq;
    uint64_t started;
    uint64_t in_flight;
    unsigned target;   /* closed: users wanted now (global) */
    uint64_t next_k;   /* open: next request index of this thread */
    uint64_t next_due; /* open: its absolute due time */
    bool schedule_done;
    bool stopping;
    uint64_t grace_deadline;
    bool failed;
    struct error fail;
    _Atomic int command;
    struct {
        _Atomic uint64_t started, completed, aborted, in_flight, late, behind, users;
    } ctr;
    _Atomic uint64_t final_cpu_ns;
};

static void set_counter(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, v, memory_order_relaxed);
}

static void bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ---- the waiting-users heap (closed model) ----------------------------------------------- */

static bool heap_less(struct engine *e, uint32_t a, uint32_t b)
{
    return e->slots[e->heap[a]].wake_ns < e->slots[e->heap[b]].wake_ns;
}

static void heap_swap(struct engine *e, uint32_t a, uint32_t b)
{
    uint32_t t = e->heap[a];
    e->heap[a] = e->heap[b];
    e->heap[b] = t;
    e->slots[e->heap[a]].heap_pos = a;
    e->slots[e->heap[b]].heap_pos = b;
}

static void heap_push(struct engine *e, struct slot *s)
{
    uint32_t i = e->heap_len++;
    e->heap[i] = s->index;
    s->heap_pos = i;
    while (i > 0 && heap_less(e, i, (i - 1) / 2)) {
        heap_swap(e, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct slot *heap_pop(struct engine *e)
{
    struct slot *top = &e->slots[e->heap[0]];
    e->heap_len--;
    if (e->heap_len > 0) {
        heap_swap(e, 0, e->heap_len);
        uint32_t i = 0;
        for (;;) {
            uint32_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < e->heap_len && heap_less(e, l, m))
                m = l;
            if (r < e->heap_len && heap_less(e, r, m))
                m = r;
            if (m == i)
                break;
            heap_swap(e, i, m);
            i = m;
        }
    }
    return top;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void start_request(struct engine *e, struct slot *s, uint64_t intended, uint64_t now)
{
    uint16_t host = (uint16_t)wrr_next(&e->hosts_wrr);
    uint16_t endpoint = (uint16_t)wrr_next(&e->endpoints_wrr);
    struct client_record *r = &s->rec;
    memset(r, 0, sizeof(*r));
    r->request_id = ((uint64_t)e->cfg.thread_index << 56) | ++e->seq;
    r->intended_ns = intended;
    r->start_ns = now;
    r->endpoint = endpoint;
    r->host = host;
    r->thread = (uint8_t)e->cfg.thread_index;
    r->users = e->sc->open_loop ? 0 : e->target;
    const struct scenario_endpoint *ep = &e->sc->endpoints[endpoint];
    r->bytes_out = ep->body_len > UINT32_MAX ? UINT32_MAX : (uint32_t)ep->body_len;
    s->state = SLOT_IN_FLIGHT;
    e->started++;
    e->in_flight++;
    if (now > intended + ENGINE_LATE_NS)
        bump(&e->ctr.late);
    if (e->ops->start(e->transport, s->index, r, now, &e->fail) < 0)
        e->failed = true;
}

static bool quota_reached(const struct engine *e)
{
    return e->cfg.max_requests && e->started >= e->cfg.max_requests;
}

/* Closed model: what a user does after a response (Locust: wait, then the next task). */
static void user_next(struct engine *e, struct slot *s, uint64_t now)
{
    if (e->stopping || quota_reached(e) || s->user >= e->target || e->failed) {
        s->state = SLOT_IDLE;
        return;
    }
    uint64_t wait = schedule_wait_ns(&e->sc->wait, &e->rng);
    if (wait == 0) {
        start_request(e, s, now, now);
        return;
    }
    s->state = SLOT_WAITING;
    s->wake_ns = now + wait;
    heap_push(e, s);
}

/* The transport finished slot's request (transport_done_fn). */
static void on_done(void *engine, uint32_t slot, uint64_t now)
{
    struct engine *e = engine;
    struct slot *s = &e->slots[slot];
    e->in_flight--;
    bump(&e->ctr.completed);
    e->cfg.on_record(e->cfg.ctx, &s->rec);
    if (e->sc->open_loop) {
        s->state = SLOT_IDLE;
        e->free_slots[e->free_len++] = s->index;
    } else {
        user_next(e, s, now);
    }
}

/* Starts what is due at `now`: users that (re)joined, users whose think time ended, or the
 * open model's scheduled sends while a connection is free. */
static void drive(struct engine *e, uint64_t now)
{
    uint64_t t = now > e->cfg.start_ns ? now - e->cfg.start_ns : 0;
    if (!e->sc->open_loop) {
        unsigned target = schedule_users_at(e->cfg.schedule, t);
        if (target != e->target) {
            e->target = target;
            for (uint32_t i = 0; i < e->slot_count && !quota_reached(e); i++) {
                struct slot *s = &e->slots[i];
                if (s->user >= target)
                    break;
                if (s->state == SLOT_IDLE)
                    start_request(e, s, now, now);
            }
        }
        while (e->heap_len > 0 && e->slots[e->heap[0]].wake_ns <= now) {
            struct slot *s = heap_pop(e);
            s->state = SLOT_IDLE;
            if (s->user < e->target && !quota_reached(e))
                start_request(e, s, now, now);
        }
        return;
    }
    while (!e->schedule_done && e->next_due <= now && e->free_len > 0 && !quota_reached(e)) {
        struct slot *s = &e->slots[e->free_slots[--e->free_len]];
        start_request(e, s, e->next_due, now);
        e->next_k += e->cfg.thread_count;
        uint64_t due;
        if (!schedule_send_time(e->cfg.schedule, e->next_k, &due))
            e->schedule_done = true;
        else
            e->next_due = e->cfg.start_ns + due;
        if (e->cfg.end_ns && e->next_due >= e->cfg.end_ns)
            e->schedule_done = true;
    }
    set_counter(&e->ctr.behind,
                !e->schedule_done && e->next_due < now ? now - e->next_due : 0);
}

static void abort_all(struct engine *e)
{
    for (uint32_t i = 0; i < e->slot_count; i++) {
        struct slot *s = &e->slots[i];
        if (s->state != SLOT_IN_FLIGHT)
            continue;
        e->ops->abort(e->transport, s->index);
        s->state = SLOT_IDLE;
        e->in_flight--;
        bump(&e->ctr.aborted);
    }
    e->heap_len = 0;
}

/* True when nothing more will be started. */
static bool should_stop(struct engine *e, uint64_t now, bool *graceful)
{
    *graceful = true;
    if (atomic_load_explicit(&e->command, memory_order_relaxed) != CMD_NONE)
        return true;
    if (e->cfg.end_ns && now >= e->cfg.end_ns)
        return true;
    uint64_t t = now > e->cfg.start_ns ? now - e->cfg.start_ns : 0;
    if (t >= e->cfg.schedule->end_ns)
        return true;
    if (e->sc->open_loop && e->schedule_done && e->in_flight == 0)
        return true;
    if (quota_reached(e)) {
        *graceful = false; /* the last requests finish (their timeout bounds it) */
        return true;
    }
    return false;
}

static void begin_stop(struct engine *e, uint64_t now, bool graceful)
{
    e->stopping = true;
    e->grace_deadline = graceful ? now + e->sc->stop_timeout_ns : UINT64_MAX;
    e->heap_len = 0;
    for (uint32_t i = 0; i < e->slot_count; i++)
        if (e->slots[i].state == SLOT_WAITING)
            e->slots[i].state = SLOT_IDLE;
}

static uint64_t next_wake(struct engine *e, uint64_t now)
{
    uint64_t wake = e->ops->deadline(e->transport);
    if (e->stopping)
        return wake < e->grace_deadline ? wake : e->grace_deadline;
    if (e->cfg.end_ns && e->cfg.end_ns < wake)
        wake = e->cfg.end_ns;
    uint64_t end = e->cfg.schedule->end_ns;
    if (end != UINT64_MAX && e->cfg.start_ns + end < wake)
        wake = e->cfg.start_ns + end;
    if (e->sc->open_loop) {
        if (!e->schedule_done && e->free_len > 0 && e->next_due < wake)
            wake = e->next_due;
    } else {
        if (e->heap_len > 0 && e->slots[e->heap[0]].wake_ns < wake)
            wake = e->slots[e->heap[0]].wake_ns;
        /* While the user count ramps, look again every 5 ms. */
        uint64_t t = now > e->cfg.start_ns ? now - e->cfg.start_ns : 0;
        if (now < e->cfg.start_ns)
            wake = wake < e->cfg.start_ns ? wake : e->cfg.start_ns;
        else if (schedule_level_at(e->cfg.schedule, t) !=
                     schedule_level_at(e->cfg.schedule, t + 5 * NS_PER_MS) &&
                 now + 5 * NS_PER_MS < wake)
            wake = now + 5 * NS_PER_MS;
    }
    return wake;
}

/* Closed model: how many of this engine's users the current target covers. */
static uint64_t local_users(const struct engine *e)
{
    if (e->sc->open_loop || e->target <= e->cfg.thread_index)
        return 0;
    uint64_t n = (e->target - e->cfg.thread_index + e->cfg.thread_count - 1) / e->cfg.thread_count;
    return n < e->slot_count ? n : e->slot_count;
}

static void dispatch(struct engine *e, struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == TRANSPORT_TAG_ENGINE) {
            uint64_t v;
            if (read(e->wakefd, &v, sizeof(v)) < 0) { /* nothing to do: the flag is read */ }
            continue;
        }
        e->ops->event(e->transport, ev[i].data.u64, ev[i].events);
    }
}

static void epoll_timeout(uint64_t wake, uint64_t now, struct timespec *ts, struct timespec **tsp)
{
    *tsp = NULL;
    if (wake == UINT64_MAX)
        return;
    uint64_t d = wake > now ? wake - now : 0;
    ts->tv_sec = (time_t)(d / NS_PER_SEC);
    ts->tv_nsec = (long)(d % NS_PER_SEC);
    *tsp = ts;
}

int engine_run(struct engine *e, struct error *err)
{
    prctl(PR_SET_TIMERSLACK, 1UL); /* open-model sends are due to the microsecond */
    char name[16];
    snprintf(name, sizeof(name), "ls-engine-%u", e->cfg.thread_index);
    prctl(PR_SET_NAME, name); /* per-thread CPU in top, perf and the benchmark */
    struct epoll_event events[256];
    if (e->sc->open_loop) {
        uint64_t due;
        e->next_k = e->cfg.thread_index;
        e->schedule_done = !schedule_send_time(e->cfg.schedule, e->next_k, &due);
        e->next_due = e->cfg.start_ns + due;
        if (e->cfg.end_ns && e->next_due >= e->cfg.end_ns)
            e->schedule_done = true;
    }
    /* One clock read per loop turn; the transport reads its own for each request's times. */
    uint64_t now = clock_now_ns();
    for (;;) {
        if (atomic_load_explicit(&e->command, memory_order_relaxed) == CMD_ABORT) {
            abort_all(e);
            break;
        }
        bool graceful;
        if (!e->stopping && should_stop(e, now, &graceful))
            begin_stop(e, now, graceful);
        if (e->stopping) {
            if (e->in_flight == 0)
                break;
            if (now >= e->grace_deadline) {
                abort_all(e);
                break;
            }
        } else if (now >= e->cfg.start_ns) {
            drive(e, now);
        }
        if (e->failed)
            break;
        struct timespec ts, *tsp;
        epoll_timeout(next_wake(e, now), now, &ts, &tsp);
        int n = epoll_pwait2(e->epfd, events, 256, tsp, NULL);
        if (n < 0 && errno != EINTR) {
            error_set(&e->fail, "epoll_pwait2: %s", strerror(errno));
            e->failed = true;
        }
        if (n > 0)
            dispatch(e, events, n);
        now = clock_now_ns();
        e->ops->timers(e->transport, now);
        set_counter(&e->ctr.started, e->started);
        set_counter(&e->ctr.in_flight, e->in_flight);
        set_counter(&e->ctr.users, local_users(e));
        if (e->failed) {
            abort_all(e);
            break;
        }
    }
    set_counter(&e->ctr.started, e->started);
    set_counter(&e->ctr.in_flight, e->in_flight);
    struct timespec cpu;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        set_counter(&e->final_cpu_ns, (uint64_t)cpu.tv_sec * NS_PER_SEC + (uint64_t)cpu.tv_nsec);
    if (e->failed)
        return error_set(err, "engine %u: %s", e->cfg.thread_index, e->fail.msg);
    return 0;
}

void engine_stop(struct engine *e)
{
    int expected = CMD_NONE;
    atomic_compare_exchange_strong(&e->command, &expected, CMD_STOP);
    uint64_t one = 1;
    if (write(e->wakefd, &one, sizeof(one)) < 0) { /* the flag is set; the wake is a hint */ }
}

void engine_abort(struct engine *e)
{
    atomic_store(&e->command, CMD_ABORT);
    uint64_t one = 1;
    if (write(e->wakefd, &one, sizeof(one)) < 0) { /* as above */ }
}

void engine_counters(const struct engine *e, struct engine_counters *out)
{
    out->started = atomic_load_explicit(&e->ctr.started, memory_order_relaxed);
    out->completed = atomic_load_explicit(&e->ctr.completed, memory_order_relaxed);
    out->aborted = atomic_load_explicit(&e->ctr.aborted, memory_order_relaxed);
    out->in_flight = atomic_load_explicit(&e->ctr.in_flight, memory_order_relaxed);
    out->late = atomic_load_explicit(&e->ctr.late, memory_order_relaxed);
    out->behind_ns = atomic_load_explicit(&e->ctr.behind, memory_order_relaxed);
    out->users = atomic_load_explicit(&e->ctr.users, memory_order_relaxed);
}

uint64_t engine_final_cpu_ns(const struct engine *e)
{
    return atomic_load_explicit(&e->final_cpu_ns, memory_order_relaxed);
}

const char *engine_transport_name(const struct engine *e)
{
    return e->ops->name;
}

/* ---- setup ---------------------------------------------------------------------------------- */

static unsigned peak_level(const struct schedule *s)
{
    double peak = 0;
    for (size_t i = 0; i < s->segment_count; i++) {
        if (s->segments[i].from > peak)
            peak = s->segments[i].from;
        if (s->segments[i].to > peak)
            peak = s->segments[i].to;
    }
    return (unsigned)(peak + 0.999999);
}

static unsigned share(unsigned total, unsigned index, unsigned count)
{
    return total / count + (index < total % count ? 1 : 0);
}

static void init_rotation(struct engine *e)
{
    const struct scenario *sc = e->sc;
    unsigned hw[SCENARIO_MAX_HOSTS], ew[SCENARIO_MAX_ENDPOINTS];
    for (size_t h = 0; h < sc->host_count; h++)
        hw[h] = sc->hosts[h].weight;
    for (size_t i = 0; i < sc->endpoint_count; i++)
        ew[i] = sc->endpoints[i].weight;
    wrr_init(&e->hosts_wrr, hw, sc->host_count);
    wrr_init(&e->endpoints_wrr, ew, sc->endpoint_count);
    /* Threads start at different points of the rotation, so few requests per thread still
     * spread over every host and endpoint. */
    for (unsigned k = 0; k < e->cfg.thread_index; k++) {
        wrr_next(&e->hosts_wrr);
        wrr_next(&e->endpoints_wrr);
    }
}

struct engine *engine_create(const struct engine_config *cfg, struct error *err)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (!e) {
        error_set(err, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->sc = cfg->scenario;
    e->ops = cfg->transport ? cfg->transport : transport_for(cfg->scenario);
    e->epfd = e->wakefd = -1;
    rng_seed(&e->rng, clock_now_ns() ^ ((uint64_t)cfg->thread_index << 40));
    unsigned total = e->sc->open_loop ? e->sc->connections : peak_level(cfg->schedule);
    e->slot_count = share(total, cfg->thread_index, cfg->thread_count);
    size_t n = e->slot_count ? e->slot_count : 1;
    e->slots = calloc(n, sizeof(*e->slots));
    e->heap = calloc(n, sizeof(uint32_t));
    e->free_slots = calloc(n, sizeof(uint32_t));
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!e->slots || !e->heap || !e->free_slots || e->epfd < 0 || e->wakefd < 0) {
        error_set(err, "engine setup failed: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TRANSPORT_TAG_ENGINE};
    epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev);
    init_rotation(e);
    for (uint32_t i = 0; i < e->slot_count; i++) {
        struct slot *s = &e->slots[i];
        s->index = i;
        s->user = cfg->thread_index + i * cfg->thread_count;
        s->state = SLOT_IDLE;
        e->free_slots[e->free_len++] = e->slot_count - 1 - i;
    }
    struct transport_config tc = {
        .sc = e->sc,
        .thread_index = cfg->thread_index,
        .slot_count = e->slot_count,
        .epfd = e->epfd,
        .on_done = on_done,
        .engine = e,
    };
    e->transport = e->ops->create(&tc, err);
    if (!e->transport)
        goto fail;
    return e;
fail:
    engine_destroy(e);
    return NULL;
}

void engine_destroy(struct engine *e)
{
    if (!e)
        return;
    if (e->transport)
        e->ops->destroy(e->transport); /* drops requests in flight, closes connections */
    free(e->slots);
    free(e->heap);
    free(e->free_slots);
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->wakefd >= 0)
        close(e->wakefd);
    free(e);
}
