/* --downstream-ms: a helper process standing for a database or feature store. Each API
 * serving thread keeps one TCP connection to it and, per /predict, sends a 16-byte request
 * and blocks reading the 16-byte answer, which the helper sends after sleeping D ms. The
 * helper runs one thread per connection, so any number of requests wait concurrently and
 * none of them spins. */
#ifndef DEMO_DOWNSTREAM_H
#define DEMO_DOWNSTREAM_H

#include <stdint.h>

/* The helper's main: serves listen_fd until killed. Writes one byte to ready_fd once it
 * accepts. Returns only on a fatal error. */
int downstream_serve(int listen_fd, int delay_ms, int ready_fd);

/* One blocking round trip on a connected fd. Returns 0 with the wall ms, or -1. */
int downstream_call(int fd, uint64_t key, double *ms);

#endif
