#include "common/spsc_ring.h"

#include <stdlib.h>
#include <string.h>

int spsc_init(struct spsc_ring *r, size_t item_size, size_t capacity)
{
    uint64_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    memset(r, 0, sizeof(*r));
    r->items = malloc(cap * item_size);
    if (!r->items)
        return -1;
    r->capacity = cap;
    r->item_size = item_size;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return 0;
}

void spsc_free(struct spsc_ring *r)
{
    free(r->items);
    r->items = NULL;
}

bool spsc_push(struct spsc_ring *r, const void *item)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail >= r->capacity)
        return false;
    memcpy(r->items + (head & (r->capacity - 1)) * r->item_size, item, r->item_size);
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return true;
}

size_t spsc_pop_many(struct spsc_ring *r, void *out, size_t max)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t n = 0;
    unsigned char *dst = out;
    while (tail + n < head && n < max) {
        memcpy(dst + n * r->item_size, r->items + ((tail + n) & (r->capacity - 1)) * r->item_size,
               r->item_size);
        n++;
    }
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

size_t spsc_size(struct spsc_ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return (size_t)(head - tail);
}
