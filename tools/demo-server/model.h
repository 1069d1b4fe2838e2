/* The network: a small CNN with deterministic weights.
 *
 *   input  S x S x 3 (RGB in [0,1])
 *   conv 3x3 3->C, ReLU, maxpool 2          -> S/2
 *   D x conv 3x3 C->C, ReLU                 (at S/2)
 *   maxpool 2                               -> S/4
 *   conv 3x3 C->2C, ReLU, maxpool 2         -> S/8
 *   dense 2C*(S/8)^2 -> 64, ReLU; dense 64 -> 10; softmax
 *
 * Tensors are planar (channel, row, column) with a one-pixel zero border so a 3x3 convolution
 * reads its neighbours without bounds checks. Weights are He-uniform from a splitmix64 stream
 * seeded by --seed: the same seed and shape give bit-identical answers. */
#ifndef DEMO_MODEL_H
#define DEMO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define MODEL_CLASSES 10
#define MODEL_HIDDEN 64

struct model_shape {
    int size;     /* S: multiple of 8 */
    int channels; /* C */
    int depth;    /* D */
};

struct model {
    struct model_shape shape;
    float *weights; /* model_weight_count() floats, layer after layer */
    size_t n_weights;
};

/* Per-worker activation buffers: a worker computes one request at a time. */
struct model_scratch {
    float *a, *b; /* ping-pong activations, each big enough for any layer */
    size_t floats;
    float hidden[MODEL_HIDDEN];
};

extern const char *const model_labels[MODEL_CLASSES];

size_t model_weight_count(struct model_shape shape);

/* Multiply-accumulates of one forward pass (what the calibration scales). */
double model_macs(struct model_shape shape);

/* Allocates and fills the weights from the seed. Returns 0 or -1 (out of memory). */
int model_init(struct model *m, struct model_shape shape, uint64_t seed);
void model_free(struct model *m);

int model_scratch_init(struct model_scratch *s, struct model_shape shape);
void model_scratch_free(struct model_scratch *s);

/* The padded input buffer the image decoder fills: 3 x (S+2) x (S+2) floats, border zero. */
float *model_input(struct model_scratch *s);

/* Runs the network on model_input(s) and writes class probabilities. */
void model_forward(const struct model *m, struct model_scratch *s, float probs[MODEL_CLASSES]);

#endif
