/* One prediction: image bytes -> decode/resize -> network -> label and scores, with the CPU
 * time it took. Each serving thread (or model worker) owns one predictor. */
#ifndef DEMO_PREDICT_H
#define DEMO_PREDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "weights.h"

/* Also the payload of a WIRE_RESULT frame (both ends are this binary). */
struct predict_result {
    int32_t label;
    float probs[MODEL_CLASSES];
    double model_ms;   /* thread CPU time of decode + resize + network */
    double load_ms;    /* wall time of re-reading the weights; < 0 without --reload-model */
    uint64_t start_ns; /* CLOCK_MONOTONIC when the computing thread started the job */
    uint64_t end_ns;
};

struct predictor {
    struct model model; /* borrows the shared weights, or owns a copy it reloads */
    bool owns_weights;
    struct model_scratch scratch;
    const char *weights_path; /* --reload-model file, or NULL */
    struct weights_buf wbuf;
};

/* Returns 0, or -1 when out of memory. */
int predictor_init(struct predictor *p, const struct model *shared, const char *weights_path);
void predictor_free(struct predictor *p);

/* Computes r for the image. Returns 0, or -1 when the weight file could not be reloaded. */
int predictor_run(struct predictor *p, const uint8_t *img, size_t len, struct predict_result *r);

/* The /predict JSON answer. queue_ms / downstream_ms < 0 are left out. Returns its length. */
size_t predict_json(const struct predict_result *r, double queue_ms, double downstream_ms,
                    char *buf, size_t cap);

/* Thread CPU time in ns (CLOCK_THREAD_CPUTIME_ID). */
uint64_t predict_thread_cpu_ns(void);

#endif
