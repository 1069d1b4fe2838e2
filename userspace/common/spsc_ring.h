/* A bounded single-producer single-consumer queue of fixed-size items.
 *
 * Hot paths (an engine thread finishing a request, the BPF ring-buffer reader) push records
 * here without locks or allocation; one consumer thread (the run store's writer) pops them off
 * the hot path. When the queue is full the push fails and the producer counts the loss, so
 * nothing is dropped silently. */
#ifndef LOADSCOPE_COMMON_SPSC_RING_H
#define LOADSCOPE_COMMON_SPSC_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct spsc_ring {
    /* producer and consumer indices on separate cache lines: they are written by different
     * threads at high rates. */
    alignas(64) _Atomic uint64_t head; /* next slot the producer writes */
    alignas(64) _Atomic uint64_t tail; /* next slot the consumer reads */
    alignas(64) uint64_t capacity;     /* power of two */
    size_t item_size;
    unsigned char *items;
};

/* capacity is rounded up to a power of two. Returns 0, or -1 when out of memory. */
int spsc_init(struct spsc_ring *r, size_t item_size, size_t capacity);
void spsc_free(struct spsc_ring *r);

/* Producer side. Returns false when full (the caller counts the loss). */
bool spsc_push(struct spsc_ring *r, const void *item);

/* Consumer side: copies up to max items into out, returns how many. */
size_t spsc_pop_many(struct spsc_ring *r, void *out, size_t max);

size_t spsc_size(struct spsc_ring *r);

#endif
