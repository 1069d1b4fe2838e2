#include "support/trace_collect.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_span(void *ctx, const struct server_span *s)
{
    struct trace_collect *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (c->nspans == c->span_cap) {
        size_t cap = c->span_cap ? c->span_cap * 2 : 64;
        struct server_span *n = realloc(c->spans, cap * sizeof(*n));
        if (n) {
            c->spans = n;
            c->span_cap = cap;
        }
    }
    if (c->nspans < c->span_cap)
        c->spans[c->nspans++] = *s;
    pthread_mutex_unlock(&c->lock);
}

static void on_window(void *ctx, const struct replica_window *w)
{
    struct trace_collect *c = ctx;
    pthread_mutex_lock(&c->lock);
    if (c->nwindows == c->window_cap) {
        size_t cap = c->window_cap ? c->window_cap * 2 : 16;
        struct replica_window *n = realloc(c->windows, cap * sizeof(*n));
        if (n) {
            c->windows = n;
            c->window_cap = cap;
        }
    }
    if (c->nwindows < c->window_cap)
        c->windows[c->nwindows++] = *w;
    pthread_mutex_unlock(&c->lock);
}

void trace_collect_init(struct trace_collect *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

void trace_collect_free(struct trace_collect *c)
{
    free(c->spans);
    free(c->windows);
    pthread_mutex_destroy(&c->lock);
    memset(c, 0, sizeof(*c));
}

size_t trace_collect_span_count(struct trace_collect *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->nspans;
    pthread_mutex_unlock(&c->lock);
    return n;
}

bool trace_test_can_trace(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipping: BPF tracing tests need root\n");
        return false;
    }
    return true;
}

static struct trace_session *start(const char *spec, unsigned profile_hz, uint32_t ring_bytes,
                                   bool syscalls, double syscall_budget /* < 0: default */,
                                   long span_rate /* < 0: default */, double socket_budget,
                                   struct trace_collect *c)
{
    struct trace_config cfg;
    trace_config_defaults(&cfg);
    cfg.syscalls = syscalls;
    cfg.socket_budget = socket_budget;
    if (syscall_budget >= 0)
        cfg.syscall_budget = syscall_budget;
    if (span_rate >= 0)
        cfg.span_rate = (uint32_t)span_rate;
    struct error err = {{0}};
    if (replica_spec_parse(spec, &cfg.replicas[0], &err) < 0) {
        fprintf(stderr, "trace_test_start: %s\n", err.msg);
        return NULL;
    }
    cfg.replica_count = 1;
    cfg.profile_hz = profile_hz;
    if (ring_bytes) { /* a tiny ring that only the periodic drain empties: losses happen */
        cfg.ring_bytes = ring_bytes;
        cfg.ring_wakeup_bytes = UINT32_MAX;
    }
    /* small maps: tests run many sessions, and under ASan */
    cfg.max_conns = 1024;
    struct trace_sinks sinks = {c, on_span, on_window};
    struct trace_session *s = NULL;
    if (trace_start(&cfg, &sinks, &s, &err) < 0) {
        fprintf(stderr, "trace_test_start: %s\n", err.msg);
        return NULL;
    }
    return s;
}

struct trace_session *trace_test_start(const char *spec, unsigned profile_hz, uint32_t ring_bytes,
                                       struct trace_collect *c)
{
    return start(spec, profile_hz, ring_bytes, true, -1, -1, 0, c);
}

struct trace_session *trace_test_start_no_syscalls(const char *spec, struct trace_collect *c)
{
    return start(spec, 0, 0, false, -1, -1, 0, c);
}

struct trace_session *trace_test_start_budget(const char *spec, double budget,
                                              struct trace_collect *c)
{
    return start(spec, 0, 0, true, budget, -1, 0, c);
}

struct trace_session *trace_test_start_span_rate(const char *spec, uint32_t span_rate,
                                                 struct trace_collect *c)
{
    return start(spec, 0, 0, true, -1, span_rate, 0, c);
}

struct trace_session *trace_test_start_socket_budget(const char *spec, double budget,
                                                     struct trace_collect *c)
{
    return start(spec, 0, 0, true, -1, 0, budget, c);
}

void trace_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}
