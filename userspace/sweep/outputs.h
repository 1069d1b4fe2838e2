/* The sweep's outputs, all rewritten after every cell (so an interrupted sweep has them for
 * the cells it completed), each written to a temporary file and renamed into place:
 *
 *   matrix.csv   one row per cell, the header below (fixed: columns are only ever added at
 *                the end). Empty field = not applicable or unknown. Text fields are quoted.
 *
 *     cell,status,replicas,workers,users,rate,rps,median_ms,p95_ms,p99_ms,failures_pct,
 *     requests,failures,verdict,slo_ok,host_busy_cores,other_cores,exit_code,report,error
 *
 *     cell       the cell's name and directory under cells/ (r2-w4-u400)
 *     status     done | failed | interrupted | pending
 *     replicas, workers, users, rate   the cell's coordinates (users/rate from its run when
 *                they are not an axis)
 *     rps .. failures   the run's aggregated Locust figures (failures_pct = 100 x
 *                failures / requests)
 *     verdict    the run's primary bottleneck (inference, queue, workers, cpu-contention,
 *                load-generator, network-errors, none)
 *     slo_ok     true/false against every --slo, empty without --slo
 *     host_busy_cores  median host CPU busy (cores) while the cell ran
 *     other_cores      host CPU not used by the target or loadscope (traced cells)
 *     exit_code  the run's exit code (3: its own --threshold broke)
 *     report     cells/NAME/report.json
 *     error      why the cell failed
 *
 *   sweep.json   everything below, machine readable (docs/sweep.md)
 *   sweep.md     the report users write by hand today, complete and with the why
 *   sweep.html   one self-contained offline page: the same JSON embedded, drawn by script
 *                with textContent only, Chart.js inline, a nonce CSP without network access
 */
#ifndef LOADSCOPE_SWEEP_OUTPUTS_H
#define LOADSCOPE_SWEEP_OUTPUTS_H

#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"
#include "sweep/analysis.h"
#include "sweep/findings.h"
#include "sweep/sweep.h"

#define SWEEP_CSV_HEADER                                                                       \
    "cell,status,replicas,workers,users,rate,rps,median_ms,p95_ms,p99_ms,failures_pct,"       \
    "requests,failures,verdict,slo_ok,host_busy_cores,other_cores,exit_code,report,error"

struct sweep_outputs {
    const struct sweep *sweep;
    const struct sweep_analysis *analysis;
    const struct sweep_findings *findings;
};

void sweep_write_csv(FILE *out, const struct sweep_outputs *o);
void sweep_write_json(FILE *out, const struct sweep_outputs *o, bool pretty);
void sweep_write_markdown(FILE *out, const struct sweep_outputs *o);
int sweep_write_html(FILE *out, const struct sweep_outputs *o, struct error *err);

/* Writes matrix.csv, sweep.json, sweep.md and sweep.html into dir. Returns 0 or -1 with err
 * set (the first file that could not be written). */
int sweep_write_all(const char *dir, const struct sweep_outputs *o, struct error *err);

/* The value of a cell's users / rate column: the axis value, else what its run used; NAN. */
double sweep_cell_users(const struct sweep *s, size_t cell);
double sweep_cell_rate(const struct sweep *s, size_t cell);

#endif
