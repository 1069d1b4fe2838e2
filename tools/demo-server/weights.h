/* The weight file of --reload-model: written once at startup, then read, verified and
 * deserialized on every /predict, as a server that loads its model per request does.
 *
 * Layout: a 64-byte header (magic "LSDEMOW1", shape, weight count, filler bytes, checksum),
 * the float32 weights, then deterministic filler up to the requested size: the demo network
 * has only kilobytes to megabytes of weights, the filler makes the file as large as a real
 * checkpoint so that reading it costs what loading one costs. The checksum covers every byte
 * after the header, so a load touches all of them. */
#ifndef DEMO_WEIGHTS_H
#define DEMO_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Writes m to path, padded to total_bytes. Returns 0 or -1 with err set. */
int weights_write(const char *path, const struct model *m, size_t total_bytes, char *err,
                  size_t errlen);

/* A reusable read buffer (one per worker). */
struct weights_buf {
    uint8_t *data;
    size_t cap;
};

/* Reads path into buf, checks it, and copies its weights into m, whose shape must match.
 * Returns 0 or -1. */
int weights_load(const char *path, struct weights_buf *buf, struct model *m);

void weights_buf_free(struct weights_buf *buf);

#endif
