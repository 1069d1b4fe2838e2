/* Collects what a tracing session delivers (spans, windows) for tests to inspect, and starts
 * sessions on one replica with test-friendly settings. */
#ifndef LOADSCOPE_TESTS_TRACE_COLLECT_H
#define LOADSCOPE_TESTS_TRACE_COLLECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "trace/trace.h"

struct trace_collect {
    pthread_mutex_t lock;
    struct server_span *spans;
    size_t nspans, span_cap;
    struct replica_window *windows;
    size_t nwindows, window_cap;
};

void trace_collect_init(struct trace_collect *c);
void trace_collect_free(struct trace_collect *c);
size_t trace_collect_span_count(struct trace_collect *c);

/* true when tests may use BPF (root); prints why not otherwise */
bool trace_test_can_trace(void);

/* Starts a session on one replica spec ("t=pid:123"); ring_bytes 0 = default, else a ring of
 * that size that never wakes the reader early (to force losses). The socket hooks run all
 * along (tests compare exact counts; their duty cycle has its own start below). */
struct trace_session *trace_test_start(const char *spec, unsigned profile_hz, uint32_t ring_bytes,
                                       struct trace_collect *c);

/* The same without the per-syscall hooks (trace_config.syscalls = false). */
struct trace_session *trace_test_start_no_syscalls(const char *spec, struct trace_collect *c);

/* The same with trace_config.syscall_budget = budget (a share of the replica's CPU). */
struct trace_session *trace_test_start_budget(const char *spec, double budget,
                                              struct trace_collect *c);

/* The same with trace_config.span_rate = span_rate (spans per second before sampling). */
struct trace_session *trace_test_start_span_rate(const char *spec, uint32_t span_rate,
                                                 struct trace_collect *c);

/* The same with trace_config.socket_budget = budget and a span for every request. */
struct trace_session *trace_test_start_socket_budget(const char *spec, double budget,
                                                     struct trace_collect *c);

/* Sleeps ms milliseconds. */
void trace_test_sleep_ms(long ms);

#endif
