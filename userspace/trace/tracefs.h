/* tracefs: where classic tracepoints live. Mounted on demand (a fresh boot may lack it). */
#ifndef LOADSCOPE_TRACE_TRACEFS_H
#define LOADSCOPE_TRACE_TRACEFS_H

#include "common/error.h"

/* Makes sure tracefs is reachable: 0 when already there, 1 when this call mounted it on
 * /sys/kernel/tracing, -1 with a reason. */
int tracefs_ensure(struct error *err);

/* The id of tracepoint category/name, or -1. */
long tracefs_event_id(const char *category, const char *name);

#endif
