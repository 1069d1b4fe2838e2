#include "predict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t predict_thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

int predictor_init(struct predictor *p, const struct model *shared, const char *weights_path)
{
    memset(p, 0, sizeof(*p));
    p->model = *shared;
    p->weights_path = weights_path;
    if (weights_path) {
        /* Reloading writes the weights: this thread needs its own copy. */
        p->model.weights = malloc(shared->n_weights * sizeof(float));
        if (!p->model.weights)
            return -1;
        memcpy(p->model.weights, shared->weights, shared->n_weights * sizeof(float));
        p->owns_weights = true;
    }
    if (model_scratch_init(&p->scratch, shared->shape)) {
        predictor_free(p);
        return -1;
    }
    return 0;
}

void predictor_free(struct predictor *p)
{
    if (p->owns_weights)
        model_free(&p->model);
    model_scratch_free(&p->scratch);
    weights_buf_free(&p->wbuf);
}

int predictor_run(struct predictor *p, const uint8_t *img, size_t len, struct predict_result *r)
{
    memset(r, 0, sizeof(*r));
    r->start_ns = clock_ns(CLOCK_MONOTONIC);
    r->load_ms = -1;
    if (p->weights_path) {
        if (weights_load(p->weights_path, &p->wbuf, &p->model))
            return -1;
        r->load_ms = (double)(clock_ns(CLOCK_MONOTONIC) - r->start_ns) / 1e6;
    }
    uint64_t cpu0 = predict_thread_cpu_ns();
    image_to_input(img, len, p->model.shape.size, model_input(&p->scratch));
    model_forward(&p->model, &p->scratch, r->probs);
    r->model_ms = (double)(predict_thread_cpu_ns() - cpu0) / 1e6;
    r->label = 0;
    for (int i = 1; i < MODEL_CLASSES; i++)
        if (r->probs[i] > r->probs[r->label])
            r->label = i;
    r->end_ns = clock_ns(CLOCK_MONOTONIC);
    return 0;
}

size_t predict_json(const struct predict_result *r, double queue_ms, double downstream_ms,
                    char *buf, size_t cap)
{
    size_t n = 0;
#define PUT(...) \
    n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)
    PUT("{\"label\":\"%s\",\"class\":%d,\"scores\":{", model_labels[r->label], r->label);
    for (int i = 0; i < MODEL_CLASSES; i++)
        PUT("%s\"%s\":%.6f", i ? "," : "", model_labels[i], (double)r->probs[i]);
    PUT("},\"model_ms\":%.3f", r->model_ms);
    if (queue_ms >= 0)
        PUT(",\"queue_ms\":%.3f", queue_ms);
    if (downstream_ms >= 0)
        PUT(",\"downstream_ms\":%.3f", downstream_ms);
    if (r->load_ms >= 0)
        PUT(",\"load_ms\":%.3f", r->load_ms);
    PUT("}");
#undef PUT
    return n < cap ? n : cap - 1;
}
