/* What the duty cycles of costly hooks share (trace/syscall_duty.h, trace/socket_duty.h): the
 * hooks' estimated cost as a share of the traced replicas' CPU, and the period (run 1 in N)
 * that keeps it within a budget. */
#ifndef LOADSCOPE_TRACE_DUTY_H
#define LOADSCOPE_TRACE_DUTY_H

#include <stdint.h>

#include "common/error.h"

#define DUTY_MAX_PERIOD 20 /* the hooks run at least 1/20 of the time */

/* `events` at `cost_ns` each over a span of `span_ns`, as a share of the CPU the replicas used
 * in it. A replica that barely runs pays for its few events with CPU nobody else needs: weigh
 * them against at least 1/min_cores_div of a core. */
double duty_cost_share(uint64_t events, unsigned cost_ns, uint64_t oncpu_ns, uint64_t span_ns,
                       unsigned min_cores_div);

/* The period that brings `share` within `budget` (1..DUTY_MAX_PERIOD). */
unsigned duty_period(double share, double budget);

/* --OPTION PCT: "1", "0.5", "2%" (0.01..100) as a share; a one-line error naming the option
 * if not. */
int duty_budget_parse(const char *option, const char *text, double *out, struct error *err);

#endif
