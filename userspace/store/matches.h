/* Reads the correlator's join back: each matched client request with its server span. */
#ifndef LOADSCOPE_STORE_MATCHES_H
#define LOADSCOPE_STORE_MATCHES_H

#include "load/record.h"
#include "store/store.h"
#include "trace/span.h"

enum match_method { MATCH_REQUEST_ID = 1, MATCH_FOUR_TUPLE = 2 };

/* Calls fn for every row of request_matches, in client completion order, until fn returns
 * non-zero. Returns 0, fn's value, or -1. */
int matches_each(struct store *s,
                 int (*fn)(void *ctx, const struct client_record *c, const struct server_span *sp,
                           enum match_method method),
                 void *ctx, struct error *err);

#endif
