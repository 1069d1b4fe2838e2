/* The client side of the run store: hosts, endpoints and one row per client request
 * (table client_requests, see schema.sql), written through a store stream and read back in
 * completion order to rebuild statistics. */
#ifndef LOADSCOPE_STORE_CLIENT_TABLE_H
#define LOADSCOPE_STORE_CLIENT_TABLE_H

#include "load/record.h"
#include "store/row_codec.h"
#include "store/store.h"

/* Adds the client_requests stream: one queue per engine thread (producer = record.thread). */
int client_table_add_stream(struct store *s, unsigned engine_threads, struct error *err);

int client_table_add_host(struct store *s, unsigned index, const char *url, double weight,
                          struct error *err);
int client_table_add_endpoint(struct store *s, unsigned index, const char *method,
                              const char *name, const char *path, double weight,
                              struct error *err);

/* Calls fn for every stored request in completion order (end_ns), until fn returns non-zero.
 * Returns 0, fn's non-zero value, or -1 on a database error. */
int client_table_each(struct store *s, int (*fn)(void *ctx, const struct client_record *r),
                      void *ctx, struct error *err);

/* The column list of client_requests, for joins (store/matches.c). */
const struct field *client_table_fields(size_t *count);

#endif
