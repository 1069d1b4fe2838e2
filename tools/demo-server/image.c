#include "image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct pixels {
    const uint8_t *data;
    int w, h;
    int channels; /* 1 (gray) or 3 (RGB, interleaved) */
};

/* Reads one unsigned header number after whitespace and # comments. */
static int pnm_number(const uint8_t *d, size_t len, size_t *pos, int *out)
{
    size_t p = *pos;
    for (;;) {
        while (p < len && (d[p] == ' ' || d[p] == '\t' || d[p] == '\r' || d[p] == '\n'))
            p++;
        if (p < len && d[p] == '#') {
            while (p < len && d[p] != '\n')
                p++;
            continue;
        }
        break;
    }
    long v = 0;
    size_t start = p;
    while (p < len && d[p] >= '0' && d[p] <= '9' && v <= 1000000)
        v = v * 10 + (d[p++] - '0');
    if (p == start || v > 1000000)
        return -1;
    *pos = p;
    *out = (int)v;
    return 0;
}

static int pnm_parse(const uint8_t *d, size_t len, struct pixels *px)
{
    if (len < 3 || d[0] != 'P' || (d[1] != '5' && d[1] != '6'))
        return -1;
    size_t pos = 2;
    int w, h, maxval;
    if (pnm_number(d, len, &pos, &w) || pnm_number(d, len, &pos, &h) ||
        pnm_number(d, len, &pos, &maxval))
        return -1;
    if (w < 1 || h < 1 || w > 16384 || h > 16384 || maxval < 1 || maxval > 255)
        return -1;
    if (pos >= len || !(d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n'))
        return -1;
    pos++; /* exactly one whitespace byte before the raster */
    int ch = d[1] == '6' ? 3 : 1;
    if ((size_t)w * (size_t)h * (size_t)ch > len - pos)
        return -1;
    *px = (struct pixels){d + pos, w, h, ch};
    return 0;
}

static void raw_pixels(const uint8_t *d, size_t len, struct pixels *px)
{
    int side = (int)sqrt((double)len);
    while ((size_t)(side + 1) * (size_t)(side + 1) <= len)
        side++;
    while (side > 1 && (size_t)side * (size_t)side > len)
        side--;
    *px = (struct pixels){d, side, side, 1};
}

static float sample(const struct pixels *px, int x, int y, int c)
{
    size_t i = ((size_t)y * (size_t)px->w + (size_t)x) * (size_t)px->channels;
    return px->data[i + (px->channels == 3 ? (size_t)c : 0)];
}

void image_to_input(const uint8_t *data, size_t len, int size, float *out)
{
    struct pixels px;
    if (pnm_parse(data, len, &px))
        raw_pixels(data, len, &px);
    const int p = size + 2;
    memset(out, 0, 3 * (size_t)p * (size_t)p * sizeof(float));
    const float sx = (float)px.w / (float)size, sy = (float)px.h / (float)size;
    for (int y = 0; y < size; y++) {
        float fy = fminf(fmaxf((y + 0.5f) * sy - 0.5f, 0), (float)(px.h - 1));
        int y0 = (int)fy, y1 = y0 + 1 < px.h ? y0 + 1 : y0;
        float wy = fy - (float)y0;
        for (int x = 0; x < size; x++) {
            float fx = fminf(fmaxf((x + 0.5f) * sx - 0.5f, 0), (float)(px.w - 1));
            int x0 = (int)fx, x1 = x0 + 1 < px.w ? x0 + 1 : x0;
            float wx = fx - (float)x0;
            for (int c = 0; c < 3; c++) {
                float top = sample(&px, x0, y0, c) * (1 - wx) + sample(&px, x1, y0, c) * wx;
                float bot = sample(&px, x0, y1, c) * (1 - wx) + sample(&px, x1, y1, c) * wx;
                out[(size_t)c * (size_t)p * (size_t)p + (size_t)(y + 1) * (size_t)p + x + 1] =
                    (top * (1 - wy) + bot * wy) / 255.0f;
            }
        }
    }
}

size_t image_sample_ppm(uint8_t *buf, size_t cap, int w, int h)
{
    char head[32];
    int n = snprintf(head, sizeof(head), "P6\n%d %d\n255\n", w, h);
    size_t total = (size_t)n + 3 * (size_t)w * (size_t)h;
    if (total > cap)
        return 0;
    memcpy(buf, head, (size_t)n);
    uint8_t *px = buf + n;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int dx = x - w / 2, dy = y - h / 2;
            int ring = (int)(sqrt((double)(dx * dx + dy * dy)) / 6) % 2;
            *px++ = (uint8_t)(x * 255 / w);
            *px++ = (uint8_t)(y * 255 / h);
            *px++ = ring ? 220 : 40;
        }
    return total;
}
