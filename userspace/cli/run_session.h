/* Everything `loadscope run` does around the load itself: the run directory and its store, the
 * server-side tracer (when the targets are local and the tool may trace), the generator's
 * per-second self-check, and at the end the analysis, the verdict and every output.
 *
 *   run_session_open()     before the engines start: store, replicas, tracer
 *   run_session_record()   each client record (engine threads, lock-free)
 *   run_session_tick()     from the watching thread, often (per-second generator samples)
 *   run_session_finish()   after the engines stopped: tracer stopped, store flushed, analysis,
 *                          verdict printed, outputs written
 */
#ifndef LOADSCOPE_CLI_RUN_SESSION_H
#define LOADSCOPE_CLI_RUN_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/outputs.h"
#include "common/error.h"
#include "load/engine.h"
#include "load/run_result.h"
#include "load/scenario.h"
#include "trace/trace.h"

struct run_session_options {
    const char *out_dir;   /* NULL: loadscope-runs/<date>-<time> */
    const char *command;   /* the command line, for reports */
    bool no_trace;
    const struct trace_config *trace_base; /* tracer settings (NULL: defaults); the fields
                                              below, when set, override them */
    const struct trace_sinks *observer;    /* also sees every span and window (NULL: none) */
    struct replica_spec replicas[TRACE_MAX_REPLICAS]; /* --replica; none: one per target port */
    unsigned replica_count;
    uint64_t window_ns;    /* 0: unset */
    int profile_hz;        /* < 0: unset */
    double syscall_budget; /* < 0: unset; 0: per-syscall hooks always on */
    double socket_budget;  /* < 0: unset; 0: socket hooks always on */
    long span_rate;        /* < 0: unset; 0: a span for every request */
    struct output_paths paths;
    bool quiet;            /* no "Outputs:" list */
};

/* Every option unset (zero is a setting for some of them: see above). */
void run_session_options_init(struct run_session_options *o);

struct run_session;

/* Creates the store and starts the tracer (which takes a while: BPF programs load and attach)
 * before the run's clock starts. */
int run_session_open(struct run_session **out, const struct scenario *sc,
                     const struct run_session_options *o, struct error *err);
/* sc may be NULL: the server side alone is traced (loadscope trace); pool may then be NULL in
 * run_session_tick. */
/* The run starts at start_ns (engines start then). */
int run_session_begin(struct run_session *s, uint64_t start_ns, double start_wall,
                      struct error *err);
void run_session_record(struct run_session *s, const struct client_record *r);
void run_session_tick(struct run_session *s, const struct engine_pool *pool, uint64_t now_ns);

/* Stops the tracer, flushes the store, analyses the run, prints the verdict after `live`'s
 * summary on out, writes every output. *thresholds_passed is set from the stored run. */
int run_session_finish(struct run_session *s, const struct run_result *live, FILE *out,
                       bool *thresholds_passed, struct error *err);
void run_session_free(struct run_session *s);

/* The tracer's totals (valid after run_session_finish). */
const struct trace_totals *run_session_totals(const struct run_session *s);
/* The tracer session while tracing (NULL when not tracing). */
struct trace_session *run_session_tracer(const struct run_session *s);

/* Why the server side was not traced ("" when it was). */
const char *run_session_trace_reason(const struct run_session *s);
const char *run_session_dir(const struct run_session *s);

#endif
