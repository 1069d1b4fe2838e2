/* What the demo uploads to POST /predict: a deterministic sample image (a binary PPM, which
 * the demo server decodes from its header) and the request body carrying it, raw or as
 * multipart/form-data with the part named "file" as a browser or Locust would send it. */
#ifndef LOADSCOPE_DEMO_UPLOAD_H
#define LOADSCOPE_DEMO_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define DEMO_IMAGE_SIDE 224 /* the sample is 224 x 224 RGB: 150 KB, a typical model input */
#define DEMO_MULTIPART_BOUNDARY "loadscope-demo-7d3f9a2c41b8e605"

enum demo_body {
    DEMO_BODY_NONE,      /* no body (GET) */
    DEMO_BODY_MULTIPART, /* multipart/form-data, field "file", filename "sample.ppm" */
    DEMO_BODY_RAW,       /* the image bytes, Content-Type: application/octet-stream */
};

struct demo_upload {
    uint8_t *body;
    size_t len;
    char content_type[96]; /* "" for DEMO_BODY_NONE */
};

/* A w x h binary PPM (P6, maxval 255): gradients and rings from a seeded PRNG, the same
 * bytes for the same (w, h, seed). Returns 0 with *out (malloc'd) and *len, or -1. */
int demo_image_ppm(unsigned w, unsigned h, uint32_t seed, uint8_t **out, size_t *len,
                   struct error *err);

/* Writes the demo's sample image (the 224 x 224 PPM, seed 1) to path, as users of the
 * `--file` endpoints upload it. Returns 0 or -1. */
int demo_sample_write(const char *path, struct error *err);

/* Builds the body of kind around image (DEMO_BODY_NONE: an empty body). Returns 0 or -1. */
int demo_upload_build(struct demo_upload *up, enum demo_body kind, const uint8_t *image,
                      size_t image_len, struct error *err);

/* The demo's standard upload: the 224 x 224 sample (seed 1) as kind. */
int demo_upload_sample(struct demo_upload *up, enum demo_body kind, struct error *err);

void demo_upload_free(struct demo_upload *up);

#endif
