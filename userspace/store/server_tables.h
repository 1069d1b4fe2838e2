/* The server side of the run store: replicas, server spans, replica windows (with their top
 * syscalls), folded stacks and the generator's per-second self-check (schema.sql). Spans and
 * windows arrive from the tracer's reader thread through store streams (one producer each). */
#ifndef LOADSCOPE_STORE_SERVER_TABLES_H
#define LOADSCOPE_STORE_SERVER_TABLES_H

#include "store/row_codec.h"
#include "store/store.h"
#include "trace/span.h"
#include "trace/window.h"

struct server_streams {
    int spans;
    int windows;
};

int server_tables_add_streams(struct store *s, struct server_streams *out, struct error *err);

int server_tables_add_replica(struct store *s, unsigned index, const char *name,
                              const char *spec, const char *pids, double cores,
                              struct error *err);
int server_tables_add_stack(struct store *s, unsigned replica, const char *stack,
                            uint64_t count, struct error *err);
int server_tables_add_generator_second(struct store *s, int64_t second, double busy,
                                       uint64_t sends, uint64_t late_sends,
                                       double host_cpu_cores, double self_cpu_cores,
                                       struct error *err);

/* Readers, in time order; fn returns non-zero to stop. */
int server_tables_each_span(struct store *s, int (*fn)(void *ctx, const struct server_span *sp),
                            void *ctx, struct error *err);
/* Same, only the spans matching an SQL condition on server_spans (e.g. "replica = 0"). */
int server_tables_each_span_where(struct store *s, const char *where,
                                  int (*fn)(void *ctx, const struct server_span *sp), void *ctx,
                                  struct error *err);
int server_tables_each_window(struct store *s,
                              int (*fn)(void *ctx, const struct replica_window *w), void *ctx,
                              struct error *err);

/* The column list of server_spans, for joins (store/matches.c). */
const struct field *server_tables_span_fields(size_t *count);

#endif
