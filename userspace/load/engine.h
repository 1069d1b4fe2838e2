/* The load engine: one thread's share of the load, on one epoll loop.
 *
 * An engine owns the scheduling: slots (one per user in the closed model, one per connection
 * in the open model), its share of the schedule (users g with g % threads == thread, or
 * requests k with k % threads == thread), think times, stages, the open-loop send times with
 * late-send counting, the --max-requests quota, stop and abort, and the counters. It hands each
 * request to a transport (load/transport.h) that owns the connections: libcurl's multi
 * interface ("curl", http and https) or a hand-written HTTP/1.1 client ("raw", http:// only,
 * the fast one); the scenario's `engine` key picks one (auto: raw when every host is http://).
 * Either way keep-alive connections are reused, hosts were resolved once (target_resolve), and
 * nothing is allocated per request.
 *
 * Every request carries "X-Request-Id: <16 lowercase hex digits>", the record's request_id:
 * thread index in the top byte, the engine's own counter below, so ids are unique in the run
 * without any shared counter. When a request completes (or fails), the engine fills a
 * struct client_record and hands it to on_record on the engine thread: keep that callback cheap
 * (stats_shard_add, a queue push). Requests aborted by a stop are not records: they are counted
 * in engine_counters.aborted, because they say nothing about the server.
 *
 * engine_pool runs N engines on N threads (named ls-engine-N) with a common start time. */
#ifndef LOADSCOPE_LOAD_ENGINE_H
#define LOADSCOPE_LOAD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "load/record.h"
#include "load/scenario.h"
#include "load/schedule.h"

/* A send starting later than this after its intended time (open model) is "late". */
#define ENGINE_LATE_NS (1000ULL * 1000ULL)

typedef void (*engine_record_fn)(void *ctx, const struct client_record *r);

struct transport_ops;

struct engine_config {
    const struct scenario *scenario; /* finished and resolved; read-only, shared */
    const struct schedule *schedule; /* read-only, shared */
    unsigned thread_index, thread_count;
    uint64_t start_ns;     /* common origin of the schedule (CLOCK_MONOTONIC) */
    uint64_t end_ns;       /* stop starting requests at this time; 0: only the schedule ends */
    uint64_t max_requests; /* this engine's share of --max-requests; 0: no limit */
    engine_record_fn on_record;
    void *ctx;
    const struct transport_ops *transport; /* NULL: transport_for(scenario) */
};

/* Counters the engine thread updates and any thread may read (relaxed). */
struct engine_counters {
    uint64_t started;
    uint64_t completed; /* records handed out (successes and failures) */
    uint64_t aborted;   /* in flight when the run was stopped: not records, not failures */
    uint64_t in_flight;
    uint64_t late;      /* open model: sends that started > ENGINE_LATE_NS after due */
    uint64_t behind_ns; /* open model: how far the oldest due send is behind its time (no
                           free connection, or the engine is too busy) */
    uint64_t users;     /* closed model: users this engine is running now */
};

struct engine;

struct engine *engine_create(const struct engine_config *cfg, struct error *err);
/* Runs until the schedule, end_ns or max_requests ends the run (in-flight requests then finish,
 * up to the scenario's stop timeout, then are aborted), or until engine_stop / engine_abort.
 * Call on the engine's own thread. */
int engine_run(struct engine *e, struct error *err);
/* Any thread, async-signal-unsafe but lock-free: stop starting requests (in-flight ones get
 * the stop timeout), or abort in-flight requests now. */
void engine_stop(struct engine *e);
void engine_abort(struct engine *e);
void engine_counters(const struct engine *e, struct engine_counters *out);
/* CPU time of the engine thread, taken when engine_run returned. */
uint64_t engine_final_cpu_ns(const struct engine *e);
/* "curl" or "raw". */
const char *engine_transport_name(const struct engine *e);
void engine_destroy(struct engine *e);

/* N engines on N threads. ctxs[i] is thread i's on_record context. */
struct engine_pool;
struct engine_pool *engine_pool_start(const struct scenario *sc, const struct schedule *sched,
                                      uint64_t start_ns, engine_record_fn on_record, void **ctxs,
                                      struct error *err);
unsigned engine_pool_threads(const struct engine_pool *p);
/* The transport every engine of the pool uses: "curl" or "raw". */
const char *engine_pool_transport_name(const struct engine_pool *p);
void engine_pool_stop(struct engine_pool *p);
void engine_pool_abort(struct engine_pool *p);
/* True once every engine has returned. */
bool engine_pool_done(struct engine_pool *p);
/* Sum over engines. */
void engine_pool_counters(const struct engine_pool *p, struct engine_counters *sum);
/* CPU time (ns) consumed so far by engine thread i, for the self-check; 0 when unknown. */
uint64_t engine_pool_thread_cpu_ns(const struct engine_pool *p, unsigned i);
/* Kernel thread id of engine thread i (0 until it started). */
pid_t engine_pool_thread_tid(const struct engine_pool *p, unsigned i);
/* Joins the threads; -1 with err when an engine failed. */
int engine_pool_join(struct engine_pool *p, struct error *err);
void engine_pool_destroy(struct engine_pool *p);

#endif
