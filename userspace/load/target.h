/* The targets before the load starts: each host name is resolved once (the engines then connect
 * to that address through CURLOPT_RESOLVE, never resolving again), and each host is checked to
 * accept TCP connections, so a typo in a URL stops the run with a clear message instead of a
 * table full of failures. */
#ifndef LOADSCOPE_LOAD_TARGET_H
#define LOADSCOPE_LOAD_TARGET_H

#include <stdint.h>

#include "common/error.h"
#include "load/scenario.h"

/* Fills every host's address. -1 with "cannot resolve host 'x': ..." */
int target_resolve(struct scenario *sc, struct error *err);

/* Connects to every host (TCP only) within timeout_ns. -1 with "host URL is unreachable: ..." */
int target_check(const struct scenario *sc, uint64_t timeout_ns, struct error *err);

#endif
