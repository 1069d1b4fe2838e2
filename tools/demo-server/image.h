/* Image bytes -> the network's input.
 *
 * A binary PGM (P5) or PPM (P6) with maxval <= 255 is decoded from its header; any other
 * bytes (a JPEG, random data) are taken as a square grayscale image of floor(sqrt(n))^2 raw
 * pixels, so every upload of 1 KB..1 MB is a valid image and costs the same work. The image
 * is resized (bilinear, pixel centres aligned) to S x S and scaled to [0,1]. */
#ifndef DEMO_IMAGE_H
#define DEMO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_MIN_BYTES 1024
#define IMAGE_MAX_BYTES (1024 * 1024)

/* Writes 3 planes of (S+2)^2 floats (one-pixel zero border) into out. */
void image_to_input(const uint8_t *data, size_t len, int size, float *out);

/* A deterministic w x h PPM (a smooth gradient with rings), for the startup calibration.
 * Returns the number of bytes written, or 0 if cap is too small. */
size_t image_sample_ppm(uint8_t *buf, size_t cap, int w, int h);

#endif
