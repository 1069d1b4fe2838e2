#include "common/histogram.h"

#include <string.h>

uint32_t hist_bucket_of(uint64_t ns)
{
    if (ns > HIST_MAX_NS)
        ns = HIST_MAX_NS;
    if (ns < HIST_SUB_COUNT)
        return (uint32_t)ns;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
    unsigned shift = msb - HIST_SUB_BITS;
    return (shift + 1) * HIST_SUB_COUNT + (uint32_t)((ns >> shift) - HIST_SUB_COUNT);
}

uint64_t hist_bucket_low(uint32_t bucket)
{
    if (bucket < HIST_SUB_COUNT)
        return bucket;
    unsigned shift = bucket / HIST_SUB_COUNT - 1;
    uint64_t sub = bucket % HIST_SUB_COUNT + HIST_SUB_COUNT;
    return sub << shift;
}

uint64_t hist_bucket_high(uint32_t bucket)
{
    if (bucket < HIST_SUB_COUNT)
        return bucket;
    unsigned shift = bucket / HIST_SUB_COUNT - 1;
    return hist_bucket_low(bucket) + (1ULL << shift) - 1;
}

void hist_reset(struct histogram *h)
{
    memset(h, 0, sizeof(*h));
    h->min_ns = UINT64_MAX;
}

void hist_record_n(struct histogram *h, uint64_t ns, uint64_t n)
{
    if (n == 0)
        return;
    h->buckets[hist_bucket_of(ns)] += n;
    h->count += n;
    h->sum_ns += ns * n;
    if (ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void hist_record(struct histogram *h, uint64_t ns)
{
    hist_record_n(h, ns, 1);
}

void hist_merge(struct histogram *dst, const struct histogram *src)
{
    if (src->count == 0)
        return;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

uint64_t hist_percentile(const struct histogram *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p >= 100.0)
        return h->max_ns;
    if (p <= 0.0)
        return h->min_ns;
    /* rank of the wanted value, 1-based: ceil(p% of count) */
    double exact = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min_ns)
                mid = h->min_ns;
            if (mid > h->max_ns)
                mid = h->max_ns;
            return mid;
        }
    }
    return h->max_ns;
}

double hist_mean(const struct histogram *h)
{
    return h->count ? (double)h->sum_ns / (double)h->count : 0.0;
}
