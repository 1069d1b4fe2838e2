#include "load/engine.h"

#include <curl/curl.h>
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

enum slot_state { SLOT_IDLE, SLOT_WAITING, SLOT_IN_FLIGHT };
enum command { CMD_NONE, CMD_STOP, CMD_ABORT };
enum { FD_IN = 1, FD_OUT = 2, FD_CURL = 4 }; /* FD_CURL: libcurl watches it */

/* One easy handle: a user (closed model) or a connection (open model). */
struct slot {
    CURL *easy;
    struct engine *engine;
    uint32_t index;
    uint32_t user;     /* closed model: global user index */
    uint8_t state;
    uint32_t heap_pos;
    uint64_t wake_ns;  /* SLOT_WAITING: when the think time ends */
    uint16_t host, endpoint; /* options currently set on the handle */
    struct curl_slist id_header; /* "X-Request-Id: ..." then the endpoint's shared list */
    char id_line[32];
    struct client_record rec;
};

struct engine {
    struct engine_config cfg;
    const struct scenario *sc;
    CURLM *multi;
    int epfd, wakefd;
    struct slot *slots;
    uint32_t slot_count;
    uint32_t *heap; /* SLOT_WAITING slots by wake_ns */
    uint32_t heap_len;
    uint32_t *free_slots; /* open model: idle connections */
    uint32_t free_len;
    uint8_t *fd_watch; /* per fd: what epoll watches (FD_IN|FD_OUT) */
    size_t fd_cap;
    uint64_t curl_deadline;
    struct curl_slist **headers; /* per endpoint */
    struct curl_slist *resolve;
    CURLU **urls; /* [host * endpoint_count + endpoint], parsed once */
    struct wrr hosts_wrr, endpoints_wrr;
    struct rng rng;
    uint64_t seq;
    uint64_t started;
    uint64_t in_flight;
    unsigned target;     /* closed: users wanted now (global) */
    uint64_t next_k;     /* open: next request index of this thread */
    uint64_t next_due;   /* open: its absolute due time */
    bool schedule_done;
    bool stopping;
    uint64_t grace_deadline;
    bool failed;
    char fail_msg[256];
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

/* ---- epoll bookkeeping for libcurl's sockets ---------------------------------------------- */

static int ensure_fd(struct engine *e, int fd)
{
    if ((size_t)fd < e->fd_cap)
        return 0;
    size_t cap = e->fd_cap ? e->fd_cap : 1024;
    while (cap <= (size_t)fd)
        cap *= 2;
    uint8_t *bigger = realloc(e->fd_watch, cap); /* only when a new fd number appears */
    if (!bigger)
        return -1;
    memset(bigger + e->fd_cap, 0, cap - e->fd_cap);
    e->fd_watch = bigger;
    e->fd_cap = cap;
    return 0;
}

static uint32_t epoll_bits(uint8_t w)
{
    return ((w & FD_IN) ? EPOLLIN : 0) | ((w & FD_OUT) ? EPOLLOUT : 0);
}

/* Makes epoll watch exactly `want` (FD_IN|FD_OUT) on fd; no syscall when it already does. */
static void watch(struct engine *e, int fd, uint8_t want)
{
    uint8_t cur = e->fd_watch[fd] & (FD_IN | FD_OUT);
    if (cur == want)
        return;
    struct epoll_event ev = {.events = epoll_bits(want), .data.fd = fd};
    if (want == 0) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
    } else if (cur == 0) {
        if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno == EEXIST)
            epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev);
    } else if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT) {
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    e->fd_watch[fd] = (uint8_t)((e->fd_watch[fd] & FD_CURL) | want);
}

/* An idle keep-alive socket stays registered for input when libcurl stops watching it: the
 * next request on it wants input again, so this saves two epoll_ctl calls per request. If the
 * idle socket becomes readable (the server closed it), socket_events drops it then. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct engine *e = userp;
    if (ensure_fd(e, fd) < 0)
        return -1;
    if (what == CURL_POLL_REMOVE) {
        e->fd_watch[fd] &= (uint8_t)~FD_CURL;
        if (e->fd_watch[fd] & FD_OUT) /* writable would fire forever */
            watch(e, fd, 0);
        return 0;
    }
    e->fd_watch[fd] |= FD_CURL;
    watch(e, fd, (uint8_t)(((what & CURL_POLL_IN) ? FD_IN : 0) | ((what & CURL_POLL_OUT) ? FD_OUT : 0)));
    return 0;
}

/* A new socket may reuse the number of one closed behind our back: start from a clean state. */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    (void)purpose;
    struct engine *e = clientp;
    if (ensure_fd(e, fd) == 0 && e->fd_watch[fd]) {
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
        e->fd_watch[fd] = 0;
    }
    return CURL_SOCKOPT_OK;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    struct engine *e = clientp;
    if ((size_t)fd < e->fd_cap && e->fd_watch[fd]) {
        if (e->fd_watch[fd] & (FD_IN | FD_OUT))
            epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
        e->fd_watch[fd] = 0;
    }
    return close(fd);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct engine *e = userp;
    e->curl_deadline = timeout_ms < 0 ? UINT64_MAX
                                      : clock_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    (void)data;
    struct slot *s = userp;
    size_t len = size * n;
    uint64_t total = (uint64_t)s->rec.bytes_in + len;
    s->rec.bytes_in = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
    return len;
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

static void write_hex16(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[v & 0xF];
        v >>= 4;
    }
}

/* Points the handle at (host, endpoint). Only when it changes: every setopt of a string makes
 * libcurl copy it. */
static void set_target(struct engine *e, struct slot *s, uint16_t host, uint16_t endpoint)
{
    if (s->host == host && s->endpoint == endpoint)
        return;
    const struct scenario_endpoint *ep = &e->sc->endpoints[endpoint];
    CURL *c = s->easy;
    curl_easy_setopt(c, CURLOPT_CURLU, e->urls[host * e->sc->endpoint_count + endpoint]);
    if (s->endpoint != endpoint) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        if (ep->body) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, ep->body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ep->body_len);
        } else if (!strcmp(ep->method, "HEAD")) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        }
        bool custom = strcmp(ep->method, ep->body ? "POST" : "GET") && strcmp(ep->method, "HEAD");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, custom ? ep->method : NULL);
        s->id_header.next = e->headers[endpoint];
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(scenario_endpoint_timeout(e->sc, endpoint) /
                                                        NS_PER_MS));
    }
    s->host = host;
    s->endpoint = endpoint;
}

static void start_request(struct engine *e, struct slot *s, uint64_t intended, uint64_t now)
{
    uint16_t host = (uint16_t)wrr_next(&e->hosts_wrr);
    uint16_t endpoint = (uint16_t)wrr_next(&e->endpoints_wrr);
    set_target(e, s, host, endpoint);
    uint64_t id = ((uint64_t)e->cfg.thread_index << 56) | ++e->seq;
    write_hex16(s->id_line + 14, id);
    struct client_record *r = &s->rec;
    memset(r, 0, sizeof(*r));
    r->request_id = id;
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
    CURLMcode mc = curl_multi_add_handle(e->multi, s->easy);
    if (mc != CURLM_OK && !e->failed) {
        e->failed = true;
        snprintf(e->fail_msg, sizeof(e->fail_msg), "curl_multi_add_handle: %s",
                 curl_multi_strerror(mc));
        return;
    }
    /* Send it now (its timer is due at once), not after the rest of this batch of responses:
     * the server starts on it while the engine handles the others, as wrk does. */
    int running;
    curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

static uint8_t classify(CURLcode code, long os_errno, long status)
{
    switch (code) {
    case CURLE_OK:
        return status >= 400 ? FAILURE_HTTP_STATUS : FAILURE_NONE;
    case CURLE_COULDNT_CONNECT:
        return os_errno == ECONNREFUSED ? FAILURE_CONNECT_REFUSED : FAILURE_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return FAILURE_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return FAILURE_TIMEOUT;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return FAILURE_RESET;
    default:
        return FAILURE_OTHER;
    }
}

static uint32_t clamp_us(curl_off_t us)
{
    return us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The few CURLINFO values the record needs, read once per request. */
static void finish_record(struct slot *s, CURLcode code, uint64_t now)
{
    CURL *c = s->easy;
    struct client_record *r = &s->rec;
    long status = 0, port = 0, connects = 0, os_errno = 0;
    curl_off_t t_connect = 0, t_tls = 0, t_ttfb = 0, t_total = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_LOCAL_PORT, &port);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &t_connect);
    curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &t_tls);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &t_ttfb);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &t_total);
    if (code != CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    r->end_ns = now;
    r->status = (uint16_t)status;
    r->local_port = (uint16_t)port;
    r->reused = connects == 0;
    r->connect_us = clamp_us(t_connect);
    r->tls_us = clamp_us(t_tls);
    r->ttfb_us = clamp_us(t_ttfb);
    r->total_us = clamp_us(t_total);
    r->failure = classify(code, os_errno, status);
    r->error_code = code > 255 ? 255 : (uint8_t)code;
}

static bool quota_reached(const struct engine *e)
{
    return e->cfg.max_requests && e->started >= e->cfg.max_requests;
}

/* Closed model: what a user does after a response (Locust: wait, then the next task). */
static void user_next(struct engine *e, struct slot *s, uint64_t now)
{
    if (e->stopping || quota_reached(e) || s->user >= e->target) {
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

static void process_done(struct engine *e)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode code = m->data.result;
        struct slot *s = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s);
        uint64_t now = clock_now_ns();
        finish_record(s, code, now);
        curl_multi_remove_handle(e->multi, easy);
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
        curl_multi_remove_handle(e->multi, s->easy);
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
    uint64_t wake = e->curl_deadline;
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

static void socket_events(struct engine *e, struct epoll_event *ev, int n)
{
    int running;
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd == e->wakefd) {
            uint64_t v;
            if (read(e->wakefd, &v, sizeof(v)) < 0) { /* nothing to do: the flag is read */ }
            continue;
        }
        if ((size_t)fd >= e->fd_cap || !(e->fd_watch[fd] & FD_CURL)) {
            /* an idle keep-alive socket the server closed: stop watching it; libcurl finds
             * it dead when it next tries to reuse it */
            if ((size_t)fd < e->fd_cap)
                watch(e, fd, 0);
            continue;
        }
        int flags = 0;
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
            flags |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (ev[i].events & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(e->multi, fd, flags, &running);
    }
}

int engine_run(struct engine *e, struct error *err)
{
    prctl(PR_SET_TIMERSLACK, 1UL); /* open-model sends are due to the microsecond */
    struct epoll_event events[256];
    int running;
    if (e->sc->open_loop) {
        uint64_t due;
        e->next_k = e->cfg.thread_index;
        e->schedule_done = !schedule_send_time(e->cfg.schedule, e->next_k, &due);
        e->next_due = e->cfg.start_ns + due;
        if (e->cfg.end_ns && e->next_due >= e->cfg.end_ns)
            e->schedule_done = true;
    }
    for (;;) {
        uint64_t now = clock_now_ns();
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
        uint64_t wake = next_wake(e, now);
        struct timespec ts, *tsp = NULL;
        if (wake != UINT64_MAX) {
            uint64_t d = wake > now ? wake - now : 0;
            ts.tv_sec = (time_t)(d / NS_PER_SEC);
            ts.tv_nsec = (long)(d % NS_PER_SEC);
            tsp = &ts;
        }
        int n = epoll_pwait2(e->epfd, events, 256, tsp, NULL);
        if (n < 0 && errno != EINTR) {
            e->failed = true;
            snprintf(e->fail_msg, sizeof(e->fail_msg), "epoll_pwait2: %s", strerror(errno));
            abort_all(e);
            break;
        }
        if (n > 0)
            socket_events(e, events, n);
        if (e->curl_deadline <= clock_now_ns()) {
            e->curl_deadline = UINT64_MAX;
            curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        process_done(e);
        set_counter(&e->ctr.started, e->started);
        set_counter(&e->ctr.in_flight, e->in_flight);
        set_counter(&e->ctr.users, local_users(e));
        if (e->failed)
            break;
    }
    set_counter(&e->ctr.started, e->started);
    set_counter(&e->ctr.in_flight, e->in_flight);
    struct timespec cpu;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        set_counter(&e->final_cpu_ns, (uint64_t)cpu.tv_sec * NS_PER_SEC + (uint64_t)cpu.tv_nsec);
    if (e->failed)
        return error_set(err, "engine %u: %s", e->cfg.thread_index, e->fail_msg);
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

static int build_requests(struct engine *e, struct error *err)
{
    const struct scenario *sc = e->sc;
    e->urls = calloc(sc->host_count * sc->endpoint_count, sizeof(*e->urls));
    e->headers = calloc(sc->endpoint_count, sizeof(*e->headers));
    if (!e->urls || !e->headers)
        return error_set(err, "out of memory");
    for (size_t h = 0; h < sc->host_count; h++) {
        const struct scenario_host *host = &sc->hosts[h];
        char line[512];
        bool v6 = strchr(host->address, ':') != NULL;
        snprintf(line, sizeof(line), "%s:%d:%s%s%s", host->hostname, host->port, v6 ? "[" : "",
                 host->address, v6 ? "]" : "");
        struct curl_slist *l = curl_slist_append(e->resolve, line);
        if (!l)
            return error_set(err, "out of memory");
        e->resolve = l;
        for (size_t i = 0; i < sc->endpoint_count; i++) {
            char *url;
            if (asprintf(&url, "%s%s", host->url, sc->endpoints[i].path) < 0)
                return error_set(err, "out of memory");
            CURLU *u = curl_url();
            CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS)
                             : CURLUE_OUT_OF_MEMORY;
            e->urls[h * sc->endpoint_count + i] = u;
            if (uc != CURLUE_OK) {
                error_set(err, "bad URL '%s': %s", url, curl_url_strerror(uc));
                free(url);
                return -1;
            }
            free(url);
        }
    }
    for (size_t i = 0; i < sc->endpoint_count; i++) {
        const struct scenario_endpoint *ep = &sc->endpoints[i];
        struct curl_slist *l = NULL;
        for (size_t k = 0; k < ep->header_count; k++)
            l = curl_slist_append(l, ep->headers[k]);
        if (ep->content_type) {
            char line[512];
            snprintf(line, sizeof(line), "Content-Type: %s", ep->content_type);
            l = curl_slist_append(l, line);
        }
        l = curl_slist_append(l, "Expect:"); /* no 100-continue round trip for big bodies */
        if (!l)
            return error_set(err, "out of memory");
        e->headers[i] = l;
    }
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
    return 0;
}

static int init_slot(struct engine *e, struct slot *s, uint32_t index, struct error *err)
{
    s->engine = e;
    s->index = index;
    s->user = e->cfg.thread_index + index * e->cfg.thread_count;
    s->state = SLOT_IDLE;
    s->host = s->endpoint = UINT16_MAX;
    memcpy(s->id_line, "X-Request-Id: 0000000000000000", 31);
    s->id_header.data = s->id_line;
    s->id_header.next = NULL;
    CURL *c = s->easy = curl_easy_init();
    if (!c)
        return error_set(err, "curl_easy_init failed");
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_RESOLVE, e->resolve);
    curl_easy_setopt(c, CURLOPT_DNS_CACHE_TIMEOUT, -1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, &s->id_header);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "loadscope/0.1");
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy: skips the per-request getenv scan */
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, e);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, e);
    uint64_t connect_ms = e->sc->timeout_ns / NS_PER_MS;
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_ms > 10000 ? 10000 : connect_ms));
    return 0;
}

struct engine *engine_create(const struct engine_config *cfg, struct error *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        error_set(err, "curl_global_init failed");
        return NULL;
    }
    struct engine *e = calloc(1, sizeof(*e));
    if (!e) {
        curl_global_cleanup();
        error_set(err, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->sc = cfg->scenario;
    e->epfd = e->wakefd = -1;
    e->curl_deadline = UINT64_MAX;
    rng_seed(&e->rng, clock_now_ns() ^ ((uint64_t)cfg->thread_index << 40));
    unsigned total = e->sc->open_loop ? e->sc->connections : peak_level(cfg->schedule);
    e->slot_count = share(total, cfg->thread_index, cfg->thread_count);
    e->slots = calloc(e->slot_count ? e->slot_count : 1, sizeof(*e->slots));
    e->heap = calloc(e->slot_count ? e->slot_count : 1, sizeof(uint32_t));
    e->free_slots = calloc(e->slot_count ? e->slot_count : 1, sizeof(uint32_t));
    e->multi = curl_multi_init();
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!e->slots || !e->heap || !e->free_slots || !e->multi || e->epfd < 0 || e->wakefd < 0) {
        error_set(err, "engine setup failed: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = e->wakefd};
    epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
    /* Keep one idle connection per slot and host, or libcurl closes keep-alive connections. */
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS,
                      (long)(e->slot_count * e->sc->host_count + 4));
    curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    if (build_requests(e, err) < 0)
        goto fail;
    for (uint32_t i = 0; i < e->slot_count; i++) {
        if (init_slot(e, &e->slots[i], i, err) < 0)
            goto fail;
        e->free_slots[e->free_len++] = e->slot_count - 1 - i;
    }
    return e;
fail:
    engine_destroy(e);
    return NULL;
}

void engine_destroy(struct engine *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; e->slots && i < e->slot_count; i++) {
        struct slot *s = &e->slots[i];
        if (!s->easy)
            continue;
        if (s->state == SLOT_IN_FLIGHT)
            curl_multi_remove_handle(e->multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    if (e->multi)
        curl_multi_cleanup(e->multi); /* closes the cached connections */
    for (size_t i = 0; e->headers && i < e->sc->endpoint_count; i++)
        curl_slist_free_all(e->headers[i]);
    for (size_t i = 0; e->urls && i < e->sc->host_count * e->sc->endpoint_count; i++)
        curl_url_cleanup(e->urls[i]);
    curl_slist_free_all(e->resolve);
    free(e->headers);
    free(e->urls);
    free(e->slots);
    free(e->heap);
    free(e->free_slots);
    free(e->fd_watch);
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->wakefd >= 0)
        close(e->wakefd);
    free(e);
    curl_global_cleanup();
}
