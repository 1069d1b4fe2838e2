/* Every output of a run, written the same way at the end of `loadscope run` and by
 * `loadscope report DIR`: into the run directory (report.json, report.html, report.md, Locust's
 * CSVs as stats_*.csv, a Perfetto trace, folded stacks and a flame graph per replica), and
 * wherever the user asked (--csv, --json, --html, --markdown, --trace-out). */
#ifndef LOADSCOPE_CLI_OUTPUTS_H
#define LOADSCOPE_CLI_OUTPUTS_H

#include <stdio.h>

#include "cli/stored_run.h"
#include "common/error.h"
#include "load/run_result.h"

struct output_paths {
    const char *csv_prefix;
    const char *json;
    const char *html;
    const char *markdown;
    const char *trace_out;
};

/* Writes everything from a stored run (stats and thresholds as the run store rebuilds them).
 * res supplies what the summary shows beyond the stats (scenario, stop reason, self-check);
 * written files are listed on `log` (NULL: quiet). Returns 0, or -1 with the first error
 * (it still tries every other output). */
int outputs_write_all(const struct stored_run *run, const struct run_result *res,
                      const struct output_paths *extra, FILE *log, struct error *err);

/* The verdict section of the console summary. */
void outputs_print_verdict(FILE *out, const struct stored_run *run);

#endif
