/* Locust-style tables for people.
 *
 * The periodic table (every 2 s) goes to stderr: it is progress, and stdout stays clean for the
 * final summary, which goes to stdout (console_print_summary's `out`) so it can be piped or
 * saved. Times are ms; the periodic table's req/s and failures/s are over the last interval
 * (Locust's "current"), the final summary's over the whole run. */
#ifndef LOADSCOPE_REPORT_CONSOLE_H
#define LOADSCOPE_REPORT_CONSOLE_H

#include <stdint.h>
#include <stdio.h>

#include "load/run_result.h"
#include "load/stats.h"

/* Remembers the previous counts so the periodic table can show current rates. */
struct console_progress {
    size_t entry_count;
    uint64_t *prev_requests, *prev_failures;
    uint64_t prev_ns;
};

int console_progress_init(struct console_progress *p, const struct stats *s, uint64_t now_ns);
void console_progress_free(struct console_progress *p);
/* One periodic table: elapsed time, users (closed) or target rate (open), in-flight count. */
void console_print_progress(FILE *out, struct console_progress *p, const struct stats *s,
                            uint64_t now_ns, const char *status_line);
/* The final summary: per-endpoint table, percentiles, phases, failures, thresholds and the
 * generator's self-check. */
void console_print_summary(FILE *out, const struct run_result *r);

#endif
