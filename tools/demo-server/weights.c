#include "weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net.h"

#define WEIGHTS_MAGIC "LSDEMOW1"

struct weights_header {
    char magic[8];
    uint32_t size, channels, depth, reserved;
    uint64_t n_weights;
    uint64_t filler_bytes;
    uint64_t checksum;
    uint8_t pad[16];
};

_Static_assert(sizeof(struct weights_header) == 64, "header is 64 bytes");

/* Four independent lanes so the sum runs at memory speed, as a deserializer would. */
static uint64_t checksum(const uint8_t *p, size_t len)
{
    uint64_t lane[4] = {0, 0, 0, 0}, w;
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int k = 0; k < 4; k++) {
            memcpy(&w, p + i + 8 * k, 8);
            lane[k] += w;
        }
    for (; i < len; i++)
        lane[0] += p[i];
    return lane[0] ^ (lane[1] << 1) ^ (lane[2] << 2) ^ (lane[3] << 3) ^ len;
}

int weights_write(const char *path, const struct model *m, size_t total_bytes, char *err,
                  size_t errlen)
{
    size_t wbytes = m->n_weights * sizeof(float);
    size_t used = sizeof(struct weights_header) + wbytes;
    size_t filler = total_bytes > used ? total_bytes - used : 0;
    size_t body_len = wbytes + filler;
    uint8_t *body = malloc(body_len ? body_len : 1);
    if (!body) {
        snprintf(err, errlen, "out of memory for a %zu-byte weight file", total_bytes);
        return -1;
    }
    memcpy(body, m->weights, wbytes);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = wbytes; i < body_len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        body[i] = (uint8_t)x;
    }
    struct weights_header h = {.size = (uint32_t)m->shape.size,
                               .channels = (uint32_t)m->shape.channels,
                               .depth = (uint32_t)m->shape.depth,
                               .n_weights = m->n_weights,
                               .filler_bytes = filler,
                               .checksum = checksum(body, body_len)};
    memcpy(h.magic, WEIGHTS_MAGIC, 8);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 || net_write_all(fd, &h, sizeof(h)) || net_write_all(fd, body, body_len);
    if (rc)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0 && close(fd) && !rc) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = 1;
    }
    free(body);
    return rc ? -1 : 0;
}

static int read_file(const char *path, struct weights_buf *buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) || st.st_size < (off_t)sizeof(struct weights_header)) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    if (size > buf->cap) {
        uint8_t *p = realloc(buf->data, size);
        if (!p) {
            close(fd);
            return -1;
        }
        buf->data = p;
        buf->cap = size;
    }
    int rc = net_read_all(fd, buf->data, size);
    close(fd);
    *len = size;
    return rc;
}

int weights_load(const char *path, struct weights_buf *buf, struct model *m)
{
    size_t len;
    if (read_file(path, buf, &len))
        return -1;
    struct weights_header h;
    memcpy(&h, buf->data, sizeof(h));
    const uint8_t *body = buf->data + sizeof(h);
    size_t body_len = len - sizeof(h);
    if (memcmp(h.magic, WEIGHTS_MAGIC, 8) || (int)h.size != m->shape.size ||
        (int)h.channels != m->shape.channels || (int)h.depth != m->shape.depth ||
        h.n_weights != m->n_weights || h.n_weights * sizeof(float) + h.filler_bytes != body_len ||
        checksum(body, body_len) != h.checksum)
        return -1;
    memcpy(m->weights, body, m->n_weights * sizeof(float));
    return 0;
}

void weights_buf_free(struct weights_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->cap = 0;
}
