#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const model_labels[MODEL_CLASSES] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

/* Sizes of each layer's weights (+ biases), in the order they are stored. */
static size_t conv_size(int cin, int cout)
{
    return (size_t)cout * (size_t)cin * 9 + (size_t)cout;
}

/* The dense head reads the global average of each of the 2C last feature maps (as ResNet
 * and MobileNet do), so its weights stay small and the cost is in the convolutions. */
static size_t dense_in(struct model_shape s)
{
    return 2 * (size_t)s.channels;
}

size_t model_weight_count(struct model_shape s)
{
    size_t n = conv_size(3, s.channels);
    n += (size_t)s.depth * conv_size(s.channels, s.channels);
    n += conv_size(s.channels, 2 * s.channels);
    n += dense_in(s) * MODEL_HIDDEN + MODEL_HIDDEN;
    n += MODEL_HIDDEN * MODEL_CLASSES + MODEL_CLASSES;
    return n;
}

double model_macs(struct model_shape s)
{
    double S = s.size, C = s.channels;
    double macs = S * S * 3 * C * 9;
    macs += s.depth * (S / 2) * (S / 2) * C * C * 9;
    macs += (S / 4) * (S / 4) * C * 2 * C * 9;
    macs += (double)dense_in(s) * MODEL_HIDDEN + MODEL_HIDDEN * MODEL_CLASSES;
    return macs;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-limit, limit). */
static float uniform(uint64_t *state, float limit)
{
    double u = (double)(splitmix64(state) >> 11) / (double)(1ULL << 53);
    return (float)((2 * u - 1) * limit);
}

static float *fill_layer(float *w, size_t fan_in, size_t n_weights, size_t n_bias,
                         uint64_t *state)
{
    /* He-uniform keeps activations at a similar scale through ReLU layers, so the softmax
     * at the end is neither flat nor saturated. */
    float limit = sqrtf(6.0f / (float)fan_in);
    for (size_t i = 0; i < n_weights; i++)
        *w++ = uniform(state, limit);
    for (size_t i = 0; i < n_bias; i++)
        *w++ = uniform(state, 0.05f);
    return w;
}

int model_init(struct model *m, struct model_shape s, uint64_t seed)
{
    m->shape = s;
    m->n_weights = model_weight_count(s);
    m->weights = malloc(m->n_weights * sizeof(float));
    if (!m->weights)
        return -1;
    uint64_t state = seed * 0x2545f4914f6cdd1dULL + 0x1234567;
    size_t C = (size_t)s.channels;
    float *w = fill_layer(m->weights, 3 * 9, C * 3 * 9, C, &state);
    for (int d = 0; d < s.depth; d++)
        w = fill_layer(w, C * 9, C * C * 9, C, &state);
    w = fill_layer(w, C * 9, 2 * C * C * 9, 2 * C, &state);
    w = fill_layer(w, dense_in(s), dense_in(s) * MODEL_HIDDEN, MODEL_HIDDEN, &state);
    fill_layer(w, MODEL_HIDDEN, MODEL_HIDDEN * MODEL_CLASSES, MODEL_CLASSES, &state);
    return 0;
}

void model_free(struct model *m)
{
    free(m->weights);
    m->weights = NULL;
}

static size_t padded(int side)
{
    return (size_t)(side + 2) * (size_t)(side + 2);
}

int model_scratch_init(struct model_scratch *s, struct model_shape shape)
{
    /* The largest tensor: C channels at full resolution (after conv1, before pooling). */
    size_t full = (size_t)shape.channels * padded(shape.size);
    size_t input = 3 * padded(shape.size);
    s->floats = full > input ? full : input;
    s->a = calloc(s->floats, sizeof(float));
    s->b = calloc(s->floats, sizeof(float));
    if (!s->a || !s->b) {
        model_scratch_free(s);
        return -1;
    }
    return 0;
}

void model_scratch_free(struct model_scratch *s)
{
    free(s->a);
    free(s->b);
    s->a = s->b = NULL;
}

float *model_input(struct model_scratch *s)
{
    return s->a;
}

/* 3x3 convolution, padding 1, then ReLU: in is cin x (n+2)^2, out cout x (n+2)^2 with a zero
 * border. Loop order keeps the innermost loop a contiguous row (vectorizable). */
static const float *conv3x3_relu(const float *restrict in, int cin, int n, const float *w,
                                 int cout, float *restrict out)
{
    const int p = n + 2;
    const float *bias = w + (size_t)cout * (size_t)cin * 9;
    memset(out, 0, (size_t)cout * padded(n) * sizeof(float));
    for (int co = 0; co < cout; co++) {
        float *o = out + (size_t)co * padded(n);
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                o[(y + 1) * p + x + 1] = bias[co];
        for (int ci = 0; ci < cin; ci++) {
            const float *src = in + (size_t)ci * padded(n);
            const float *k = w + ((size_t)co * (size_t)cin + (size_t)ci) * 9;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    const float kv = k[ky * 3 + kx];
                    for (int y = 0; y < n; y++) {
                        const float *restrict srow = src + (y + ky) * p + kx;
                        float *restrict orow = o + (y + 1) * p + 1;
                        for (int x = 0; x < n; x++)
                            orow[x] += kv * srow[x];
                    }
                }
        }
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                float *v = &o[(y + 1) * p + x + 1];
                *v = *v > 0 ? *v : 0;
            }
    }
    return bias + cout;
}

/* 2x2 max pooling of c channels of side n into side n/2, both padded. */
static void maxpool2(const float *restrict in, int c, int n, float *restrict out)
{
    const int p = n + 2, h = n / 2, q = h + 2;
    memset(out, 0, (size_t)c * padded(h) * sizeof(float));
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * padded(n);
        float *dst = out + (size_t)ch * padded(h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < h; x++) {
                const float *r0 = src + (2 * y + 1) * p + 2 * x + 1, *r1 = r0 + p;
                float m = fmaxf(fmaxf(r0[0], r0[1]), fmaxf(r1[0], r1[1]));
                dst[(y + 1) * q + x + 1] = m;
            }
    }
}

/* out[j] = b[j] + sum_i w[j][i] * in[i]; returns the weights after this layer. */
static const float *dense(const float *in, size_t n_in, const float *w, size_t n_out, float *out,
                          int relu)
{
    const float *bias = w + n_in * n_out;
    for (size_t j = 0; j < n_out; j++) {
        const float *row = w + j * n_in;
        float acc = 0;
        for (size_t i = 0; i < n_in; i++)
            acc += row[i] * in[i];
        acc += bias[j];
        out[j] = relu && acc < 0 ? 0 : acc;
    }
    return bias + n_out;
}

/* The mean of each of c padded channels of side n. */
static void global_average(const float *in, int c, int n, float *out)
{
    const int p = n + 2;
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * padded(n);
        float sum = 0;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                sum += src[(y + 1) * p + x + 1];
        out[ch] = sum / (float)(n * n);
    }
}

static void softmax(const float *logits, float *probs)
{
    float max = logits[0], sum = 0;
    for (int i = 1; i < MODEL_CLASSES; i++)
        max = fmaxf(max, logits[i]);
    for (int i = 0; i < MODEL_CLASSES; i++)
        sum += probs[i] = expf(logits[i] - max);
    for (int i = 0; i < MODEL_CLASSES; i++)
        probs[i] /= sum;
}

void model_forward(const struct model *m, struct model_scratch *s, float probs[MODEL_CLASSES])
{
    const struct model_shape sh = m->shape;
    const int C = sh.channels, S = sh.size;
    const float *w = m->weights;
    float *a = s->a, *b = s->b, *t;

    w = conv3x3_relu(a, 3, S, w, C, b);
    maxpool2(b, C, S, a);
    for (int d = 0; d < sh.depth; d++) {
        w = conv3x3_relu(a, C, S / 2, w, C, b);
        t = a, a = b, b = t;
    }
    maxpool2(a, C, S / 2, b);
    w = conv3x3_relu(b, C, S / 4, w, 2 * C, a);
    maxpool2(a, 2 * C, S / 4, b);
    global_average(b, 2 * C, S / 8, a);
    w = dense(a, dense_in(sh), w, MODEL_HIDDEN, s->hidden, 1);
    float logits[MODEL_CLASSES];
    dense(s->hidden, MODEL_HIDDEN, w, MODEL_CLASSES, logits, 0);
    softmax(logits, probs);
}
