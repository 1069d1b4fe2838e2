/* --model-cost: picks the network shape whose /predict costs the requested CPU time on this
 * machine. It times real passes (decode + resize + network on a 224x224 sample image, thread
 * CPU time, so waiting for a busy CPU does not count) and refines the shape from the measured
 * rate until the cost is within 5% or the rounds run out, keeping the closest. Bigger budgets
 * get a bigger input (up to 48x48), then more depth; the channel count does the fine
 * tuning. With --cpus the passes run on the first replica's CPUs. */
#ifndef DEMO_CALIBRATE_H
#define DEMO_CALIBRATE_H

#include <stdint.h>

#include "model.h"

struct calibration {
    struct model_shape shape;
    double measured_ms; /* CPU ms of one pass with that shape (median of a few) */
    int rounds;         /* shapes tried */
};

/* target_ms 0 picks the smallest shape. Returns 0, or -1 when out of memory. */
int calibrate(double target_ms, uint64_t seed, struct calibration *out);

/* Median thread CPU ms of reps passes with shape on the sample image, or < 0 on failure. */
double calibrate_measure(struct model_shape shape, uint64_t seed, int reps, int warmup);

#endif
