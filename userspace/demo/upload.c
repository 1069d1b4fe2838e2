#include "demo/upload.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

int demo_image_ppm(unsigned w, unsigned h, uint32_t seed, uint8_t **out, size_t *len,
                   struct error *err)
{
    if (!w || !h || w > 4096 || h > 4096)
        return error_set(err, "sample image size %ux%u out of range", w, h);
    char head[32];
    int n = snprintf(head, sizeof(head), "P6\n%u %u\n255\n", w, h);
    size_t total = (size_t)n + 3 * (size_t)w * h;
    uint8_t *buf = malloc(total);
    if (!buf)
        return error_set(err, "out of memory for a %ux%u image", w, h);
    memcpy(buf, head, (size_t)n);
    uint32_t s = seed * 2654435761u + 1;
    /* A few rings at random centres over a colour gradient, plus a little noise: an image
     * with structure at several scales, not a flat field. */
    double cx[3], cy[3];
    for (int i = 0; i < 3; i++) {
        cx[i] = (double)(xorshift32(&s) % w);
        cy[i] = (double)(xorshift32(&s) % h);
    }
    uint8_t *p = buf + n;
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            double ring = 0;
            for (int i = 0; i < 3; i++)
                ring += sin(hypot((double)x - cx[i], (double)y - cy[i]) / (4.0 + 3 * i));
            int noise = (int)(xorshift32(&s) % 17) - 8;
            int r = (int)(255.0 * x / w) + noise, g = (int)(255.0 * y / h) - noise;
            int b = (int)(128 + 40 * ring) + noise;
            *p++ = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
            *p++ = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
            *p++ = (uint8_t)(b < 0 ? 0 : b > 255 ? 255 : b);
        }
    *out = buf;
    *len = total;
    return 0;
}

int demo_upload_build(struct demo_upload *up, enum demo_body kind, const uint8_t *image,
                      size_t image_len, struct error *err)
{
    memset(up, 0, sizeof(*up));
    if (kind == DEMO_BODY_NONE)
        return 0;
    if (kind == DEMO_BODY_RAW) {
        up->body = malloc(image_len ? image_len : 1);
        if (!up->body)
            return error_set(err, "out of memory for the upload");
        memcpy(up->body, image, image_len);
        up->len = image_len;
        snprintf(up->content_type, sizeof(up->content_type), "application/octet-stream");
        return 0;
    }
    static const char head[] = "--" DEMO_MULTIPART_BOUNDARY "\r\n"
                               "Content-Disposition: form-data; name=\"file\"; "
                               "filename=\"sample.ppm\"\r\n"
                               "Content-Type: image/x-portable-pixmap\r\n\r\n";
    static const char tail[] = "\r\n--" DEMO_MULTIPART_BOUNDARY "--\r\n";
    size_t total = sizeof(head) - 1 + image_len + sizeof(tail) - 1;
    up->body = malloc(total);
    if (!up->body)
        return error_set(err, "out of memory for the upload");
    memcpy(up->body, head, sizeof(head) - 1);
    memcpy(up->body + sizeof(head) - 1, image, image_len);
    memcpy(up->body + sizeof(head) - 1 + image_len, tail, sizeof(tail) - 1);
    up->len = total;
    snprintf(up->content_type, sizeof(up->content_type), "multipart/form-data; boundary=%s",
             DEMO_MULTIPART_BOUNDARY);
    return 0;
}

int demo_upload_sample(struct demo_upload *up, enum demo_body kind, struct error *err)
{
    uint8_t *img;
    size_t len;
    if (demo_image_ppm(DEMO_IMAGE_SIDE, DEMO_IMAGE_SIDE, 1, &img, &len, err))
        return -1;
    int rc = demo_upload_build(up, kind, img, len, err);
    free(img);
    return rc;
}

void demo_upload_free(struct demo_upload *up)
{
    free(up->body);
    memset(up, 0, sizeof(*up));
}

int demo_sample_write(const char *path, struct error *err)
{
    uint8_t *image;
    size_t len;
    if (demo_image_ppm(DEMO_IMAGE_SIDE, DEMO_IMAGE_SIDE, 1, &image, &len, err) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f || fwrite(image, 1, len, f) != len)
        rc = error_set(err, "cannot write %s: %s", path, strerror(errno));
    if (f && fclose(f) != 0 && rc == 0)
        rc = error_set(err, "cannot write %s: %s", path, strerror(errno));
    free(image);
    return rc;
}
