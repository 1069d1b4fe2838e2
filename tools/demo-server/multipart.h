/* The image inside a /predict body: the raw body, or one part of multipart/form-data. */
#ifndef DEMO_MULTIPART_H
#define DEMO_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

enum body_kind {
    BODY_RAW,       /* application/octet-stream, image/<any>, or no Content-Type */
    BODY_MULTIPART, /* multipart/form-data; boundary=... */
    BODY_UNSUPPORTED,
};

/* Classifies a Content-Type value (NULL = absent). For multipart, copies the boundary
 * (without the leading "--") into boundary; a multipart type without a usable boundary is
 * BODY_UNSUPPORTED. */
enum body_kind multipart_classify(const char *ctype, size_t len, char *boundary, size_t cap);

/* Finds the file in a multipart body: the part named "file", else the first part with a
 * filename. Returns 0 with *data and *data_len set, or -1 with a reason in *why. */
int multipart_find_file(const uint8_t *body, size_t len, const char *boundary,
                        const uint8_t **data, size_t *data_len, const char **why);

#endif
