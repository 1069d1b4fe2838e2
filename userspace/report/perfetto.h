/* The correlated timeline as a Chrome trace-event JSON file, which ui.perfetto.dev and
 * chrome://tracing open:
 *
 *   process "loadscope client"   a track per client connection (its local port), a slice per
 *                                request (name = endpoint; args: status, latency, request id);
 *                                counters: RPS, failures/s, users, p95
 *   process per replica (tgid)   a track per server thread with its request spans and their
 *                                phases (accept queue, receive queue, processing, send) and,
 *                                inside processing, the thread's on-CPU / run-queue / off-CPU
 *                                time by reason (totals measured within the span, laid end to
 *                                end: their order is not recorded); counters: CPU cores, busy
 *                                workers, accept-queue depth, run-queue ms
 *   flow arrows                  from each client request to the server span that served it
 *
 * Times are microseconds from the run's start. Large runs are thinned to PERFETTO_MAX_REQUESTS
 * requests (every k-th, said in the metadata); counters are never thinned. */
#ifndef LOADSCOPE_REPORT_PERFETTO_H
#define LOADSCOPE_REPORT_PERFETTO_H

#include <stdio.h>

#include "common/error.h"
#include "correlate/analysis.h"
#include "store/store.h"

#define PERFETTO_MAX_REQUESTS 100000

/* analysis may be NULL (no server side): client tracks and counters only. */
int perfetto_write(FILE *out, struct store *s, const struct analysis *a, struct error *err);
int perfetto_write_file(const char *path, struct store *s, const struct analysis *a,
                        struct error *err);

#endif
